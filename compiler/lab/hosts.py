"""Whole Debian hosts for the lab: one debootstrapped root shared through overlayfs, each host
booted by systemd-nspawn (systemd as PID 1, cloud-init on a NoCloud seed) on a bridge inside a
network namespace of the lab's own. Everything created is recorded in a state file first, so
`down` can remove it by PID and path even after an interrupted run.

Facts this relies on (../shared/lab-notes.md, seen on this machine type): the machine has no
systemd of its own, so nspawn runs with --register=no --keep-unit, each launcher first moves
itself into its own cgroup (or several nspawn instances clash), and commands enter the lab
namespace with `nsenter --net=` (`ip netns exec` remounts /sys and hides the cgroup mounts).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NETNS = "hagenlab"
BRIDGE = "br0"
BRIDGE_MAC = "02:68:61:67:65:6e"  # locally administered ("hagen"), unique in the lab's own namespace
CGROUP_ROOT = Path("/sys/fs/cgroup")
# systemd and unified are where nspawn looks; memory gives the peak of every host together; cpu
# gives each host an equal share of this machine's CPUs when they contend, as separate servers
# have their own: without it a host booting after its fence (some twenty services starting at
# once) took the survivors' CPU, and the lab measured its own starvation (load 29 on two cores,
# Keystone's bcrypt password checks queueing for a minute) as the control plane's failover.
CGROUP_CONTROLLERS = ("systemd", "unified", "memory", "cpu")
CGROUP_GROUP = "hagen-lab"
# What a booted host needs beside the bundle's packages (apt-get resolves their dependencies).
BASE_EXTRA_PACKAGES = ("systemd", "systemd-sysv", "dbus", "cloud-init", "iproute2")
PATH_IN_HOST = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class LabError(Exception):
    """Something the lab could not do; the message says what and where to look."""


@dataclass
class LabState:
    """What the lab created, saved before each step so that teardown finds it all."""
    root: Path
    netns: str = NETNS
    base: str = ""
    base_owned: bool = True
    hosts: dict[str, dict] = field(default_factory=dict)
    client_address: str = ""

    @property
    def path(self) -> Path:
        return self.root / "state.json"

    def save(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # hosts' disks hold the deploy secrets
        data = {"netns": self.netns, "base": self.base, "base_owned": self.base_owned,
                "hosts": self.hosts, "client_address": self.client_address}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    @classmethod
    def load(cls, root: Path) -> "LabState":
        state = cls(root)
        if state.path.is_file():
            data = json.loads(state.path.read_text(encoding="utf-8"))
            state.netns, state.base = data["netns"], data["base"]
            state.base_owned, state.hosts = data["base_owned"], data["hosts"]
            state.client_address = data["client_address"]
        return state


def run(argv: list[str], *, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise LabError(f"{' '.join(argv[:6])} exited {proc.returncode}:\n  " + "\n  ".join(tail))
    return proc


def fill_empty_secrets(secrets: Path, pattern: str, make_value, comment: str, fill_note: str = "") -> list[str]:
    """Give each value a secrets file leaves empty (a line '<name>: \'\'' whose name matches
    pattern and whose FILL IN note starts with fill_note) a new one from make_value(): what an
    owner outside the bundle would fill in (a Ceph key, a BMC password), chosen by the lab for its
    own stand-ins. The names filled; no value printed."""
    filled, lines = [], []
    note = rf"\s*# FILL IN: {re.escape(fill_note)}" if fill_note else ""
    for line in secrets.read_text().splitlines(keepends=True):
        match = re.match(rf"^({pattern}): ''{note}", line)
        if match:
            line = f"{match.group(1)}: '{make_value()}'  # {comment}\n"
            filled.append(match.group(1))
        lines.append(line)
    secrets.write_text("".join(lines))
    secrets.chmod(0o600)
    return filled


def kill_pid_file(pid_file: Path) -> bool:
    """SIGKILL the daemon a pid file names (the lab's Prometheus, BMCs, Ceph daemons): whether one
    was still there to kill."""
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        return True
    except (OSError, ValueError):  # no file, a process already gone, or a half-written file
        return False


def in_netns(argv: list[str], netns: str = NETNS) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]


def preflight() -> str | None:
    """Why the lab cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, overlay mounts, cgroups, systemd-nspawn)"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install systemd-container debootstrap util-linux iproute2)"
    for controller in CGROUP_CONTROLLERS:
        if not (CGROUP_ROOT / controller).is_dir():
            return f"no cgroup hierarchy {CGROUP_ROOT / controller}"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        return "network namespaces are not available here"
    return None


# --- the base root ------------------------------------------------------------------------


def debian_mirror() -> str:
    """The machine's own Debian mirror (the registry this machine is allowed to reach)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def debootstrap(root: Path, suite: str, packages: list[str], *, debconf: str = "", keep_services_down: bool,
                log) -> None:
    """A Debian root of suite holding packages, in two steps: a minimal base (with adduser, which
    package scripts call), then apt-get inside it with no service started. On trixie a one-step
    --include fails configuring mariadb-server (seen here). debconf: answers given to
    debconf-set-selections first, as the bundle's setup.sh gives them. keep_services_down=False
    removes the policy-rc.d afterwards, so the root's services start when it boots."""
    base_argv = ["debootstrap", "--variant=minbase", "--include=adduser", suite, str(root), debian_mirror()]
    try:
        run(base_argv, timeout=1800)
    except LabError as err:  # a download cut short by the mirror: once more from a clean folder
        log(f"debootstrap failed, retrying once: {str(err).splitlines()[0]}")
        shutil.rmtree(root, ignore_errors=True)
        run(base_argv, timeout=1800)
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    if debconf:
        proc = subprocess.run(["chroot", str(root), "debconf-set-selections"], input=debconf, capture_output=True,
                              text=True, timeout=60)
        if proc.returncode:
            raise LabError("debconf-set-selections in the root failed: " + proc.stderr.strip()[-300:])
    # Package scripts read /proc (nova-common's finds its my_ip default from /proc/net/route and
    # fails without it): a private mount namespace gives the chroot its own /proc for the install.
    install = ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root / 'proc'}", "chroot", str(root),
               "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
               "--no-install-recommends", *packages]
    try:
        run(install, timeout=1800)
    except LabError as err:
        log(f"apt-get install failed, retrying once: {str(err).splitlines()[0]}")
        run(install, timeout=1800)
    run(["chroot", str(root), "apt-get", "clean"], check=False)
    if not keep_services_down:
        policy.unlink()


@contextlib.contextmanager
def building(root: Path, log):
    """Held while root is checked and (re)built: a second build of the same root (CI builds the
    lab's base in the background while the lab test starts) waits for the first and then finds
    its marker, instead of removing a root half made."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another build of {root} to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # the lock ends with the file's closing


def build_base(base: Path, suite: str, packages: list[str], debconf: str, log) -> float:
    """Debootstrap the root every host shares; return the seconds it took (0 when reused).
    The bundle's packages are preinstalled so each host's own install step is a no-op."""
    with building(base, lambda m: log("lab: " + m)):
        return _build_base(base, suite, packages, debconf, log)


def _build_base(base: Path, suite: str, packages: list[str], debconf: str, log) -> float:
    wanted = sorted(set(BASE_EXTRA_PACKAGES) | set(packages))
    stamp = [suite, *wanted]
    marker = base / ".hagen-lab-base"
    if marker.is_file() and marker.read_text().split() == stamp:
        return 0.0
    if base.exists():
        shutil.rmtree(base)
    started = time.monotonic()
    log(f"lab: building a {suite} base root in {base} ({len(wanted)} packages named; a few minutes)")
    debootstrap(base, suite, wanted, debconf=debconf, keep_services_down=False, log=lambda m: log("lab: " + m))
    (base / "etc/cloud/cloud.cfg.d/99_lab.cfg").write_text(
        "# hagen lab: the seed is in /var/lib/cloud/seed/nocloud; no locales package in the base\n"
        "datasource_list: [ NoCloud, None ]\nlocale: false\n")
    (base / "etc/machine-id").write_text("")  # each host makes its own at first boot
    run(["chroot", str(base), "systemctl", "enable", "systemd-networkd"])
    marker.write_text(" ".join(stamp) + "\n")
    return time.monotonic() - started


def disable_units(base: Path, units: list[str]) -> None:
    """Disable units in the base root (offline: systemctl edits the enablement symlinks)."""
    present = [u for u in units if any((base / d / f"{u}.service").exists()
                                       for d in ("usr/lib/systemd/system", "lib/systemd/system"))]
    if present:
        run(["systemctl", f"--root={base}", "disable", *present])


# --- the network --------------------------------------------------------------------------


def create_network(state: LabState, client_cidr: str) -> None:
    """The lab's network namespace with a bridge; the client's address sits on the bridge."""
    if not Path(f"/run/netns/{state.netns}").exists():
        run(["ip", "netns", "add", state.netns])
    run(in_netns(["ip", "link", "add", BRIDGE, "type", "bridge"], state.netns), check=False)
    # A bridge takes the lowest MAC of its ports unless given one: each host's power cycle (a new
    # veth) could change it, and the hosts' ARP entries for everything on the bridge (the client,
    # the BMCs, Ceph, Prometheus) then named a MAC nobody answered for until they expired; the lab
    # saw the survivors' fence agents and the client's traffic go unanswered for a minute.
    run(in_netns(["ip", "link", "set", BRIDGE, "address", BRIDGE_MAC], state.netns))
    run(in_netns(["ip", "link", "set", "lo", "up"], state.netns))
    run(in_netns(["ip", "link", "set", BRIDGE, "up"], state.netns))
    run(in_netns(["ip", "addr", "replace", client_cidr, "dev", BRIDGE], state.netns))


# --- hosts --------------------------------------------------------------------------------


def _cgroup_dirs(host: str) -> list[Path]:
    return [CGROUP_ROOT / c / CGROUP_GROUP / host for c in CGROUP_CONTROLLERS]


def _joining_cgroups(host: str):
    """What a child runs before exec to become one of the host's processes (in its cgroups)."""
    cgroups = _cgroup_dirs(host)

    def join() -> None:
        for d in cgroups:
            (d / "cgroup.procs").write_text(str(os.getpid()))
    return join


def prepare_host(state: LabState, name: str, user_data: bytes, network_config: str,
                 shared: list[str] = ()) -> None:
    """The host's disk: an overlay on the base with the NoCloud seed in its upper layer; and the
    shared filesystems the bundle needs, as one directory of the lab's root bind-mounted into
    every host that mounts it (standing in for an NFS export)."""
    root = state.root / "hosts" / name
    upper, work, merged = root / "upper", root / "work", root / "merged"
    binds = []
    for path in shared:
        source = state.root / "shared" / path.strip("/").replace("/", "_")
        if not source.is_dir():
            source.mkdir(parents=True)
            packaged = Path(state.base) / path.lstrip("/")  # its owner as the base's packages made it
            if packaged.exists():
                os.chown(source, packaged.stat().st_uid, packaged.stat().st_gid)
        binds.append([str(source), path])
    state.hosts[name] = {"upper": str(upper), "work": str(work), "merged": str(merged), "binds": binds}
    state.save()
    for d in (upper, work, merged):
        d.mkdir(parents=True, exist_ok=True)
    seed = upper / "var/lib/cloud/seed/nocloud"
    seed.mkdir(parents=True, exist_ok=True)
    (seed / "meta-data").write_text(f"instance-id: {name}\nlocal-hostname: {name}\n")
    (seed / "user-data").write_bytes(user_data)
    os.chmod(seed / "user-data", 0o600)
    (seed / "network-config").write_text(network_config)
    mount_overlay(state, name)


def mount_overlay(state: LabState, name: str) -> None:
    h = state.hosts[name]
    if subprocess.run(["mountpoint", "-q", h["merged"]]).returncode != 0:
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={state.base},upperdir={h['upper']},workdir={h['work']}", h["merged"]])


def boot_host(state: LabState, name: str) -> None:
    """Power the host on: systemd-nspawn in its own cgroup, mount namespace and the lab's network."""
    h = state.hosts[name]
    for d in _cgroup_dirs(name):
        d.mkdir(parents=True, exist_ok=True)
    _remove_stale_link(state, name)
    console = open(state.root / "hosts" / f"{name}.console", "ab")
    argv = in_netns(["unshare", "--mount", "--propagation", "private",
                     "systemd-nspawn", "-D", h["merged"], "-M", name, "--boot", "--register=no", "--keep-unit",
                     f"--network-bridge={BRIDGE}", "--console=pipe",
                     *(f"--bind={source}:{target}" for source, target in h.get("binds", []))], state.netns)
    # Its processes are found again through the host's cgroup (host_pids), so no PID is kept here.
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                     preexec_fn=_joining_cgroups(name), start_new_session=True)
    console.close()


def _cgroup_tree(top: Path) -> list[Path]:
    """Every cgroup folder under top, deepest first.

    The host's systemd creates and removes sub-cgroups while we walk (units start and stop),
    so a folder that vanishes mid-walk is skipped, never an error: os.walk ignores it."""
    return [Path(d) for d, _, _ in os.walk(top, topdown=False)]


def host_pids(name: str) -> list[int]:
    """Every process of the host, in every sub-cgroup nspawn and the host's systemd made."""
    pids = []
    for d in _cgroup_tree(CGROUP_ROOT / "systemd" / CGROUP_GROUP / name):
        try:
            pids += [int(p) for p in (d / "cgroup.procs").read_text().split()]
        except OSError:
            pass  # removed since the walk saw it
    return pids


def _signal_all(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # gone since the cgroup listed it


def crash_host(name: str) -> None:
    """A power cut: SIGKILL to every process of the host until none is left."""
    for _ in range(50):
        pids = host_pids(name)
        if not pids:
            return
        _signal_all(pids, signal.SIGKILL)
        time.sleep(0.2)
    raise LabError(f"{name}: processes survive SIGKILL: {host_pids(name)}")


def freeze_host(name: str) -> None:
    """A hung node: SIGSTOP to every process of the host (again, until no new one appears). It is
    not dead: its kernel side (its network namespace) still answers, its processes do nothing,
    and only fencing makes taking over its resources safe. SIGKILL (crash_host) still ends them."""
    stopped: set[int] = set()
    for _ in range(20):
        pids = set(host_pids(name)) - stopped
        if not pids:
            return
        _signal_all(pids, signal.SIGSTOP)
        stopped |= pids
        time.sleep(0.1)
    raise LabError(f"{name}: new processes keep appearing while it is being frozen")


def _lab_side_interface(name: str) -> str:
    """The lab-side end of the host's veth (nspawn names it after the machine, shortened when
    long): the interface whose index the host's host0 names as its peer."""
    peer = host_command(name, "cat /sys/class/net/host0/iflink", timeout=30).stdout.strip()
    links = run(in_netns(["ip", "-o", "link", "show"])).stdout
    for line in links.splitlines():
        index, ifname = line.split(":")[:2]
        if index.strip() == peer:
            return ifname.strip().split("@")[0]
    raise LabError(f"{name}: no interface of the lab network has index {peer} (its host0's peer)")


def remember_link(state: LabState, name: str) -> None:
    """Note the booted host's lab-side interface, which every later boot of it gets again."""
    state.hosts[name]["link"] = _lab_side_interface(name)
    state.save()


def _remove_stale_link(state: LabState, name: str) -> None:
    """A power cut leaves the host's old network namespace alive while its orphaned TCP sockets
    still retransmit their FINs, and its veth with it; when the host was cut off the network they
    never get an answer, and nspawn then failed for two minutes with 'File exists' (the lab saw the
    survivors' fence time out twice). A real power-on gets a fresh link: delete the old one."""
    link = state.hosts[name].get("link")
    if link and run(in_netns(["ip", "link", "show", "dev", link], state.netns), check=False).returncode == 0:
        run(in_netns(["ip", "link", "delete", "dev", link], state.netns), check=False)


def cut_off(name: str) -> None:
    """A partition: the host's link to the lab network goes down (a pulled cable). The host runs on
    and sees no carrier; the others see it vanish. A power cycle (its fencing) boots it on a new
    link, which heals it."""
    run(in_netns(["ip", "link", "set", "dev", _lab_side_interface(name), "down"]))


def host_process(name: str, script: str) -> subprocess.Popen:
    """A bash script running inside the host in the background, as one of the host's own
    processes: it joins the host's cgroups first, so a power cut (crash_host) ends it with the
    rest, and it never outlives the host to hold its namespaces. Its stdout is a pipe."""
    return subprocess.Popen(_entering(name, script), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=_joining_cgroups(name),
                            start_new_session=True)


def init_pid(name: str) -> int | None:
    """The host's PID 1 (systemd), seen from here."""
    for pid in host_pids(name):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == "1" and len(line.split()) > 2:
                return pid
    return None


def host_command(name: str, script: str, *, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run a bash script inside the host, as root, in all of its namespaces. It stays in this
    machine's root cgroup: a bootstrap step then gets a CPU of its own while the host's daemons spin
    waiting for the schema it writes. (Joined to the host's cgroups, and with the hosts given
    priority over other work, nova-bootstrap.sh took 15 minutes against one.)"""
    return run(_entering(name, script), timeout=timeout, check=check)


def _entering(name: str, script: str) -> list[str]:
    """bash running script in all the host's namespaces, as root."""
    pid = init_pid(name)
    if pid is None:
        raise LabError(f"{name} is not running")
    return ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--",
            "/usr/bin/env", "-i", f"PATH={PATH_IN_HOST}", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
            "/bin/bash", "-c", script]


def wait_booted(name: str, timeout: float = 120) -> float:
    """Seconds until the host's systemd finished starting its units."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if init_pid(name) is not None:
            proc = host_command(name, "systemctl is-system-running", check=False, timeout=30)
            if proc.stdout.strip() in ("running", "degraded"):
                return time.monotonic() - started
        time.sleep(0.5)
    raise LabError(f"{name} did not finish booting in {timeout:.0f} s; see its console log")


# --- memory -------------------------------------------------------------------------------


class MemoryPeak:
    """The highest resident memory (RSS, page cache excluded) of all lab hosts together, sampled
    each second from their memory cgroup; also the cgroup's own peak, which counts page cache."""

    def __init__(self) -> None:
        import threading

        self.group = CGROUP_ROOT / "memory" / CGROUP_GROUP
        self.rss_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            try:
                for line in (self.group / "memory.stat").read_text().splitlines():
                    if line.startswith("total_rss "):
                        self.rss_peak = max(self.rss_peak, int(line.split()[1]))
            except OSError:
                pass

    def __enter__(self) -> "MemoryPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict:
        try:
            with_cache = int((self.group / "memory.max_usage_in_bytes").read_text())
        except OSError:
            with_cache = 0
        return {"peak_rss_mb": round(self.rss_peak / 2**20), "peak_with_page_cache_mb": round(with_cache / 2**20)}


# --- teardown -----------------------------------------------------------------------------


def teardown(root: Path) -> list[str]:
    """Remove everything the state file names, by PID and path; safe to run twice."""
    from . import bmc, ceph, prometheus  # (they run their daemons through this module)
    state = LabState.load(root)
    removed = bmc.stop(root)  # first: a BMC would power a host on again behind the teardown
    for name, h in sorted(state.hosts.items()):
        crash_host(name)
        for d in _cgroup_dirs(name):
            for sub in _cgroup_tree(d):  # deepest first, d itself last
                try:
                    sub.rmdir()
                except FileNotFoundError:
                    pass
        if subprocess.run(["mountpoint", "-q", h["merged"]]).returncode == 0:
            run(["umount", h["merged"]], check=False)
            if subprocess.run(["mountpoint", "-q", h["merged"]]).returncode == 0:
                run(["umount", "-l", h["merged"]])
        removed.append(f"host {name}")
    # The group is the machine's, not this lab's: another lab (or one abandoned before it) may
    # still have hosts in it, and then it and nspawn's runtime directory stay.
    others = False
    for c in CGROUP_CONTROLLERS:
        group = CGROUP_ROOT / c / CGROUP_GROUP
        if group.is_dir():
            try:
                group.rmdir()
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                others = True
    removed += ceph.stop(root)  # the external storage the hosts used, in the namespace
    removed += prometheus.stop(root)  # the operator's monitoring server, in the namespace
    if Path(f"/run/netns/{state.netns}").exists():
        run(["ip", "netns", "del", state.netns], check=False)
        removed.append(f"netns {state.netns}")
    if not others:
        shutil.rmtree("/run/systemd/nspawn", ignore_errors=True)  # nspawn's leftovers (no machined here)
    if state.base and state.base_owned and Path(state.base).exists():
        shutil.rmtree(state.base)
        removed.append("base root")
    for sub in ("hosts", "shared"):  # the hosts' disks, and the shared stores (images)
        if (root / sub).exists():
            shutil.rmtree(root / sub)
    # The client's files hold credentials; the report, up.json and steps.log stay for the operator.
    for pattern in ("client*.json", "client-mysql.cnf", "events-*.jsonl"):
        for path in root.glob(pattern):
            path.unlink()
    if state.path.exists():
        state.path.unlink()
    return removed
