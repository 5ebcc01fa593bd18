"""The lab's three verbs. `up` boots every node of a deploy bundle from its own user-data and runs
the bundle's cluster-wide steps exactly as its README lists them (topology.json's deploy_steps);
`test` drives traffic through the VIPs, crashes each node in turn and measures; `down` removes
everything. The only lab-only inputs are listed in DEVIATIONS and printed with every report.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

from ..catalog import CATALOG
from ..emit import cloudinit
from ..targets import TARGETS
from . import bmc, ceph, claim, client, faults, hosts, prometheus, reconcile, report
from .hosts import LabError, LabState

DEFAULT_ROOT = Path("/var/tmp/hagen-lab")
CEPH_DEVIATION = ("the external Ceph cluster is one monitor and one OSD (one replica, BlueStore on a sparse file) of "
                  "this machine's own Ceph packages, in the lab's namespace: the storage team's cluster, not the "
                  "bundle's, and not crashed by the lab")
DEVIATIONS = (
    "NoCloud network-config per host with its static address (the datasource's job in a cloud, not the bundle's)",
    "packages preinstalled in the shared base root, so each host's own apt-get install step finds them installed; "
    "their OpenStack units disabled there, so that a host boots as a fresh one would (without them) instead of "
    "starting every packaged service with the package's defaults before setup.sh replaces its unit",
    "the client sits on the lab bridge inside the lab's network namespace; it reaches the VIPs and RabbitMQ node "
    "addresses only",
)
LAB_TARGETS = tuple(name for name, t in TARGETS.items() if t.debian_suite)  # debootstrap makes their hosts
FENCING_DEVIATION = ("each node's BMC is simulated (pyghmi, one process in the lab's namespace answering IPMI on "
                     "the spec's BMC addresses with the bundle's BMC passwords): power off kills every process of "
                     "the host, power on boots it again from its disk")
NO_FENCING_DEVIATION = ("no fencing: the lab spec waives it, so Pacemaker trusts corosync's view of a lost node")
# A fenced node boots beside the survivors' load: on 2026-12-07 controller1 finished booting 233 to
# 251 s after its power-on, and its RabbitMQ, started once Galera's start and promote were done
# (Pacemaker throttles a loaded node to one action at a time), was back 408 to 460 s after it.
REJOIN_TIMEOUT = 600
# After a crash, the survivors fence the lost node (fence_ipmilan's reboot: off, then on) before
# they recover its resources: its BMC must have powered it on again by then.
FENCE_TIMEOUT_S = 180
RECOVER_TIMEOUT = 120
# A host powered on again after a fault boots on its share of the CPUs (a third here, the cpu
# cgroup) while the survivors carry the load: 2026-12-07 saw a boot outlast 120 s.
REBOOT_TIMEOUT_S = 300


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def read_topology(bundle: Path, deploy: bool = True) -> dict:
    """The bundle's topology.json, refused where the lab cannot use it; deploy=False accepts a
    review bundle (enough to know the packages of a base root)."""
    path = bundle / "topology.json"
    if not path.is_file():
        raise LabError(f"{bundle} is not a hagen bundle (no topology.json)")
    try:
        topo = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LabError(f"{path} is not valid JSON ({err}); rebuild the bundle with 'hagen build'")
    missing = [key for key in ("target", "nodes", "vips", "frontends", "deploy_steps", "galera", "rabbitmq",
                               "keystone", "services") if key not in topo]
    if missing or any("interface" not in n or "packages" not in n for n in topo["nodes"].values()):
        raise LabError(f"{path} lacks what the lab reads ({', '.join(missing) or 'node details'}): the bundle "
                       "was written by an older hagen; rebuild it")
    if topo["target"] not in LAB_TARGETS:
        raise LabError(f"the lab boots Debian hosts ({', '.join(LAB_TARGETS)}); this bundle targets {topo['target']}")
    for name, node in topo["nodes"].items():
        if node["interface"] != "host0":
            raise LabError(f"node {name} uses interface {node['interface']!r}; systemd-nspawn names it host0: "
                           "set 'interface: host0' on every node of the lab spec")
    if deploy and "__SECRET_" in (bundle / "nodes" / next(iter(topo["nodes"])) / "etc/hagen/secrets.env").read_text():
        raise LabError("this is a review bundle (secret placeholders); build it with "
                       "'hagen build SPEC -o DIR --secrets FILE' for the lab")
    return topo


def _secrets_env(bundle: Path, node: str) -> dict[str, str]:
    values = {}
    for line in (bundle / "nodes" / node / "etc/hagen/secrets.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = shlex.split(value)[0]
    return values


def catalog_debconf(topo: dict) -> list:
    """The debconf answers of the catalog services the bundle deploys (what their setup.sh gives)."""
    return [a for s in CATALOG if s.name in topo["services"] and s.host for a in s.host.debconf]


def client_address(topo: dict) -> str:
    """The highest free address of the nodes' network, with its prefix."""
    network = ipaddress.ip_network(next(iter(topo["nodes"].values()))["network"])
    used = {n["address"] for n in topo["nodes"].values()} | {v["address"] for v in topo["vips"].values()}
    for candidate in reversed(list(network.hosts())):
        if str(candidate) not in used:
            return f"{candidate}/{network.prefixlen}"
    raise LabError(f"no free address left in {network} for the lab's client")


def _address_of(topo: dict, name: str) -> str:
    names = {n: node["address"] for n, node in topo["nodes"].items()}
    for vip_name, vip in topo["vips"].items():
        names[vip_name] = names[vip["hostname"]] = vip["address"]
    return names[name]


def write_private(path: Path, text: str) -> Path:
    """A file only root can read: the client's files hold credentials."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def client_config(bundle: Path, topo: dict, state: LabState) -> dict:
    """Addresses and credentials for the client, taken from what Keystone itself is configured
    with in the deploy bundle: its database URL and its oslo.messaging transport_url."""
    keystone_node = topo["keystone"]["nodes"][0]
    keystone_conf = (bundle / "nodes" / keystone_node / "etc/keystone/keystone.conf").read_text()
    db_url = urllib.parse.urlsplit(re.search(r"^connection = (\S+)", keystone_conf, re.M).group(1))
    transport = re.search(r"^transport_url = rabbit://(\S+)/$", keystone_conf, re.M).group(1)
    brokers = [urllib.parse.urlsplit(f"rabbit://{part}") for part in transport.split(",")]
    galera = topo["frontends"]["galera"]
    cafile = str(bundle / "nodes" / keystone_node / topo["tls"]["ca_file"].lstrip("/")) \
        if isinstance(topo.get("tls"), dict) else None
    # Over TLS as Keystone itself connects (its user is REQUIRE SSL): the Galera node's certificate
    # verified with the bundle's CA, and its names against the VIP's address.
    tls = f"ssl-ca={cafile}\nssl-verify-server-cert\n" if cafile else ""
    options = write_private(state.root / "client-mysql.cnf", f"[client]\nuser={db_url.username}\n"
                            f"password={urllib.parse.unquote(db_url.password)}\n{tls}")
    return {
        "db": {"host": topo["vips"][galera["vip"]]["address"], "port": galera["port"],
               "database": db_url.path.lstrip("/")},
        "mysql_options": str(options),
        # The CA the client verifies every HTTPS VIP and every AMQPS broker with (hostname and
        # chain), as the bundle lays it on each node; None when the spec waives TLS.
        "cafile": cafile,
        "keystone": {"url": _by_address(topo, topo["services"]["keystone"]),
                     "password": _secrets_env(bundle, keystone_node)["KEYSTONE_ADMIN_PASSWORD"]},
        # transport_url's hosts (every node, or the VIP if the spec says so), resolved as the
        # bundle's hosts file does.
        "rabbitmq": {"nodes": [[_address_of(topo, b.hostname), b.port] for b in brokers],
                     "user": urllib.parse.unquote(brokers[0].username),
                     "password": urllib.parse.unquote(brokers[0].password)},
        "vips": [{"name": fe["vip"], "address": topo["vips"][fe["vip"]]["address"], "port": fe["port"]}
                 for _, fe in sorted(topo["frontends"].items())],
        # The other catalog services the client uses, at their registered URL with the VIP's address.
        **{name: {"url": _by_address(topo, service), "nodes": service["nodes"]}
           for name, service in topo["services"].items() if name in CLIENT_SERVICES},
    }


# The catalog services the client drives (each has a loop in client.py).
CLIENT_SERVICES = ("glance", "placement", "nova", "neutron", "heat", "cinder", "horizon")

# Each OVN member's own control sockets (Debian's ovn-ctl run directory).
OVN_DB_SOCKETS = {"nb": ("/run/ovn/ovnnb_db.sock", "/run/ovn/ovnnb_db.ctl", "OVN_Northbound"),
                  "sb": ("/run/ovn/ovnsb_db.sock", "/run/ovn/ovnsb_db.ctl", "OVN_Southbound")}


def ovn_cluster_status(name: str, db: str) -> tuple[dict[str, str], list[str]]:
    """A member's own view of one RAFT cluster (ovn-appctl cluster/status): its 'key: value' lines
    (Role, Status, Leader...) and its server list; empty when its ovsdb-server does not answer."""
    _, ctl, schema = OVN_DB_SOCKETS[db]
    out = hosts.host_command(name, f"ovn-appctl -t {ctl} cluster/status {schema}", check=False, timeout=30).stdout
    head, _, servers = out.partition("Servers:")
    status = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in head.splitlines()) if v.strip()}
    return status, [line for line in servers.strip().splitlines() if line.strip()]


def ovn_rejoined(name: str, members: int) -> bool:
    """Both of the member's databases are cluster members that know a leader, with every member
    in their server list."""
    for db in OVN_DB_SOCKETS:
        status, servers = ovn_cluster_status(name, db)
        if status.get("Status") != "cluster member" or status.get("Leader", "unknown") == "unknown" \
                or len(servers) != members:
            return False
    return True


def ovn_leader(topo: dict) -> str | None:
    """The member that leads the Northbound cluster now."""
    for name in topo["ovn"]["members"]:
        if ovn_cluster_status(name, "nb")[0].get("Role") == "leader":
            return name
    return None


def ovn_northbound(topo: dict) -> dict[str, dict[str, list[str]]]:
    """Every member's own replica of the Northbound database (--no-leader-only: the member's
    copy, not the leader's): the names of its logical switches and routers."""
    sock = OVN_DB_SOCKETS["nb"][0]
    found = {}
    for name in topo["ovn"]["members"]:
        found[name] = {}
        for key, table in (("switches", "Logical_Switch"), ("routers", "Logical_Router")):
            out = hosts.host_command(name, f"ovn-nbctl --no-leader-only --db=unix:{sock} --format=csv --data=bare "
                                           f"--no-headings --columns=name list {table}", check=False, timeout=60).stdout
            found[name][key] = sorted(line.strip() for line in out.splitlines() if line.strip())
    return found


def packaged_openstack_units(target) -> list[str]:
    """The units the catalog's packages enable at install: on a fresh host they are not there at
    boot, and once installed, setup.sh replaces (or masks) each before it starts them."""
    units = {u for s in CATALOG if s.host for u in (*s.host.units, *s.host.unwanted_units)}
    if target.keystone_packaged_unit:
        units.add(target.keystone_packaged_unit)
    return sorted(units)


def _by_address(topo: dict, service: dict) -> str:
    """A service's endpoint URL with its VIP's address for its host name (the client's network
    namespace has no hosts file)."""
    fe = topo["frontends"][service["frontend"]]
    url = urllib.parse.urlsplit(service["url"])
    return urllib.parse.urlunsplit(url._replace(netloc=f"{topo['vips'][fe['vip']]['address']}:{fe['port']}"))


def _network_config(node: dict) -> str:
    prefix = ipaddress.ip_network(node["network"]).prefixlen
    return f"version: 2\nethernets:\n  {node['interface']}:\n    addresses: [{node['address']}/{prefix}]\n"


def wait_cloud_init(name: str, timeout: float = 900) -> None:
    """cloud-init ran the bundle's user-data: its files laid down and setup.sh run without error."""
    proc = hosts.host_command(name, "cloud-init status --wait --long", timeout=timeout, check=False)
    result = hosts.host_command(name, "cat /var/lib/cloud/data/result.json", check=False).stdout
    errors = json.loads(result)["v1"]["errors"] if result.strip() else ["no result.json"]
    if errors or "status: done" not in proc.stdout:
        log = hosts.host_command(name, "tail -n 40 /var/log/cloud-init-output.log", check=False).stdout
        raise LabError(f"{name}: cloud-init did not finish cleanly: {errors or proc.stdout.strip()}\n{log}")


def boot_all(state: LabState, bundle: Path, topo: dict) -> dict:
    """Every host on its own overlay with its own user-data; returns the boot timings."""
    for name, node in topo["nodes"].items():
        hosts.prepare_host(state, name, (bundle / "nodes" / name / "user-data").read_bytes(), _network_config(node),
                           shared=topo.get("shared_mounts", {}).get(name, []))
    boot_at = time.monotonic()
    for name in topo["nodes"]:
        hosts.boot_host(state, name)
    # Booted means systemd finished its start-up, cloud-init's final stage (setup.sh) included.
    for name in topo["nodes"]:
        hosts.wait_booted(name, timeout=900)
        hosts.remember_link(state, name)
    for name in topo["nodes"]:
        wait_cloud_init(name)
    timings = {"boot_cloud_init_setup_s": round(time.monotonic() - boot_at, 1)}
    _log(f"lab: {len(topo['nodes'])} hosts booted and set up by cloud-init in {timings['boot_cloud_init_setup_s']} s")
    return timings


def run_step(root: Path, step: dict) -> dict:
    """One of the README's cluster-wide steps, run as written on the node it names."""
    at = time.monotonic()
    _log(f"lab: on {step['node']}: {step['run']}")
    proc = hosts.host_command(step["node"], shlex.quote(step["run"]), timeout=900, check=False)
    with (root / "steps.log").open("a") as log:
        log.write(f"### {step['node']}: {step['run']} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise LabError(f"{step['run']} on {step['node']} exited {proc.returncode} (run as the README says; a bug in "
                       "the bundle):\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]))
    return {"node": step["node"], "run": step["run"], "seconds": round(time.monotonic() - at, 1)}


def claim_machine(root: Path, wait_s: float = 0) -> None:
    """Take the machine-wide claim for the lab in root (waiting up to wait_s for another lab), and
    remove what an abandoned lab left: its hosts are down, but its cgroups and namespace remain."""
    abandoned = claim.acquire(root, wait_s=wait_s, log=_log)
    if abandoned and LabState.load(abandoned).path.exists():
        _log(f"lab: removing what the abandoned lab in {abandoned} left")
        hosts.teardown(abandoned)


def ceph_keyrings(bundle: Path, topo: dict) -> dict[str, str]:
    """Each rbd store's client keyring, as the deploy bundle gives it to the service's first node."""
    found = {}
    for service, ceph_client in topo["ceph"]["clients"].items():
        node = topo["services"][service]["nodes"][0]
        found[service] = (bundle / "nodes" / node / "etc" / "ceph" / f"ceph.client.{ceph_client['user']}.keyring").read_text()
    return found


def fenced(topo: dict) -> bool:
    """Whether the spec fences its nodes (each then has a BMC the lab simulates)."""
    return any(n.get("bmc") for n in topo["nodes"].values())


def lab_bmcs(bundle: Path, topo: dict) -> list[bmc.Bmc]:
    """Each fenced node's BMC: its address and user (topology.json) and its password, from the
    fencing.passwords file the bundle lays on the other nodes (a node never holds its own)."""
    passwords = {}
    for path in sorted(bundle.glob("nodes/*/etc/hagen/fencing.passwords")):
        for line in path.read_text(encoding="utf-8").splitlines():
            node, _, password = line.partition(" ")
            passwords[node] = password
    found = []
    for name, node in sorted(topo["nodes"].items()):
        if node.get("bmc"):
            if name not in passwords:
                raise LabError(f"no BMC password for {name} in the bundle's fencing.passwords files")
            found.append(bmc.Bmc(name, node["bmc"]["address"], node["bmc"]["username"], passwords[name]))
    return found


def monitored(bundle: Path) -> bool:
    return (bundle / "monitoring" / "prometheus.yml").is_file()


def _build_base(topo: dict, base: Path) -> float:
    """The root every host shares, with every package of the bundle's nodes (built, or reused when
    it holds them); the seconds its build took (0 when reused, however long it waited for another
    build of it to end)."""
    packages = sorted({p for n in topo["nodes"].values() for p in n["packages"]})
    target = TARGETS[topo["target"]]
    # The same answers the hosts' setup.sh gives, as the base installs the packages before it runs.
    debconf = "".join(a.selection + "\n" for a in [*target.debconf_answers, *catalog_debconf(topo)])
    seconds = hosts.build_base(base, target.debian_suite, packages, debconf, _log)
    hosts.disable_units(base, packaged_openstack_units(target))
    return round(seconds, 1)


def build_base(bundle: Path, base: Path) -> float:
    """Build the base root of a bundle's lab ahead of 'up' (which then reuses it): a review bundle
    will do. Needs root and debootstrap."""
    _require_root()
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed (apt-get install debootstrap)")
    return _build_base(read_topology(bundle, deploy=False), base)


def up(bundle: Path, root: Path = DEFAULT_ROOT, base: Path | None = None, wait_s: float = 0) -> dict:
    """Boot every node from its user-data and deploy the control plane as the README says.
    Another lab on this machine is waited for up to wait_s seconds."""
    why = hosts.preflight()
    if why:
        raise LabError(why)
    topo = read_topology(bundle)
    if topo.get("ceph") and (why := ceph.missing_tool()):
        raise LabError(why)
    if monitored(bundle) and (why := prometheus.missing_tool()):
        raise LabError(why)
    if fenced(topo) and (why := bmc.missing_tool()):
        raise LabError(why)
    claim_machine(root, wait_s)
    if LabState.load(root).path.exists():
        _log("lab: removing what an earlier run left")
        hosts.teardown(root)
    started = time.monotonic()
    state = LabState(root, base=str(base or root / "base"), base_owned=base is None)
    state.client_address = client_address(topo)
    state.save()
    timings = {"base_build_s": _build_base(topo, Path(state.base))}
    hosts.create_network(state, state.client_address)
    if fenced(topo):  # the nodes' BMCs answer before any host boots: Pacemaker monitors its fence devices
        prefix = ipaddress.ip_network(next(iter(topo["nodes"].values()))["network"]).prefixlen
        bmc.start(root, lab_bmcs(bundle, topo), state.netns, hosts.BRIDGE, prefix, _log)
    if topo.get("ceph"):  # the external Ceph cluster the rbd stores are in, before any host needs it
        timings["ceph_s"] = ceph.start(root, topo["ceph"], ceph_keyrings(bundle, topo), _log)
    if monitored(bundle):  # the operator's Prometheus, watching from the first boot on
        timings["prometheus_s"] = prometheus.start(root, bundle, state.client_address.split("/")[0], _log)
    with hosts.MemoryPeak() as memory:
        timings.update(boot_all(state, bundle, topo))
        steps = [run_step(root, step) for step in topo["deploy_steps"]]
    timings["up_s"] = round(time.monotonic() - started, 1)
    timings.update({f"up_{k}": v for k, v in memory.figures().items()})
    result = {"timings": timings, "steps": steps}
    (root / "up.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# --- test ---------------------------------------------------------------------------------


def _client(argv: list[str], config: Path, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    command = hosts.in_netns([sys.executable, "-m", "compiler.lab.client", argv[0], str(config), *argv[1:]])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if kwargs.pop("background", False):
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, **kwargs)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300))


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def member_status(topo: dict, name: str) -> dict[str, bool]:
    """Is `name` back in its Pacemaker cluster, Galera (Synced, full size), RabbitMQ (running),
    and serving Keystone (systemd starts Apache at boot; /healthcheck answers 200)?"""
    status = {}
    cluster = topo["nodes"][name].get("cluster")
    if cluster:
        crm = hosts.host_command(name, "crm_mon -1 --output-as=xml", check=False, timeout=30)
        try:
            nodes = {n.get("name"): n.get("online") == "true"
                     for n in ET.fromstring(crm.stdout).findall("nodes/node")}
            status["pacemaker"] = all(nodes.get(n, False) for n in topo["clusters"][cluster]["nodes"])
        except ET.ParseError:
            status["pacemaker"] = False
    for service_name, service in sorted(topo["services"].items()):
        if name not in service["nodes"]:
            continue
        # The node's own server, on the port HAProxy checks it on, at the catalog's health path.
        frontend = topo["frontends"][service["frontend"]]
        port = frontend["backends"][name]["port"]
        # Over HTTPS when HAProxy reaches it so; the node's trust store holds the CA its certificate is verified with.
        scheme = "https" if frontend.get("backend_tls") else "http"
        url = f"{scheme}://{topo['nodes'][name]['address']}:{port}{service['health_path']}"
        probe = hosts.host_command(name, f"python3 -c 'import sys, urllib.request; "
                                         f"sys.exit(urllib.request.urlopen(sys.argv[1], timeout=5).status != 200)' "
                                         f"{shlex.quote(url)}", check=False, timeout=30)
        status[service_name] = probe.returncode == 0
    if name in topo["galera"]["wsrep_cluster_address"].removeprefix("gcomm://").split(","):
        size = len(topo["galera"]["wsrep_cluster_address"].split(","))
        out = hosts.host_command(name, "mysql -N -B -e \"SHOW GLOBAL STATUS WHERE Variable_name IN "
                                       "('wsrep_cluster_size','wsrep_local_state')\"", check=False, timeout=30).stdout
        values = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
        status["galera"] = values.get("wsrep_cluster_size") == str(size) and values.get("wsrep_local_state") == "4"
    if name in topo.get("ovn", {}).get("members", []):
        status["ovn"] = ovn_rejoined(name, len(topo["ovn"]["members"]))
    if name in topo["rabbitmq"]["nodes"]:
        out = hosts.host_command(name, "rabbitmqctl -q cluster_status --formatter json", check=False,
                                 timeout=60).stdout
        try:
            running = set(json.loads(out).get("running_nodes", []))
        except json.JSONDecodeError:
            running = set()
        status["rabbitmq"] = running >= {f"rabbit@{n}" for n in topo["rabbitmq"]["nodes"]}
    return status


def _galera_log_size(name: str, log_file: str) -> int:
    out = hosts.host_command(name, f"stat -c %s {shlex.quote(log_file)} 2>/dev/null || echo 0", check=False).stdout
    return int(out.strip() or 0)


def _galera_transfer(name: str, log_file: str, offset: int) -> str:
    """IST or SST, from what the rejoined node's MariaDB logged since the crash. With mariabackup
    the SST script runs either way; a transfer that only bridges the node's own position
    ("SST received" at its local seqno, then "IST received") is an IST."""
    text = hosts.host_command(name, f"tail -c +{offset + 1} {shlex.quote(log_file)}", check=False).stdout
    return report.galera_transfer_from_log(text)


def rerun_setup(topo: dict) -> dict:
    """Every node runs its setup.sh again at once, as an operator applying the same bundle twice
    with a configuration-management run over all hosts would: each must succeed, change no file
    and leave the running services alone."""
    def rerun(name: str) -> dict:
        proc = hosts.host_command(name, f"bash {shlex.quote(cloudinit.STAGING)}/setup.sh", check=False, timeout=600)
        updated = [line.split("updated ", 1)[1] for line in proc.stdout.splitlines()
                   if line.startswith("setup.sh: updated ")]
        return {"exit": proc.returncode, "files_changed": updated}

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(topo["nodes"])) as pool:
        return dict(zip(topo["nodes"], pool.map(rerun, topo["nodes"])))


def run_scenario(state: LabState, topo: dict, config: dict, name: str, index: int,
                 crash: str | None = None, action=None, watch: str | None = None, fault: str = "crash") -> dict:
    """One scenario under load; with `watch` (the lab Prometheus's address), the alerts that fired
    during it, and (after a crash) how long until none fires. `fault` is what happens to the node
    `crash`: one of faults.FAULTS."""
    if watch is None:
        return _run_scenario(state, topo, config, name, index, crash, action, fault)
    with prometheus.AlertTimeline(watch) as timeline:
        result = _run_scenario(state, topo, config, name, index, crash, action, fault)
    crash_offset = result.pop("crash_offset_s", 0.0)
    alerts = {key: {k: None if v is None else round(v - crash_offset, 1) for k, v in span.items()}
              for key, span in sorted(timeline.spans.items())}
    result["monitoring"] = {"alerts": alerts, "poll_errors": timeline.errors}
    if crash:  # every alert must end once the node is back
        settled = prometheus.wait_settled(watch, ALERTS_CLEAR_TIMEOUT_S)
        result["monitoring"].update(cleared_after_verify_s=settled["settled_s"], still_firing=settled["firing"],
                                    targets_down=settled["targets_down"])
    return result


RECONCILE = "reconcile pcs resources"

# After a crash the last alerts end when the node's services are back and their `for` has passed.
ALERTS_CLEAR_TIMEOUT_S = 300


def _run_scenario(state: LabState, topo: dict, config: dict, name: str, index: int,
                  crash: str | None = None, action=None, fault: str = "crash") -> dict:
    _log(f"lab: scenario {name}")
    scenario_start = time.monotonic()
    # Ids unique across runs on the same lab (a rerun finds the earlier rows and messages' ids taken).
    first_id = int(time.time()) * 100_000
    cfg = {**config, "scenario": name, "first_write_id": first_id, "first_message_id": first_id}
    scenario_config = write_private(state.root / f"client-{index}.json", json.dumps(cfg))
    events_path = state.root / f"events-{index}.jsonl"
    events_path.unlink(missing_ok=True)
    load = _client(["load", str(events_path)], scenario_config, background=True)
    result: dict = {"name": name, **({"fault": fault, "node": crash} if crash else {})}
    minority, minority_events = None, []  # a partition's probe inside the cut-off node
    try:
        time.sleep(8)  # steady state before anything happens
        crash_at = None
        if crash:
            log_file = topo["galera"]["log_file"]
            log_offset = _galera_log_size(crash, log_file)
            if "ovn" in topo:  # which member led the Northbound cluster when it lost `crash`
                result["ovn_nb_leader"] = ovn_leader(topo)
            crash_at = time.monotonic()
            result["crash_offset_s"] = crash_at - scenario_start
            faults.FAULTS[fault].inflict(crash)
            if fault == "partition":  # the cut-off node is alive: does its Galera member take writes?
                minority = faults.MinorityProbe(crash, cfg["db"]["database"], client.TABLE, first_id)
            _wait_recovered(events_path, cfg, crash_at)
            if fenced(topo):  # the survivors fence it: its BMC powers it (off and) on again
                fence = result["fence"] = _wait_fenced(state.root, crash, crash_at)
                if fence["on_s"] is not None:
                    boot_at = crash_at + fence["on_s"]
                else:  # not fenced (a problem): power-cycle it, so the verify still runs
                    hosts.crash_host(crash)
                    boot_at = time.monotonic()
                    hosts.boot_host(state, crash)
            else:
                time.sleep(5)
                boot_at = time.monotonic()
                hosts.boot_host(state, crash)
            try:
                hosts.wait_booted(crash, timeout=REBOOT_TIMEOUT_S)
                late_boot = False
            except LabError:  # units still starting: whether its clusters take it back says more
                if hosts.init_pid(crash) is None:  # no host at all: nothing to judge
                    raise
                late_boot = True
            rejoin = _wait_rejoined(topo, crash, boot_at)
            if late_boot:  # what still keeps it from having finished booting ([] once it has)
                result["boot_jobs_left"] = starting_jobs(crash)
            rejoin["galera_transfer"] = _galera_transfer(crash, log_file, log_offset) if "galera_s" in rejoin else "-"
            result["rejoin"] = rejoin
            late = [c.removesuffix("_s") for c, seconds in rejoin.items()
                    if c.endswith("_s") and c != "all_s" and seconds is None]
            if late:  # what the node's journal says of them: the report is all CI shows of a lab
                result["rejoin_journal"] = rejoin_journal(crash, late)
                result["failed_actions"] = failed_actions(crash)
            time.sleep(5)  # traffic on the healed cluster
        elif action is not None:  # its findings go into the scenario's result
            result.update(action())
            time.sleep(5)
        else:
            # Long enough for every service's client to finish several requests even when its first
            # takes the client's whole timeout: Neutron's first network after the bootstrap timed out
            # (15 s) on 2026-12-06, and a 10 s steady state then created none; on 2026-12-07 a 30 s
            # one created no network and no stack (each create timed out on the loaded hosts).
            time.sleep(60)
    finally:
        load.terminate()
        load.wait(timeout=60)
        if minority is not None:
            minority_events = minority.stop()
    try:
        verified = _client(["verify"], scenario_config, timeout=VERIFY_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raw = exc.stderr or b""  # what it printed before the bound (bytes, whatever text= says)
        done = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).strip().replace("\n", "; ")
        raise LabError(f"client verify outlasted {VERIFY_TIMEOUT_S} s (finished: {done or 'nothing'})") from None
    if verified.returncode != 0:
        raise LabError(f"client verify failed: {verified.stderr.strip()}")
    found = json.loads(verified.stdout)
    result["verify_s"] = found.get("verify_s")
    stuck = found.get("volumes_stuck", {}).values()
    if stuck:  # what Cinder's daemons logged of them: the report is all CI shows of a lab
        result["stuck_volumes"] = {"ids": sorted(stuck), "journal": cinder_journal(list(topo["nodes"]), stuck)}
    events = _events(events_path) + minority_events
    result["figures"] = report.scenario_figures(events, crash_at, found["rows"], found["messages"],
                                                [v["name"] for v in cfg["vips"]], found.get("providers"),
                                                found.get("images"), found.get("flavors"),
                                                found.get("compute_services_down"), "horizon" in cfg,
                                                {k: found[k] for k in ("networks", "routers")} if "neutron" in cfg
                                                else None, ovn_northbound(topo) if "ovn" in topo else None,
                                                found.get("stacks"), found.get("stacks_resumed"),
                                                {k: found[k] for k in ("volumes", "volumes_extended",
                                                                       "volumes_not_extended")}
                                                if "volumes" in found else None)
    return result


def _wait_fenced(root: Path, name: str, crash_at: float) -> dict:
    """Seconds from the fault until the node's BMC was told to power it off (None when the fence
    found it off already: fence_ipmilan's reboot of a host that is off only powers it on), and
    on again."""
    off = on = None
    deadline = crash_at + FENCE_TIMEOUT_S
    while time.monotonic() < deadline:
        for e in bmc.events(root):
            if e["host"] == name and e["t"] >= crash_at:
                if e["action"] == "off" and off is None and on is None:
                    off = round(e["t"] - crash_at, 1)
                elif e["action"] == "on" and on is None:
                    on = round(e["t"] - crash_at, 1)
        if on is not None:
            break
        time.sleep(1)
    return {"off_s": off, "on_s": on}


def _wait_recovered(events_path: Path, cfg: dict, crash_at: float) -> None:
    """Until writes succeed and every VIP answers again after the crash (or the timeout)."""
    while time.monotonic() - crash_at < RECOVER_TIMEOUT:
        time.sleep(1)
        events = _events(events_path)
        recent = [e for e in events if e["t"] > crash_at + 1]
        writes_back = any(e["k"] == "write" and e["ok"] for e in recent[-40:])
        vips_back = all(report.vip_recovery(events, v["name"], crash_at) is not None for v in cfg["vips"])
        if writes_back and vips_back and recent and recent[-1]["t"] - crash_at > 10:
            return
    _log(f"lab: writes or VIPs did not recover within {RECOVER_TIMEOUT} s")


JOURNAL_LINES = 15
# Lab secrets are throwaway, but no secret is printed: a URL's credentials and a password's value go.
_CREDENTIALS = re.compile(r"(://[^:/@\s]+:)[^@\s]+@|((?i:password|passwd|secret|token)\S*\s*[=:]\s*)\S+")


def scrub(line: str) -> str:
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", line)


# The lab's own probes log too (rabbitmqctl runs `su rabbitmq` each time): CI's only view of a
# RabbitMQ that did not come back was 15 lines of them (2026-12-07).
_PROBE_LINES = re.compile(r" su\[\d+\]: |pam_unix\(su:session\)")


def rejoin_journal(name: str, services: list[str]) -> dict[str, list[str]]:
    """The last lines this boot's journal has of each service that did not come back on name."""
    found = {}
    for service in services:
        out = hosts.host_command(name, f"journalctl -b --no-pager -o short-monotonic -n 5000 | "
                                       f"grep -i -- {shlex.quote(service)}",
                                 check=False, timeout=60).stdout
        lines = [line for line in out.splitlines() if not _PROBE_LINES.search(line)]
        found[service] = [scrub(line) for line in lines[-JOURNAL_LINES:]]
    return found


def failed_actions(name: str) -> list[str]:
    """Pacemaker's failed actions, as name's crm_mon lists them: a failed start keeps a resource off
    its node until the failure expires (or an operator cleans it up)."""
    out = hosts.host_command(name, "crm_mon -1 --exclude=all --include=failures", check=False, timeout=60).stdout
    return [scrub(line.strip()) for line in out.splitlines() if line.strip()][:JOURNAL_LINES]


def starting_jobs(name: str) -> list[str]:
    """The start jobs the host's systemd still runs: what keeps it from having finished booting.
    (On 2026-12-07 a fenced controller1 had not finished in 300 s, under the lab's load, and the
    lab stopped there without saying which units held it.)"""
    out = hosts.host_command(name, "systemctl list-jobs --no-legend --no-pager", check=False, timeout=30).stdout
    return [scrub(line.strip()) for line in out.splitlines() if line.strip()][:JOURNAL_LINES]


def cinder_journal(nodes: list[str], volume_ids) -> dict[str, list[str]]:
    """Every line each running node's journal (every boot it kept) has of these volumes, from
    Cinder's units: which daemon took the create, and where it stopped."""
    pattern = " ".join(f"-e {shlex.quote(v)}" for v in sorted(volume_ids))
    found = {}
    for name in nodes:
        if hosts.init_pid(name) is None:
            continue
        out = hosts.host_command(name, f"journalctl --no-pager -o short-iso -u 'cinder-*' "
                                       f"| grep -F {pattern} | tail -n {JOURNAL_LINES}",
                                 check=False, timeout=60).stdout
        found[name] = [scrub(line) for line in out.splitlines()]
    return found


def _wait_rejoined(topo: dict, name: str, boot_at: float) -> dict:
    seen: dict[str, float] = {}
    status: dict[str, bool] = {}
    while time.monotonic() - boot_at < REJOIN_TIMEOUT:
        status = member_status(topo, name)
        for cluster, ok in status.items():
            if ok and cluster not in seen:
                seen[cluster] = round(time.monotonic() - boot_at, 1)
        if status and all(status.values()):
            break
        time.sleep(2)
    rejoin = {f"{c}_s": seen.get(c) for c in status}
    rejoin["all_s"] = max(seen.values()) if status and len(seen) == len(status) else None
    return rejoin


# The bootstrap leaves API servers restarting until their schema exists, and an alert's `for` runs
# on after: the steady state is judged once every target is up and nothing fires.
SETTLE_TIMEOUT_S = 600
# The lab's hosts have overlay roots, which node_exporter ignores (its default excluded types): the
# Galera datadir's filesystem has no node_filesystem_* series there, so its disk alert is only
# proved by promtool's unit test.
LAB_MISSING_METRICS = ("node_filesystem_avail_bytes", "node_filesystem_size_bytes")
MONITORING_DEVIATION = ("Prometheus is this machine's own (the operator's server), on the bundle's monitoring/ "
                        "folder unchanged; node_exporter reports no filesystem of the hosts' overlay roots, so "
                        "HagenGaleraDiskFilling is proved by its promtool test only")


def test(bundle: Path, root: Path = DEFAULT_ROOT, crash: list[str] | None = None,
         hang: list[str] = (), partition: list[str] = (), rerun: bool = True, reconcile_cib: bool = True) -> dict:
    """Traffic through the VIPs, then (with rerun) every node's setup.sh run again under it, then
    (with reconcile_cib) pcs-resources.sh reconciling the running cluster with a changed and the
    deployed bundle, then
    each node (or those in crash) crashed and rebooted in turn,
    then each node in hang hung, then each node in partition cut off from the others (with
    fencing: the survivors must fence them)."""
    _require_root()
    started = time.monotonic()
    topo = read_topology(bundle)
    for fault, nodes in (("hang", hang), ("partition", partition)):
        if nodes and faults.FAULTS[fault].alive and not fenced(topo):
            raise LabError(f"a {fault} leaves the node alive: only fencing makes taking over its resources safe, "
                           f"and this spec waives it; drop the {fault}, or fence the nodes")
        unknown = sorted(set(nodes) - set(topo["nodes"]))
        if unknown:
            raise LabError(f"no node {', '.join(unknown)} in the bundle (its nodes: {', '.join(topo['nodes'])})")
    claim.check_owner(root)
    state = LabState.load(root)
    if not state.hosts:
        raise LabError(f"no lab is up in {root}; run 'hagen lab up BUNDLE' first")
    config = client_config(bundle, topo, state)
    setup = _client(["setup"], write_private(root / "client.json", json.dumps(config)))
    if setup.returncode != 0:
        raise LabError(setup.stderr.strip())
    watch = state.client_address.split("/")[0] if monitored(bundle) else None
    monitoring = None
    if watch:  # every target up and no alert firing before the steady state is judged
        monitoring = prometheus.wait_settled(watch, SETTLE_TIMEOUT_S)
        monitoring["metrics_missing"] = prometheus.missing_metrics(watch, prometheus.metrics_read_by_rules(bundle))
    planned = [("steady", 1, {})] + ([("rerun setup.sh", 2, {"action": lambda: {"setup_reruns": rerun_setup(topo)}})]
                                     if rerun else [])
    if reconcile_cib:
        planned += [(RECONCILE, 3 + 3 * len(topo["nodes"]), {"action": lambda: {"reconcile": reconcile.prove(topo)}})]
    planned += [(f"crash {name}", i, {"crash": name}) for i, name in enumerate(topo["nodes"], start=3)
                if crash is None or name in crash]
    planned += [(f"hang {name}", i, {"crash": name, "fault": "hang"})
                for i, name in enumerate(hang, start=3 + len(topo["nodes"]))]
    planned += [(f"partition {name}", i, {"crash": name, "fault": "partition"})
                for i, name in enumerate(partition, start=3 + 2 * len(topo["nodes"]))]
    scenarios: list[dict] = []
    with hosts.MemoryPeak() as memory:
        for name, index, how in planned:
            at = time.monotonic()
            try:
                scenario = run_scenario(state, topo, config, name, index, watch=watch, **how)
            except Exception as err:  # what ran so far, and where it stopped: CI shows only the report
                (root / "report.json").write_text(json.dumps({"scenarios": scenarios, "error": f"{name}: {err}"},
                                                             indent=2, sort_keys=True) + "\n")
                raise
            scenarios.append({**scenario, "seconds": round(time.monotonic() - at, 1)})
    up_info = json.loads((root / "up.json").read_text()) if (root / "up.json").is_file() else {}
    totals = {"test_s": round(time.monotonic() - started, 1), **memory.figures(), **up_info.get("timings", {})}
    result = {"scenarios": scenarios, "steps": up_info.get("steps", []), "totals": totals,
              "deviations": list(DEVIATIONS) + [FENCING_DEVIATION if fenced(topo) else NO_FENCING_DEVIATION]
              + ([CEPH_DEVIATION] if topo.get("ceph") else [])
              + ([MONITORING_DEVIATION] if watch else [])}
    if monitoring is not None:
        result["monitoring"] = monitoring
    (root / "report.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


# Issue 15 asks that Neutron keep accepting changes "within a bounded time" after a crash. Crashes
# of the NB leader's node left Neutron without a network for 45 to 366 s (2026-12-04 to -07). Three
# causes were found on 2026-12-07 (lab/README.md): Neutron read its OVN hash ring from the database
# on every OVSDB event (api_workers unset; now set), token validations waited for ever on a dead
# pooled connection (now 10 s), and the lab starved the survivors of CPU while the fenced node
# booted (now equal cpu shares). A crash then cost Neutron 40 s. This bound still allows for the
# slower runs seen under CI's load; under 60 s is the goal.
NETWORK_OUTAGE_BOUND_S = 300
# The verify after a scenario: each service's check retries within its own bounds (the compute
# services alone wait up to 120 s for a restarted node's daemons), so the whole may take minutes
# after a crash; this bounds it so that a hung check fails the lab with what had finished.
VERIFY_TIMEOUT_S = 600


def problems(result: dict) -> list[str]:
    """What the report says went wrong (empty when the control plane passed)."""
    found = monitoring_problems(result)
    for s in result["scenarios"]:
        f = s["figures"]
        if "reconcile" in s:
            found += reconcile.problems(s["name"], s["reconcile"])
        if s.get("boot_jobs_left"):  # a unit that never finishes starting holds the node's boot for ever
            found.append(f"{s['name']}: {s['node']} was still starting units after it rejoined: "
                         + "; ".join(s["boot_jobs_left"]))
        for key in ("rows_lost", "messages_lost"):
            if f[key]:
                found.append(f"{s['name']}: {key} = {f[key]}")
        if not f["tokens_issued"]:
            found.append(f"{s['name']}: no Keystone token issued")
        if "providers_created" in f and (f["providers_lost"] or not f["providers_created"]):
            found.append(f"{s['name']}: Placement created {f['providers_created']} resource providers, "
                         f"{f['providers_lost']} of them lost")
        if "images_created" in f and (f["images_lost"] or not f["images_created"]):
            found.append(f"{s['name']}: Glance took {f['images_created']} images, {f['images_lost']} of them lost")
        if "flavors_created" in f and (f["flavors_lost"] or not f["flavors_created"]):
            found.append(f"{s['name']}: Nova created {f['flavors_created']} flavors, {f['flavors_lost']} of them lost")
        # Nova's daemons must all be up when the lab ends; after each crash the report gives those
        # still down two minutes on (the lab saw the survivors' conductor and scheduler report late
        # after the crash of the node holding the VIPs; not understood yet, see issue 14's note).
        if s is result["scenarios"][-1] and f.get("compute_services_down"):
            found.append(f"{s['name']}: Nova daemons not up at the end: {', '.join(f['compute_services_down'])}")
        if "networks_created" in f and (f["networks_lost"] or not f["networks_created"]):
            found.append(f"{s['name']}: Neutron created {f['networks_created']} networks, {f['networks_lost']} "
                         "of them (or their routers) lost")
        if f.get("network_recovered") is False:
            found.append(f"{s['name']}: Neutron accepted no network after the crash")
        elif f.get("network_outage_s", 0) > NETWORK_OUTAGE_BOUND_S:
            found.append(f"{s['name']}: Neutron accepted no network for {f['network_outage_s']} s after the crash "
                         f"(bound {NETWORK_OUTAGE_BOUND_S} s)")
        for member, missing in f.get("northbound_missing", {}).items():
            if missing:
                found.append(f"{s['name']}: OVN member {member}'s Northbound lacks {missing} acknowledged "
                             "switches or routers")
        if "stacks_created" in f:
            if not f["stacks_created"] or f["stacks_lost"] or f["stack_outputs_wrong"] or f["stacks_broken_before"]:
                found.append(f"{s['name']}: Heat accepted {f['stacks_created']} stacks: {f['stacks_lost']} lost, "
                             f"{f['stack_outputs_wrong'] + f['stacks_broken_before']} with wrong outputs "
                             f"({f['stack_failures']} refused: {f.get('stack_errors') or 'none'})")
            if s is result["scenarios"][-1] and f["stacks_in_progress"]:
                found.append(f"{s['name']}: {f['stacks_in_progress']} stacks still in progress at the end, "
                             "resumed once by an update")
        if "volumes_created" in f:
            if not f["volumes_created"] or f["volumes_lost"]:
                found.append(f"{s['name']}: Cinder accepted {f['volumes_created']} volumes, {f['volumes_lost']} of "
                             f"them lost ({f['volume_failures']} refused: {f.get('volume_errors') or 'none'})")
            if f["volumes_not_extended"]:
                found.append(f"{s['name']}: {f['volumes_not_extended']} earlier volumes could not be extended")
            # Cinder acknowledges a cast to its scheduler or cinder-volume before it records the work
            # (its workers table, from which a restarted daemon sets what it held to 'error'): a create
            # taken by a daemon that died in that instant, or whose first write found no database,
            # stays 'creating' for good (the operator resets it). A fault may leave that; nothing else.
            if f["volumes_creating"] and "fault" not in s:
                found.append(f"{s['name']}: {f['volumes_creating']} volumes still being created at the end")
            if "rejoin" not in s and f["volumes_error"]:  # with every node up, no create may fail
                found.append(f"{s['name']}: {f['volumes_error']} accepted volumes ended in error with every node up")
        if "logins" in f and not f["logins"]:
            found.append(f"{s['name']}: no one could log in to the dashboard ({f['login_failures']} tries: "
                         f"{f.get('login_errors') or 'none ended'})")
        # A crash takes the sessions its memcached held (those users log in again); with every node
        # up, a session must follow its user to every node.
        if "sessions_lost" in f and f["sessions_lost"] and "rejoin" not in s:
            found.append(f"{s['name']}: {f['sessions_lost']} dashboard sessions lost with every node up")
        if not f["writes_acknowledged"] or not f["messages_confirmed"]:
            found.append(f"{s['name']}: no write or no message went through")
        for vip, seconds in f.get("vip_answers_again_s", {}).items():
            if seconds is None:
                found.append(f"{s['name']}: {vip} never answered again")
        for node, rerun in s.get("setup_reruns", {}).items():
            if rerun["exit"] or rerun["files_changed"]:
                found.append(f"{s['name']}: setup.sh on {node} is not a no-op: {rerun}")
        fence = s.get("fence")
        if fence is not None and fence["on_s"] is None:
            found.append(f"{s['name']}: the node was not fenced within {FENCE_TIMEOUT_S} s "
                         f"(its BMC powered it off after {fence['off_s']} s, never on again)"
                         if fence["off_s"] is not None else
                         f"{s['name']}: the node was not fenced within {FENCE_TIMEOUT_S} s (its BMC was never asked)")
        # A hung or cut-off node's processes still run once it is powered on again unless its BMC
        # cut them first.
        alive = s.get("fault") in faults.FAULTS and faults.FAULTS[s["fault"]].alive
        if fence is not None and alive and fence["on_s"] is not None and fence["off_s"] is None:
            found.append(f"{s['name']}: the node ({s['fault']}) was powered on again without being powered off")
        if s.get("fault") == "partition":
            if not f.get("minority_writes_tried"):
                found.append(f"{s['name']}: the probe on the cut-off node made no write attempt")
            elif f["minority_writes_acknowledged"] or f["minority_rows_lost"]:
                found.append(f"{s['name']}: the cut-off node's Galera member acknowledged "
                             f"{f['minority_writes_acknowledged']} writes ({f['minority_rows_lost']} of them lost): "
                             "a minority must refuse every write")
        rejoin = s.get("rejoin")
        if rejoin is not None and rejoin.get("all_s") is None:
            found.append(f"{s['name']}: the node did not rejoin every cluster: {rejoin}")
            for service, lines in s.get("rejoin_journal", {}).items():
                found.append(f"{s['name']}: {service}'s journal on the node: " + (" | ".join(lines) or "(nothing)"))
            if s.get("failed_actions"):
                found.append(f"{s['name']}: Pacemaker's failed actions: " + " | ".join(s["failed_actions"]))
    return found


def monitoring_problems(result: dict) -> list[str]:
    """The lab Prometheus's view: every target up and every metric the rules read exported before
    the steady state; no alert during the steady state or the setup.sh rerun; after a crash, some
    alert naming the crashed node, and none left once it is back."""
    watched = result.get("monitoring")
    if watched is None:
        return []
    found = []
    if watched["settled_s"] is None:
        found.append(f"monitoring: before the steady state, targets down {watched['targets_down']} "
                     f"and alerts firing {watched['firing']}")
    missing = [m for m in watched["metrics_missing"] if m not in LAB_MISSING_METRICS]
    if missing:
        found.append(f"monitoring: the alert rules read metrics no exporter gives: {', '.join(missing)}")
    for s in result["scenarios"]:
        m = s.get("monitoring")
        if m is None:
            continue
        if "rejoin" not in s and m["alerts"]:
            found.append(f"{s['name']}: alerts fired with every node up: {', '.join(m['alerts'])}")
        if "rejoin" in s:
            node = s["node"]
            if not any(re.search(rf"[{{,](instance|node|server)={re.escape(node)}[,}}]", key) for key in m["alerts"]):
                found.append(f"{s['name']}: no alert named the crashed node (fired: {', '.join(m['alerts']) or 'none'})")
            if m["still_firing"] or m["targets_down"]:
                found.append(f"{s['name']}: {ALERTS_CLEAR_TIMEOUT_S} s after the verify, still firing "
                             f"{m['still_firing']}, targets down {m['targets_down']}")
    return found


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it created namespaces, mounts and cgroups as root)")


def down(root: Path = DEFAULT_ROOT) -> list[str]:
    _require_root()
    claim.check_owner(root)  # another root's lab has hosts of the same names: never touch them
    removed = hosts.teardown(root)
    claim.release(root)
    return removed
