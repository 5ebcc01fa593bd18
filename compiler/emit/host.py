"""Per-node system files: /etc/hosts, the node's secrets, and its setup script."""

from __future__ import annotations

from .. import catalog, monitoring, pki
from ..model import Node, Topology
from ..secrets import SecretValues
from . import monitoring as monitoring_files, ovn
from .base import BundleFile, render

def pacemaker_units(topo: Topology, node: Node) -> list[str]:
    """Units Pacemaker starts and stops on this node (Keystone's Apache is systemd's), a catalog
    service's active/passive one (cinder-volume) included."""
    units = {"loadbalancer": ["haproxy"], "galera": [topo.target.mariadb_unit], "rabbitmq": ["rabbitmq-server"]}
    return [u for s in topo.services_of(node) for u in units.get(s, [])] + \
        [p.unit for ep, p in catalog.failover_processes(topo) if node in ep.nodes]


def systemd_units(topo: Topology, node: Node) -> tuple[list[str], list[str]]:
    """(units systemd runs for Keystone here, packaged units to stop): Apache on every Keystone
    node, memcached only on the memcached nodes."""
    if node not in topo.keystone.nodes:
        return [], []
    if node in topo.memcached.nodes:
        return [topo.target.apache_unit, "memcached"], []
    return [topo.target.apache_unit], ["memcached"]


def masked_units(topo: Topology, node: Node) -> list[str]:
    """Packaged units that must never run: they would hold a port or start a service that
    Pacemaker or Apache owns (Debian's mariadb.socket on *:3306, its uwsgi keystone on :5000), or
    a catalog service's that it does not run (Nova's serial and SPICE console proxies)."""
    t = topo.target
    units = []
    if node in topo.galera.nodes:
        units += t.mariadb_masked_units
    if node in topo.keystone.nodes and t.keystone_packaged_unit:
        units.append(t.keystone_packaged_unit)
    units += [u for ep in catalog.hosted_on(topo, node) for u in ep.service.host.unwanted_units]
    return units


def packages(topo: Topology, node: Node) -> list[str]:
    t = topo.target
    per_service = {"loadbalancer": t.packages_loadbalancer, "galera": t.packages_galera,
                   "rabbitmq": t.packages_rabbitmq, "keystone": t.packages_keystone,
                   "ovn-central": catalog.OVN_CENTRAL_PACKAGES, "ovn-gateway": catalog.OVN_GATEWAY_PACKAGES,
                   **{ep.service.name: catalog.packages(topo, ep) for ep in catalog.hosted_on(topo, node)}}
    found = list(t.packages_cluster) if topo.cluster_of(node) else []
    if topo.tls:  # the target's ca_trust_update, which adds hagen's CA to the system's trust store
        found.append("ca-certificates")
    if pki.node_tls_paths(topo, node, catalog.KEYSTONE.name):  # Apache's mod_ssl, where packaged apart
        found += t.apache_tls_packages
    for service in topo.services_of(node):
        found += [p for p in per_service[service] if p not in found]
    found += [e.package for e in monitoring.exporters_on(topo, node) if e.package]
    return found


def unwanted_files(topo: Topology, node: Node) -> list[str]:
    """Packaged files that would override hagen's config of a catalog service here."""
    return [f for ep in catalog.hosted_on(topo, node) for f in ep.service.host.unwanted_files]


def service_units(topo: Topology, node: Node) -> list[str]:
    """The catalog services' units systemd runs here (stateless, like Keystone's Apache): all but
    those Pacemaker runs one at a time."""
    failover = {p.unit for _, p in catalog.failover_processes(topo)}
    return [unit for ep in catalog.hosted_on(topo, node) for unit in ep.service.host.units if unit not in failover]


def repositories(topo: Topology, node: Node) -> list:
    """The package repositories this node's packages need enabled first."""
    needs = set(topo.services_of(node)) | ({"cluster"} if topo.cluster_of(node) else set())
    return [r for r in topo.target.package_repositories if needs & set(r.needed_by)]


def debconf_answers(topo: Topology, node: Node) -> list:
    """The target's debconf answers for the packages this node installs."""
    installed = set(packages(topo, node))
    answers = list(topo.target.debconf_answers)
    for ep in catalog.hosted_on(topo, node):
        answers += ep.service.host.debconf
    # A package's questions are answered whether it is named or pulled in by another (placement-api
    # pulls placement-common): answer those of every catalog package this node installs.
    pulled = {a.package for ep in catalog.hosted_on(topo, node) for a in ep.service.host.debconf}
    return [a for a in answers if a.package in installed | pulled]


def names_used_by(topo: Topology, node: Node) -> set[Node]:
    """The nodes this node reaches by name: itself, its Pacemaker peers (corosync and pcs),
    its Galera peers (gcomm://), its RabbitMQ peers (rabbit@name), and the RabbitMQ nodes the
    transport_url of Keystone or of a catalog service on the bus lists. Everything else is reached by address or VIP, so a
    large API tier does not copy every node's name onto every node."""
    used = {node}
    cluster = topo.cluster_of(node)
    if cluster:
        used.update(cluster.nodes)
    if node in topo.galera.nodes:
        used.update(topo.galera.nodes)
    on_the_bus = node in topo.keystone.nodes or any(ep.service.messaging for ep in catalog.hosted_on(topo, node))
    if node in topo.rabbitmq.nodes or (on_the_bus and topo.rabbitmq.clients == "direct"):
        used.update(topo.rabbitmq.nodes)
    return used


def hosts_entries(topo: Topology, node: Node) -> list[dict]:
    used = names_used_by(topo, node)
    entries = [{"address": n.address, "names": [n.name]} for n in topo.nodes_in_order(used)]
    entries += [{"address": v.address, "names": sorted({v.hostname, v.name})} for v in topo.vips]
    return entries


def secret_env(topo: Topology, node: Node, secrets: SecretValues) -> list[tuple[str, str]]:
    wanted = ["hacluster_password"] if topo.cluster_of(node) else []
    if node in topo.rabbitmq.nodes:
        wanted.append("rabbitmq_password")
    if node in topo.keystone.nodes:
        wanted.append("keystone_admin_password")
    if node == topo.keystone.nodes[0]:  # keystone-bootstrap.sh registers the service users here
        wanted += catalog.registration_secrets(topo)
    return [(name.upper(), secrets.get(name)) for name in sorted(wanted)]


# Linux probes an idle TCP peer only after 7200 s. A client whose server dies between the
# connect and the greeting (pymysql through vip-db to a crashed node's HAProxy) then waits for
# two hours, since pymysql has no read timeout: measured in the lab, Neutron's OVN IDL thread
# blocked there and every Northbound change hung. 10 s idle, then 3 probes 3 s apart, finds a
# dead peer within 19 s; a live one answers a probe with an ACK, so nothing healthy is cut.
TCP_KEEPALIVE = {"net.ipv4.tcp_keepalive_time": 10, "net.ipv4.tcp_keepalive_intvl": 3,
                 "net.ipv4.tcp_keepalive_probes": 3}
KEEPALIVE_SYSCTL_FILE = "etc/sysctl.d/60-hagen-keepalive.conf"


def keepalive_sysctl() -> BundleFile:
    lines = [f"{key} = {value}\n" for key, value in sorted(TCP_KEEPALIVE.items())]
    return BundleFile(KEEPALIVE_SYSCTL_FILE,
                      "# Generated by hagen: find a dead TCP peer in seconds, not in two hours, so a\n"
                      "# client whose server crashed mid-handshake fails over instead of hanging.\n"
                      + "".join(lines), 0o644)


def ca_file(topo: Topology, secrets: SecretValues) -> list[BundleFile]:
    """The private CA's certificate, which every client on the node verifies the VIPs with."""
    if not topo.tls:
        return []
    return [BundleFile(pki.ca_file(topo).lstrip("/"), pki.as_file(secrets.get(pki.CA_CERT_SECRET)), 0o644)]


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    return [
        *ca_file(topo, secrets),
        keepalive_sysctl(),
        BundleFile("etc/hosts", render("host/hosts.j2", node=node, entries=hosts_entries(topo, node)), 0o644),
        BundleFile("etc/hagen/secrets.env",
                   render("host/secrets.env.j2", node=node, values=secret_env(topo, node, secrets)), 0o600),
    ]


def gateway(topo: Topology, node: Node) -> dict | None:
    """What setup.sh does on a gateway chassis: ovn-controller's external_ids, and the provider
    bridges with the interfaces the spec attaches to them."""
    if topo.ovn is None or node not in topo.ovn.gateways:
        return None
    return {"external_ids": ovn.gateway_settings(topo.ovn, node), "bridges": topo.ovn.bridge_mappings}


def monitoring_setup(topo: Topology, node: Node) -> dict | None:
    """What setup.sh does for the exporters here: the textfile it writes, and the units."""
    if not monitoring.exporters_on(topo, node):
        return None
    return {"textfile_dir": monitoring.TEXTFILE_DIR, "textfile": monitoring.TEXTFILE,
            "certificates": monitoring.certificate_files(topo, node),
            "galera_datadir": "/var/lib/mysql" if node in topo.galera.nodes else None,
            "units": monitoring_files.units(topo, node)}


def setup_script(topo: Topology, node: Node, laid_down: list[BundleFile]) -> BundleFile:
    services = {s: s in topo.services_of(node) for s in ("loadbalancer", "galera", "rabbitmq", "keystone")}
    target = topo.target
    cluster = topo.cluster_of(node)
    running, stopped = systemd_units(topo, node)
    text = render(
        "host/setup.sh.j2", node=node, target=target, roles=list(topo.services_of(node)),
        cluster_name=cluster.name if cluster else None,
        packages=packages(topo, node), repositories=repositories(topo, node),
        debconf_answers=debconf_answers(topo, node), pacemaker_units=pacemaker_units(topo, node),
        masked_units=masked_units(topo, node), systemd_units=running, stopped_units=stopped,
        files=[f for f in sorted(laid_down, key=lambda f: f.path)], services=services,
        site_enable=[c for c in (target.keystone_site_enable, target.apache_default_site_disable,
                                 target.apache_tls_enable if pki.node_tls_paths(topo, node, catalog.KEYSTONE.name)
                                 else ()) if c],
        service_units=service_units(topo, node), shared_mounts=catalog.shared_mounts(topo, node),
        unwanted_files=unwanted_files(topo, node),
        ovn_central=ovn.CENTRAL_DEFAULTS if topo.ovn and node in topo.ovn.nodes else None,
        etcd_config="/" + catalog.ETCD_CONFIG if node in catalog.coordination_members(topo) else None,
        gateway=gateway(topo, node), keepalive_sysctl_file="/" + KEEPALIVE_SYSCTL_FILE,
        ca_file=pki.ca_file(topo), ca_trust_update=topo.target.ca_trust_update,
        monitoring=monitoring_setup(topo, node),
    )
    return BundleFile("setup.sh", text, 0o755)
