"""What the control plane exposes to Prometheus, and what must wake an operator: the exporters
each node runs, the scrape targets, and the alert rules with the series that must fire them.

The one place this knowledge lives: the node emitters, the scrape config, the rules, their
promtool unit tests, the bundle README, the property tests and the lab all read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import pki
from .model import Node, Topology


@dataclass(frozen=True)
class Exporter:
    """A metrics endpoint on a node: the ecosystem's own exporter for one service, at its
    registered default port (the Prometheus wiki's allocations), on the node's own address."""
    job: str  # the Prometheus job, one per kind of exporter
    port: int
    what: str  # what it reports, in words (the bundle README)
    source: str  # which program serves it
    package: str | None  # the Debian package that installs it (None: part of the service itself)
    unit: str | None  # the unit setup.sh enables and restricts (None: the service's own)
    restricted: str  # how only the scrapers reach it, in words
    # Where it runs: every 'node', the members of a Pacemaker 'cluster', or a service's nodes (its
    # name): read by exporters_on and by the spec checks' port collisions alike.
    runs_with: str = "node"


# trixie's packages. memcached's exporter is not packaged in Debian: node_exporter's systemd
# collector reports memcached.service instead (alive, not answering: said in the README).
NODE = Exporter("node", 9100, "the machine (CPU, memory, filesystems), systemd's memcached unit, and hagen's "
                "textfile (certificate expiry, the Galera datadir's filesystem)", "node_exporter 1.9",
                "prometheus-node-exporter", "prometheus-node-exporter", "systemd IPAddressAllow")
HAPROXY = Exporter("haproxy", 8405, "every frontend, backend and server, with its health-check state",
                   "HAProxy's built-in exporter (a frontend of its own)", None, None, "an HAProxy ACL on the source",
                   runs_with="loadbalancer")
MYSQLD = Exporter("mysqld", 9104, "MariaDB and Galera (wsrep_* status: state, cluster size, Primary)",
                  "mysqld_exporter 0.17, as its own database user over the local socket",
                  "prometheus-mysqld-exporter", "prometheus-mysqld-exporter", "systemd IPAddressAllow",
                  runs_with="galera")
RABBITMQ = Exporter("rabbitmq", 15692, "the broker, its alarms and its queues", "RabbitMQ's rabbitmq_prometheus plugin",
                    None, None, "none: RabbitMQ's listener has no source filter (bound to the node's address; "
                    "its metrics hold no credentials)", runs_with="rabbitmq")
HACLUSTER = Exporter("hacluster", 9664, "Pacemaker's nodes and resources, corosync's quorum",
                     "ha_cluster_exporter 1.4", "prometheus-hacluster-exporter", "ha_cluster_exporter",
                     "systemd IPAddressAllow", runs_with="cluster")
EXPORTERS = (NODE, HAPROXY, MYSQLD, RABBITMQ, HACLUSTER)

SCRAPE_INTERVAL = "15s"
# The database user mysqld_exporter logs in as: the local socket's peer (unix_socket
# authentication) is the exporter's own system user, so it needs no password.
MYSQLD_EXPORTER_USER = "prometheus"
MYSQLD_EXPORTER_GRANTS = "PROCESS, BINLOG MONITOR, SLAVE MONITOR"  # SHOW STATUS, processlist, replica status
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"  # Debian's, which node_exporter reads
TEXTFILE = f"{TEXTFILE_DIR}/hagen.prom"
# Galera's state when it may serve (wsrep_local_state; mysqld_exporter exports it as a number).
WSREP_SYNCED = 4
CERTIFICATE_WARNING_DAYS = 30  # as hagen check warns


def compiled(topo: Topology) -> bool:
    return topo.monitoring is not None


def exporters_on(topo: Topology, node: Node) -> list[Exporter]:
    """The exporters this node runs: every node its machine's, and one per service here that has one."""
    if not compiled(topo):
        return []
    here = {"node", *topo.services_of(node), *(("cluster",) if topo.cluster_of(node) else ())}
    return [e for e in EXPORTERS if e.runs_with in here]


def listen(node: Node, exporter: Exporter) -> str:
    return f"{node.address}:{exporter.port}"


def targets(topo: Topology) -> list[tuple[Exporter, list[Node]]]:
    """Per job, the nodes that serve it, in topology order."""
    return [(e, [n for n in topo.nodes if e in exporters_on(topo, n)]) for e in EXPORTERS
            if any(e in exporters_on(topo, n) for n in topo.nodes)]


def scrapers(topo: Topology) -> tuple[str, ...]:
    return topo.monitoring.scrapers


def certificate_files(topo: Topology, node: Node) -> list[str]:
    """Every certificate a server on this node presents (the VIPs' at HAProxy, the node's own
    copies): setup.sh writes their expiry into node_exporter's textfile."""
    found = [cert.haproxy_pem for cert in pki.server_certificates(topo)] if node in topo.loadbalancer.nodes else []
    found += [pki.node_tls_paths(topo, node, service)[0] for service, _ in pki.node_tls_readers(topo, node)
              if pki.node_tls_paths(topo, node, service)]
    return sorted(set(found))


# --- alerts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """An input series of a promtool unit test: its selector, and the value it keeps throughout."""
    selector: str
    value: float


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str  # 'critical': availability or data at stake now; 'warning': one more failure away
    summary: str  # may name labels as {{ $labels.x }}
    description: str
    labels: tuple[tuple[str, str], ...] = ()  # static labels beyond severity
    # promtool's unit test: on `bad` it fires with `fired` labels; on `good` it stays quiet.
    bad: tuple[Series, ...] = ()
    fired: tuple[tuple[tuple[str, str], ...], ...] = ()
    good: tuple[Series, ...] = ()
    expr_labels: tuple[str, ...] = field(default=())  # labels of the firing series shown in summary

    def annotations(self, labels: dict[str, str]) -> dict[str, str]:
        """The annotations as Prometheus expands them for a series with these labels."""
        summary = self.summary
        for key, value in labels.items():
            summary = summary.replace("{{ $labels.%s }}" % key, value)
        return {"description": self.description, "summary": summary}


def _sel(metric: str, **labels: str) -> str:
    inside = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inside}}}"


def _one_series(name: str, expr: str, for_: str, severity: str, summary: str, description: str, metric: str,
                labels: dict[str, str], bad: float, good: float) -> Alert:
    """An alert on one series: it fires with that series' labels when it holds `bad`, not on `good`."""
    return Alert(name, expr, for_, severity, summary, description, bad=(Series(_sel(metric, **labels), bad),),
                 fired=(tuple(sorted(labels.items())),), good=(Series(_sel(metric, **labels), good),))


def majority(count: int) -> int:
    return count // 2 + 1


def alerts(topo: Topology) -> list[Alert]:
    """The rules, each derived from the spec where it names something (a VIP, a node count), each
    with the series that fire it and a healthy set that does not. Timings: a scrape every 15 s,
    and `for` long enough that one missed scrape or a planned failover (a VIP moving in about
    10 s) does not page, short enough that the first failure is known before the second."""
    if not compiled(topo):
        return []
    found: list[Alert] = []
    nodes = topo.nodes
    first, lb = nodes[0], topo.loadbalancer.nodes[0]

    found.append(_one_series(
        "HagenNodeDown", 'up{job="node"} == 0', "1m", "critical",
        "{{ $labels.instance }} does not answer",
        "node_exporter on this node has not answered for a minute: the node is down, cut off, or hung.",
        "up", {"instance": first.name, "job": "node"}, 0, 1))

    g, gname = topo.galera, topo.galera.nodes[0].name
    size = len(g.nodes)
    found.append(Alert(
        "HagenGaleraNodeNotSynced",
        f'mysql_global_status_wsrep_local_state != {WSREP_SYNCED} or mysql_up == 0 or up{{job="mysqld"}} == 0',
        "1m", "critical", "Galera on {{ $labels.instance }} is not serving",
        "This Galera node is not Synced (or MariaDB or its exporter does not answer): clustercheck takes it out "
        "of HAProxy, and the cluster has one node fewer to lose.",
        bad=(Series(_sel("mysql_global_status_wsrep_local_state", job="mysqld", instance=gname), 2),
             Series(_sel("mysql_up", job="mysqld", instance=gname), 1)),
        fired=((("instance", gname), ("job", "mysqld")),),
        good=(Series(_sel("mysql_global_status_wsrep_local_state", job="mysqld", instance=gname), WSREP_SYNCED),
              Series(_sel("mysql_up", job="mysqld", instance=gname), 1),
              Series(_sel("up", job="mysqld", instance=gname), 1))))
    if size > 1:
        galera = {"instance": gname, "job": "mysqld"}
        found.append(_one_series(
            "HagenGaleraClusterIncomplete", f"mysql_global_status_wsrep_cluster_size < {size}", "1m", "warning",
            "{{ $labels.instance }} sees fewer than " + f"{size} Galera nodes",
            f"The spec places {size} Galera nodes; this one's Primary Component has fewer. One more loss may cost "
            "quorum.",
            "mysql_global_status_wsrep_cluster_size", galera, size - 1, size))
        found.append(_one_series(
            "HagenGaleraNotPrimary", "mysql_global_status_wsrep_cluster_status == 0", "30s", "critical",
            "Galera on {{ $labels.instance }} is not in the Primary Component",
            "This node lost quorum (a partition or too many failures): it refuses reads and writes until it rejoins.",
            "mysql_global_status_wsrep_cluster_status", galera, 0, 1))

    r, rname = topo.rabbitmq, topo.rabbitmq.nodes[0].name
    found.append(_one_series(
        "HagenRabbitMQNodeDown", 'up{job="rabbitmq"} == 0', "1m", "warning",
        "RabbitMQ on {{ $labels.instance }} does not answer",
        "The broker's own metrics endpoint has not answered for a minute: the broker is down (or paused in a "
        "minority partition).",
        "up", {"instance": rname, "job": "rabbitmq"}, 0, 1))
    if len(r.nodes) > 1:
        need = majority(len(r.nodes))
        found.append(Alert(
            "HagenRabbitMQQuorumLost", f'(count(up{{job="rabbitmq"}} == 1) or vector(0)) < {need}', "30s", "critical",
            f"fewer than {need} of {len(r.nodes)} RabbitMQ nodes answer",
            "A quorum queue with a member on each node needs a majority of them: without it, publishes and "
            "consumes stop.",
            bad=tuple(Series(_sel("up", job="rabbitmq", instance=n.name), 0) for n in r.nodes),
            fired=((),),
            good=tuple(Series(_sel("up", job="rabbitmq", instance=n.name), 1) for n in r.nodes)))
    found.append(Alert(
        "HagenRabbitMQAlarm",
        "rabbitmq_alarms_memory_used_watermark == 1 or rabbitmq_alarms_free_disk_space_watermark == 1 "
        "or rabbitmq_alarms_file_descriptor_limit == 1", "1m", "critical",
        "RabbitMQ on {{ $labels.instance }} blocks publishers",
        "A memory, disk or file descriptor alarm is on: every publishing connection of the cluster is blocked.",
        bad=(Series(_sel("rabbitmq_alarms_memory_used_watermark", job="rabbitmq", instance=rname), 1),),
        fired=((("instance", rname), ("job", "rabbitmq")),),
        good=(Series(_sel("rabbitmq_alarms_memory_used_watermark", job="rabbitmq", instance=rname), 0),
              Series(_sel("rabbitmq_alarms_free_disk_space_watermark", job="rabbitmq", instance=rname), 0),
              Series(_sel("rabbitmq_alarms_file_descriptor_limit", job="rabbitmq", instance=rname), 0))))

    from .emit.haproxy import frontends  # the backends HAProxy balances, as it names them
    backend = frontends(topo)[0].backend
    found.append(Alert(
        "HagenBackendEmpty", "haproxy_backend_active_servers + haproxy_backend_backup_servers == 0", "30s", "critical",
        "{{ $labels.proxy }} has no healthy server on {{ $labels.instance }}",
        "HAProxy finds no server of this backend healthy: every request through its VIP fails.",
        bad=(Series(_sel("haproxy_backend_active_servers", job="haproxy", instance=lb.name, proxy=backend), 0),
             Series(_sel("haproxy_backend_backup_servers", job="haproxy", instance=lb.name, proxy=backend), 0)),
        fired=((("instance", lb.name), ("job", "haproxy"), ("proxy", backend)),),
        good=(Series(_sel("haproxy_backend_active_servers", job="haproxy", instance=lb.name, proxy=backend), 1),
              Series(_sel("haproxy_backend_backup_servers", job="haproxy", instance=lb.name, proxy=backend), 2))))
    server = topo.galera.nodes[0].name
    found.append(Alert(
        "HagenServerFailingHealthCheck", 'haproxy_server_status{state="DOWN"} == 1', "1m", "warning",
        "{{ $labels.server }} fails {{ $labels.proxy }}'s health check",
        "HAProxy took this server out: its health check (an API's health path, Galera's clustercheck) fails.",
        bad=(Series(_sel("haproxy_server_status", job="haproxy", instance=lb.name, proxy=backend, server=server,
                         state="DOWN"), 1),),
        fired=((("instance", lb.name), ("job", "haproxy"), ("proxy", backend), ("server", server),
                ("state", "DOWN")),),
        good=(Series(_sel("haproxy_server_status", job="haproxy", instance=lb.name, proxy=backend, server=server,
                          state="DOWN"), 0),)))

    clustered = [n for n in nodes if topo.cluster_of(n)]
    if clustered:
        c = clustered[0].name
        member = {"instance": c, "job": "hacluster", "node": c, "type": "member"}
        found.append(_one_series(
            "HagenClusterNodeOffline", 'ha_cluster_pacemaker_nodes{status="online"} == 0', "1m", "critical",
            "Pacemaker node {{ $labels.node }} is offline",
            "Pacemaker sees this cluster node offline; its resources run elsewhere, one failure from an outage.",
            "ha_cluster_pacemaker_nodes", {**member, "status": "online"}, 0, 1))
        found.append(_one_series(
            "HagenClusterNodeUnclean", 'ha_cluster_pacemaker_nodes{status="unclean"} == 1', "1m", "critical",
            "Pacemaker node {{ $labels.node }} is unclean and not fenced",
            "The cluster lost this node and cannot confirm it is off: its resources stay blocked until fencing "
            "succeeds (check its BMC).",
            "ha_cluster_pacemaker_nodes", {**member, "status": "unclean"}, 1, 0))
        found.append(_one_series(
            "HagenClusterPartitioned", "ha_cluster_corosync_quorate == 0", "30s", "critical",
            "{{ $labels.instance }} has no quorum",
            "corosync on this node is in a minority partition (or alone): Pacemaker stops its resources here.",
            "ha_cluster_corosync_quorate", {"instance": c, "job": "hacluster"}, 0, 1))
        if topo.fencing_waiver is None:
            found.append(_one_series(
                "HagenFencingDisabled", "ha_cluster_pacemaker_stonith_enabled == 0", "5m", "critical",
                "fencing is off in the cluster of {{ $labels.instance }}",
                "The spec fences every cluster node, but stonith-enabled is false: a hung node can corrupt data.",
                "ha_cluster_pacemaker_stonith_enabled", {"instance": c, "job": "hacluster"}, 0, 1))
        for vip in topo.vips:
            held = _sel("ha_cluster_pacemaker_resources", resource=vip.name, role="started", status="active")
            found.append(Alert(
                "HagenVipNotHeld", f"(max({held}) or vector(0)) < 1", "30s", "critical",
                f"{vip.name} ({vip.address}) is held by no node",
                f"No cluster node reports {vip.name} started: every client of {vip.hostname} fails.",
                labels=(("vip", vip.name),),
                bad=(Series(_sel("ha_cluster_pacemaker_resources", job="hacluster", instance=c, node=c,
                                 resource=vip.name, role="stopped", status="active"), 0),),
                fired=((),),
                good=(Series(_sel("ha_cluster_pacemaker_resources", job="hacluster", instance=c, node=c,
                                  resource=vip.name, role="started", status="active"), 1),)))

    if topo.memcached.nodes:
        m = topo.memcached.nodes[0].name
        unit = _sel("node_systemd_unit_state", job="node", instance=m, name="memcached.service", state="active")
        found.append(Alert(
            "HagenMemcachedDown", 'node_systemd_unit_state{name="memcached.service",state="active"} == 0', "1m",
            "warning", "memcached on {{ $labels.instance }} is not running",
            "Tokens and sessions cached there are lost; Keystone validates again (slower), Horizon users on it "
            "log in again.",
            bad=(Series(unit, 0),),
            fired=((("instance", m), ("job", "node"), ("name", "memcached.service"), ("state", "active")),),
            good=(Series(unit, 1),)))

    if topo.tls:
        expiry = _sel("hagen_certificate_expiry_timestamp_seconds", job="node", instance=lb.name,
                      file=certificate_files(topo, lb)[0])
        days = CERTIFICATE_WARNING_DAYS
        found.append(Alert(
            "HagenCertificateExpiresSoon",
            f"hagen_certificate_expiry_timestamp_seconds - time() < {days} * 86400", "1h", "warning",
            "{{ $labels.file }} on {{ $labels.instance }} expires within " + f"{days} days",
            "Renew it: 'hagen secrets' makes the new certificate, a rebuilt bundle and setup.sh lay it down.",
            bad=(Series(expiry, 10 * 86400),),
            fired=((("file", certificate_files(topo, lb)[0]), ("instance", lb.name), ("job", "node")),),
            good=(Series(expiry, 365 * 86400),)))

    datadir = _sel("hagen_galera_datadir_info", job="node", instance=gname, mountpoint="/")
    avail = _sel("node_filesystem_avail_bytes", job="node", instance=gname, mountpoint="/", fstype="ext4")
    total = _sel("node_filesystem_size_bytes", job="node", instance=gname, mountpoint="/", fstype="ext4")
    found.append(Alert(
        "HagenGaleraDiskFilling",
        "node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.15 "
        "and on(instance, mountpoint) hagen_galera_datadir_info == 1", "10m", "warning",
        "Galera's datadir on {{ $labels.instance }} has less than 15% free",
        "MariaDB stops writing when the disk is full, and a Galera node that cannot write leaves the cluster.",
        bad=(Series(datadir, 1), Series(avail, 10), Series(total, 100)),
        fired=((("fstype", "ext4"), ("instance", gname), ("job", "node"), ("mountpoint", "/")),),
        good=(Series(datadir, 1), Series(avail, 50), Series(total, 100))))
    return found


def alert_names(topo: Topology) -> list[str]:
    return sorted({a.name for a in alerts(topo)})
