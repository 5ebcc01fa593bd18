"""RabbitMQ: node config, node name and the shared Erlang cookie."""

from __future__ import annotations

from ..model import Node, Topology
from ..secrets import SecretValues
from .base import BundleFile, render


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    r = topo.rabbitmq
    if node not in r.nodes:
        return []
    return [
        BundleFile("etc/rabbitmq/rabbitmq.conf", render("rabbitmq/rabbitmq.conf.j2", node=node, rabbitmq=r),
                   0o644, owner="root", group="rabbitmq"),
        BundleFile("etc/rabbitmq/rabbitmq-env.conf", render("rabbitmq/rabbitmq-env.conf.j2", node=node),
                   0o644, owner="root", group="rabbitmq"),
        # The cookie must be identical on every node before the first start (no trailing newline).
        BundleFile("var/lib/rabbitmq/.erlang.cookie", secrets.get("rabbitmq_erlang_cookie"), 0o400,
                   owner="rabbitmq", group="rabbitmq"),
    ]
