"""Stage 4, model: a checked document -> the frozen Topology.

Defaults are filled in here (from the schema's 'default' values, so the schema
stays the one place they are written), names are resolved to objects, and
everything is sorted so that the order of the spec never shows in the bundle.
"""

from __future__ import annotations

import ipaddress
import re

from .catalog import API_SERVICES, frontend_port_keys
from .checks import placement
from .model import (ApiPlacement, BridgeMapping, Fencing, Galera, Keystone, LoadBalancer, Memcached, Monitoring,
                    Network, Node, Ovn, PacemakerCluster, RabbitMQ, Storage, Topology, Vip, cluster_groups, cluster_name, volume_ha)
from .resources import service_setting, topology_schema
from .targets import TARGETS


def natural_key(name: str) -> tuple:
    """controller2 sorts before controller10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def lower(data: dict) -> Topology:
    networks = tuple(sorted((Network(n["name"], ipaddress.IPv4Network(n["cidr"])) for n in data["networks"]),
                            key=lambda n: natural_key(n.name)))

    def network_of(address: str) -> Network:
        return next(n for n in networks if ipaddress.IPv4Address(address) in n.cidr)

    nodes = {}
    for raw in data["nodes"]:
        fencing = raw.get("fencing")
        nodes[raw["name"]] = Node(
            name=raw["name"],
            address=raw["address"],
            interface=raw.get("interface"),
            fencing=Fencing(fencing["address"], fencing["username"], fencing["password_secret"]) if fencing else None,
            network=network_of(raw["address"]),
        )
    vips = {v["name"]: Vip(v["name"], v["address"], v["hostname"], network_of(v["address"])) for v in data["vips"]}

    def placed(service: str, key: str = "nodes") -> tuple[Node, ...]:
        # dict, not set: nodes hash by identity, so a set's order would change from run to run.
        return tuple(sorted(dict.fromkeys(nodes[name] for name, _ in placement(data, service, key)),
                            key=lambda n: natural_key(n.name)))

    rabbit_vip = data["services"]["rabbitmq"].get("vip")
    galera = Galera(placed("galera"), vips[data["services"]["galera"]["vip"]], service_setting(data, "galera", "port"),
                    service_setting(data, "galera", "clustercheck_port"), service_setting(data, "galera", "sst_method"),
                    service_setting(data, "galera", "gcache_size"))
    rabbitmq = RabbitMQ(placed("rabbitmq"), service_setting(data, "rabbitmq", "port"),
                        service_setting(data, "rabbitmq", "queue_mode"), vips[rabbit_vip] if rabbit_vip else None,
                        service_setting(data, "rabbitmq", "clients"))
    keystone = Keystone(placed("keystone"), vips[data["services"]["keystone"]["vip"]],
                        service_setting(data, "keystone", "public_port"), service_setting(data, "keystone", "region"),
                        service_setting(data, "keystone", "workers"))
    loadbalancer = LoadBalancer(placed("loadbalancer"), service_setting(data, "loadbalancer", "maxconn"))
    placements = {"loadbalancer": loadbalancer.nodes, "galera": galera.nodes, "rabbitmq": rabbitmq.nodes}
    waiver, tls_waiver = data["cluster"].get("fencing_waiver"), data["cluster"].get("tls_waiver")
    return Topology(
        name=data["cluster"]["name"],
        target=TARGETS[data["cluster"]["target"]],
        fencing_waiver=waiver["reason"] if waiver else None,
        tls_waiver=tls_waiver["reason"] if tls_waiver else None,
        networks=networks,
        nodes=tuple(sorted(nodes.values(), key=lambda n: natural_key(n.name))),
        vips=tuple(sorted(vips.values(), key=lambda v: natural_key(v.name))),
        loadbalancer=loadbalancer,
        galera=galera,
        rabbitmq=rabbitmq,
        keystone=keystone,
        apis=tuple(p for s in API_SERVICES if (p := api_placement(data, s, placed, vips)) is not None),
        memcached=Memcached(placed("keystone", "memcached_nodes")),
        clusters=pacemaker_clusters(data["cluster"]["name"], placements),
        ovn=ovn(data, placed),
        monitoring=monitoring(data, networks),
    )


def monitoring(data: dict, networks: tuple[Network, ...]) -> Monitoring | None:
    """The exporters' scrapers: the spec's, or every network the nodes are on. None where the
    target has no exporters compiled."""
    if not TARGETS[data["cluster"]["target"]].monitoring:
        return None
    scrapers = data.get("monitoring", {}).get("scrapers") or [str(n.cidr) for n in networks]
    return Monitoring(tuple(sorted(dict.fromkeys(scrapers), key=lambda s: (ipaddress.IPv4Network(s, strict=False), s))))


def ovn(data: dict, placed) -> Ovn | None:
    """Neutron's OVN: its central members (Neutron's nodes by default) and gateway chassis (none
    by default: a gateway needs a provider network the spec must name)."""
    spec = data["services"].get("neutron")
    if spec is None:
        return None
    waiver = spec.get("ovn_quorum_waiver")
    mappings = service_setting(data, "neutron", "bridge_mappings")
    return Ovn(placed("neutron", "ovn_nodes"), placed("neutron", "gateway_nodes") if "gateway_nodes" in spec else (),
               tuple(BridgeMapping(m["physnet"], m["bridge"], m.get("interface")) for m in mappings),
               waiver["reason"] if waiver else None)


def api_placement(data: dict, service: str, placed, vips: dict) -> ApiPlacement | None:
    """A catalog service's placement, or None when the spec leaves it out. Its nodes and VIP
    default to Keystone's (checks.placement says so for the nodes)."""
    spec = data["services"].get(service)
    if spec is None:
        return None
    vip = vips[spec.get("vip", data["services"]["keystone"]["vip"])]
    more_ports = tuple((key, service_setting(data, service, key)) for key in frontend_port_keys(service))
    backend = storage(spec["backend"], "volume_backend") if "backend" in spec else None
    return ApiPlacement(service, placed(service), vip, service_setting(data, service, "port"),
                        service_setting(data, service, "workers"),
                        storage(spec["store"], "image_store") if "store" in spec else backend,
                        more_ports=more_ports, volume_ha=volume_ha(spec))


def storage(store: dict, kind: str) -> Storage:
    """The spec's store (image_store) or volume backend (volume_backend) with the schema's
    defaults filled in (only the fields of its kind)."""
    defaults = topology_schema()["$defs"][kind]["properties"]
    value = {k: store.get(k, defaults[k].get("default")) for k in defaults if k != "type"}
    if store["type"] == "file":
        return Storage("file", path=value["path"], shared=value["shared"])
    if store["type"] == "nfs":
        return Storage("nfs", shares=tuple(store["shares"]))
    return Storage("rbd", pool=value["pool"], user=value["user"], monitors=tuple(store["monitors"]),
                   fsid=store["fsid"])


def pacemaker_clusters(name: str, placements: dict[str, tuple[Node, ...]]) -> tuple[PacemakerCluster, ...]:
    """One cluster per group of cluster_groups (Keystone is in none, see CLUSTERED_SERVICES),
    named after the spec's cluster when there is only one."""
    groups = cluster_groups({s: [n.name for n in nodes] for s, nodes in placements.items()})
    clusters = []
    for services in groups:
        members = dict.fromkeys(n for s in services for n in placements[s])
        clusters.append(PacemakerCluster(cluster_name(name, services, len(groups)),
                                         tuple(sorted(members, key=lambda n: natural_key(n.name))),
                                         services))
    return tuple(clusters)
