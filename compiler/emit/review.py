"""What reviewers read instead of dozens of files: topology.json (the compiled topology in
operator terms, also what `hagen diff` compares), the Mermaid picture and the Pacemaker
constraints in words. Decisions are made here from the same data the emitters use."""

from __future__ import annotations

import json

from .. import pki
from ..catalog import endpoints, shared_mounts
from ..model import Topology
from .base import BundleFile
from .bootstrap import deploy_steps
from .haproxy import frontends
from .host import packages
from .pacemaker import pcs_steps, restarts_everywhere

TOPOLOGY_JSON = "topology.json"



def ceph_clients(topo: Topology) -> dict:
    """The Ceph cluster of the services that store in one (checks.py allows one per node), and
    each such service's pool and client user; empty without any."""
    stores = {p.name: p.storage for p in topo.apis if p.storage and p.storage.kind == "rbd"}
    if not stores:
        return {}
    first = next(iter(stores.values()))
    return {"fsid": first.fsid, "monitors": list(first.monitors),
            "clients": {name: {"pool": s.pool, "user": s.user} for name, s in stores.items()}}

def constraint_sentences(topo: Topology, cluster) -> list[str]:
    """Every constraint of a cluster's pcs steps, said in words."""
    sentences = []
    for step in pcs_steps(topo, cluster):
        a = step.args
        if a[:3] == ("constraint", "colocation", "add"):
            sentences.append(f"{a[3]} runs only where {a[5]} runs")
        elif a[:3] == ("constraint", "order", "start"):
            sentences.append(f"{a[6]} starts after {a[3]} ({a[7].split('=')[1].lower()})")
        elif a[:3] == ("constraint", "location", "add"):
            sentences.append(f"{a[5]} never runs on {a[6]}")
    return sentences


def resources(topo: Topology, cluster) -> dict[str, str]:
    """Each resource and fence device the cluster's pcs-resources.sh creates, with what follows its
    id on the pcs command line (agent, attributes, operations, meta): what hagen diff compares."""
    settings = {}
    for step in pcs_steps(topo, cluster):
        if step.args[:2] in (("resource", "create"), ("stonith", "create")):
            settings[step.args[2]] = " ".join(step.args[3:])
        elif step.args[:2] in (("resource", "clone"), ("resource", "promotable")):  # pcs 0.12's own step
            settings[step.creates] = " ".join((step.args[1], *step.args[3:]))
    return settings


def node_relative(path: str) -> str:
    """nodes/<n>/etc/x -> etc/x; other bundle paths unchanged."""
    return path.split("/", 2)[2] if path.startswith("nodes/") and path.count("/") >= 2 else path


def per_node_paths(paths) -> list[str]:
    """nodes/<n>/etc/x for every n -> etc/x once: the list stays short on big clusters."""
    return sorted({node_relative(p) for p in paths})


def topology_summary(topo: Topology, secret_files=()) -> dict:
    """secret_files: the bundle paths that hold secret values (placeholders in a review build);
    listed per node (etc/hagen/secrets.env), as the bundle README lists them."""
    return {
        "name": topo.name,
        "target": topo.target.name,
        "fencing": f"waived: {topo.fencing_waiver}" if topo.fencing_waiver else "fence_ipmilan per node",
        "nodes": {n.name: {"address": n.address, "network": str(n.network.cidr), "interface": n.interface,
                           "cluster": cluster_name_of(topo, n),
                           "roles": list(topo.services_of(n)),
                           "packages": packages(topo, n),
                           # Where its fence device reaches its BMC (the password is in fencing.passwords).
                           "bmc": {"address": n.fencing.address, "username": n.fencing.username}
                           if n.fencing and not topo.fencing_waiver else None} for n in topo.nodes},
        "vips": {v.name: {"address": v.address, "hostname": v.hostname} for v in topo.vips},
        # What TLS covers: the CA file every node verifies with, and each certificate (HAProxy's
        # per VIP, a node's for each of its TLS servers) with the names it covers and the files
        # (certificate, key) it is laid in (hagen check and the lab read these).
        "tls": {"ca_file": pki.ca_file(topo),
                "certificates": {f"{c.kind}:{c.name}": {"dns": list(c.dns_names), "ip": list(c.ip_addresses),
                                                        "files": pki.laid_files(topo, c)}
                                 for c in (*pki.server_certificates(topo), *pki.node_certificates(topo))}}
        if topo.tls else f"waived: {topo.tls_waiver}",
        "frontends": {fe.name: {"vip": fe.vip.name, "port": fe.port, "mode": fe.mode,
                                "tls": fe.tls.name if fe.tls else None, "backend_tls": fe.backend_tls,
                                "backends": {s.name: {"address": s.address, "port": s.port,
                                                      "role": "backup" if "backup" in s.options else "active"}
                                             for s in fe.servers}}
                      for fe in frontends(topo)},
        "galera": {"wsrep_cluster_address": "gcomm://" + ",".join(n.name for n in topo.galera.nodes),
                   "port": topo.galera.port, "clustercheck_port": topo.galera.clustercheck_port,
                   "sst_method": topo.galera.sst_method, "log_file": topo.target.galera_log_file},
        "rabbitmq": {"nodes": [n.name for n in topo.rabbitmq.nodes], "port": topo.rabbitmq.port,
                     "queue_mode": topo.rabbitmq.queue_mode, "clients": topo.rabbitmq.clients},
        "keystone": {"nodes": [n.name for n in topo.keystone.nodes], "vip": topo.keystone.vip.name,
                     "public_port": topo.keystone.public_port, "region": topo.keystone.region},
        # Every OpenStack API service, from the catalog: what the lab and reviewers read generically.
        "services": {ep.service.name: {"type": ep.service.service_type, "url": ep.url, "frontend": ep.service.frontend,
                                       "health_path": ep.service.health_path,
                                       "database": ep.service.database.name if ep.service.database else None,
                                       "nodes": [n.name for n in ep.nodes]} for ep in endpoints(topo)},
        # The external Ceph cluster its services' rbd stores are in, with each service's pool and
        # client (the lab runs such a cluster; reviewers see who reads which pool).
        "ceph": ceph_clients(topo),
        # Stores that a shared filesystem must hold on every node of their service (the lab mounts one).
        "shared_mounts": {n.name: paths for n in topo.nodes if (paths := shared_mounts(topo, n))},
        "deploy_steps": deploy_steps(topo),
        "secret_files": per_node_paths(secret_files),
        "clusters": {c.name: {"nodes": [n.name for n in c.nodes], "resources": resources(topo, c),
                              "constraints": constraint_sentences(topo, c),
                              # whose settings' change a rerun refuses (pcs-resources.sh --allow-full-restart)
                              "restarts_everywhere": restarts_everywhere(pcs_steps(topo, c))}
                     for c in topo.clusters},
        **({"ovn": ovn_summary(topo.ovn)} if topo.ovn else {}),
    }


def ovn_summary(ovn) -> dict:
    """OVN central's RAFT members (the founder first) and ports, and the gateway chassis."""
    return {"members": [n.name for n in ovn.nodes], "founder": ovn.founder.name,
            "ports": {"nb": ovn.NB_PORT, "sb": ovn.SB_PORT, "nb_raft": ovn.NB_RAFT_PORT, "sb_raft": ovn.SB_RAFT_PORT},
            "gateways": [n.name for n in ovn.gateways],
            "bridge_mappings": [f"{m.physnet}:{m.bridge}" for m in ovn.bridge_mappings],
            "quorum": f"waived: {ovn.quorum_waiver}" if ovn.quorum_waiver else "majority of the members"}


def cluster_name_of(topo: Topology, node) -> str | None:
    cluster = topo.cluster_of(node)
    return cluster.name if cluster else None


def emit(topo: Topology, secret_files: list[str], under_pacemaker: dict[str, dict[str, list[str]]]) -> BundleFile:
    summary = topology_summary(topo, secret_files)
    for name, clones in under_pacemaker.items():  # which of a node's files need a Pacemaker restart
        summary["nodes"][name]["pacemaker_files"] = clones
    return BundleFile(TOPOLOGY_JSON, json.dumps(summary, indent=2, sort_keys=True) + "\n", 0o644)


def _id(name: str) -> str:
    return name.replace("-", "_")


def _node_box(topo: Topology, node) -> str:
    roles = ", ".join(topo.services_of(node))
    return f'    n_{_id(node.name)}["{node.name}<br/>{node.address}<br/>{roles}"]'


def mermaid(topo: Topology) -> str:
    """Clients -> VIP -> HAProxy frontend -> backend nodes (solid: active, dotted: backup),
    nodes grouped by Pacemaker cluster and labelled with their roles."""
    lines = ["flowchart LR", "    clients([clients])"]
    for cluster in topo.clusters:
        lines.append(f'    subgraph cl_{_id(cluster.name)}["Pacemaker cluster {cluster.name}"]')
        lines += ["    " + _node_box(topo, node) for node in cluster.nodes]
        lines.append("    end")
    # Keystone-only nodes: systemd runs Keystone there, they are in no cluster.
    lines += [_node_box(topo, node) for node in topo.nodes if topo.cluster_of(node) is None]
    drawn = set()  # one VIP may front several services, each on its own port: draw it once
    for fe in frontends(topo):
        vip, front = f"v_{_id(fe.vip.name)}", f"f_{_id(fe.name)}"
        if vip not in drawn:
            drawn.add(vip)
            lines.append(f'    {vip}{{{{"{fe.vip.name}<br/>{fe.vip.address}"}}}}')
            lines.append(f"    clients --> {vip}")
        lines.append(f'    {front}["HAProxy {fe.name}<br/>:{fe.port} {fe.mode}"]')
        lines.append(f"    {vip} --> {front}")
        for server in fe.servers:
            arrow = "-.->" if "backup" in server.options else "-->"
            label = f"backup :{server.port}" if "backup" in server.options else f":{server.port}"
            lines.append(f'    {front} {arrow}|"{label}"| n_{_id(server.name)}')
    return "\n".join(lines) + "\n"
