"""OVN for Neutron's ML2/OVN: the central members' ovn-ctl options (both databases as RAFT cluster
members, ovn-northd on every member), and what setup.sh sets on a gateway chassis."""

from __future__ import annotations

from ..model import Node, Ovn, Topology
from .base import BundleFile, render

# RAFT's election timer (ms), fixed when a cluster is created. OVN's default of 1 s elects a new
# leader whenever the leader stalls that long (a compaction, a loaded machine), each election a
# pause of every writer; 5 s still fails over within seconds of a crash.
ELECTION_TIMER_MS = 5000


def central_options(ovn: Ovn, node: Node) -> list[str]:
    """ovn-ctl's options on one central member. Each database listens for clients on the node's
    own address and talks RAFT on its own port; the founder creates both clusters, the others
    join it through the founder (once: a member that has its database file just starts it)."""
    opts = []
    for db, port, raft_port in (("nb", ovn.NB_PORT, ovn.NB_RAFT_PORT), ("sb", ovn.SB_PORT, ovn.SB_RAFT_PORT)):
        opts += [f"--db-{db}-addr={node.address}", f"--db-{db}-port={port}", f"--db-{db}-create-insecure-remote=yes",
                 f"--db-{db}-cluster-local-proto=tcp", f"--db-{db}-cluster-local-addr={node.address}",
                 f"--db-{db}-cluster-local-port={raft_port}", f"--db-{db}-election-timer={ELECTION_TIMER_MS}"]
        if node is not ovn.founder:
            opts += [f"--db-{db}-cluster-remote-proto=tcp", f"--db-{db}-cluster-remote-addr={ovn.founder.address}",
                     f"--db-{db}-cluster-remote-port={raft_port}"]
    # Every member runs ovn-northd on the whole cluster; OVN's lock keeps one active.
    opts += [f"--ovn-northd-nb-db={ovn.connection(ovn.NB_PORT)}", f"--ovn-northd-sb-db={ovn.connection(ovn.SB_PORT)}"]
    return opts


def gateway_settings(ovn: Ovn, node: Node) -> list[tuple[str, str]]:
    """The Open_vSwitch external_ids by which ovn-controller on a gateway node joins OVN: its
    chassis name, the Southbound members, its tunnel endpoint, and that it is a gateway."""
    return [("system-id", node.name), ("ovn-remote", ovn.connection(ovn.SB_PORT)), ("ovn-encap-type", "geneve"),
            ("ovn-encap-ip", node.address), ("ovn-cms-options", "enable-chassis-as-gw"),
            ("ovn-bridge-mappings", ",".join(f"{m.physnet}:{m.bridge}" for m in ovn.bridge_mappings))]


CENTRAL_DEFAULTS = "etc/default/ovn-central"


def emit(topo: Topology, node: Node) -> list[BundleFile]:
    ovn = topo.ovn
    if ovn is None or node not in ovn.nodes:
        return []
    text = render("ovn/ovn-central.j2", node=node, ovn=ovn, options=central_options(ovn, node))
    return [BundleFile(CENTRAL_DEFAULTS, text, 0o644)]
