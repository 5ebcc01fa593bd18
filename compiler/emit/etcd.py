"""etcd: the locks of an active/active volume cluster (Cinder's), one member on each of its
nodes, formed from a static member list (every member knows the others from the start)."""

from __future__ import annotations

from .. import catalog
from ..model import Node, Topology
from .base import BundleFile, render


def member_settings(topo: Topology, node: Node) -> dict:
    """What a member says of itself and of the cluster it forms."""
    members = catalog.coordination_members(topo)
    peer = {n.name: f"http://{n.address}:{catalog.ETCD_PEER_PORT}" for n in members}
    return {"name": node.name, "client_url": f"http://{node.address}:{catalog.ETCD_CLIENT_PORT}",
            "peer_url": peer[node.name], "initial_cluster": ",".join(f"{name}={url}" for name, url in peer.items()),
            # A data dir of its own: the package's single-node etcd (started at install) left one
            # in the default dir, and a member that finds data ignores the initial cluster.
            "data_dir": f"/var/lib/etcd/{topo.name}", "token": f"{topo.name}-etcd"}


def emit(topo: Topology, node: Node) -> list[BundleFile]:
    if node not in catalog.coordination_members(topo):
        return []
    return [BundleFile(catalog.ETCD_CONFIG, render("etcd/etcd.j2", member=member_settings(topo, node)), 0o644)]
