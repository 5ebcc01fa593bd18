"""The topology as frozen data: what every emitter reads. No I/O, no defaults here."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from .targets import Target

# The infrastructure and Keystone, which every spec has; the catalog's other API services follow
# in catalog order (catalog.API_SERVICES), each present when the spec places it.
SERVICE_ORDER = ("loadbalancer", "galera", "rabbitmq", "keystone")

# The services Pacemaker runs. Keystone is stateless: systemd keeps Apache running and
# HAProxy's /healthcheck takes a failed node out of rotation, as TripleO (since Newton)
# and Kolla run it. So a Keystone-only node needs no corosync, pcsd or fencing, and a
# large API tier does not become one huge Pacemaker cluster (corosync supports 32 nodes).
CLUSTERED_SERVICES = ("loadbalancer", "galera", "rabbitmq")


def cluster_groups(placements: dict[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """The clustered services grouped into Pacemaker clusters, from their node names.

    A node has one corosync.conf, so it can belong to one cluster only (the article's three
    clusters on the same nodes cannot work): services that share any node share a cluster,
    disjoint node sets get clusters of their own. Groups and the services in each keep
    CLUSTERED_SERVICES order. The one rule, used by lower() and by the spec checks."""
    groups: list[tuple[set[str], tuple[str, ...]]] = []
    for service in CLUSTERED_SERVICES:
        members, services = set(placements[service]), (service,)
        for group in [g for g in groups if g[0] & members]:
            groups.remove(group)
            members |= group[0]
            services = group[1] + services
        groups.append((members, services))
    return sorted((services for _, services in groups), key=lambda s: CLUSTERED_SERVICES.index(s[0]))


def cluster_name(base: str, services: tuple[str, ...], cluster_count: int) -> str:
    """A Pacemaker cluster's name: the spec's cluster.name when there is one cluster, else that
    name suffixed with the cluster's first service. The one rule, for lower() and the checks."""
    return base if cluster_count == 1 else f"{base}-{services[0]}"


@dataclass(frozen=True)
class Network:
    name: str
    cidr: ipaddress.IPv4Network


@dataclass(frozen=True)
class Fencing:
    address: str
    username: str
    password_secret: str


# eq=False: a node is one object, made once by lower(), so identity is equality. Comparing
# and hashing by every field made each `node in nodes` and set lookup cost O(fields), which
# at a thousand nodes was most of the compile time.
@dataclass(frozen=True, eq=False)
class Node:
    name: str
    address: str
    interface: str | None
    fencing: Fencing | None
    network: Network


@dataclass(frozen=True)
class Vip:
    name: str
    address: str
    hostname: str
    network: Network


@dataclass(frozen=True)
class LoadBalancer:
    nodes: tuple[Node, ...]
    maxconn: int


@dataclass(frozen=True)
class Galera:
    nodes: tuple[Node, ...]
    vip: Vip
    port: int
    clustercheck_port: int
    sst_method: str
    gcache_size: str

    # Galera's own ports: group communication, IST, SST. Fixed by Galera defaults.
    GCOMM_PORT = 4567
    IST_PORT = 4568
    SST_PORT = 4444


@dataclass(frozen=True)
class RabbitMQ:
    nodes: tuple[Node, ...]
    port: int
    queue_mode: str
    vip: Vip | None
    clients: str

    EPMD_PORT = 4369
    DIST_PORT = 25672  # AMQP port + 20000 by RabbitMQ's default


@dataclass(frozen=True)
class Keystone:
    nodes: tuple[Node, ...]
    vip: Vip
    public_port: int
    region: str
    workers: int


@dataclass(frozen=True)
class Storage:
    """Where a service keeps its data outside the database (Glance's images, Cinder's volumes): a
    directory, NFS shares, or a pool of an external Ceph cluster. Which one decides the service's
    HA (checks.py)."""
    kind: str  # "file", "nfs" or "rbd"
    path: str = ""  # file: the directory
    shared: bool = False  # file: one filesystem mounted on every node of the service
    pool: str = ""  # rbd
    user: str = ""  # rbd: the Ceph client (client.<user>)
    monitors: tuple[str, ...] = ()  # rbd
    fsid: str = ""  # rbd
    shares: tuple[str, ...] = ()  # nfs: server:/path of each export


ACTIVE_ACTIVE, ACTIVE_PASSIVE = "active-active", "active-passive"
# The volume backends whose Cinder driver can run cinder-volume on several nodes at once
# (SUPPORTS_ACTIVE_ACTIVE in cinder 26: RBD's does; the generic NFS driver's does not, and
# cinder-volume refuses to start with [DEFAULT] cluster set on such a driver).
ACTIVE_ACTIVE_BACKENDS = ("rbd",)


def volume_ha(spec: dict) -> str | None:
    """A volume service's volume_ha: the spec's, or what its backend allows (active/active on
    Ceph only). None for a service without a backend. The one rule, for lower() and the checks."""
    if "backend" not in spec:
        return None
    default = ACTIVE_ACTIVE if spec["backend"]["type"] in ACTIVE_ACTIVE_BACKENDS else ACTIVE_PASSIVE
    return spec.get("volume_ha", default)


@dataclass(frozen=True)
class ApiPlacement:
    """Where a catalog API service other than Keystone runs (what it is: catalog.py)."""
    name: str  # the catalog entry's name, and the spec's services.<name>
    nodes: tuple[Node, ...]
    vip: Vip
    public_port: int
    workers: int
    storage: Storage | None = None  # the spec's store (or volume backend), for a service that has one
    # Cinder: how cinder-volume is highly available (ACTIVE_ACTIVE or ACTIVE_PASSIVE).
    volume_ha: str | None = None
    # The ports of its other frontends (catalog.Frontend.port_key -> port), on the same VIP.
    more_ports: tuple[tuple[str, int], ...] = ()

    def port(self, key: str) -> int:
        return dict(self.more_ports)[key]


@dataclass(frozen=True)
class Memcached:
    """The cache every OpenStack API service lists (Keystone's tokens today): shared
    infrastructure, placed by the spec's services.keystone.memcached_nodes."""
    nodes: tuple[Node, ...]

    PORT = 11211

    def servers(self) -> list[str]:
        """address:port of every cache server, as oslo.cache's memcache_servers lists them."""
        return [f"{n.address}:{self.PORT}" for n in self.nodes]


@dataclass(frozen=True)
class BridgeMapping:
    """A provider network on the gateway chassis: its name in Neutron, its OVS bridge, and the
    interface setup.sh attaches to that bridge (None: the operator attaches one)."""
    physnet: str
    bridge: str
    interface: str | None


@dataclass(frozen=True)
class Ovn:
    """OVN for Neutron's ML2/OVN: the central members (each runs a Northbound and a Southbound
    ovsdb-server, members of two RAFT clusters, and ovn-northd) and the gateway chassis. RAFT is
    its own HA: no Pacemaker, no VIP; clients list every member."""
    nodes: tuple[Node, ...]  # the first creates both clusters, the others join it
    gateways: tuple[Node, ...]
    bridge_mappings: tuple[BridgeMapping, ...]
    quorum_waiver: str | None

    # OVN's own defaults (ovn-ctl's): clients' ports, and each database's RAFT port.
    NB_PORT = 6641
    SB_PORT = 6642
    NB_RAFT_PORT = 6643
    SB_RAFT_PORT = 6644

    @property
    def founder(self) -> Node:
        return self.nodes[0]

    def connection(self, port: int) -> str:
        """An OVSDB client's remote list: every member on that port (the client finds the leader)."""
        return ",".join(f"tcp:{n.address}:{port}" for n in self.nodes)


@dataclass(frozen=True)
class Monitoring:
    """The exporters every node runs (monitoring.py says which) and who may scrape them."""
    scrapers: tuple[str, ...]  # addresses and networks, as IPAddressAllow and HAProxy's src ACL take them


@dataclass(frozen=True)
class PacemakerCluster:
    """One corosync/Pacemaker cluster: a connected set of service placements."""

    name: str
    nodes: tuple[Node, ...]
    services: tuple[str, ...]

    @property
    def first(self) -> Node:
        return self.nodes[0]

    @property
    def membership(self) -> str:
        """Its name and every node's name and ring address, sorted bytewise into one line: what
        pcs-setup.sh compares with the running corosync.conf's (sed, then LC_ALL=C sort)."""
        return " ".join(sorted([self.name, *(n.name for n in self.nodes), *(n.address for n in self.nodes)]))

    @property
    def two_node(self) -> bool:
        """votequorum's two_node mode: the survivor of a pair keeps quorum, so a split becomes a
        fencing race that a static delay must decide."""
        return len(self.nodes) == 2


@dataclass(frozen=True)
class Topology:
    name: str
    target: Target
    fencing_waiver: str | None
    tls_waiver: str | None  # None: every API is served over TLS (hagen's default)
    networks: tuple[Network, ...]
    nodes: tuple[Node, ...]
    vips: tuple[Vip, ...]
    loadbalancer: LoadBalancer
    galera: Galera
    rabbitmq: RabbitMQ
    keystone: Keystone
    apis: tuple[ApiPlacement, ...]  # the catalog's other services the spec places, in catalog order
    memcached: Memcached
    clusters: tuple[PacemakerCluster, ...]
    ovn: Ovn | None = None  # with Neutron only
    monitoring: Monitoring | None = None  # None: the target has no exporters compiled

    # Roles of the OVN nodes beside the services (services_of names them; host.py installs them).
    OVN_ROLES = ("ovn-central", "ovn-gateway")

    # Per-node lookups, built once: emitters ask them for every node, and a scan of every
    # service's node list per question would make a build quadratic in the node count.
    @cached_property
    def _services_by_node(self) -> dict[Node, tuple[str, ...]]:
        placed = {s: set(getattr(self, s).nodes) for s in SERVICE_ORDER}
        placed.update((a.name, set(a.nodes)) for a in self.apis)
        if self.ovn:
            placed.update({"ovn-central": set(self.ovn.nodes), "ovn-gateway": set(self.ovn.gateways)})
        return {n: tuple(s for s in placed if n in placed[s]) for n in self.nodes}

    @cached_property
    def _cluster_by_node(self) -> dict[Node, PacemakerCluster]:
        return {n: c for c in self.clusters for n in c.nodes}

    @cached_property
    def _position(self) -> dict[Node, int]:
        return {n: i for i, n in enumerate(self.nodes)}

    def nodes_in_order(self, nodes) -> list[Node]:
        """Some nodes, in the topology's (natural) order."""
        return sorted(nodes, key=self._position.__getitem__)

    @property
    def tls(self) -> bool:
        return self.tls_waiver is None

    def api(self, name: str) -> ApiPlacement | None:
        """A catalog service's placement, or None when the spec leaves it out."""
        return next((a for a in self.apis if a.name == name), None)

    def services_of(self, node: Node) -> tuple[str, ...]:
        return self._services_by_node[node]

    def cluster_of(self, node: Node) -> PacemakerCluster | None:
        """The node's Pacemaker cluster; None for a node that runs only Keystone."""
        return self._cluster_by_node.get(node)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)
