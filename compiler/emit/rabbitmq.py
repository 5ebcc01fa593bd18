"""RabbitMQ: node config, node name and the shared Erlang cookie."""

from __future__ import annotations

from dataclasses import dataclass

from .. import monitoring, pki
from ..model import Node, Topology
from ..secrets import SecretValues
from . import node_tls
from .base import BundleFile, render


@dataclass(frozen=True)
class QueuePolicy:
    """A policy rabbitmq-cluster.sh sets once every node has joined."""
    name: str
    pattern: str
    definition: str


def queue_policies(topo: Topology) -> list[QueuePolicy]:
    """Quorum queues need none: oslo.messaging declares them (rabbit_quorum_queue = true) and
    they replicate by themselves. Classic mirroring is a policy: every queue but the exclusive,
    server-named amq.* ones, on all nodes. The bootstrap script and the bundle README read this."""
    if topo.rabbitmq.queue_mode != "mirrored":
        return []
    return [QueuePolicy("ha-all", r"^(?!amq\.).*", '{"ha-mode":"all","ha-sync-mode":"automatic"}')]


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    r = topo.rabbitmq
    if node not in r.nodes:
        return []
    cert, key = pki.node_tls_files("rabbitmq")
    tls = {"ca": pki.ca_file(topo), "cert": cert, "key": key} if topo.tls else None
    return [
        *node_tls.files_for(topo, node, "rabbitmq", secrets),
        BundleFile("etc/rabbitmq/rabbitmq.conf", render("rabbitmq/rabbitmq.conf.j2", node=node, rabbitmq=r,
                                                         cluster_name=topo.cluster_of(node).name, tls=tls,
                                                         metrics=monitoring.listen(node, monitoring.RABBITMQ)
                                                         if monitoring.RABBITMQ in monitoring.exporters_on(topo, node)
                                                         else None),
                   0o644, owner="root", group="rabbitmq"),
        BundleFile("etc/rabbitmq/rabbitmq-env.conf", render("rabbitmq/rabbitmq-env.conf.j2", node=node),
                   0o644, owner="root", group="rabbitmq"),
        # The cookie must be identical on every node before the first start (no trailing newline).
        BundleFile("var/lib/rabbitmq/.erlang.cookie", secrets.get("rabbitmq_erlang_cookie"), 0o400,
                   owner="rabbitmq", group="rabbitmq"),
    ]
