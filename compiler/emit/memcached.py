"""memcached: the cache the OpenStack API services share, on the nodes the spec places it."""

from __future__ import annotations

from ..model import Node, Topology
from .base import BundleFile, render


def emit(topo: Topology, node: Node) -> list[BundleFile]:
    if node not in topo.memcached.nodes:
        return []
    target = topo.target
    return [BundleFile(target.memcached_config_path.lstrip("/"),
                       render("memcached/memcached.j2", node=node, port=topo.memcached.PORT, target=target), 0o644)]
