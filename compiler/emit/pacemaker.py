"""Pacemaker and corosync: the pcs command list of each cluster, and its corosync.conf.

Commands are decided here as argument lists; the template only quotes and
prints them. Every step names the CIB id it creates, so that a rerun can reconcile a live
cluster: it removes what hagen made there (listed in a CIB tag) and makes this bundle's
resources and constraints again, offline, then pushes only the difference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from .. import catalog
from ..model import Node, PacemakerCluster, Topology
from ..secrets import SecretValues
from .base import BundleFile, render

HAPROXY_CLONE = "haproxy-clone"
GALERA_CLONE = "galera-clone"
RABBITMQ_CLONE = "rabbitmq-clone"
# How a node takes changed files of a service Pacemaker runs there (setup.sh leaves it running):
# HAProxy reloads without dropping a connection; Galera and RabbitMQ restart on that node only,
# and rejoin their cluster (Galera by IST).
APPLY_ON_NODE = {HAPROXY_CLONE: "systemctl reload haproxy",
                 GALERA_CLONE: f"pcs resource restart {GALERA_CLONE} {{node}} --wait",
                 RABBITMQ_CLONE: f"pcs resource restart {RABBITMQ_CLONE} {{node}} --wait"}


@dataclass(frozen=True)
class PcsStep:
    """One `pcs -f CIB ...` call. `creates` is the id of the resource or constraint it adds
    ('' for a cluster property)."""

    comment: str
    args: tuple[str, ...]
    creates: str = ""
    systemd: bool = False  # systemd agents are validated against the local systemd
    # A change of its settings restarts every instance at once (the agent reloads nothing): the
    # whole service goes down, so a rerun refuses it unless the operator allows it.
    restarts_everywhere: bool = False


FENCE_PASSWORDS = "/etc/hagen/fencing.passwords"
FENCE_PASSWORD_SCRIPT = "/usr/local/sbin/hagen-fence-password"
# In a two-node cluster both nodes keep quorum after a split and would fence each other at once.
# Fencing the first node waits this long, so it wins the race and the pair never both die
# (a fixed delay, unlike pcmk_delay_max's random one, makes the survivor predictable).
FENCE_RACE_DELAY = "10s"


# A failed start keeps a resource off its node until its failure expires, and without
# failure-timeout it never does: an operator must clean it up. A fenced controller1 booting beside
# the survivors' load took over 200 s to start RabbitMQ, and the start that timed out left it out of
# the cluster for good; with this, Pacemaker started it again a minute later, in 32 s (lab,
# 2026-12-07). The DB and the broker on a node rejoin on their own once the node can run them.
START_RETRY = "60s"


def _cloned(topo: Topology, create: PcsStep, kind: str, **meta: str) -> list[PcsStep]:
    """A primitive made a clone (or promotable) with meta options, in the target's pcs dialect:
    pcs 0.11.5 takes the options positionally at create, 0.11.7+ after 'meta', and 0.12 would
    put options given at create on the primitive, so there the clone is a step of its own."""
    options = tuple(f"{k.replace('_', '-')}={v}" for k, v in meta.items())
    name = create.args[2]
    if topo.target.pcs_clone_separately:
        return [create, PcsStep(f"{name} as a {kind} ({', '.join(options)})",
                                ("resource", kind, name, "meta", *options), creates=f"{name}-clone")]
    clone = (kind, "meta", *options) if topo.target.pcs_clone_meta_keyword else (kind, *options)
    return [dataclasses.replace(create, args=create.args + clone, creates=f"{name}-clone")]


def _score(topo: Topology, score: str) -> str:
    """pcs 0.12 deprecates a bare score; 'score=' is its form."""
    return f"score={score}" if topo.target.pcs_score_keyword else score


def _avoid(topo: Topology, resource: str, allowed: tuple[Node, ...], cluster: PacemakerCluster) -> list[PcsStep]:
    """Keep a resource off the cluster's nodes that do not run its service.

    '--' before the arguments: pcs deprecates a bare '-INFINITY' (it looks like an option)."""
    return [
        PcsStep(f"{resource} never runs on {node.name}",
                ("constraint", "location", "add", "--", f"loc-{resource}-avoids-{node.name}", resource,
                 node.name, _score(topo, "-INFINITY")), creates=f"loc-{resource}-avoids-{node.name}")
        for node in cluster.nodes if node not in allowed
    ]


def pcs_steps(topo: Topology, cluster: PacemakerCluster) -> list[PcsStep]:
    steps: list[PcsStep] = []
    if topo.fencing_waiver is None:
        steps.append(PcsStep("fencing is required", ("property", "set", "stonith-enabled=true")))
        for node in cluster.nodes:
            f = node.fencing
            device = f"fence-{node.name}"
            delay = (f"pcmk_delay_base={FENCE_RACE_DELAY}",) if cluster.two_node and node == cluster.first else ()
            steps.append(PcsStep(
                f"IPMI fencing of {node.name}; the password is read from a 0600 file, never stored in the CIB"
                + (f"; delayed {FENCE_RACE_DELAY} so that {node.name} wins a fencing race" if delay else ""),
                ("stonith", "create", device, "fence_ipmilan", f"ip={f.address}", f"username={f.username}",
                 f"password_script={FENCE_PASSWORD_SCRIPT} {node.name}", "lanplus=1", f"pcmk_host_list={node.name}",
                 *delay, "op", "monitor", "interval=60s"), creates=device))
            steps.append(PcsStep("a node never runs its own fence device",
                                 ("constraint", "location", "add", "--", f"loc-{device}-avoids-{node.name}",
                                  device, node.name, _score(topo, "-INFINITY")),
                                 creates=f"loc-{device}-avoids-{node.name}"))
    else:
        steps.append(PcsStep(f"fencing waived: {topo.fencing_waiver}", ("property", "set", "stonith-enabled=false")))

    if "loadbalancer" in cluster.services:
        lb = topo.loadbalancer
        steps += _cloned(topo, PcsStep("HAProxy runs on every load balancer at once",
                                       ("resource", "create", "haproxy", "systemd:haproxy", "op", "monitor",
                                        "interval=10s"), creates="haproxy", systemd=True),
                         "clone", interleave="true")
        steps += _avoid(topo, HAPROXY_CLONE, lb.nodes, cluster)
        nics = {n.interface for n in lb.nodes}
        nic = nics.pop() if len(nics) == 1 and None not in nics else None
        for vip in topo.vips:
            args = ["resource", "create", vip.name, "ocf:heartbeat:IPaddr2", f"ip={vip.address}",
                    f"cidr_netmask={vip.network.cidr.prefixlen}"]
            if nic:
                args.append(f"nic={nic}")
            args += ["op", "monitor", "interval=10s", "meta", "resource-stickiness=INFINITY"]
            steps.append(PcsStep(f"{vip.name} ({vip.hostname}); sticky, so it does not move back after a failover",
                                 tuple(args), creates=vip.name))
            steps.append(PcsStep(f"{vip.name} only where HAProxy runs",
                                 ("constraint", "colocation", "add", vip.name, "with", HAPROXY_CLONE, _score(topo, "INFINITY"),
                                  f"id=col-{vip.name}-with-haproxy"), creates=f"col-{vip.name}-with-haproxy"))
            steps.append(PcsStep(f"{vip.name} starts after HAProxy",
                                 ("constraint", "order", "start", HAPROXY_CLONE, "then", "start", vip.name,
                                  "kind=Optional", f"id=ord-haproxy-then-{vip.name}"),
                                 creates=f"ord-haproxy-then-{vip.name}"))

    if "galera" in cluster.services:
        g = topo.galera
        address = "gcomm://" + ",".join(n.name for n in g.nodes)
        steps += _cloned(topo, PcsStep("Galera: every node promoted (multi-master), bootstrapped by the agent "
                                       "from the most advanced node",
                                       ("resource", "create", "galera", "ocf:heartbeat:galera",
                                        f"wsrep_cluster_address={address}", f"log={topo.target.galera_log_file}",
                                        "enable_creation=true",
                                        "op", "promote", "timeout=300s", "on-fail=block",
                                        # The agent's start runs `mysqld --wsrep-recover`: InnoDB's
                                        # crash recovery after a power loss, as long as the redo log
                                        # makes it. At its 120 s default a fenced node's start timed
                                        # out in CI (2026-12-07), and a failed start is fatal: the
                                        # node stayed out of the cluster until an operator cleaned it.
                                        "op", "start", "timeout=300s", "op", "monitor", "interval=20s"),
                                       creates="galera", restarts_everywhere=True),
                         "promotable", promoted_max=str(len(g.nodes)), ordered="true", interleave="true",
                         failure_timeout=START_RETRY)
        steps += _avoid(topo, GALERA_CLONE, g.nodes, cluster)

    if "rabbitmq" in cluster.services:
        r = topo.rabbitmq
        steps += _cloned(topo, PcsStep("RabbitMQ on every RabbitMQ node; its own clustering keeps the data "
                                       "(not rabbitmq-cluster, which wipes a node on join)",
                                       ("resource", "create", "rabbitmq", "systemd:rabbitmq-server", "op", "monitor",
                                        "interval=10s", "op", "start", "timeout=200s"),
                                       creates="rabbitmq", systemd=True),
                         "clone", interleave="true", failure_timeout=START_RETRY)
        steps += _avoid(topo, RABBITMQ_CLONE, r.nodes, cluster)

    for ep, process in catalog.failover_processes(topo):
        if not set(ep.nodes) <= set(cluster.nodes):
            continue  # another cluster's (checks.py puts each such service's nodes in one cluster)
        steps.append(PcsStep(f"{process.unit} on one node at a time ({ep.service.name}'s backend cannot run "
                             "active/active); every node shares its backend_host, so any node manages its volumes",
                             ("resource", "create", process.unit, f"systemd:{process.unit}",
                              "op", "monitor", "interval=30s", "op", "start", "timeout=120s"),
                             creates=process.unit, systemd=True))
        steps += _avoid(topo, process.unit, ep.nodes, cluster)

    return steps


def managed_ids(steps: list[PcsStep]) -> list[str]:
    """The ids of the resources and constraints a cluster's steps make, in order, once each."""
    return list(dict.fromkeys(step.creates for step in steps if step.creates))


def restarts_everywhere(steps: list[PcsStep]) -> list[str]:
    """The resources whose changed settings a rerun refuses unless the operator allows a restart
    of every instance at once (pcs-resources.sh --allow-full-restart)."""
    return [step.args[2] for step in steps if step.restarts_everywhere]


def ownership_tag(cluster: PacemakerCluster) -> str:
    """The CIB tag listing what hagen made in this cluster: a rerun removes what it lists and the
    bundle no longer makes. Tags may list constraints too (pcs drops a deleted one from it)."""
    return f"hagen-{cluster.name}"


def ownership_xml(cluster: PacemakerCluster, ids: list[str]) -> str:
    """The tag element that records `ids` as hagen's in the cluster's CIB."""
    refs = "".join(f"<obj_ref id={quoteattr(i)}/>" for i in ids)
    return f"<tag id={quoteattr(ownership_tag(cluster))}>{refs}</tag>"


def emit(topo: Topology, secrets: SecretValues) -> list[BundleFile]:
    files: list[BundleFile] = []
    for cluster in topo.clusters:
        base = f"cluster/{cluster.name}"
        files.append(BundleFile(f"{base}/corosync.conf", render("pacemaker/corosync.conf.j2", cluster=cluster,
                                                                         logfile=topo.target.corosync_logfile), 0o644))
        steps = pcs_steps(topo, cluster)
        managed = managed_ids(steps)
        files.append(BundleFile(f"{base}/pcs-resources.sh",
                                render("pacemaker/pcs-resources.sh.j2", cluster=cluster, target=topo.target,
                                       steps=steps, managed=managed, tag=ownership_tag(cluster),
                                       owned=ownership_xml(cluster, managed),
                                       guarded=restarts_everywhere(steps)), 0o755))
        files.append(BundleFile(f"{base}/pcs-setup.sh",
                                render("pacemaker/pcs-setup.sh.j2", cluster=cluster, target=topo.target), 0o755))
    return files


def node_files(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    """What a node needs to fence its peers: their BMC passwords in one 0600 file, and the
    script fence_ipmilan runs to read one of them (its password_script)."""
    cluster = topo.cluster_of(node)
    if topo.fencing_waiver is not None or cluster is None:
        return []
    peers = [peer for peer in cluster.nodes if peer != node]
    if not peers:
        return []
    lines = "".join(f"{peer.name} {secrets.get(peer.fencing.password_secret)}\n" for peer in peers)
    return [
        BundleFile(FENCE_PASSWORDS.lstrip("/"), lines, 0o600),
        BundleFile(FENCE_PASSWORD_SCRIPT.lstrip("/"), render("pacemaker/hagen-fence-password.sh.j2"), 0o755),
    ]
