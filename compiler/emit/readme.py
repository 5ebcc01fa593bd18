"""The bundle's README: what a reviewer needs in one page."""

from __future__ import annotations

from .. import __version__, catalog, monitoring, pki
from ..catalog import RABBIT_USER, balanced, endpoints, storage_prerequisites, transport_hosts
from ..model import Topology
from ..secrets import TOKEN_LIFETIME_S
from .base import BundleFile, render
from .bootstrap import deploy_steps
from .cloudinit import INSTALLER_HOOK_FILES
from .haproxy import frontends
from .pacemaker import pcs_steps, restarts_everywhere
from .rabbitmq import queue_policies
from .review import TOPOLOGY_JSON, cluster_name_of, constraint_sentences, mermaid, per_node_paths, resources

CORRECTIONS = (
    "One Pacemaker cluster per disjoint node set (the article built three clusters on the same three nodes).",
    "One name per VIP everywhere: Keystone reaches the database through the same VIP hostname HAProxy binds "
    "(the article mixed `vip-db` and `vip-mysql`).",
    "pcs 0.11 syntax: `pcs host auth`, `cluster setup NAME node addr=IP`, `clone`/`promotable` with "
    "`promoted-max` (not 0.9's `cluster auth`, `--name`, `--clone`, `--master`, `master-max`).",
    "Keystone v3 only on port 5000 with Fernet tokens and `/healthcheck`; no v2.0, PKI, admin port 35357 "
    "or admin_token.",
    "Keystone is stateless, so systemd runs it, not Pacemaker (the article cloned it in the cluster): "
    "HAProxy's `/healthcheck` takes a failed node out, and a Keystone-only node needs no corosync or fencing.",
    "Each VIP is colocated with the HAProxy clone and starts after it; VIPs are sticky.",
    "Fencing is configured per node (fence_ipmilan), or waived explicitly with a reason.",
    "Galera behind HAProxy has exactly one active server (the others are backup), checked by clustercheck; "
    "obsolete options (`innodb_locks_unsafe_for_binlog`, `wsrep_causal_reads`) are gone and `wsrep_on=ON` is set.",
    "Files are replaced whole, never appended to, so every script can be rerun.",
    "Every password comes from the secrets file; none is `password`, none is on a command line.",
)


INSTALLER_HOOK_HOWTO = {
    "preseed": f"append `nodes/<node>/{INSTALLER_HOOK_FILES['preseed']}` to its preseed file (debian-installer)",
    "kickstart": f"`%include` `nodes/<node>/{INSTALLER_HOOK_FILES['kickstart']}` in its kickstart (Anaconda)",
}


def rabbitmq_correction(topo: Topology) -> str:
    """What the bootstrap really does about queue replication: from the same data as the script."""
    policies = queue_policies(topo)
    if policies:
        how = ("classic queues are mirrored (deprecated, removed in RabbitMQ 4.0) by the "
               + ", ".join(f"`{p.name}` policy ({p.definition})" for p in policies)
               + ", which `rabbitmq-cluster.sh` sets after all nodes joined")
    else:
        how = ("quorum queues, which oslo.messaging declares (`rabbit_quorum_queue = true`), so "
               "`rabbitmq-cluster.sh` sets no policy (classic mirroring is deprecated, removed in 4.0)")
    return f"RabbitMQ replicates with {how}; the Erlang cookie is identical on every node before the first start."


def volume_facts(topo: Topology) -> dict:
    """What Cinder's section says of its volume service: the name every node gives it, etcd's
    ports, and the libvirt secret of its Ceph key."""
    placed = topo.api("cinder")
    if placed is None:
        return {}
    return {"volume_host": catalog.volume_host(topo), "etcd_client_port": catalog.ETCD_CLIENT_PORT,
            "etcd_peer_port": catalog.ETCD_PEER_PORT,
            "rbd_secret_uuid": catalog.rbd_secret_uuid(placed.storage) if placed.storage.kind == "rbd" else None}


def monitoring_facts(topo: Topology) -> dict | None:
    if not monitoring.compiled(topo):
        return None
    jobs = monitoring.targets(topo)
    return {"scrapers": monitoring.scrapers(topo), "interval": monitoring.SCRAPE_INTERVAL,
            "endpoints": [{"job": e.job, "port": e.port, "source": e.source, "what": e.what, "restricted": e.restricted,
                           "nodes": ", ".join(n.name for n in nodes)} for e, nodes in jobs],
            "alerts": monitoring.alerts(topo)}


def emit(topo: Topology, warnings, secret_files: list[str], size_rows: list[dict], review: bool) -> BundleFile:
    fe_rows = []
    for fe in frontends(topo):
        backends = ", ".join(f"{s.name}:{s.port}" + (" (backup)" if "backup" in s.options else "")
                             for s in fe.servers)
        fe_rows.append({"vip": fe.vip, "port": fe.port, "mode": fe.mode + ("+tls" if fe.tls else "")
                        + (" (https to nodes)" if fe.backend_tls else ""),
                        "health": fe.health, "backends": backends})
    nodes = [{"name": n.name, "address": n.address, "cluster": cluster_name_of(topo, n) or "none (API services only)",
              "roles": ", ".join(topo.services_of(n))} for n in topo.nodes]
    clusters = [{"name": c.name, "first": c.first.name, "nodes": ", ".join(n.name for n in c.nodes),
                 "services": ", ".join(c.services), "resources": ", ".join(resources(topo, c)),
                 "constraints": constraint_sentences(topo, c),
                 "restarts_everywhere": restarts_everywhere(pcs_steps(topo, c))}
                for c in topo.clusters]
    fencing = (f"**waived** ({topo.fencing_waiver}); stonith-enabled=false." if topo.fencing_waiver
               else "fence_ipmilan per node, stonith-enabled=true.")
    text = render("readme/README.md.j2", topo=topo, version=__version__, review=review, warnings=warnings,
                  frontends=fe_rows, nodes=nodes, clusters=clusters, fencing=fencing, steps=deploy_steps(topo),
                  sizes=size_rows, secret_files=per_node_paths(secret_files), corrections=CORRECTIONS + (rabbitmq_correction(topo),),
                  diagram=mermaid(topo), topology_json=TOPOLOGY_JSON,
                  tls={"ca_file": pki.ca_file(topo),
                       "plain_backends": [fe.name for fe in frontends(topo) if fe.mode == "http" and not fe.backend_tls]},
                  installer_hook_howto=INSTALLER_HOOK_HOWTO[topo.target.installer_hook],
                  services=[ep.service.name for ep in endpoints(topo) if ep.service.service_type],
                  prerequisites=storage_prerequisites(topo), monitoring=monitoring_facts(topo),
                  token_lifetime_s=TOKEN_LIFETIME_S,
                  service_sections=[render(ep.service.readme_section, topo=topo, ep=ep,
                                           balanced=[b for b in balanced(topo) if b.service is ep.service],
                                           transport=transport_hosts(topo), rabbit_user=RABBIT_USER,
                                           **volume_facts(topo))
                                    for ep in endpoints(topo) if ep.service.readme_section])
    return BundleFile("README.md", text, 0o644)
