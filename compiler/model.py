"""The topology as frozen data: what every emitter reads. No I/O, no defaults here."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .targets import Target

SERVICE_ORDER = ("loadbalancer", "galera", "rabbitmq", "keystone")


@dataclass(frozen=True)
class Network:
    name: str
    cidr: ipaddress.IPv4Network


@dataclass(frozen=True)
class Fencing:
    address: str
    username: str
    password_secret: str


@dataclass(frozen=True)
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

    MEMCACHED_PORT = 11211


@dataclass(frozen=True)
class PacemakerCluster:
    """One corosync/Pacemaker cluster: a connected set of service placements."""

    name: str
    nodes: tuple[Node, ...]
    services: tuple[str, ...]

    @property
    def first(self) -> Node:
        return self.nodes[0]


@dataclass(frozen=True)
class Topology:
    name: str
    target: Target
    fencing_waiver: str | None
    networks: tuple[Network, ...]
    nodes: tuple[Node, ...]
    vips: tuple[Vip, ...]
    loadbalancer: LoadBalancer
    galera: Galera
    rabbitmq: RabbitMQ
    keystone: Keystone
    clusters: tuple[PacemakerCluster, ...]

    def services_of(self, node: Node) -> tuple[str, ...]:
        return tuple(s for s in SERVICE_ORDER if node in getattr(self, s).nodes)

    def cluster_of(self, node: Node) -> PacemakerCluster:
        return next(c for c in self.clusters if node in c.nodes)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)
