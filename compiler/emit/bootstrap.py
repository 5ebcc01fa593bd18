"""The cluster-wide bootstrap sequence: Galera check, RabbitMQ joins, Keystone bootstrap."""

from __future__ import annotations

from ..model import Topology
from .base import BundleFile, render
from ..catalog import KEYSTONE, RABBIT_USER, endpoint
from .rabbitmq import queue_policies

# Where setup.sh lays the cluster-wide scripts on the node that runs them.
NODE_LIB = "/usr/local/lib/hagen"


def steps(topo: Topology) -> list[tuple[str, str, str]]:
    """(script name, node to run it on, what it does), in the order to run them."""
    return [
        ("galera-ready.sh", topo.galera.nodes[0].name, "wait for Galera to form and check it"),
        ("rabbitmq-cluster.sh", topo.rabbitmq.nodes[0].name, "join RabbitMQ nodes, create the OpenStack user"),
        ("keystone-bootstrap.sh", topo.keystone.nodes[0].name, "db_sync, admin user, endpoints on the VIP"),
    ]


def deploy_steps(topo: Topology) -> list[dict[str, str]]:
    """The cluster-wide steps after every node ran its setup.sh, in order: each cluster's pcs setup,
    then the bootstrap scripts. The bundle README tells them to people, topology.json to programs
    (hagen lab runs exactly these)."""
    out = [{"node": c.first.name, "run": f"{NODE_LIB}/cluster/{c.name}/pcs-setup.sh",
            "what": f"cluster {c.name}: host auth, setup, start, then `pcs-resources.sh` builds the CIB "
                    "offline and pushes it once"} for c in topo.clusters]
    out += [{"node": node, "run": f"{NODE_LIB}/bootstrap/{script}", "what": what}
            for script, node, what in steps(topo)]
    return out


def emit(topo: Topology) -> list[BundleFile]:
    g, r, k = topo.galera, topo.rabbitmq, topo.keystone
    return [
        BundleFile("bootstrap/galera-ready.sh",
                   render("bootstrap/galera-ready.sh.j2", first=g.nodes[0], size=len(g.nodes)), 0o755),
        BundleFile("bootstrap/rabbitmq-cluster.sh",
                   render("bootstrap/rabbitmq-cluster.sh.j2", first=r.nodes[0], others=r.nodes[1:],
                          user=RABBIT_USER, policies=queue_policies(topo),
                          version=topo.target.rabbitmq_version), 0o755),
        BundleFile("bootstrap/keystone-bootstrap.sh",
                   render("bootstrap/keystone-bootstrap.sh.j2", first=k.nodes[0], url=endpoint(topo, KEYSTONE).url,
                          region=k.region), 0o755),
    ]
