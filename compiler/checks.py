"""Stage 3, semantic checks: what the schema cannot see, the way an expert reviews a spec.

Runs on a document that already passed the schema, so shapes are right; every
check reports positioned diagnostics and never raises. All checks are linear or
n log n in the size of the spec (sets and dicts, no pairwise loops over nodes).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from .diagnostics import Diagnostic, did_you_mean
from .catalog import API_SERVICES, CATALOG, ETCD_CLIENT_PORT, ETCD_PEER_PORT, frontend_port_keys
from .model import (ACTIVE_ACTIVE, ACTIVE_ACTIVE_BACKENDS, ACTIVE_PASSIVE, CLUSTERED_SERVICES, SERVICE_ORDER, Galera,
                    Memcached, Ovn, RabbitMQ, cluster_groups, cluster_name, volume_ha)
from . import monitoring
from .resources import service_setting
from .spec import SourceDoc
from .targets import TARGETS

# Pacemaker ids hagen creates itself; a VIP may not take one of them.
RESERVED_IDS = {"haproxy", "haproxy-clone", "galera", "galera-clone", "rabbitmq", "rabbitmq-clone"}

# Names every /etc/hosts already maps to the loopback (Debian's and EL's defaults): a node or VIP
# called so would resolve to itself on every host (gcomm:// peers reaching themselves), and
# RFC 6761 reserves the whole .localhost domain for the loopback.
RESERVED_HOSTNAMES = {"localhost", "localhost.localdomain", "localhost4", "localhost4.localdomain4", "localhost6",
                      "localhost6.localdomain6", "ip6-localhost", "ip6-loopback", "ip6-localnet",
                      "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters"}

# Address blocks no node, VIP or BMC can have: what each one is, for the message.
RESERVED_BLOCKS = [
    (ipaddress.IPv4Network("0.0.0.0/8"), "'this network' (RFC 1122), never a host's address"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "loopback: every host answers it itself"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "link-local: not routed, assigned by the host itself"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "multicast, not a host address"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "reserved (class E and the broadcast address)"),
]

# pcs refuses a longer cluster name (it would prevent mounting GFS2 volumes).
PCS_CLUSTER_NAME_MAX = 32


IPV4_HINT = "expected four numbers from 0 to 255 separated by dots, such as 192.168.16.58"


def _defined(what: str, names) -> str:
    shown = sorted(names)
    return f"defined {what}: {', '.join(shown[:8])}" + (", ..." if len(shown) > 8 else "") if shown else ""


def reserved_name(name: str) -> bool:
    return name in RESERVED_HOSTNAMES or name.endswith(".localhost")


def reserved_block(address: ipaddress.IPv4Address | ipaddress.IPv4Network) -> str:
    """What reserved block the address (or network) falls in or overlaps, or ''."""
    for block, what in RESERVED_BLOCKS:
        if (address in block) if isinstance(address, ipaddress.IPv4Address) else address.overlaps(block):
            return f"{block} is {what}"
    return ""


def placement(data: dict, service: str, key: str = "nodes") -> list[tuple[str, tuple]]:
    """(node name, path of the reference) for a service's node list (key), by default every
    node; a narrower list such as keystone's memcached_nodes defaults to the service's nodes."""
    svc = data["services"].get(service)
    if svc is None:  # an optional catalog service the spec leaves out
        return []
    if key in svc:
        return [(name, ("services", service, key, i)) for i, name in enumerate(svc[key])]
    if key != "nodes":
        return placement(data, service)
    if service in API_SERVICES:  # Keystone's nodes, as Kolla places its API services
        return placement(data, "keystone")
    return [(n["name"], ("nodes", i, "name")) for i, n in enumerate(data["nodes"])]


def clustered_node_names(data: dict) -> set[str]:
    """Nodes in a Pacemaker cluster: those running a service of CLUSTERED_SERVICES."""
    return {name for service in CLUSTERED_SERVICES for name, _ in placement(data, service)}


def check_semantics(doc: SourceDoc) -> list[Diagnostic]:
    data = doc.data
    found: list[Diagnostic] = []

    def report(code, message, path, hint="", key=False):
        found.append(Diagnostic(code, message, doc.file, doc.span(path, key=key), hint))

    node_names = _check_names(data, report)
    networks = _check_networks(data, report)
    _check_addresses(data, networks, report)
    _check_references(data, node_names, report)
    names_broken = any(d.code in ("H020", "H021") for d in found)
    _check_ports(data, node_names, report)
    if not names_broken:  # counts of duplicated or unknown nodes would only repeat the name errors
        _check_quorum(data, report)
        _check_cluster_size(data, report)
    _check_target(data, report)
    if not names_broken:
        _check_stores(data, report)
    _check_needs(data, report)
    if not names_broken:
        _check_ovn(data, node_names, report)
        _check_volume_ha(data, report)
        _check_ceph_clusters(data, report)
    _check_fencing(data, report)
    _check_tls(data, report)
    _check_monitoring(data, report)
    return sorted(found, key=lambda d: d.sort_key)


def _check_names(data, report) -> set[str]:
    seen: dict[str, tuple] = {}
    for i, node in enumerate(data["nodes"]):
        name = node["name"]
        if reserved_name(name):
            report("H023", f"node name '{name}' is reserved for the loopback", ("nodes", i, "name"),
                   hint="every /etc/hosts maps it to 127.0.0.1 or ::1: give the node its real host name")
        if name in seen:
            report("H021", f"node name '{name}' is used twice", ("nodes", i, "name"),
                   hint=f"first used at nodes[{seen[name][1]}]")
        else:
            seen[name] = ("nodes", i)
    vip_seen: dict[str, int] = {}
    hostnames: dict[str, str] = {n["name"]: f"node {n['name']}" for n in data["nodes"]}
    for i, vip in enumerate(data["vips"]):
        name = vip["name"]
        if name in vip_seen:
            report("H021", f"vip name '{name}' is used twice", ("vips", i, "name"),
                   hint=f"first used at vips[{vip_seen[name]}]")
        elif name in seen:
            report("H021", f"vip name '{name}' is also a node name", ("vips", i, "name"),
                   hint="Pacemaker ids and host names share one namespace; rename the vip")
        elif name in RESERVED_IDS or name.startswith("fence-"):
            report("H021", f"vip name '{name}' is a resource id hagen creates itself", ("vips", i, "name"),
                   hint="use a name such as 'vip-" + name.removeprefix("fence-") + "'")
        vip_seen.setdefault(name, i)
        host = vip["hostname"]
        for what, value, key in (("name", name, "name"), ("hostname", host, "hostname")):
            if reserved_name(value):
                report("H023", f"vip {what} '{value}' is reserved for the loopback", ("vips", i, key),
                       hint="clients would reach their own host, not the VIP: use a name such as 'vip-keystone'")
        if host in hostnames and hostnames[host] != f"vip {name}":
            report("H021", f"hostname '{host}' of vip '{name}' is already the name of {hostnames[host]}",
                   ("vips", i, "hostname"), hint="each name in /etc/hosts must resolve to one address")
        hostnames.setdefault(host, f"vip {name}")
    return set(seen)


def _check_networks(data, report) -> list[tuple[ipaddress.IPv4Network, int]]:
    networks = []
    names: dict[str, int] = {}
    for i, net in enumerate(data["networks"]):
        if net["name"] in names:
            report("H021", f"network name '{net['name']}' is used twice", ("networks", i, "name"))
        names.setdefault(net["name"], i)
        try:
            cidr = ipaddress.IPv4Network(net["cidr"], strict=True)
        except ValueError as exc:
            hint = ""
            try:
                hint = f"did you mean '{ipaddress.IPv4Network(net['cidr'], strict=False)}'?"
            except ValueError:
                pass
            report("H030", f"'{net['cidr']}' is not a valid IPv4 network ({exc})", ("networks", i, "cidr"), hint)
            continue
        if reserved_block(cidr):
            report("H034", f"network {cidr} overlaps a reserved block: {reserved_block(cidr)}", ("networks", i, "cidr"),
                   hint="declare the management network the nodes really use")
            continue
        if cidr.prefixlen > 30:
            report("H030", f"network {cidr} is too small for nodes and VIPs", ("networks", i, "cidr"),
                   hint="use a prefix of /30 or shorter")
            continue
        networks.append((cidr, i))
    return networks


def _network_of(address: ipaddress.IPv4Address, networks):
    return next((cidr for cidr, _ in networks if address in cidr), None)


def _check_addresses(data, networks, report) -> None:
    owners: dict[str, str] = {}
    entries = [(f"node {n['name']}", n["address"], ("nodes", i, "address")) for i, n in enumerate(data["nodes"])]
    entries += [(f"vip {v['name']}", v["address"], ("vips", i, "address")) for i, v in enumerate(data["vips"])]
    nets_by_name: dict[str, ipaddress.IPv4Network | None] = {}
    for owner, text, path in entries:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            report("H030", f"'{text}' is not an IPv4 address", path, hint=IPV4_HINT)
            continue
        if reserved_block(address):
            report("H034", f"{owner} address {text} is reserved: {reserved_block(address)}", path,
                   hint="use the address on the management network")
            continue
        if text in owners:
            report("H031", f"address {text} of {owner} is already used by {owners[text]}", path,
                   hint="every node and VIP needs its own address")
            continue
        owners[text] = owner
        net = _network_of(address, networks)
        nets_by_name[owner] = net
        if net is None and networks:
            known = ", ".join(str(c) for c, _ in networks)
            report("H032", f"{owner} address {text} is in no declared network", path,
                   hint=f"declared networks: {known}")
        elif net is not None and address in (net.network_address, net.broadcast_address):
            report("H030", f"{owner} address {text} is the network or broadcast address of {net}", path,
                   hint="the first and last addresses of a network are not host addresses: pick one in between")
    _check_vip_networks(data, nets_by_name, report)
    _check_bmc_addresses(data, owners, report)


def _check_bmc_addresses(data, owners: dict[str, str], report) -> None:
    """Each node's BMC is its own: a BMC address shared by two nodes, or equal to a node's or a
    VIP's address, would let a node fence (power off) the wrong peer, or none."""
    bmcs: dict[str, str] = {}
    for i, node in enumerate(data["nodes"]):
        if "fencing" not in node:
            continue
        text, path = node["fencing"]["address"], ("nodes", i, "fencing", "address")
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            report("H030", f"'{text}' is not an IPv4 address", path, hint=IPV4_HINT)
            continue
        if reserved_block(address):
            report("H034", f"BMC address {text} of node {node['name']} is reserved: {reserved_block(address)}", path,
                   hint="give the address of the node's BMC (IPMI) on the management network")
        elif text in bmcs:
            report("H031", f"BMC address {text} of node {node['name']} is already the BMC of node {bmcs[text]}", path,
                   hint="fencing one node would power off the other: each node needs its own BMC address")
        elif text in owners:
            report("H031", f"BMC address {text} of node {node['name']} is the address of {owners[text]}", path,
                   hint="a BMC has an address of its own, distinct from every node and VIP")
        bmcs.setdefault(text, node["name"])


def _check_vip_networks(data, nets_by_name, report) -> None:
    """A VIP is held by load-balancer nodes (IPaddr2 needs a local interface in
    its network) and fronts its service's nodes on the same network."""
    lb_nodes = [name for name, _ in placement(data, "loadbalancer")]
    for service in ("galera", "keystone", "rabbitmq", *API_SERVICES):
        if service not in data["services"]:
            continue
        vip_name = service_vip(data, service)
        vip_net = nets_by_name.get(f"vip {vip_name}")
        if vip_net is None:
            continue
        members = [n for n, _ in placement(data, service)] + lb_nodes
        elsewhere = [n for n in dict.fromkeys(members)
                     if nets_by_name.get(f"node {n}") not in (None, vip_net)]
        if elsewhere:
            report("H033", f"{vip_name} is on {vip_net} but its load balancers or {service} nodes "
                   f"{', '.join(elsewhere)} are not", ("services", service, "vip"),
                   hint="put the VIP on the network its nodes share")


def _check_references(data, node_names, report) -> None:
    vip_names = [v["name"] for v in data["vips"]]
    used_nodes: set[str] = set()
    used_vips: set[str] = set()
    undefined_vip = False
    for service in SERVICE_ORDER + API_SERVICES:
        svc = data["services"].get(service)
        if svc is None:
            continue
        listed: set[str] = set()
        for name, path in placement(data, service):
            if name not in node_names:
                report("H020", f"node '{name}' in services.{service}.nodes is not defined", path,
                       hint=did_you_mean(name, node_names) or _defined("nodes", node_names))
            elif name in listed and "nodes" in svc:
                report("H021", f"node '{name}' is listed twice for {service}", path)
            listed.add(name)
            used_nodes.add(name)
        if "vip" in svc:
            used_vips.add(svc["vip"])
            if svc["vip"] not in vip_names:
                undefined_vip = True
                report("H020", f"vip '{svc['vip']}' is not defined", ("services", service, "vip"),
                       hint=did_you_mean(svc["vip"], vip_names)
                       or f"defined vips: {', '.join(dict.fromkeys(vip_names))}")
    keystone_nodes = {name for name, _ in placement(data, "keystone")}
    listed = set()
    explicit = "memcached_nodes" in data["services"]["keystone"]  # the default repeats keystone's nodes
    for name, path in placement(data, "keystone", "memcached_nodes") if explicit else []:
        if name not in node_names:
            report("H020", f"node '{name}' in services.keystone.memcached_nodes is not defined", path,
                   hint=did_you_mean(name, node_names))
        elif name not in keystone_nodes:
            report("H022", f"memcached node '{name}' does not run keystone", path,
                   hint=did_you_mean(name, keystone_nodes)
                   or "memcached runs beside Keystone: pick memcached_nodes among keystone's nodes")
        elif name in listed:
            report("H021", f"node '{name}' is listed twice in memcached_nodes", path)
        listed.add(name)
    for key in OVN_NODE_KEYS:
        listed = set()
        explicit = key in (data["services"].get("neutron") or {})
        for name, path in placement(data, "neutron", key) if explicit else []:
            if name not in node_names:
                report("H020", f"node '{name}' in services.neutron.{key} is not defined", path,
                       hint=did_you_mean(name, node_names) or _defined("nodes", node_names))
            elif name in listed:
                report("H021", f"node '{name}' is listed twice in {key}", path)
            listed.add(name)
            used_nodes.add(name)
    rabbit = data["services"]["rabbitmq"]
    if rabbit.get("clients") == "vip" and "vip" not in rabbit:
        report("H011", "rabbitmq.clients is 'vip' but rabbitmq has no vip", ("services", "rabbitmq", "clients"),
               hint="add 'vip: <name>' to services.rabbitmq, or use clients: direct")
    for i, node in enumerate(data["nodes"]):
        if node["name"] not in used_nodes:
            report("H054", f"node '{node['name']}' runs no service", ("nodes", i, "name"),
                   hint="place it in a service's nodes list, or remove it")
    for i, vip in enumerate(data["vips"]):
        # With a misspelt vip reference, the 'unused' one is most likely the one meant: say it once.
        if vip["name"] not in used_vips and not undefined_vip:
            report("H053", f"vip '{vip['name']}' is not used by any service, so no frontend binds it",
                   ("vips", i, "name"), hint="set it as the vip of galera, rabbitmq or keystone, or remove it")


def service_vip(data: dict, service: str) -> str | None:
    """The VIP a service is fronted on: its own, or Keystone's for a catalog service that names none."""
    svc = data["services"][service]
    if service in API_SERVICES:
        return svc.get("vip", data["services"]["keystone"]["vip"])
    return svc.get("vip")


def _check_ports(data, node_names, report) -> None:
    services = data["services"]
    galera, rabbit, keystone = services["galera"], services["rabbitmq"], services["keystone"]
    g_port = service_setting(data, "galera", "port")
    r_port = service_setting(data, "rabbitmq", "port")
    k_port = service_setting(data, "keystone", "public_port")
    if r_port + 20000 > 65535:
        report("H040", f"rabbitmq port {r_port} leaves no room for its distribution port ({r_port} + 20000)",
               ("services", "rabbitmq", "port"), hint="use a port below 45536")
    # Frontends: one VIP:port each.
    frontends: dict[tuple[str, int], str] = {}
    fronted = [("galera", galera.get("vip"), g_port, ("services", "galera", "port")),
               ("keystone", keystone.get("vip"), k_port, ("services", "keystone", "public_port")),
               ("rabbitmq", rabbit.get("vip"), r_port, ("services", "rabbitmq", "port"))]
    fronted += [(s, service_vip(data, s), service_setting(data, s, key), ("services", s, key))
                for s in API_SERVICES if s in services for key in ("port", *frontend_port_keys(s))]
    for service, vip, port, path in fronted:
        if vip is None:
            continue
        if (vip, port) in frontends:
            own = path if path[-1] in services[service] else ("services", service, "vip")
            if own[-1] not in services[service]:  # both defaulted: point at the service itself
                own = ("services", service)
            report("H040", f"{service} frontend {vip}:{port} is already bound by {frontends[(vip, port)]}",
                   own,
                   hint="give the service another port or another VIP")
        frontends.setdefault((vip, port), service)
    # Listeners on each node's own address.
    listeners = {
        "galera": [(g_port, "port"), (service_setting(data, "galera", "clustercheck_port"), "clustercheck_port"),
                   (Galera.GCOMM_PORT, "replication port"), (Galera.IST_PORT, "IST port"),
                   (Galera.SST_PORT, "SST port")],
        "rabbitmq": [(r_port, "port"), (RabbitMQ.EPMD_PORT, "epmd port"), (r_port + 20000, "distribution port")],
        "keystone": [(k_port, "public_port")],
        "memcached": [(Memcached.PORT, "memcached port")],
        **{s: [(service_setting(data, s, key), key) for key in ("port", *frontend_port_keys(s))]
           for s in API_SERVICES if s in services},
    }
    placed = {s: placement(data, s) for s in ("galera", "rabbitmq", "keystone", *API_SERVICES)}
    placed["memcached"] = placement(data, "keystone", "memcached_nodes")
    if TARGETS[data["cluster"]["target"]].monitoring:  # the exporters' fixed ports: checked first, so
        # that a collision is reported at the service's own port, which the spec can move
        runs_with = {"node": [(n["name"], ()) for n in data["nodes"]],
                     "cluster": [(n, ()) for n in sorted(clustered_node_names(data))]}
        exporters = {e: runs_with[e.runs_with] if e.runs_with in runs_with else placement(data, e.runs_with)
                     for e in monitoring.EXPORTERS}
        listeners = {**{f"{e.job} exporter": [(e.port, "port")] for e in exporters}, **listeners}
        placed.update({f"{e.job} exporter": nodes for e, nodes in exporters.items()})
    if "neutron" in services:  # OVN central's fixed ports, on its members
        listeners["ovn-central"] = [(Ovn.NB_PORT, "Northbound port"), (Ovn.SB_PORT, "Southbound port"),
                                    (Ovn.NB_RAFT_PORT, "Northbound RAFT port"), (Ovn.SB_RAFT_PORT, "Southbound RAFT port")]
        placed["ovn-central"] = placement(data, "neutron", "ovn_nodes")
    if "cinder" in services and volume_ha(services["cinder"]) == ACTIVE_ACTIVE:  # etcd, on Cinder's nodes
        listeners["etcd"] = [(ETCD_CLIENT_PORT, "etcd client port"), (ETCD_PEER_PORT, "etcd peer port")]
        placed["etcd"] = placement(data, "cinder")
    per_node: dict[str, dict[int, str]] = defaultdict(dict)
    for service in listeners:
        nodes = [n for n, _ in placed[service] if n in node_names]
        for port, label in listeners[service]:
            owner = {"memcached": "keystone", "ovn-central": "neutron", "etcd": "cinder"}.get(service, service)
            if owner not in services:  # an exporter: first in, it is never the one reported
                path = ("nodes",)
            else:
                key = label if label in services[owner] else None
                path = ("services", owner, key) if key else ("services", owner)
            for name in dict.fromkeys(nodes):
                taken = per_node[name].get(port)
                here = f"{service} {label} ({port})"
                if taken and taken != here:
                    report("H040", f"{here} collides with {taken} on node {name}",
                           path, hint="choose a free port for one of them")
                    break
                per_node[name][port] = here


# Neutron's other node lists: OVN central's members (Neutron's nodes by default) and the gateways.
OVN_NODE_KEYS = ("ovn_nodes", "gateway_nodes")


def ovn_nodes(data) -> list[str]:
    return list(dict.fromkeys(n for n, _ in placement(data, "neutron", "ovn_nodes")))


def gateway_nodes(data) -> list[str]:
    neutron = data["services"].get("neutron") or {}
    return [n for n, _ in placement(data, "neutron", "gateway_nodes")] if "gateway_nodes" in neutron else []


def _check_ovn(data, node_names, report) -> None:
    """RAFT's quorum (a majority of the members) decides what OVN survives, as Galera's does; and
    a gateway must not lose its own management link to its provider bridge."""
    neutron = data["services"].get("neutron")
    if neutron is None:
        return
    count = len(ovn_nodes(data))
    path = ("services", "neutron", "ovn_nodes") if "ovn_nodes" in neutron else ("services", "neutron")
    default_hint = "" if "ovn_nodes" in neutron else "OVN central runs on Neutron's nodes by default; "
    if count < 3 and not neutron.get("ovn_quorum_waiver"):
        report("H058", f"OVN central has {count} member(s): its RAFT clusters lose their majority, and Neutron "
               "every write, with the loss of any member", path, key=True,
               hint=default_hint + "list 3 (or 5) nodes in services.neutron.ovn_nodes, or set "
                    "services.neutron.ovn_quorum_waiver with a reason")
    elif count < 3:
        report("H059", f"OVN quorum is waived: {neutron['ovn_quorum_waiver']['reason']}",
               ("services", "neutron", "ovn_quorum_waiver"), key=True,
               hint="with fewer than 3 OVN members, the loss of one stops every network change")
    elif count % 2 == 0:
        report("H051", f"OVN central has {count} members: an even count survives no more losses than "
               f"{count - 1} and can split into two halves without a majority", path, key=True,
               hint=default_hint + f"list {count - 1} or {count + 1} nodes in services.neutron.ovn_nodes")
    interfaces = {n["name"]: n.get("interface") for n in data["nodes"]}
    mappings = neutron.get("bridge_mappings", [])
    for name in gateway_nodes(data):
        for i, m in enumerate(mappings):
            if m.get("interface") and m["interface"] == interfaces.get(name):
                report("H035", f"gateway node '{name}' would attach its management interface {m['interface']} "
                       f"to bridge {m['bridge']}: the node would lose its own address", 
                       ("services", "neutron", "bridge_mappings", i, "interface"),
                       hint="name the interface of the provider network, not the one carrying the node's address")
    for key, label in (("physnet", "physical network"), ("bridge", "bridge")):
        seen = set()
        for i, m in enumerate(mappings):
            if m[key] in seen:
                report("H021", f"{label} '{m[key]}' is mapped twice", ("services", "neutron", "bridge_mappings", i, key),
                       hint="each provider network has one bridge, and each bridge carries one provider network")
            seen.add(m[key])


def _node_list_cause(data, service: str, hint: str) -> tuple[tuple, str]:
    """Where a node count comes from: the service's own 'nodes:' key, or, when it has none, the
    service's key (it runs on every node by default), with a hint that says so."""
    if "nodes" in data["services"][service]:
        return ("services", service, "nodes"), hint
    return ("services", service), f"{service} runs on every node by default; {hint} in services.{service}.nodes"


def _check_quorum(data, report) -> None:
    galera_nodes = {n for n, _ in placement(data, "galera")}
    count = len(galera_nodes)
    if count == 2:
        path, hint = _node_list_cause(data, "galera", "list 3 nodes (or 1 for a non-HA test)")
        report("H050", "galera has 2 nodes: losing either one loses quorum, so 2 is no better than 1",
               path, hint=hint, key=True)
    elif count >= 4 and count % 2 == 0:
        path, hint = _node_list_cause(data, "galera", f"list {count - 1} or {count + 1} nodes")
        report("H051", f"galera has {count} nodes: an even count can split into two halves without quorum",
               path, hint=hint, key=True)
    rabbit_count = len({n for n, _ in placement(data, "rabbitmq")})
    if service_setting(data, "rabbitmq", "queue_mode") == "quorum" and rabbit_count < 3:
        path, hint = _node_list_cause(data, "rabbitmq", "list at least 3 nodes")
        report("H052", f"quorum queues on {rabbit_count} node(s) cannot survive the loss of a node",
               path, hint=hint, key=True)


# corosync's tested and vendor-supported ceiling (RHEL 8/9 support clusters of up to 32 nodes);
# beyond it, pacemaker_remote nodes are the supported way to grow.
MAX_CLUSTER_NODES = 32


def _check_cluster_size(data, report) -> None:
    placed = {s: [n for n, _ in placement(data, s)] for s in CLUSTERED_SERVICES}
    groups = cluster_groups(placed)
    base = data["cluster"]["name"]
    longest = max((cluster_name(base, services, len(groups)) for services in groups), key=len)
    if len(longest) > PCS_CLUSTER_NAME_MAX:  # one report: the fix (a shorter cluster.name) is one
        report("H024", f"Pacemaker cluster name '{longest}' (cluster.name and a service suffix) is {len(longest)} "
               f"characters long; pcs refuses more than {PCS_CLUSTER_NAME_MAX}", ("cluster", "name"),
               hint=f"shorten cluster.name to at most {PCS_CLUSTER_NAME_MAX - len(longest) + len(base)} characters: "
                    "these services live on disjoint node sets, so each of their clusters gets a suffix")
    for services in groups:
        members = {n for s in services for n in placed[s]}
        if len(members) > MAX_CLUSTER_NODES:
            service = services[0]
            explicit = "nodes" in data["services"][service]
            report("H055", f"the Pacemaker cluster of {', '.join(services)} has {len(members)} nodes; corosync "
                   f"clusters are tested and supported up to {MAX_CLUSTER_NODES}",
                   ("services", service, "nodes") if explicit else ("services", service),
                   hint="place these services on fewer nodes; Keystone, being stateless, is not in any cluster",
                   key=not explicit)


def _check_stores(data, report) -> None:
    """A service's store must be one that every node of it sees: a local directory on several
    nodes would answer 'not found' for every image another node received."""
    for service in CATALOG:
        store = (data["services"].get(service.name) or {}).get("store")
        if not store or store.get("type") != "file" or store.get("shared", False):
            continue
        nodes = [n for n, _ in placement(data, service.name)]
        if len(nodes) > 1:
            report("H056", f"{service.name}'s file store is a local directory on each of its {len(nodes)} nodes "
                   f"({', '.join(nodes)}): an image uploaded to one node would be missing on the others",
                   ("services", service.name, "store", "type"),
                   hint="mount one filesystem (NFS, CephFS) at the store's path on every node and set "
                        "shared: true, use type: rbd (an external Ceph pool), or run the service on one node")


def _check_needs(data, report) -> None:
    """A service whose calls go to another catalog service (Nova's to Placement and Glance) is
    useless without it: the scheduler finds no host, no server boots."""
    for service in CATALOG:
        if service.name not in data["services"]:
            continue
        for needed in service.needs:
            if needed not in data["services"]:
                report("H057", f"{service.name} needs {needed}, which the spec does not place",
                       ("services", service.name), key=True,
                       hint=f"add services.{needed} (by default on Keystone's nodes), or remove services.{service.name}")


# Why a catalog service is not compiled for a target, in the words the diagnostic uses.
NOT_COMPILED_FOR = {
    "debian12": "Debian 12 ships OpenStack Zed (2022.2), which upstream no longer maintains; hagen emits "
                "only options the target's own release knows, and compiles this service for 2025.1",
    "el9": "hagen does not yet compile it for RDO's packages (their unit and file layout)",
}


def _check_target(data, report) -> None:
    target = TARGETS[data["cluster"]["target"]]
    for service in CATALOG:
        if service.name in data["services"] and target.name not in service.targets:
            report("H062", f"{service.name} is not available on {target.name}: {NOT_COMPILED_FOR[target.name]}",
                   ("services", service.name), key=True,
                   hint=f"set cluster.target to {' or '.join(service.targets)}, or remove services.{service.name}")
    rabbit = data["services"]["rabbitmq"]
    if rabbit.get("queue_mode") == "mirrored":
        path = ("services", "rabbitmq", "queue_mode")
        if target.rabbitmq_mirroring == "removed":
            report("H060", f"classic mirrored queues were removed in RabbitMQ 4.0, which {target.name} ships",
                   path, hint="use queue_mode: quorum")
        else:
            report("H061", f"classic mirrored queues are deprecated in RabbitMQ {target.rabbitmq_version} "
                   f"({target.name}) and removed in 4.0", path, hint="use queue_mode: quorum")


def _check_fencing(data, report) -> None:
    waiver = data["cluster"].get("fencing_waiver")
    if waiver:
        report("H071", f"fencing is waived: {waiver['reason']}", ("cluster", "fencing_waiver"),
               hint="without fencing Pacemaker cannot recover safely from a hung node", key=True)
        return
    clustered = clustered_node_names(data)
    for i, node in enumerate(data["nodes"]):
        if "fencing" not in node and node["name"] in clustered:
            report("H070", f"node '{node['name']}' has no fencing device", ("nodes", i, "name"),
                   hint="add 'fencing: {address, username, password_secret}', or set "
                        "cluster.fencing_waiver with a reason")


def _check_tls(data, report) -> None:
    waiver = data["cluster"].get("tls_waiver")
    if waiver:
        report("H072", f"TLS is waived: {waiver['reason']}", ("cluster", "tls_waiver"),
               hint="without TLS anyone on the network reads every password and token", key=True)


def _check_monitoring(data, report) -> None:
    spec = data.get("monitoring")
    if spec is None:
        return
    target = TARGETS[data["cluster"]["target"]]
    if not target.monitoring:
        report("H062", f"monitoring is not available on {target.name}: hagen compiles the exporters of Debian 13's "
               "packages only", ("monitoring",), key=True, hint="set cluster.target to debian13, or remove monitoring")
    for i, text in enumerate(spec.get("scrapers", [])):
        try:
            ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            report("H030", f"scraper '{text}' is not an IPv4 address or network", ("monitoring", "scrapers", i),
                   hint=IPV4_HINT)


def _check_volume_ha(data, report) -> None:
    """cinder-volume active/active only on a driver that supports it (and its etcd with a
    majority to lose); active/passive only where one Pacemaker cluster holds all its nodes."""
    spec = data["services"].get("cinder")
    if not spec:
        return
    mode, kind = volume_ha(spec), spec["backend"]["type"]
    nodes = list(dict.fromkeys(n for n, _ in placement(data, "cinder")))
    if mode == ACTIVE_ACTIVE and kind not in ACTIVE_ACTIVE_BACKENDS:
        report("H063", f"cinder-volume cannot run active/active on an {kind} backend: Cinder's {kind} driver does not "
               "support it (cinder-volume refuses to start with [DEFAULT] cluster set)",
               ("services", "cinder", "volume_ha"),
               hint=f"set volume_ha: {ACTIVE_PASSIVE} (the default for {kind}: one cinder-volume under Pacemaker, "
                    "every node with the same backend_host), or use an rbd backend")
    elif mode == ACTIVE_ACTIVE and len(nodes) % 2 == 0:
        path, hint = _node_list_cause(data, "cinder", f"list {len(nodes) - 1} or {len(nodes) + 1} nodes")
        report("H051", f"cinder's etcd (the volume cluster's locks) has {len(nodes)} members: an even count "
               "survives no more losses than one fewer", path, hint=hint, key=True)
    if mode == ACTIVE_PASSIVE:
        placed = {s: [n for n, _ in placement(data, s)] for s in CLUSTERED_SERVICES}
        clusters = [{n for s in services for n in placed[s]} for services in cluster_groups(placed)]
        if not any(set(nodes) <= members for members in clusters):
            path, hint = _node_list_cause(data, "cinder", "place it on the nodes of one Pacemaker cluster (those of "
                                          "HAProxy, Galera or RabbitMQ)")
            report("H064", f"cinder-volume runs active/passive under Pacemaker, but cinder's nodes "
                   f"({', '.join(nodes)}) are not all in one Pacemaker cluster", path,
                   hint=hint + (", or use an rbd backend active/active" if kind in ACTIVE_ACTIVE_BACKENDS else ""),
                   key=True)


def _check_ceph_clusters(data, report) -> None:
    """A node has one /etc/ceph/ceph.conf: the services on it that store in Ceph use one cluster."""
    seen: dict[str, tuple[str, tuple, str]] = {}
    for service in CATALOG:
        spec = data["services"].get(service.name) or {}
        key = "store" if "store" in spec else "backend"
        store = spec.get(key)
        if not store or store.get("type") != "rbd":
            continue
        cluster = (store.get("fsid"), tuple(store.get("monitors", ())))
        for name in dict.fromkeys(n for n, _ in placement(data, service.name)):
            other = seen.get(name)
            if other and other[:2] != cluster:
                report("H065", f"{service.name} and {other[2]} both run on node {name} with different Ceph clusters "
                       "(fsid or monitors), and a node has one /etc/ceph/ceph.conf",
                       ("services", service.name, key, "fsid"),
                       hint=f"give {service.name} the same fsid and monitors as {other[2]}, or place them on "
                            "different nodes")
                return
            seen.setdefault(name, (*cluster, service.name))
