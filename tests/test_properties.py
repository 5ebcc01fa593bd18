"""Hypothesis properties over generated topologies, checked on the EMITTED FILES parsed back
independently (haproxy.cfg, pcs commands, galera.cnf, keystone.conf, hosts, user-data),
never on the compiler's model: a bug in one emitter makes them disagree."""

import base64
import configparser
import functools
import io
import ipaddress
import json
import os
import re
import shlex
import subprocess
import urllib.parse
from collections import defaultdict

from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compiler import catalog
from compiler.targets import TARGETS
from compiler.pipeline import compile_doc
from compiler.spec import load_spec_text

# No example database: a run here replays what earlier runs stored, a clean clone cannot, and a
# mutation once passed here only through a stored example (CI, from a clean clone, saw it fail).
settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HAGEN_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

RESERVED = {3306, 4567, 4568, 4444, 9200, 5672, 4369, 25672, 5000, 11211, 35357, 6641, 6642, 6643, 6644,
            2379, 2380, 9100, 8405, 9104, 15692, 9664}
names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@st.composite
def topologies(draw):
    count = draw(st.integers(1, 7))
    node_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    # Networks of several sizes: a /24 hides any value derived from the prefix length.
    prefix = draw(st.sampled_from([16, 20, 23, 24, 25, 27, 28]))
    net = ipaddress.IPv4Network(f"10.{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}.0/{prefix}",
                                strict=False)
    hosts = draw(st.lists(st.integers(1, net.num_addresses - 2), min_size=count + 3, max_size=count + 3,
                          unique=True))
    nodes = [{"name": f"n{n}", "address": str(net.network_address + h)} for n, h in zip(node_names, hosts)]
    interfaces = draw(st.sampled_from(["none", "same", "mixed"]))  # what IPaddr2's nic is derived from
    for node in nodes:
        if interfaces != "none":
            node["interface"] = "eth0" if interfaces == "same" else draw(st.sampled_from(["eth0", "ens3"]))
    vip_addrs = [str(net.network_address + h) for h in hosts[count:]]
    waiver = draw(st.booleans())
    for i, node in enumerate(nodes):
        if not waiver:
            node["fencing"] = {"address": f"172.16.0.{i + 1}", "username": "admin", "password_secret": f"ipmi_{i}"}

    def subset(min_size=1):
        return draw(st.lists(st.sampled_from([n["name"] for n in nodes]), min_size=min_size, unique=True))

    galera_size = draw(st.sampled_from([s for s in range(1, count + 1) if s != 2]))  # 4 and 6: a warning; 2: an error
    galera = draw(st.permutations([n["name"] for n in nodes]))[:galera_size]
    lb, rabbit, keystone = subset(), subset(), subset()
    leftover = [n["name"] for n in nodes if n["name"] not in set(lb) | set(galera) | set(rabbit) | set(keystone)]
    keystone = keystone + leftover
    clustered = set(lb) | set(galera) | set(rabbit)
    if not waiver and draw(st.booleans()):  # Keystone-only nodes are in no cluster: fencing is optional there
        for node in nodes:
            if node["name"] not in clustered:
                node.pop("fencing", None)
    ports = draw(st.lists(st.integers(1024, 40000).filter(lambda p: p not in RESERVED and p + 20000 not in RESERVED),
                          min_size=4, max_size=4, unique=True))
    if len(set(ports) | {p + 20000 for p in ports}) < 8:
        ports = [13306, 15000, 15672, 19200]
    db_port, ks_port, rmq_port, check_port = ports
    use_rabbit_vip = draw(st.booleans())
    vips = [{"name": "vip-db", "address": vip_addrs[0], "hostname": draw(names) + "-db"},
            {"name": "vip-ks", "address": vip_addrs[1], "hostname": draw(names) + "-ks"}]
    rabbit_spec = {"nodes": rabbit, "port": rmq_port}
    if use_rabbit_vip:
        vips.append({"name": "vip-mq", "address": vip_addrs[2], "hostname": draw(names) + "-mq"})
        rabbit_spec.update(vip="vip-mq", clients=draw(st.sampled_from(["direct", "vip"])))
    spec = {
        "version": 1,
        "cluster": {"name": "c" + draw(names), "target": draw(st.sampled_from(["debian12", "debian13", "el9"]))},
        "networks": [{"name": "mgmt", "cidr": str(net)}],
        "nodes": draw(st.permutations(nodes)),
        "vips": draw(st.permutations(vips)),
        "services": {"loadbalancer": {"nodes": lb},
                     "galera": {"nodes": list(galera), "vip": "vip-db", "port": db_port, "clustercheck_port": check_port},
                     "rabbitmq": rabbit_spec,
                     "keystone": {"nodes": keystone, "vip": "vip-ks", "public_port": ks_port}},
    }
    if draw(st.booleans()):
        spec["services"]["keystone"]["memcached_nodes"] = draw(
            st.lists(st.sampled_from(keystone), min_size=1, unique=True))
    if waiver:
        spec["cluster"]["fencing_waiver"] = {"reason": "generated test"}
    if draw(st.booleans()):  # the Prometheus servers (on debian13; elsewhere a refused key)
        spec["monitoring"] = {"scrapers": draw(st.lists(st.sampled_from(["10.250.0.7", "10.250.0.8", "172.31.0.0/28"]),
                                                        min_size=1, unique=True))}
    if draw(st.integers(0, 5)) == 0:  # TLS is the default; a waiver now and then
        spec["cluster"]["tls_waiver"] = {"reason": "generated test"}
    # Settings copied from the spec into one consumer each, drawn so that a default hides nothing.
    if draw(st.booleans()):
        spec["services"]["loadbalancer"]["maxconn"] = draw(st.integers(100, 200000))
    if draw(st.booleans()):
        spec["services"]["galera"]["gcache_size"] = f"{draw(st.integers(1, 4096))}{draw(st.sampled_from('MG'))}"
        spec["services"]["galera"]["sst_method"] = draw(st.sampled_from(["mariabackup", "rsync"]))
    if draw(st.booleans()):
        spec["services"]["keystone"]["region"] = draw(st.sampled_from(["RegionTwo", "eu-west-1", "dc_2"]))
    # The catalog's other services, which only debian13 (2025.1) compiles; el9 examples stay el9
    # (kickstart carries every file base64-encoded, which one mutation needs to be seen).
    if spec["cluster"]["target"] != "el9" and draw(st.booleans()):
        spec["cluster"]["target"] = "debian13"
        used = set(ports) | {p + 20000 for p in ports} | RESERVED
        for service, short in (("placement", "pl"), ("glance", "gl"), ("nova", "nv"), ("neutron", "nt"),
                               ("heat", "ht"), ("cinder", "cd"), ("horizon", "hz")):
            if service == "glance" and draw(st.integers(0, 3)) == 0:  # mostly with Glance, sometimes without
                continue
            if service == "nova" and "glance" not in spec["services"]:  # Nova needs Glance and Placement
                continue
            # (Cinder always: how its volume service runs has several branches to reach.)
            if service in ("horizon", "neutron", "heat") and not draw(st.booleans()):
                continue
            placed = {}
            for key in ("port", *catalog.frontend_port_keys(service)):
                port = draw(st.integers(1024, 60000).filter(lambda p: p not in used))
                used.add(port)
                placed[key] = port
            if draw(st.booleans()):
                placed["nodes"] = subset()
            if draw(st.booleans()):  # its own VIP, or (default) Keystone's on its own port
                taken = {n["address"] for n in nodes} | {v["address"] for v in spec["vips"]}
                address = draw(st.integers(1, net.num_addresses - 2).map(lambda h: str(net.network_address + h))
                               .filter(lambda a: a not in taken))
                spec["vips"].append({"name": f"vip-{short}", "address": address, "hostname": draw(names) + f"-{short}"})
                placed["vip"] = f"vip-{short}"
            if draw(st.booleans()):
                placed["workers"] = draw(st.integers(1, 8))
            if service == "glance":  # a shared directory, or an external Ceph pool
                placed["store"] = draw(st.sampled_from([
                    {"type": "file", "shared": True},
                    {"type": "file", "path": "/srv/glance", "shared": True},
                    {"type": "rbd", "pool": "images", "user": "glance", "monitors": ["10.9.0.1", "10.9.0.2"],
                     "fsid": "8f1c3a52-6f1e-4b8e-9a57-3c2d7e4b9f10"},
                    {"type": "rbd", "user": "img", "monitors": ["10.9.0.3"],
                     "fsid": "0c0ffee0-1234-4abc-8def-0123456789ab"}]))
            if service == "neutron":  # OVN central's RAFT members, and gateway chassis
                if draw(st.booleans()):
                    placed["ovn_nodes"] = subset()
                members = placed.get("ovn_nodes", placed.get("nodes", spec["services"]["keystone"]["nodes"]))
                if len(set(members)) < 3:
                    placed["ovn_quorum_waiver"] = {"reason": "generated test"}
                if draw(st.booleans()):
                    placed["gateway_nodes"] = subset()
                    placed["bridge_mappings"] = draw(st.sampled_from([
                        [{"physnet": "physnet1", "bridge": "br-ex"}],
                        [{"physnet": "provider", "bridge": "br-provider", "interface": "eth9"},
                         {"physnet": "storage", "bridge": "br-st", "interface": "bond1.20"}]]))
            if service == "cinder":  # Ceph (Glance's cluster when it has one) or NFS; active/active or not
                store = spec["services"].get("glance", {}).get("store", {})
                ceph = {k: store[k] for k in ("monitors", "fsid")} if store.get("type") == "rbd" else \
                    {"monitors": ["10.9.0.1"], "fsid": "8f1c3a52-6f1e-4b8e-9a57-3c2d7e4b9f10"}
                placed["backend"] = draw(st.sampled_from([{"type": "rbd", **ceph},
                                                          {"type": "rbd", "pool": "vols", "user": "vol", **ceph},
                                                          {"type": "nfs", "shares": ["10.9.0.9:/export/cinder",
                                                                                     "nas2:/v"]}]))
                passive = placed["backend"]["type"] == "nfs" or draw(st.booleans())
                if passive:  # one Pacemaker cluster must hold its nodes: Galera's are in one
                    placed["nodes"] = draw(st.lists(st.sampled_from(list(galera)), min_size=1, unique=True))
                    if placed["backend"]["type"] == "rbd":
                        placed["volume_ha"] = "active-passive"
            spec["services"][service] = placed
    if spec["cluster"]["target"] != "debian13":  # hagen compiles exporters for debian13 only (H062)
        spec.pop("monitoring", None)
    return spec


def compile_spec(spec):
    doc = load_spec_text(json.dumps(spec), "generated.yaml")  # JSON is YAML
    result = compile_doc(doc)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert not errors, errors
    return {f.path: f for f in result.files}


@functools.lru_cache(maxsize=1024)  # about 0.5 MB each
def _compiled(spec_text):
    return compile_spec(json.loads(spec_text))


def build(spec):
    """The bundle of a generated spec (its files are frozen), compiled once for every property:
    they all draw the same topologies (one seed, below) and the compiler is deterministic. The
    mutation tests compile afresh (compile_spec), as a broken emitter must be seen."""
    return dict(_compiled(json.dumps(spec)))


def differing(a: dict, b: dict) -> list:
    """The keys whose values differ between two dicts of file contents (pytest's own diff of two
    bundles runs difflib over every file: one broken emitter's failure sat in it for more than 15
    minutes here)."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def text(files, path):
    return files[path].content


def hosts_of(files, node):
    table = {}
    for line in text(files, f"nodes/{node}/etc/hosts").splitlines():
        if line and not line.startswith("#"):
            address, *aliases = line.split()
            for alias in aliases:
                table[alias] = address
    return table


def haproxy(files, node):
    """{frontend: {bind, backend}}, {backend: {servers, options}} parsed from haproxy.cfg."""
    frontends, backends, current = {}, {}, None
    for raw in text(files, f"nodes/{node}/etc/haproxy/haproxy.cfg").splitlines():
        line = raw.split("#")[0].strip()
        words = line.split()
        if not words:
            continue
        if words[0] in ("frontend", "backend"):
            current = (words[0], words[1])
            (frontends if words[0] == "frontend" else backends)[words[1]] = {"servers": [], "lines": []}
        elif current:
            table = frontends if current[0] == "frontend" else backends
            entry = table[current[1]]
            entry["lines"].append(line)
            if words[0] == "bind":
                entry["bind"] = words[1]
            elif words[0] == "default_backend":
                entry["backend"] = words[1]
            elif words[0] == "server":
                entry["servers"].append({"name": words[1], "addr": words[2], "backup": "backup" in words[3:]})
    # The service frontends; HAProxy's own metrics frontend (no backend, on the node's address) is
    # the monitoring properties'.
    return {name: fe for name, fe in frontends.items() if "backend" in fe}, backends


def pcs_commands(files):
    out = []
    for path, f in files.items():
        if path.startswith("cluster/") and path.endswith("pcs-resources.sh"):
            for line in f.content.splitlines():
                if 'pcs -f "$cib"' in line:
                    args = shlex.split(line.split('pcs -f "$cib"', 1)[1].replace('"${force[@]}"', ""))
                    out.append((path.split("/")[1], args))
    return out


def unscored(args):
    """pcs 0.12's 'score=INFINITY' read as the bare score older pcs takes: the same constraint."""
    return [a.removeprefix("score=") for a in args]


def lb_nodes(files):
    return sorted(p.split("/")[1] for p in files if p.endswith("etc/haproxy/haproxy.cfg"))


@given(topologies())
def test_every_bind_is_a_pacemaker_vip_and_every_vip_is_bound(spec):
    files = build(spec)
    vip_resources = {}
    for _, args in pcs_commands(files):
        if args[:2] == ["resource", "create"] and args[3] == "ocf:heartbeat:IPaddr2":
            vip_resources[args[2]] = next(a.split("=", 1)[1] for a in args if a.startswith("ip="))
    for node in lb_nodes(files):
        frontends, _ = haproxy(files, node)
        binds = [fe["bind"] for fe in frontends.values()]
        assert len(binds) == len(set(binds)), "two frontends share an address:port"
        bound = {b.rsplit(":", 1)[0] for b in binds}
        assert bound == set(vip_resources.values())


@given(topologies())
def test_galera_backend_clustercheck_and_wsrep_agree(spec):
    files = build(spec)
    galera_nodes = sorted(p.split("/")[1] for p in files if re.search(r"/etc/(mysql/mariadb.conf.d/60-galera|my.cnf.d/galera)\.cnf$", p))
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    port = spec["services"]["galera"]["port"]
    for node in lb_nodes(files):
        frontends, backends = haproxy(files, node)
        fe = next(f for f in frontends.values() if f["bind"].endswith(f":{port}") and f["backend"] in backends
                  and any("httpchk" in l for l in backends[f["backend"]]["lines"]))
        servers = backends[fe["backend"]]["servers"]
        assert sorted(s["addr"] for s in servers) == sorted(f"{addresses[n]}:{port}" for n in galera_nodes)
        assert sum(not s["backup"] for s in servers) == 1
        check_port = int(re.search(r"default-server port (\d+)", "\n".join(backends[fe["backend"]]["lines"])).group(1))
        for g in galera_nodes:
            listener = files.get(f"nodes/{g}/etc/xinetd.d/galera-clustercheck") or \
                files[f"nodes/{g}/etc/systemd/system/hagen-clustercheck.socket"]
            found = re.search(r"port\s*=\s*(\d+)|ListenStream=[\d.]+:(\d+)", listener.content)
            assert int(found.group(1) or found.group(2)) == check_port
    for g in galera_nodes:
        cnf_path = next(p for p in files if p.startswith(f"nodes/{g}/") and re.search(r"galera\.cnf$", p))
        parser = configparser.ConfigParser(strict=True)
        parser.read_string(files[cnf_path].content)
        members = parser["mysqld"]["wsrep_cluster_address"].removeprefix("gcomm://").split(",")
        assert sorted(members) == galera_nodes
        hosts = hosts_of(files, g)
        assert {m: hosts[m] for m in members} == {m: addresses[m] for m in members}
        assert parser["mysqld"]["bind-address"] == addresses[g] == parser["mysqld"]["wsrep_node_address"]
        galera_pcs = [a for _, a in pcs_commands(files) if a[:3] == ["resource", "create", "galera"]]
        assert [a for a in galera_pcs[0] if a.startswith("wsrep_cluster_address=")] == \
            [f"wsrep_cluster_address={parser['mysqld']['wsrep_cluster_address']}"]


@given(topologies())
def test_keystone_reaches_db_rabbit_and_its_own_vip_consistently(spec):
    files = build(spec)
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    vips = {v["name"]: v for v in spec["vips"]}
    lb = lb_nodes(files)
    frontends, backends = haproxy(files, lb[0])
    binds = {fe["bind"] for fe in frontends.values()}
    keystone_nodes = sorted(p.split("/")[1] for p in files if p.endswith("/etc/keystone/keystone.conf"))
    rabbit_nodes = sorted(p.split("/")[1] for p in files if p.endswith("/etc/rabbitmq/rabbitmq.conf"))
    memcached_nodes = sorted(p.split("/")[1] for p in files
                             if p.startswith("nodes/") and p.endswith(("/etc/memcached.conf", "/etc/sysconfig/memcached")))
    assert set(memcached_nodes) <= set(keystone_nodes)
    assert set(memcached_nodes) == set(spec["services"]["keystone"].get("memcached_nodes", keystone_nodes))
    for k in keystone_nodes:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text(files, f"nodes/{k}/etc/keystone/keystone.conf"))
        hosts = hosts_of(files, k)
        db = urllib.parse.urlsplit(parser["database"]["connection"])
        assert f"{hosts[db.hostname]}:{db.port}" in binds
        assert hosts[db.hostname] == vips["vip-db"]["address"]
        transport = parser["DEFAULT"]["transport_url"].removeprefix("rabbit://").rstrip("/").split(",")
        targets = sorted(t.rsplit("@", 1)[1] for t in transport)
        rport = spec["services"]["rabbitmq"]["port"]
        if spec["services"]["rabbitmq"].get("clients") == "vip":
            assert targets == [f"{vips['vip-mq']['hostname']}:{rport}"]
        else:
            assert targets == sorted(f"{n}:{rport}" for n in rabbit_nodes)
            assert {hosts[t.rsplit(":", 1)[0]] for t in targets} == {addresses[n] for n in rabbit_nodes}
        cache = parser["cache"]["memcache_servers"].split(",")
        assert sorted(cache) == sorted(f"{addresses[n]}:11211" for n in memcached_nodes)
        openrc = text(files, f"nodes/{k}/root/admin-openrc")
        url = urllib.parse.urlsplit(shlex.split(re.search(r"OS_AUTH_URL=(.*)", openrc).group(1))[0])
        assert hosts[url.hostname] == vips["vip-ks"]["address"] and f"{hosts[url.hostname]}:{url.port}" in binds
    boot = text(files, "bootstrap/keystone-bootstrap.sh")
    for url in re.findall(r"--bootstrap-\w+-url '([^']+)'", boot):
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == vips["vip-ks"]["hostname"] and parts.port == spec["services"]["keystone"]["public_port"]
    ks_fe = next(fe for fe in frontends.values() if fe["bind"] == f"{vips['vip-ks']['address']}:{spec['services']['keystone']['public_port']}")
    # Keystone trusts HAProxy's X-Forwarded-Proto, which must be the scheme of its registered endpoints.
    schemes = {urllib.parse.urlsplit(u).scheme for u in re.findall(r"--bootstrap-\w+-url '([^']+)'", boot)}
    forwarded = [line.split()[-1] for line in ks_fe["lines"] if line.startswith("http-request set-header X-Forwarded-Proto")]
    assert forwarded == sorted(schemes)
    for k in keystone_nodes:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text(files, f"nodes/{k}/etc/keystone/keystone.conf"))
        assert parser["oslo_middleware"]["enable_proxy_headers_parsing"] == "true"
    assert sorted(s["addr"].rsplit(":", 1)[0] for s in backends[ks_fe["backend"]]["servers"]) == \
        sorted(addresses[n] for n in keystone_nodes)
    # topology.json's service list (what the lab and reviewers read) says what the files do.
    listed = json.loads(text(files, "topology.json"))["services"]["keystone"]
    assert listed["url"] in re.findall(r"--bootstrap-public-url '([^']+)'", boot)
    assert sorted(listed["nodes"]) == keystone_nodes
    assert any(f"option httpchk GET {listed['health_path']}" == line for line in backends[ks_fe["backend"]]["lines"])


@given(topologies())
def test_vips_follow_haproxy_and_each_node_is_in_one_cluster(spec):
    files = build(spec)
    clusters = {}
    for path, f in files.items():
        if path.endswith("corosync.conf"):
            clusters[path.split("/")[1]] = re.findall(r"^\s+name: (\S+)$", f.content, flags=re.M)
    members = [n for c in clusters.values() for n in c]
    services = spec["services"]
    clustered = {n for s in ("loadbalancer", "galera", "rabbitmq") for n in services[s]["nodes"]}
    assert sorted(members) == sorted(clustered)  # every node of a Pacemaker-run service, exactly once
    for node in (n["name"] for n in spec["nodes"]):
        setup = text(files, f"nodes/{node}/setup.sh")
        assert ("systemctl enable --now pcsd" in setup) == (node in clustered)
        assert (f"nodes/{node}/etc/hagen/fencing.passwords" in files) == (
            node in clustered and "fencing_waiver" not in spec["cluster"] and len(
                next(c for c in clusters.values() if node in c)) > 1)
    for names in clusters.values():  # corosync and pcs name the members: each resolves on each member
        for member in names:
            hosts = hosts_of(files, member)
            assert all(name in hosts for name in names)
    commands = pcs_commands(files)
    vip_cluster = {c for c, a in commands if a[:2] == ["resource", "create"] and "ocf:heartbeat:IPaddr2" in a}
    haproxy_cluster = {c for c, a in commands if a[:3] == ["resource", "create", "haproxy"]}
    assert vip_cluster == haproxy_cluster and len(haproxy_cluster) == 1
    for cluster, args in commands:
        if args[:2] == ["resource", "create"] and "ocf:heartbeat:IPaddr2" in args:
            vip = args[2]
            assert ["constraint", "colocation", "add", vip, "with", "haproxy-clone", "INFINITY",
                    f"id=col-{vip}-with-haproxy"] in [unscored(a) for _, a in commands]
            assert ["constraint", "order", "start", "haproxy-clone", "then", "start", vip, "kind=Optional",
                    f"id=ord-haproxy-then-{vip}"] in [a for _, a in commands]


def _top_level_ids(args: list[str]) -> list[str]:
    """The ids of the resources and constraints one pcs command adds at the CIB's top level: a
    clone's id replaces its primitive's (pcs names it NAME-clone in every dialect)."""
    if args[:2] in (["resource", "create"], ["stonith", "create"]):
        cloned = any(word in args[3:] for word in ("clone", "promotable"))
        return [f"{args[2]}-clone" if cloned else args[2]]
    if args[:2] in (["resource", "clone"], ["resource", "promotable"]):
        return [f"{args[2]}-clone"]
    if args[:3] == ["constraint", "location", "add"]:
        return [args[4] if args[3] == "--" else args[3]]
    if args[:2] in (["constraint", "colocation"], ["constraint", "order"]):
        return [a.split("=", 1)[1] for a in args if a.startswith("id=")]
    return []


@given(topologies())
def test_a_rerun_of_pcs_resources_knows_everything_it_made(spec):
    """A rerun reconciles by removing what the script lists as made (and what the CIB's tag says an
    earlier bundle made) before making it again: an element missing from the list would be made
    twice (pcs refuses an id that exists) or never removed."""
    files = build(spec)
    for path, f in files.items():
        if not (path.startswith("cluster/") and path.endswith("/pcs-resources.sh")):
            continue
        listed = re.search(r"^made=\(\n(.*?)^\)", f.content, flags=re.M | re.S)
        assert listed, path
        made = shlex.split(listed.group(1))
        tag = re.search(r"^owned='(<tag .*)'$", f.content, flags=re.M).group(1)
        assert re.findall(r'obj_ref id="([^"]+)"', tag) == made
        cluster = path.split("/")[1]
        assert tag.startswith(f'<tag id="hagen-{cluster}">')
        created = [i for c, args in pcs_commands({path: f}) for i in _top_level_ids(args)]
        assert created and set(created) <= set(made)


def _load_yaml(text_):
    return YAML(typ="safe", pure=True).load(io.StringIO(text_))


@given(topologies())
def test_user_data_and_the_installer_hook_carry_the_bundle_files(spec):
    files = build(spec)
    for node in (n["name"] for n in spec["nodes"]):
        prefix = f"nodes/{node}/"
        doc = _load_yaml(text(files, prefix + "user-data"))
        written = {}
        for entry in doc["write_files"]:
            content = entry["content"]
            if entry.get("encoding") == "b64":
                content = base64.b64decode(content).decode("utf-8")
            written[entry["path"].removeprefix("/var/lib/hagen/bundle/")] = (content, int(entry["permissions"], 8))
        delivery = ("user-data", "user-data.gz", "kickstart-post.ks", "preseed-late.cfg")
        expected = {p.removeprefix(prefix): (f.content, f.mode) for p, f in files.items()
                    if p.startswith(prefix) and not p.endswith(delivery)}
        assert not differing(written, expected)
        # The installer hook the target's installer reads, and only that one.
        hook = {"debian12": "preseed-late.cfg", "debian13": "preseed-late.cfg",
                "el9": "kickstart-post.ks"}[spec["cluster"]["target"]]
        assert [p for p in files if p.startswith(prefix) and p.endswith(delivery[2:])] == [prefix + hook]
        assert not differing(installer_hook_files(text(files, prefix + hook)), expected)


def installer_hook_files(hook_text):
    """{path under the staging folder: (content, mode)} that a kickstart %post or a preseed
    late_command lays down, decoded independently of the emitter."""
    import tarfile
    from compiler.check import late_command_body, preseed_values
    if "\n%post " in hook_text:
        blobs = re.findall(r"base64 -d > '([^']+)' <<'HAGEN_EOF'\n(.*?)\nHAGEN_EOF\nchmod (\d+)", hook_text, flags=re.S)
        return {p.removeprefix("/var/lib/hagen/bundle/"): (base64.b64decode(b.replace("\n", "")).decode(), int(m, 8))
                for p, b, m in blobs if p.startswith("/var/lib/hagen/bundle/")}
    body = late_command_body(preseed_values(hook_text)["preseed/late_command"])
    archive = base64.b64decode(re.search(r"echo ([A-Za-z0-9+/= ]+)\|", body).group(1).replace(" ", ""))
    laid = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            assert member.uid == 0 and member.gid == 0 and member.isfile()
            if member.name.startswith("var/lib/hagen/bundle/"):
                laid[member.name.removeprefix("var/lib/hagen/bundle/")] = (
                    tar.extractfile(member).read().decode(), member.mode)
    return laid


tricky = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"),
                 min_size=0, max_size=30).map(lambda s: "Sé'$`\\ \"q" + s)  # quotes, $, backtick, space, unicode


@given(topologies(), st.lists(tricky, min_size=3, max_size=3))
def test_secret_values_round_trip_through_bash_and_never_leak_into_review(spec, values):
    import tempfile
    from compiler.secrets import SecretValues, required_secrets, generate_value
    from compiler.lower import lower
    from compiler.emit import emit_bundle

    topo = lower(load_spec_text(json.dumps(spec), "g.yaml").data)
    secrets = {name: generate_value(name) for name in required_secrets(topo)}
    secrets.update(hacluster_password=values[0], rabbitmq_password=values[1], keystone_admin_password=values[2])
    deploy = {f.path: f for f in emit_bundle(topo, SecretValues(secrets), [])}
    review = emit_bundle(topo, SecretValues(), [])
    for f in review:
        blob = f.content if isinstance(f.content, bytes) else f.content.encode()
        for value in secrets.values():
            assert value.encode() not in blob, f.path
    node = next(n.name for n in topo.nodes if topo.cluster_of(n))  # Keystone-only nodes have no hacluster
    env_file = deploy[f"nodes/{node}/etc/hagen/secrets.env"]
    assert env_file.mode == 0o600
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False, encoding="utf-8") as handle:
        handle.write(env_file.content)
    try:
        # Source only the file (no other code), print the value back NUL-separated.
        proc = subprocess.run(["bash", "-c", 'set -eu; . "$1"; printf "%s\\0" "$HACLUSTER_PASSWORD"', "_", handle.name],
                              capture_output=True, timeout=10)
    finally:
        os.unlink(handle.name)
    assert proc.returncode == 0 and proc.stdout.decode("utf-8") == values[0] + "\0"
    private = SecretValues(secrets).all_values()  # the certificates are public (0644 is fine)
    for f in deploy.values():
        blob = f.content if isinstance(f.content, bytes) else f.content.encode()
        if any(v.encode() in blob for v in private):
            assert f.mode & 0o077 == 0, f.path


@given(topologies(), st.randoms())
def test_order_of_the_spec_does_not_matter(spec, rnd):
    shuffled = json.loads(json.dumps(spec))
    rnd.shuffle(shuffled["nodes"])
    rnd.shuffle(shuffled["vips"])
    shuffled["services"] = dict(sorted(shuffled["services"].items(), key=lambda _: rnd.random()))
    a = {p: f.content for p, f in build(spec).items()}
    b = {p: f.content for p, f in compile_spec(shuffled).items()}  # a spec no other property draws
    assert not differing(a, b)


@given(topologies())
def test_bash_reads_every_pcs_argument_exactly_as_written(spec):
    """Each pcs command line, with pcs swapped for printf, gives bash's own word splitting:
    it must equal an independent parse (shlex), and nothing may be expanded or executed."""
    files = build(spec)
    for path, f in files.items():
        if not (path.startswith("cluster/") and path.endswith(".sh")):
            continue
        lines = [line.split('pcs -f "$cib"', 1)[1] for line in f.content.splitlines() if 'pcs -f "$cib"' in line]
        script = "set -u\ncib=/nonexistent\nforce=()\n" + "".join(
            f"printf '%s\\0' {args}; printf '\\1'\n" for args in lines)
        proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, timeout=10)
        assert proc.returncode == 0, proc.stderr
        read_back = [chunk.split(b"\0")[:-1] for chunk in proc.stdout.split(b"\1")[:-1]]
        expected = [[w.encode() for w in shlex.split(args.replace('"${force[@]}"', ""))] for args in lines]
        assert read_back == expected


# --- cross-file facts, per node ---------------------------------------------------------------

# Where each catalog service's uwsgi inis are (Horizon's under /etc/openstack-dashboard/).
UWSGI_INIS = {server.ini: s.name for s in catalog.CATALOG if s.host
              for server in (s.host.server, *(p.server for p in s.host.processes)) if hasattr(server, "ini")}


def listener_list(files, node):
    """[('address:port', service)] that the node's own config files make it listen on."""
    found = []
    for path, f in files.items():
        if not path.startswith(f"nodes/{node}/"):
            continue
        if re.search(r"/etc/(mysql/mariadb.conf.d/60-galera|my.cnf.d/galera)\.cnf$", path):
            parser = configparser.ConfigParser(strict=True)
            parser.read_string(f.content)
            found.append((f"{parser['mysqld']['bind-address']}:{parser['mysqld']['port']}", "galera"))
        elif path.endswith("/etc/rabbitmq/rabbitmq.conf"):
            found.append((re.search(r"^listeners\.(?:tcp|ssl)\.1 = (\S+)$", f.content, flags=re.M).group(1), "rabbitmq"))
        elif re.search(r"/(sites-available/keystone-wsgi|conf\.d/wsgi-keystone)\.conf$", path):
            found.append((re.search(r"^Listen (\S+)", f.content, flags=re.M).group(1), "keystone"))
        elif path.endswith("-uwsgi.ini"):  # a catalog service under uwsgi, at the ini its catalog entry names
            found.append((re.search(r"^https?-socket = ([^,\s]+)", f.content, flags=re.M).group(1),
                          UWSGI_INIS["/" + path.split("/", 2)[2]]))
        elif path.endswith("/etc/glance/glance-api.conf"):  # its own server: bind_host and bind_port
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(f.content)
            found.append((f"{parser['DEFAULT']['bind_host']}:{parser['DEFAULT']['bind_port']}", "glance"))
        elif path.endswith("/etc/nova/nova.conf"):  # the noVNC proxy's own server
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(f.content)
            found.append((f"{parser['vnc']['novncproxy_host']}:{parser['vnc']['novncproxy_port']}", "nova"))
        elif path.endswith("/etc/default/ovn-central"):  # each database's clients, and its RAFT peers
            options = ovn_ctl_opts(files, node)
            for db in ("nb", "sb"):
                found.append((f"{options[f'db-{db}-addr']}:{options[f'db-{db}-port']}", "ovn"))
                found.append((f"{options[f'db-{db}-cluster-local-addr']}:{options[f'db-{db}-cluster-local-port']}",
                              "ovn-raft"))
    return found


def served_tls(files, node):
    """{'address:port': (certificate, key) the API server there serves HTTPS with, or None for
    plain HTTP}, read from each server's own config on the node."""
    found = {}
    for path, f in files.items():
        if not path.startswith(f"nodes/{node}/") or not isinstance(f.content, str):
            continue
        if path.endswith("-uwsgi.ini"):
            socket = re.search(r"^(https?)-socket = (\S+)$", f.content, flags=re.M)
            addr, *tls = socket.group(2).split(",")
            found[addr] = tuple(tls[:2]) if socket.group(1) == "https" else None
        elif re.search(r"/(sites-available/keystone-wsgi|conf\.d/wsgi-keystone)\.conf$", path):
            addr = re.search(r"^Listen (\S+)", f.content, flags=re.M).group(1)
            crt = re.search(r"^\s*SSLCertificateFile (\S+)$", f.content, flags=re.M)
            key = re.search(r"^\s*SSLCertificateKeyFile (\S+)$", f.content, flags=re.M)
            found[addr] = (crt.group(1), key.group(1)) if "SSLEngine on" in f.content else None
        elif path.endswith(("/etc/glance/glance-api.conf", "/etc/nova/nova.conf")):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(f.content)
            d = parser["DEFAULT"]
            if "bind_host" in d:  # Glance's own server: no TLS options left in it
                found[f"{d['bind_host']}:{d['bind_port']}"] = None
            if parser.has_section("vnc"):  # the noVNC proxy's own server
                vnc = parser["vnc"]
                found[f"{vnc['novncproxy_host']}:{vnc['novncproxy_port']}"] = \
                    (d["cert"], d["key"]) if d.get("ssl_only") == "true" else None
    return found


# The frontends whose servers cannot serve HTTPS themselves (the catalog says which): their
# backends stay plain HTTP even with TLS on.
PLAIN_BACKENDS = {backend for s in catalog.CATALOG if s.host
                  for server, backend in ((s.host.server, f"{s.name}-nodes"),
                                          *((p.server, f"{p.frontend.frontend}-nodes") for p in s.host.processes
                                            if p.frontend))
                  if not catalog.serves_tls(server)}


def listeners_of(files, node):
    """{'address:port': service}"""
    return dict(listener_list(files, node))


@given(topologies())
def test_every_backend_server_is_a_node_listening_on_that_port(spec):
    """Per server, not per backend: each server line names a node, that node's address, and a
    port its own config listens on, for the one service the backend balances, and every node
    that runs the service is a server."""
    files = build(spec)
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    listening = {n: listeners_of(files, n) for n in addresses}
    for lb in lb_nodes(files):
        frontends, backends = haproxy(files, lb)
        for fe in frontends.values():
            servers = backends[fe["backend"]]["servers"]
            services = set()
            for server in servers:
                assert server["addr"].rsplit(":", 1)[0] == addresses[server["name"]]
                services.add(listening[server["name"]].get(server["addr"]))
            assert len(services) == 1 and None not in services, (fe, services)
            service = services.pop()
            assert sorted(s["name"] for s in servers) == sorted(n for n, ls in listening.items()
                                                                  if service in ls.values())


def corosync_clusters(files):
    """{cluster name as corosync.conf says: [member node names]}"""
    out = {}
    for path, f in files.items():
        if path.startswith("cluster/") and path.endswith("/corosync.conf"):
            name = re.search(r"^\s+cluster_name: (\S+)$", f.content, flags=re.M).group(1)
            out[name] = re.findall(r"^\s+name: (\S+)$", f.content, flags=re.M)
            assert path.split("/")[1] == name
    return out


@given(topologies())
def test_every_consumer_sees_the_same_cluster_name(spec):
    files = build(spec)
    clusters = corosync_clusters(files)
    cluster_of = {node: name for name, members in clusters.items() for node in members}
    for name in clusters:
        setup = text(files, f"cluster/{name}/pcs-setup.sh")
        assert re.search(r"pcs cluster setup '([^']+)'", setup).group(1) == name
        # On a rerun it refuses a running cluster whose corosync.conf names other members: what it
        # compares with is this cluster's own name, node names and ring addresses, sorted bytewise.
        conf = text(files, f"cluster/{name}/corosync.conf")
        members = sorted(re.findall(r"^\s*(?:cluster_name|name|ring0_addr):\s*(\S+)$", conf, flags=re.M))
        assert shlex.split(re.search(r'if \[ "\$running" != (.*) \]; then$', setup, flags=re.M).group(1)) == \
            [" ".join(members)]
    for path, f in files.items():
        node = path.split("/")[1] if path.startswith("nodes/") else None
        if node is None:
            continue
        if re.search(r"/etc/(mysql/mariadb.conf.d/60-galera|my.cnf.d/galera)\.cnf$", path):
            parser = configparser.ConfigParser(strict=True)
            parser.read_string(f.content)
            assert parser["mysqld"]["wsrep_cluster_name"] == cluster_of[node]
        elif path.endswith("/etc/rabbitmq/rabbitmq.conf"):
            assert re.search(r"^cluster_name = (\S+)$", f.content, flags=re.M).group(1) == cluster_of[node]
        elif path.endswith("/setup.sh") and node in cluster_of:
            # setup.sh recognises its own cluster in an existing corosync.conf by this name
            assert {shlex.split(word)[0] for word in re.findall(r"'    cluster_name: '(\S+)", f.content)} == \
                {cluster_of[node]}


@given(topologies())
def test_clustercheck_answers_exactly_the_load_balancers_that_check_it(spec):
    files = build(spec)
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    checkers = {addresses[n] for n in lb_nodes(files)}
    for path, f in files.items():
        if path.endswith("/etc/xinetd.d/galera-clustercheck"):
            allowed = set(re.search(r"only_from\s*=\s*(.*)$", f.content, flags=re.M).group(1).split())
        elif path.endswith("/etc/systemd/system/hagen-clustercheck.socket"):
            allowed = set(re.search(r"^IPAddressAllow=(.*)$", f.content, flags=re.M).group(1).split())
            assert "IPAddressDeny=any" in f.content
        else:
            continue
        assert allowed - {"127.0.0.1"} == checkers, path


def ipaddr2_resources(files):
    """{vip resource: {option: value}} from the pcs commands."""
    out = {}
    for _, args in pcs_commands(files):
        if args[:2] == ["resource", "create"] and args[3] == "ocf:heartbeat:IPaddr2":
            out[args[2]] = dict(a.split("=", 1) for a in args[4:] if "=" in a and not a.startswith("interval"))
    return out


@given(topologies())
def test_vip_netmask_and_nic_come_from_its_network_and_the_load_balancers(spec):
    files = build(spec)
    net = ipaddress.IPv4Network(spec["networks"][0]["cidr"])
    lbs = spec["services"]["loadbalancer"]["nodes"]
    nics = {n.get("interface") for n in spec["nodes"] if n["name"] in lbs}
    # One nic shared by every load balancer, or none: IPaddr2 then finds it from the address.
    expected_nic = next(iter(nics)) if len(nics) == 1 else None
    for vip, options in ipaddr2_resources(files).items():
        assert ipaddress.IPv4Address(options["ip"]) in net
        assert int(options["cidr_netmask"]) == net.prefixlen, vip
        assert options.get("nic") == expected_nic, (vip, options)


@given(topologies())
def test_each_fence_device_targets_its_own_node_its_bmc_and_runs_elsewhere(spec):
    files = build(spec)
    if "fencing_waiver" in spec["cluster"]:
        assert not [a for _, a in pcs_commands(files) if a[:2] == ["stonith", "create"]]
        return
    bmc = {n["name"]: n["fencing"]["address"] for n in spec["nodes"] if "fencing" in n}
    commands = pcs_commands(files)
    clusters = corosync_clusters(files)
    for cluster, members in clusters.items():
        created = [a for c, a in commands if c == cluster and a[:2] == ["stonith", "create"]]
        targeted = []
        for args in created:
            device, options = args[2], dict(a.split("=", 1) for a in args[4:] if "=" in a)
            target = options["pcmk_host_list"]
            targeted.append(target)
            assert options["ip"] == bmc[target], device
            assert options["password_script"].split()[-1] == target
            avoids = [a for c, a in commands if c == cluster and a[:3] == ["constraint", "location", "add"]
                      and a[5] == device]
            assert [(a[6], a[7]) for a in map(unscored, avoids)] == [(target, "-INFINITY")], device
        assert sorted(targeted) == sorted(members)  # each member fenced by exactly one device


@given(topologies())
def test_secret_files_stay_private_on_every_delivery_path(spec):
    """A file holding a secret is 0600/0400 in the bundle, in setup.sh's install_file, in
    user-data's write_files and in the installer hook, on every node."""
    from compiler.emit import emit_bundle
    from compiler.lower import lower
    from compiler.secrets import SecretValues, generate_value, required_secrets

    topo = lower(load_spec_text(json.dumps(spec), "g.yaml").data)
    values = {n: generate_value(n) for n in required_secrets(topo)}
    files = {f.path: f for f in emit_bundle(topo, SecretValues(values), [])}
    values = {n: v for n, v in values.items() if v in SecretValues(values).all_values()}  # certificates are public
    for node in (n["name"] for n in spec["nodes"]):
        prefix = f"nodes/{node}/"
        laid = {p.removeprefix(prefix): f for p, f in files.items() if p.startswith(prefix)}
        secret = {p for p, f in laid.items()
                  if any(v.encode() in (f.content if isinstance(f.content, bytes) else f.content.encode())
                         for v in values.values()) and "/" in p}
        setup_modes = {path.lstrip("/"): int(mode, 8) for mode, path in
                       re.findall(r"^install_file (\d+) \S+ \S+ '([^']+)'$", laid["setup.sh"].content, flags=re.M)}
        written = {e["path"].removeprefix("/var/lib/hagen/bundle/"): int(e["permissions"], 8)
                   for e in _load_yaml(laid["user-data"].content)["write_files"]}
        hook = laid.get("preseed-late.cfg") or laid["kickstart-post.ks"]
        hooked = {p: mode for p, (_, mode) in installer_hook_files(hook.content).items()}
        for path in secret:
            for where, mode in (("bundle", laid[path].mode), ("setup.sh", setup_modes.get(path)),
                                ("user-data", written.get(path)), ("installer hook", hooked.get(path))):
                assert mode is not None and mode & 0o077 == 0, f"{node}: {path} is {mode and oct(mode)} in {where}"


@given(topologies())
def test_spec_settings_reach_the_files_that_use_them(spec):
    files = build(spec)
    services = spec["services"]
    maxconn = services["loadbalancer"].get("maxconn", 10000)
    for lb in lb_nodes(files):
        assert re.findall(r"^\s+maxconn (\d+)$", text(files, f"nodes/{lb}/etc/haproxy/haproxy.cfg"), flags=re.M) == \
            [str(maxconn)] * 2  # global and defaults
    for path, f in files.items():
        if re.search(r"/etc/(mysql/mariadb.conf.d/60-galera|my.cnf.d/galera)\.cnf$", path):
            parser = configparser.ConfigParser(strict=True)
            parser.read_string(f.content)
            assert parser["mysqld"]["wsrep_sst_method"] == services["galera"].get("sst_method", "mariabackup")
            provider = dict(o.split("=", 1) for o in parser["mysqld"]["wsrep_provider_options"].strip('"').split(";"))
            assert provider.pop("gcache.size") == services["galera"].get("gcache_size", "512M")
            # A node behind after a whole-cluster restart catches up by IST from recovered caches.
            assert provider.pop("gcache.recover") == "yes"
            # What is left is replication's TLS: the same files the server's own TLS names.
            expected = {} if "tls_waiver" in spec["cluster"] else {
                "socket.ssl_cert": parser["mysqld"]["ssl_cert"], "socket.ssl_key": parser["mysqld"]["ssl_key"],
                "socket.ssl_ca": parser["mysqld"]["ssl_ca"]}
            assert provider == expected, path
    region = services["keystone"].get("region", "RegionOne")
    boot = text(files, "bootstrap/keystone-bootstrap.sh")
    assert shlex.split(re.search(r"--bootstrap-region-id (\S+)", boot).group(1)) == [region]
    for path, f in files.items():
        if path.endswith("/root/admin-openrc"):
            assert shlex.split(re.search(r"OS_REGION_NAME=(.*)", f.content).group(1)) == [region]


# --- the catalog's services beyond Keystone ----------------------------------------------------

def registrations(files):
    """What keystone-bootstrap.sh hands keystone-register.py: {service: registration}."""
    boot = text(files, "bootstrap/keystone-bootstrap.sh")
    found = re.search(r"^python3 - (.+) <<'HAGEN_REGISTER'$", boot, flags=re.M)
    return {r["name"]: r for r in json.loads(shlex.split(found.group(1))[0])} if found else {}


def seeded_sql(files):
    """{user: (password, {databases granted})} from one Galera node's seeded SQL."""
    sql = next(f.content for p, f in files.items() if p.endswith("/etc/hagen/galera-users.sql"))
    passwords = dict(re.findall(r"^ALTER USER '(\w+)'@'[^']+' IDENTIFIED BY '([^']*)'(?: REQUIRE SSL)?;$", sql, flags=re.M))
    grants = defaultdict(set)
    for database, user in re.findall(r"^GRANT ALL PRIVILEGES ON (\w+)\.\* TO '(\w+)'@", sql, flags=re.M):
        grants[user].add(database)
    return {u: (passwords[u], grants[u]) for u in passwords}


def registering_node(files):
    """The node that runs keystone-bootstrap.sh (its secrets.env holds the registered passwords)."""
    steps = json.loads(text(files, "topology.json"))["deploy_steps"]
    return next(s["node"] for s in steps if s["run"].endswith("/keystone-bootstrap.sh"))


def secrets_env(files, node):
    return {k: shlex.split(v)[0] for k, v in re.findall(r"^(\w+)=(.*)$", text(files, f"nodes/{node}/etc/hagen/secrets.env"),
                                                        flags=re.M)}


# CI's counterexample: 'na10' sorts before 'na2', and the passwords live only on the node that
# registers (the spec's first Keystone node), not on the first by name.
def _fenced(name, i):
    return {"name": name, "address": f"10.0.0.{i}",
            "fencing": {"address": f"172.16.0.{i}", "username": "admin", "password_secret": f"ipmi_{i - 1}"}}


NAME_ORDER_IS_NOT_SPEC_ORDER = {
    "version": 1, "cluster": {"name": "ca", "target": "debian13"},
    "networks": [{"name": "mgmt", "cidr": "10.0.0.0/24"}],
    "nodes": [_fenced("na2", 1), _fenced("nb", 2), _fenced("nc", 3), _fenced("na10", 4)],
    "vips": [{"name": "vip-db", "address": "10.0.0.5", "hostname": "a-db"},
             {"name": "vip-ks", "address": "10.0.0.6", "hostname": "a-ks"}],
    "services": {"loadbalancer": {"nodes": ["na2"]},
                 "galera": {"nodes": ["na2"], "vip": "vip-db", "port": 1025, "clustercheck_port": 1028},
                 "rabbitmq": {"nodes": ["na2"], "port": 1027},
                 "keystone": {"nodes": ["na2", "nb", "nc", "na10"], "vip": "vip-ks", "public_port": 1026},
                 "placement": {"port": 1024}}}


@given(topologies())
@example(NAME_ORDER_IS_NOT_SPEC_ORDER)
def test_catalog_services_reach_their_database_keystone_and_vip_consistently(spec):
    """Each service of the catalog beyond Keystone (Glance, Placement), read from its own files:
    its endpoint resolves to a VIP:port HAProxy binds, balanced over exactly its nodes on the port
    they listen on; its database URL goes through the DB VIP to a database and user the seeded
    SQL creates with that password; its auth_token user is the one registered, with the password
    the Keystone node registers it with; its token cache is the memcached nodes."""
    files = build(spec)
    services = spec["services"]
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    vips = {v["name"]: v for v in spec["vips"]}
    frontends, backends = haproxy(files, lb_nodes(files)[0])
    by_bind = {fe["bind"]: fe for fe in frontends.values()}
    registered = registrations(files)
    sql = seeded_sql(files)
    first_keystone = registering_node(files) if services["keystone"]["nodes"] else None
    ks_bind = f"{vips['vip-ks']['address']}:{services['keystone']['public_port']}"
    memcached = sorted(p.split("/")[1] for p in files
                       if p.startswith("nodes/") and p.endswith(("/etc/memcached.conf", "/etc/sysconfig/memcached")))
    for service in catalog.CATALOG[1:]:  # every entry after Keystone
        if service.keystone_user is None:  # not in Keystone's catalog, no database (Horizon: its own property)
            continue
        name, conf_path = service.name, service.config_file
        placed = sorted(p.split("/")[1] for p in files if p.startswith("nodes/") and p.endswith("/" + conf_path))
        if name not in services:
            assert not placed and name not in registered
            continue
        wanted = services[name].get("nodes", services["keystone"]["nodes"])
        assert placed == sorted(set(wanted))
        reg = registered[name]
        url = urllib.parse.urlsplit(reg["url"])
        vip = vips[services[name].get("vip", "vip-ks")]
        assert url.hostname == vip["hostname"] and url.port == services[name]["port"]
        fe = by_bind[f"{vip['address']}:{url.port}"]
        servers = backends[fe["backend"]]["servers"]
        assert sorted(s["name"] for s in servers) == placed
        for server in servers:
            assert server["addr"] in listeners_of_service(files, server["name"], name)
        for node in placed:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text(files, f"nodes/{node}/{conf_path}"))
            hosts = hosts_of(files, node)
            db = urllib.parse.urlsplit(parser[service.database_section]["connection"])
            assert hosts[db.hostname] == vips["vip-db"]["address"] and db.port == services["galera"]["port"]
            # Each of its units first waits on that very connection (the gate reads this file's section),
            # and the gate is on the node, runnable.
            gate = f"ExecStart=/usr/local/bin/hagen-await-database /{conf_path} {service.database_section} /"
            for unit in service.host.units:
                assert gate in text(files, f"nodes/{node}/etc/systemd/system/{unit}.service"), (node, unit)
            assert files[f"nodes/{node}/usr/local/bin/hagen-await-database"].mode == 0o755
            password, granted = sql[db.username]
            assert password == urllib.parse.unquote(db.password) and db.path.lstrip("/") in granted
            auth = parser["keystone_authtoken"]
            for key in ("auth_url", "www_authenticate_uri"):
                ks = urllib.parse.urlsplit(auth[key])
                assert f"{hosts[ks.hostname]}:{ks.port}" == ks_bind
            assert auth["username"] == reg["user"]
            assert secrets_env(files, first_keystone)[reg["password_env"]] == auth["password"]
            assert sorted(auth["memcached_servers"].split(",")) == sorted(f"{addresses[n]}:11211" for n in memcached)


def listeners_of_service(files, node, service):
    """The addresses a service listens on here: one per frontend of it (Nova has three)."""
    mine = [addr for addr, owner in listeners_of(files, node).items() if owner == service]
    assert len(mine) == 1 + sum(1 for p in catalog.by_name(service).host.processes if p.frontend), (node, service, mine)
    return mine


@given(topologies())
def test_no_two_listeners_on_a_node_share_a_port(spec):
    files = build(spec)
    for node in {n["name"] for n in spec["nodes"]}:
        found = listener_list(files, node)
        ports = [addr.rsplit(":", 1)[1] for addr, _ in found]
        assert len(ports) == len(set(ports)), (node, found)


@given(topologies())
def test_glance_nodes_name_themselves_and_share_one_store(spec):
    """Every glance-api node: worker_self_reference_url is its own address and the port it binds
    (another node hands it the imports it staged); its store is the spec's and the same on every
    node; a shared directory is one setup.sh refuses to run without mounted; an rbd store's
    client is the one its keyring holds a key for, on the spec's monitors."""
    files = build(spec)
    store = spec["services"].get("glance", {}).get("store")
    confs = {p.split("/")[1]: text(files, p) for p in files if p.startswith("nodes/") and p.endswith("/etc/glance/glance-api.conf")}
    assert bool(confs) == (store is not None)
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    stores = set()
    for node, content in confs.items():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(content)
        default = parser["DEFAULT"]
        me = urllib.parse.urlsplit(default["worker_self_reference_url"])
        assert (me.hostname, me.port) == (addresses[node], int(default["bind_port"])) == (default["bind_host"], me.port)
        backend, kind = default["enabled_backends"].split(":")
        assert kind == store["type"] and parser["glance_store"]["default_backend"] == backend
        section = {k: v for k, v in parser.items(backend) if k not in parser.defaults()}  # its own lines
        stores.add(tuple(sorted(section.items())))
        setup = text(files, f"nodes/{node}/setup.sh")
        if kind == "file":
            path = store.get("path", "/var/lib/glance/images")
            assert section["filesystem_store_datadir"] == path
            assert f"if ! mountpoint -q '{path}'; then" in setup  # the schema's paths need no escaping
        else:
            assert section["rbd_store_pool"] == store.get("pool", "images")
            keyring_path = f"nodes/{node}/etc/ceph/ceph.client.{section['rbd_store_user']}.keyring"
            assert keyring_path in files, (node, sorted(p for p in files if "/etc/ceph/" in p))
            keyring = text(files, keyring_path)
            assert keyring.startswith(f"[client.{store.get('user', 'glance')}]\n") and "\tkey = " in keyring
            ceph = configparser.ConfigParser(interpolation=None)
            ceph.read_string(text(files, f"nodes/{node}/{section['rbd_store_ceph_conf'].lstrip('/')}"))
            assert ceph["global"]["mon_host"].split(",") == store["monitors"]
            assert ceph["global"]["fsid"] == store["fsid"]
    assert len(stores) <= 1, stores


@given(topologies())
def test_nova_nodes_share_the_bus_the_cells_and_the_console_proxy(spec):
    """Every Nova node, read from its own nova.conf: its transport_url lists the RabbitMQ brokers
    (the nodes, or the VIP) on the AMQP port, each name resolving in its own hosts file to that
    broker's address; its API database and cell1 database go through the DB VIP, and the seeded
    SQL grants their user those two and cell0 (map_cell0's name); [service_user] and [placement]
    are the registered nova user; the console URL it hands out is a VIP:port HAProxy balances over
    exactly the Nova nodes at the address and port each one's proxy listens on."""
    files = build(spec)
    services = spec["services"]
    confs = {p.split("/")[1]: text(files, p) for p in files if p.startswith("nodes/") and p.endswith("/etc/nova/nova.conf")}
    if "nova" not in services:
        assert not confs
        return
    assert sorted(confs) == sorted(set(services["nova"].get("nodes", services["keystone"]["nodes"])))
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    vips = {v["name"]: v for v in spec["vips"]}
    rabbit = services["rabbitmq"]
    brokers = ([vips[rabbit["vip"]]["address"]] if rabbit.get("clients") == "vip"
               else [addresses[n] for n in rabbit.get("nodes", [n["name"] for n in spec["nodes"]])])
    frontends, backends = haproxy(files, lb_nodes(files)[0])
    by_bind = {fe["bind"]: fe for fe in frontends.values()}
    sql, reg = seeded_sql(files), registrations(files)["nova"]
    first_keystone = registering_node(files)
    proxies = {}
    for node, conf in confs.items():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(conf)
        hosts = hosts_of(files, node)
        listed = re.findall(r"@([^:/,]+):(\d+)", parser["DEFAULT"]["transport_url"])
        assert parser["DEFAULT"]["transport_url"].startswith("rabbit://")
        assert sorted(hosts[h] for h, _ in listed) == sorted(brokers)
        assert {int(p) for _, p in listed} == {rabbit.get("port", 5672)}
        for section, database in (("api_database", "nova_api"), ("database", "nova")):
            db = urllib.parse.urlsplit(parser[section]["connection"])
            assert hosts[db.hostname] == vips["vip-db"]["address"] and db.path == f"/{database}"
            password, granted = sql[db.username]
            assert password == urllib.parse.unquote(db.password)
            assert {"nova_api", "nova", "nova_cell0"} <= granted
        for section in ("service_user", "placement", "keystone_authtoken"):
            assert parser[section]["username"] == reg["user"]
            assert parser[section]["password"] == secrets_env(files, first_keystone)[reg["password_env"]]
        console = urllib.parse.urlsplit(parser["vnc"]["novncproxy_base_url"])
        proxies[node] = f"{parser['vnc']['novncproxy_host']}:{parser['vnc']['novncproxy_port']}"
        assert proxies[node].split(":")[0] == addresses[node]
        fe = by_bind[f"{hosts[console.hostname]}:{console.port}"]
        assert console.port == services["nova"]["novncproxy_port"]
    assert sorted(s["addr"] for s in backends[fe["backend"]]["servers"]) == sorted(proxies.values())


def python_settings(source):
    """The literal assignments of a Python settings file (Horizon's local_settings.py)."""
    import ast

    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}


@given(topologies())
def test_horizon_nodes_share_sessions_and_answer_for_their_vip(spec):
    """Every Horizon node, read from its own local_settings.py: it logs users in to Keystone at a
    VIP:port HAProxy balances over Keystone's nodes; its sessions are in exactly the memcached
    servers Keystone lists (so a session follows its user to every node); its ALLOWED_HOSTS names
    the VIP that HAProxy serves it on, including the Host header HAProxy's check sends; its SECRET_KEY
    is every other node's; HAProxy's backend is exactly its nodes, on the address uwsgi listens on."""
    files = build(spec)
    services = spec["services"]
    confs = {p.split("/")[1]: python_settings(text(files, p)) for p in files
             if p.startswith("nodes/") and p.endswith("/etc/openstack-dashboard/local_settings.py")}
    if "horizon" not in services:
        assert not confs
        return
    assert sorted(confs) == sorted(set(services["horizon"].get("nodes", services["keystone"]["nodes"])))
    vips = {v["name"]: v for v in spec["vips"]}
    vip = vips[services["horizon"].get("vip", "vip-ks")]
    frontends, backends = haproxy(files, lb_nodes(files)[0])
    by_bind = {fe["bind"]: fe for fe in frontends.values()}
    fe = by_bind[f"{vip['address']}:{services['horizon']['port']}"]
    backend = backends[fe["backend"]]
    assert sorted(s["name"] for s in backend["servers"]) == sorted(confs)
    check_host = next(line.split()[-1] for line in backend["lines"] if line.startswith("http-check send ")
                      and line.split()[-2] == "Host")
    ks_bind = f"{vips['vip-ks']['address']}:{services['keystone']['public_port']}"
    keystone_nodes = sorted(p.split("/")[1] for p in files if p.endswith("/etc/keystone/keystone.conf"))
    ks_conf = configparser.ConfigParser(interpolation=None)
    ks_conf.read_string(text(files, f"nodes/{keystone_nodes[0]}/etc/keystone/keystone.conf"))
    keystone_cache = sorted(ks_conf["cache"]["memcache_servers"].split(","))
    for node, settings_ in confs.items():
        hosts = hosts_of(files, node)
        ks = urllib.parse.urlsplit(settings_["OPENSTACK_KEYSTONE_URL"])
        assert f"{hosts[ks.hostname]}:{ks.port}" == ks_bind and ks.path == "/v3"
        assert settings_["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
        assert sorted(settings_["CACHES"]["default"]["LOCATION"]) == keystone_cache
        assert {vip["hostname"], vip["address"], check_host} <= set(settings_["ALLOWED_HOSTS"])
        assert settings_["SECRET_KEY"] == confs[sorted(confs)[0]]["SECRET_KEY"]
        server = next(s for s in backend["servers"] if s["name"] == node)
        assert server["addr"] in listeners_of_service(files, node, "horizon")


def ovn_ctl_opts(files, node) -> dict[str, str]:
    """OVN_CTL_OPTS of a member's /etc/default/ovn-central, as systemd hands them to ovn-ctl."""
    line = next(l for l in text(files, f"nodes/{node}/etc/default/ovn-central").splitlines()
                if l.startswith("OVN_CTL_OPTS="))
    words = [w for value in shlex.split(line.split("=", 1)[1]) for w in value.split()]
    return dict(w.removeprefix("--").split("=", 1) for w in words)


@given(topologies())
def test_ovn_members_form_one_raft_cluster_that_every_client_lists(spec):
    """Read from the emitted files only: the OVN members are the nodes with an ovn-central defaults
    file; each listens for clients and for RAFT on its own address (from its own hosts file) on
    OVN's ports; exactly one creates each cluster and every other joins it at that one's RAFT
    address; every ovn-northd, every Neutron node's config and every gateway's ovn-controller lists
    exactly the members on the right port; each gateway tunnels from its own address."""
    files = build(spec)
    members = sorted(p.split("/")[1] for p in files if p.endswith("/etc/default/ovn-central"))
    neutron_confs = {p.split("/")[1]: p for p in files if p.endswith("/etc/neutron/neutron.conf")}
    if "neutron" not in spec["services"]:
        assert not members and not neutron_confs
        return
    neutron = spec["services"]["neutron"]
    expected = neutron.get("ovn_nodes", neutron.get("nodes", spec["services"]["keystone"]["nodes"]))
    assert members == sorted(set(expected))

    def own_address(node):
        return hosts_of(files, node)[node]

    def listing(port):
        return sorted(f"tcp:{own_address(m)}:{port}" for m in members)

    opts = {m: ovn_ctl_opts(files, m) for m in members}
    for db, port, raft in (("nb", 6641, 6643), ("sb", 6642, 6644)):
        founders = [m for m in members if f"db-{db}-cluster-remote-addr" not in opts[m]]
        assert len(founders) == 1, (db, founders)
        for m in members:
            o = opts[m]
            assert (o[f"db-{db}-addr"], o[f"db-{db}-port"]) == (own_address(m), str(port))
            assert (o[f"db-{db}-cluster-local-addr"], o[f"db-{db}-cluster-local-port"]) == (own_address(m), str(raft))
            if m not in founders:
                assert (o[f"db-{db}-cluster-remote-addr"], o[f"db-{db}-cluster-remote-port"]) == \
                    (own_address(founders[0]), str(raft))
    for m in members:
        assert sorted(opts[m]["ovn-northd-nb-db"].split(",")) == listing(6641)
        assert sorted(opts[m]["ovn-northd-sb-db"].split(",")) == listing(6642)
    for node, path in neutron_confs.items():
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_string(text(files, path))
        assert sorted(conf["ovn"]["ovn_nb_connection"].split(",")) == listing(6641)
        assert sorted(conf["ovn"]["ovn_sb_connection"].split(",")) == listing(6642)
    gateways = sorted(set(neutron.get("gateway_nodes", [])))
    for node in sorted(p.split("/")[1] for p in files if p.endswith("/setup.sh") and p.startswith("nodes/")):
        setup = text(files, f"nodes/{node}/setup.sh")
        line = next((l for l in setup.splitlines() if l.startswith("ovs-vsctl") and " set open_vswitch ." in l), None)
        assert (line is not None) == (node in gateways), node
        if line:
            ids = dict(w.removeprefix("external_ids:").split("=", 1) for w in shlex.split(line) if w.startswith("external_ids:"))
            assert sorted(ids["ovn-remote"].split(",")) == listing(6642)
            assert ids["ovn-encap-ip"] == own_address(node) and ids["system-id"] == node
            assert "enable-chassis-as-gw" in ids["ovn-cms-options"].split(",")
            physnets = conf["ml2_type_flat"]["flat_networks"].split(",")  # Neutron knows each mapped network
            assert sorted(m.split(":")[0] for m in ids["ovn-bridge-mappings"].split(",")) == sorted(physnets)


@given(topologies())
def test_heat_engines_apis_and_callbacks_agree_with_haproxy_and_keystone(spec):
    """Read from the emitted files only: Heat's second catalog entry (cloudformation) is on the VIP
    and port HAProxy binds for heat-api-cfn, balanced over Heat's nodes on the port each one's
    heat-api-cfn ini listens on; every heat.conf tells instances to call back on that same root;
    every node shares one encryption key; the stack domain admin every heat.conf names logs in with
    the password the Keystone node registers it with."""
    files = build(spec)
    confs = {p.split("/")[1]: p for p in files if p.startswith("nodes/") and p.endswith("/etc/heat/heat.conf")}
    registered = registrations(files)
    if "heat" not in spec["services"]:
        assert not confs and "heat-cfn" not in registered
        return
    heat = spec["services"]["heat"]
    assert sorted(confs) == sorted(set(heat.get("nodes", spec["services"]["keystone"]["nodes"])))
    vip = {v["name"]: v for v in spec["vips"]}[heat.get("vip", "vip-ks")]
    cfn = registered["heat-cfn"]
    assert (cfn["type"], cfn["user"]) == ("cloudformation", None)
    url = urllib.parse.urlsplit(cfn["url"])
    assert (url.hostname, url.port, url.path) == (vip["hostname"], heat["cfn_port"], "/v1")
    assert url.scheme == ("http" if "tls_waiver" in spec["cluster"] else "https")
    frontends, backends = haproxy(files, lb_nodes(files)[0])
    fe = next(f for f in frontends.values() if f.get("bind") == f"{vip['address']}:{url.port}")
    servers = backends[fe["backend"]]["servers"]
    assert sorted(s["name"] for s in servers) == sorted(confs)
    for server in servers:
        ini = text(files, f"nodes/{server['name']}/etc/heat/heat-api-cfn-uwsgi.ini")
        assert re.search(r"^https?-socket = ([^,\s]+)", ini, flags=re.M).group(1) == server["addr"]
    domain, = json.loads(shlex.split(re.search(r"^python3 - (.+) <<'HAGEN_REGISTER'$",
                                               text(files, "bootstrap/keystone-bootstrap.sh"), flags=re.M)
                                     .group(1))[1])
    keystone_node = sorted(p.split("/")[1] for p in files if p.endswith("/etc/keystone/keystone.conf"))[0]
    registered_password = secrets_env(files, keystone_node)[domain["password_env"]]
    keys = set()
    for node, path in confs.items():
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_string(text(files, path))
        d = conf["DEFAULT"]
        assert d["heat_metadata_server_url"] == f"{url.scheme}://{vip['hostname']}:{heat['cfn_port']}"
        assert d["heat_waitcondition_server_url"] == d["heat_metadata_server_url"] + "/v1/waitcondition"
        assert (d["stack_user_domain_name"], d["stack_domain_admin"]) == (domain["domain"], domain["admin"])
        assert d["stack_domain_admin_password"] == registered_password
        keys.add(d["auth_encryption_key"])
    assert len(keys) == 1


def _env_file(text_: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text_.splitlines() if line and not line.startswith("#"))


@given(topologies())
def test_cinder_volume_runs_as_its_backend_allows_with_one_name_on_every_node(spec):
    """Read from the emitted files only. Active/active: every node's cinder.conf names one cluster
    and no backend_host, sends its locks to its own etcd member (on this node's address), every
    member's etcd lists exactly Cinder's nodes at their addresses, and setup.sh starts cinder-volume.
    Active/passive: every cinder.conf gives its backend one backend_host and no cluster, setup.sh
    leaves cinder-volume to Pacemaker, and the Pacemaker cluster of Cinder's nodes runs one
    cinder-volume resource kept off its other nodes."""
    files = build(spec)
    confs = {p.split("/")[1]: p for p in files if p.startswith("nodes/") and p.endswith("/etc/cinder/cinder.conf")}
    etcds = {p.split("/")[1]: p for p in files if p.startswith("nodes/") and p.endswith("/etc/default/etcd")}
    pcs = "".join(text(files, p) for p in files if p.startswith("cluster/") and p.endswith("/pcs-resources.sh"))
    if "cinder" not in spec["services"]:
        assert not confs and not etcds and "cinder-volume" not in pcs
        return
    cinder = spec["services"]["cinder"]
    nodes = sorted(set(cinder.get("nodes", spec["services"]["keystone"]["nodes"])))
    assert sorted(confs) == nodes
    address = {n["name"]: n["address"] for n in spec["nodes"]}
    names = set()
    active_active = cinder["backend"]["type"] == "rbd" and cinder.get("volume_ha") != "active-passive"
    for node, path in confs.items():
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_string(text(files, path))
        backends = conf["DEFAULT"]["enabled_backends"].split(",")
        assert len(backends) == 1 and conf.has_section(backends[0])
        setup = text(files, f"nodes/{node}/setup.sh")
        enabled = "systemctl enable 'cinder-volume'" in setup
        managed = re.search(r"^pacemaker_units=\((.*)\)$", setup, flags=re.M)
        under_pacemaker = bool(managed) and "'cinder-volume'" in managed.group(1).split()
        if active_active:
            assert "backend_host" not in conf[backends[0]]
            names.add(conf["DEFAULT"]["cluster"])
            url = urllib.parse.urlsplit(conf["coordination"]["backend_url"])
            assert (url.scheme, url.hostname, url.port) == ("etcd3+http", address[node], catalog.ETCD_CLIENT_PORT)
            env = _env_file(text(files, etcds[node]))
            assert env["ETCD_NAME"] == node
            assert env["ETCD_LISTEN_CLIENT_URLS"] == f"http://{address[node]}:{url.port}"
            members = dict(m.split("=", 1) for m in env["ETCD_INITIAL_CLUSTER"].split(","))
            assert members == {n: f"http://{address[n]}:{catalog.ETCD_PEER_PORT}" for n in nodes}
            assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == members[node]
            assert enabled and not under_pacemaker
        else:
            assert "cluster" not in conf["DEFAULT"] and not conf.has_section("coordination")
            names.add(conf[backends[0]]["backend_host"])
            assert not enabled and under_pacemaker
    assert len(names) == 1  # every node calls its cinder-volume by one name
    assert sorted(etcds) == (nodes if active_active else [])
    if not active_active:
        assert pcs.count("'resource' 'create' 'cinder-volume' 'systemd:cinder-volume'") == 1
        cluster = next(p for p in files if p.startswith("cluster/") and p.endswith("/corosync.conf") and all(
            re.search(rf"^\s*name: {n}$", text(files, p), flags=re.M) for n in nodes))
        members = re.findall(r"^\s*name: (\S+)$", text(files, cluster), flags=re.M)
        avoided = set(re.findall(r"'loc-cinder-volume-avoids-([^']+)'", pcs))
        assert avoided == set(members) - set(nodes)


# MariaDB's own default for how long a statement waits for a row lock before it fails.
MARIADB_DEFAULT_LOCK_WAIT_S = 50


@given(topologies())
def test_every_database_client_bounds_its_reads_and_every_commit_is_flushed(spec):
    """Every oslo.db section of every service on every node (a section whose connection is a
    MariaDB URL) gives pymysql a read timeout, so a connection through HAProxy that never answers
    ends, and that timeout is longer than the lock wait the Galera nodes bound themselves (their
    galera.cnf's innodb_lock_wait_timeout, MariaDB's 50 s when unset): a statement waiting on a
    lock gets MariaDB's own error, not a dropped connection. And every Galera node flushes each
    commit before acknowledging it."""
    files = build(spec)
    galera_cnf = TARGETS[spec["cluster"]["target"]].galera_config_path
    lock_waits = set()
    for path, f in files.items():
        if path.startswith("nodes/") and path.endswith(galera_cnf):
            found = re.search(r"^innodb_lock_wait_timeout\s*=\s*(\d+)", f.content, re.M)
            lock_waits.add(int(found.group(1)) if found else MARIADB_DEFAULT_LOCK_WAIT_S)
    assert lock_waits
    sections = 0
    for path, f in files.items():
        if not (path.startswith("nodes/") and path.endswith(".conf") and "mysql+pymysql://" in str(f.content)):
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(f.content)
        for name in parser.sections():
            if not parser[name].get("connection", "").startswith("mysql+pymysql://"):
                continue
            sections += 1
            params = urllib.parse.parse_qs(parser[name].get("connection_parameters", ""))
            assert "read_timeout" in params, f"{path} [{name}] waits forever for a read"
            assert int(params["read_timeout"][0]) > max(lock_waits), f"{path} [{name}]"
    assert sections  # Keystone's, at least
    for path, f in files.items():
        if path.startswith("nodes/") and path.endswith(galera_cnf):
            assert re.search(r"^innodb_flush_log_at_trx_commit = 1$", f.content, re.M), path


# keystonemiddleware's own default for how often a failed request to Keystone is tried again.
AUTHTOKEN_DEFAULT_RETRIES = 3


def haproxy_server_timeouts_s(files):
    """Every `timeout server` the load balancers give a backend (or their defaults), in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 0.001}
    found = set()
    for path, f in files.items():
        if path.endswith("/etc/haproxy/haproxy.cfg"):
            for number, unit in re.findall(r"^\s*timeout server (\d+)([a-z]*)$", f.content, re.M):
                found.add(int(number) * units[unit])
    return found


@given(topologies())
def test_api_requests_give_up_on_a_silent_keystone_and_neutron_caches_its_hash_ring(spec):
    """Every service's auth_token middleware bounds each request to Keystone, so a pooled
    connection to a VIP holder that vanished without a word (a cut cable) fails and is retried on
    a new one; its tries together end before any HAProxy backend's `timeout server` cuts the API
    request that waits on them. And every node's Neutron says as many api_workers as its uwsgi
    runs processes: with fewer hash-ring members than that, Neutron reads the ring from the
    database on every OVSDB event, so a database failover stalls every Northbound transaction."""
    files = build(spec)
    shortest_server_timeout = min(haproxy_server_timeouts_s(files))
    # The config of every service whose API validates tokens (Keystone's own does not), per node.
    validating = [f"nodes/{node}/{service.config_file}" for service in catalog.CATALOG[1:]
                  if service.keystone_user and service.name in spec["services"]
                  for node in spec["services"][service.name].get("nodes", spec["services"]["keystone"]["nodes"])]
    for path in validating:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(text(files, path))
        auth = parser["keystone_authtoken"]
        assert "http_connect_timeout" in auth, f"{path}: a token validation may wait for ever"
        tries = 1 + int(auth.get("http_request_max_retries", AUTHTOKEN_DEFAULT_RETRIES))
        assert 0 < tries * int(auth["http_connect_timeout"]) < shortest_server_timeout, path
    for path, f in files.items():
        if path.startswith("nodes/") and path.endswith("/etc/neutron/neutron.conf"):
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(f.content)
            ini = text(files, path.replace("/neutron.conf", "/neutron-api-uwsgi.ini"))
            processes = int(re.search(r"^processes = (\d+)$", ini, re.M).group(1))
            assert parser["DEFAULT"].getint("api_workers") == processes, path


# A URL a config names, in any of its forms (oslo options, Django settings, shell, YAML, JSON).
URL = re.compile(r"\b(https?)://([A-Za-z0-9.-]+):(\d+)")
# The options that name the CA a client verifies HTTPS with, in each file format hagen writes.
CA_OPTION = re.compile(r"^\s*(?:cafile|ca_file|OPENSTACK_SSL_CACERT|export OS_CACERT|cacert)\s*[=:]\s*(.+?)\s*$", re.M)


@given(topologies())
def test_every_https_url_is_served_with_a_certificate_naming_its_host(spec):
    """TLS across the files: every URL any node's file names for a VIP and port that HAProxy
    serves is https exactly when that frontend ends TLS (and all are, unless the spec waives
    TLS); such a frontend presents the certificate topology.json lists for its VIP, whose names
    include the URL's host; and every file naming an https URL names the CA to verify it with,
    which is the file that node holds."""
    files = build(spec)
    summary = json.loads(text(files, "topology.json"))
    tls = summary["tls"]
    waived = "tls_waiver" in spec["cluster"]
    assert isinstance(tls, str) == waived
    frontends, _ = haproxy(files, lb_nodes(files)[0])
    served = {}  # "address:port" -> the certificate file its bind presents (None: plain)
    for fe in frontends.values():
        bind = next(line.split() for line in fe["lines"] if line.startswith("bind "))
        served[bind[1]] = bind[bind.index("crt") + 1] if "ssl" in bind else None
    certificates = {} if waived else {crt: c for name, c in tls["certificates"].items() if name.startswith("server:")
                                      for crt, _ in c["files"]}
    urls, hosts_by_node = 0, {}
    for path, f in files.items():
        if not path.startswith("nodes/") or not isinstance(f.content, str) or path.endswith(("user-data", ".cfg")):
            continue  # (user-data and the installer hook carry the other files: judged there)
        node = path.split("/")[1]
        hosts = hosts_by_node.get(node) or hosts_by_node.setdefault(node, hosts_of(files, node))
        https = False
        for scheme, host, port in URL.findall(f.content):
            address = hosts.get(host, host)
            if f"{address}:{port}" not in served or "{" in host:
                continue  # a node's own server (HAProxy's backend), or another service's port
            urls += 1
            crt = served[f"{address}:{port}"]
            assert (scheme == "https") == (crt is not None) == (not waived), (path, scheme, host, port)
            if crt is not None:
                https = True
                assert host in certificates[crt]["dns"] + certificates[crt]["ip"], (path, host, crt)
                assert address in certificates[crt]["ip"], (path, address, crt)
        if https and path.endswith(".sh"):
            # A script's clients (openstack, Python's urllib) read the system's trust store, into
            # which setup.sh puts the CA file it laid down first.
            setup = text(files, f"nodes/{node}/setup.sh")
            trust = setup.index(f"install_file 0644 'root' 'root' '{tls['ca_file']}'")
            assert re.search(r"^update-ca-(certificates|trust) >/dev/null$", setup[trust:], re.M), (path, node)
        elif https:
            named = set(CA_OPTION.findall(f.content))
            assert {n.strip("'\"") for n in named} == {tls["ca_file"]}, (path, named)
            assert f"nodes/{node}{tls['ca_file']}" in files, (path, node)
    assert urls, "no file names a URL HAProxy serves"
    # MariaDB and RabbitMQ end TLS themselves (HAProxy passes them through): each client URL
    # verifies with the CA, and each node's certificate names what its clients connect to.
    own = {} if waived else {n.partition(":")[2]: c for n, c in tls["certificates"].items() if n.startswith("node:")}
    # Every user that connects over the network (the services, through the DB VIP) must use TLS.
    sql = next(f.content for p, f in files.items() if p.endswith("/etc/hagen/galera-users.sql"))
    remote = re.findall(r"^ALTER USER '\w+'@'(?!localhost')[^']+' IDENTIFIED BY '[^']*'( REQUIRE SSL)?;$", sql, re.M)
    assert remote and all(bool(r) == (not waived) for r in remote), remote
    galera_nodes = summary["galera"]["wsrep_cluster_address"].removeprefix("gcomm://").split(",")
    db_vip = summary["vips"][summary["frontends"]["galera"]["vip"]]
    for node in galera_nodes:
        cnf = next(f.content for p, f in files.items() if p.startswith(f"nodes/{node}/") and p.endswith("galera.cnf"))
        assert ("ssl_cert = " in cnf) == (not waived), node
        if not waived:
            assert f"ssl_cert = {own[node]['files'][0][0]}\n" in cnf and f"ssl_ca = {tls['ca_file']}\n" in cnf
            assert db_vip["hostname"] in own[node]["dns"] and db_vip["address"] in own[node]["ip"], node
    # HAProxy to each API node's own server: HTTPS, verifying that node's certificate for its name,
    # exactly where the server there serves HTTPS (with a copy of that certificate laid on the
    # node); plain only for a server that cannot serve HTTPS, or with TLS waived.
    _, backends = haproxy(files, lb_nodes(files)[0])
    for fe_name, fe in summary["frontends"].items():
        if fe["mode"] != "http":
            continue
        backend_name = frontends[fe_name]["backend"]
        backend = backends[backend_name]
        default = next(line for line in backend["lines"] if line.startswith("default-server "))
        tls_to_servers = " ssl verify required ca-file " in default
        assert tls_to_servers == fe["backend_tls"] == (not waived and backend_name not in PLAIN_BACKENDS), fe_name
        if tls_to_servers:
            assert default.endswith(f" ca-file {tls['ca_file']}"), default
        for line in (l for l in backend["lines"] if l.startswith("server ")):
            _, node, addr, *options = line.split()
            served = served_tls(files, node)[addr]
            assert (served is not None) == tls_to_servers, (fe_name, node, addr, served)
            if served:
                assert options[options.index("verifyhost") + 1] == node and node in own[node]["dns"], line
                assert list(served) in own[node]["files"], (node, served)
                assert files[f"nodes/{node}{served[1]}"].mode == 0o600, (node, served)
    rabbit_nodes = summary["rabbitmq"]["nodes"]
    for path, f in files.items():
        if not (path.startswith("nodes/") and path.endswith(".conf") and isinstance(f.content, str)):
            continue
        for url in re.findall(r"^connection = (\S+)$", f.content, re.M):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            assert query.get("ssl_ca") == (None if waived else [tls["ca_file"]]), (path, url)
        transport = re.search(r"^transport_url = rabbit://(\S+)/$", f.content, re.M)
        if transport:
            assert ("\nssl = true\n" in f.content) == (not waived), path
            for broker in transport.group(1).split(",") if not waived else ():
                host = urllib.parse.urlsplit(f"rabbit://{broker}").hostname
                holders = [n for n in rabbit_nodes if host in own[n]["dns"]]
                # A node's name is in its own certificate; the RabbitMQ VIP's in every node's.
                assert holders == ([host] if host in rabbit_nodes else rabbit_nodes), (path, host)



# --- monitoring ------------------------------------------------------------------------------

EXPORTER_JOBS = ("node", "haproxy", "mysqld", "rabbitmq", "hacluster")


def exporter_listeners(files, node):
    """{job: 'address:port'} of the exporters this node's own files configure."""
    found = {}
    prefix = f"nodes/{node}/"
    for job, path in (("node", "etc/default/prometheus-node-exporter"),
                      ("mysqld", "etc/default/prometheus-mysqld-exporter")):
        if prefix + path in files:
            found[job] = re.search(r"--web\.listen-address=(\S+?)[\s\"]", text(files, prefix + path)).group(1)
    if prefix + "etc/ha_cluster_exporter.yaml" in files:
        found["hacluster"] = _load_yaml(text(files, prefix + "etc/ha_cluster_exporter.yaml"))["web"]["listen-address"]
    if prefix + "etc/rabbitmq/rabbitmq.conf" in files:
        conf = text(files, prefix + "etc/rabbitmq/rabbitmq.conf")
        ip = re.search(r"^prometheus\.tcp\.ip = (\S+)$", conf, flags=re.M)
        if ip:
            assert "rabbitmq_prometheus" in text(files, prefix + "etc/rabbitmq/enabled_plugins")
            port = re.search(r"^prometheus\.tcp\.port = (\d+)$", conf, flags=re.M).group(1)
            found["rabbitmq"] = f"{ip.group(1)}:{port}"
    if prefix + "etc/haproxy/haproxy.cfg" in files:
        section = re.search(r"^frontend prometheus\n((?:    .*\n)+)", text(files, prefix + "etc/haproxy/haproxy.cfg"),
                            flags=re.M)
        if section:
            found["haproxy"] = re.search(r"^\s+bind (\S+)$", section.group(1), flags=re.M).group(1)
    return found


def exporter_sources(files, node):
    """{job: set of sources let in} from each exporter's own restriction on this node."""
    found = {}
    for path, f in files.items():
        drop_in = re.fullmatch(rf"nodes/{node}/etc/systemd/system/(\S+)\.service\.d/hagen-scrapers\.conf", path)
        if drop_in:
            assert "IPAddressDeny=any" in f.content, path
            found[drop_in.group(1)] = set(re.search(r"^IPAddressAllow=(.*)$", f.content, flags=re.M).group(1).split())
    cfg = f"nodes/{node}/etc/haproxy/haproxy.cfg"
    if cfg in files and "frontend prometheus" in text(files, cfg):
        section = text(files, cfg).split("frontend prometheus", 1)[1].split("\nfrontend ", 1)[0]
        assert "http-request deny unless scraper" in section
        found["haproxy"] = set(re.search(r"acl scraper src (.*)$", section, flags=re.M).group(1).split())
    return found


@given(topologies())
def test_every_scrape_target_is_an_exporter_of_that_node_open_to_the_scrapers_only(spec):
    """The scrape config's targets are exactly the exporters the nodes' own files configure (on
    each node's address, for the services that node runs), and each exporter lets in only the
    scrapers the spec names (its networks by default) and the node itself."""
    files = build(spec)
    if spec["cluster"]["target"] != "debian13":
        assert not any(p.startswith("monitoring/") for p in files)
        assert not any("exporter" in p for p in files)
        return
    addresses = {n["name"]: n["address"] for n in spec["nodes"]}
    scrape = _load_yaml(text(files, "monitoring/prometheus.yml"))
    scraped = {}
    for job in scrape["scrape_configs"]:
        for static in job["static_configs"]:
            (target,) = static["targets"]
            scraped[(job["job_name"], static["labels"]["instance"])] = target
    configured = {(job, node): listen for node in addresses for job, listen in exporter_listeners(files, node).items()}
    assert scraped == configured
    clustered = {n for members in corosync_clusters(files).values() for n in members}
    galera = {p.split("/")[1] for p in files if re.search(r"/etc/mysql/mariadb.conf.d/60-galera\.cnf$", p)}
    rabbit = {p.split("/")[1] for p in files if p.endswith("/etc/rabbitmq/rabbitmq.conf")}
    expected = {"node": set(addresses), "haproxy": set(lb_nodes(files)), "mysqld": galera, "rabbitmq": rabbit,
                "hacluster": clustered}
    for job in EXPORTER_JOBS:
        assert {n for j, n in configured if j == job} == expected[job], job
    for (job, node), listen in configured.items():
        assert listen.rsplit(":", 1)[0] == addresses[node], (job, node, listen)
    scrapers = set(spec.get("monitoring", {}).get("scrapers") or [n["cidr"] for n in spec["networks"]])
    for node in addresses:
        sources = exporter_sources(files, node)
        units = {"node": "prometheus-node-exporter", "mysqld": "prometheus-mysqld-exporter",
                 "hacluster": "ha_cluster_exporter", "haproxy": "haproxy"}
        for job in exporter_listeners(files, node):
            if job == "rabbitmq":  # no source filter exists there (the README says so)
                continue
            allowed = sources[units[job]]
            assert allowed - {"localhost", "127.0.0.0/8"} == scrapers, (node, job, allowed)
            setup = text(files, f"nodes/{node}/setup.sh")
            if job != "haproxy":
                assert f"systemctl enable '{units[job]}'" in setup, (node, job)


def alert_rules(files):
    return _load_yaml(text(files, "monitoring/rules/hagen.rules.yml"))["groups"][0]["rules"]


@given(topologies())
def test_alerts_watch_what_the_spec_places_and_each_is_unit_tested(spec):
    """The alerts name what the other files create (each Pacemaker VIP, Galera's member count,
    RabbitMQ's majority, fencing as the pcs commands set it), read only series of jobs the scrape
    config has, and each fires in one promtool test and stays quiet in another."""
    files = build(spec)
    if spec["cluster"]["target"] != "debian13":
        return
    rules = alert_rules(files)
    by_name = defaultdict(list)
    for rule in rules:
        by_name[rule["alert"]].append(rule)
    assert {r["labels"]["vip"] for r in by_name["HagenVipNotHeld"]} == set(ipaddr2_resources(files))
    for rule in by_name["HagenVipNotHeld"]:
        assert f'resource="{rule["labels"]["vip"]}"' in rule["expr"]
    members = set()
    for path, f in files.items():
        if re.search(r"/etc/mysql/mariadb.conf.d/60-galera\.cnf$", path):
            members = set(re.search(r"^wsrep_cluster_address = gcomm://(\S*)$", f.content, flags=re.M).group(1).split(","))
    incomplete = by_name.get("HagenGaleraClusterIncomplete")
    if len(members) > 1:
        assert incomplete and incomplete[0]["expr"].endswith(f"< {len(members)}")
    else:
        assert not incomplete
    rabbit = [p for p in files if p.endswith("/etc/rabbitmq/rabbitmq.conf")]
    quorum = by_name.get("HagenRabbitMQQuorumLost")
    if len(rabbit) > 1:
        assert quorum and quorum[0]["expr"].endswith(f"< {len(rabbit) // 2 + 1}")
    stonith = {a.split("=", 1)[1] for _, args in pcs_commands(files) for a in args if a.startswith("stonith-enabled=")}
    assert bool(by_name.get("HagenFencingDisabled")) == (stonith == {"true"})
    jobs = {job["job_name"] for job in _load_yaml(text(files, "monitoring/prometheus.yml"))["scrape_configs"]}
    for rule in rules:
        assert set(re.findall(r'job="([^"]+)"', rule["expr"])) <= jobs, rule
    tests = _load_yaml(text(files, "monitoring/tests/hagen.rules.test.yml"))["tests"]
    fired, quiet = set(), set()
    for test in tests:
        for check in test["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == quiet == set(by_name)


# In CI every property draws from one seed (derandomize would give each its own): they then see
# the same topologies, and build() compiles each once for all of them instead of once per property.
if PROFILE == "ci":
    for _name, _test in list(globals().items()):
        if _name.startswith("test_") and hasattr(_test, "hypothesis"):
            globals()[_name] = seed(20261207)(_test)
