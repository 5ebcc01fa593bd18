"""Monitoring: each node's exporters (their settings, and the systemd drop-in that lets only the
scrapers in), and the Prometheus side: the scrape config, the alert rules and their unit tests.
What runs where, and which alerts exist, is compiler/monitoring.py's."""

from __future__ import annotations

import re

from .. import monitoring
from ..model import Node, Topology
from .base import BundleFile, render

SCRAPE_CONFIG = "monitoring/prometheus.yml"
RULES = "monitoring/rules/hagen.rules.yml"
RULE_TESTS = "monitoring/tests/hagen.rules.test.yml"
# Debian's MariaDB socket, where Pacemaker's galera agent (its Debian default) starts the server.
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"
MYSQLD_EXPORTER_CNF = "/etc/hagen/mysqld-exporter.cnf"


def allowed_sources(topo: Topology) -> list[str]:
    """Who reaches an exporter: the scrapers, and the node itself (an operator's curl)."""
    return ["localhost", *monitoring.scrapers(topo)]


def emit(topo: Topology, node: Node) -> list[BundleFile]:
    here = monitoring.exporters_on(topo, node)
    files = []
    for exporter in here:
        if exporter.unit:
            files.append(BundleFile(f"etc/systemd/system/{exporter.unit}.service.d/hagen-scrapers.conf",
                                    render("monitoring/scrapers.conf.j2", exporter=exporter,
                                           allowed=allowed_sources(topo)), 0o644))
    if monitoring.NODE in here:
        units = ["memcached.service"] if node in topo.memcached.nodes else []
        files.append(BundleFile("etc/default/prometheus-node-exporter",
                                render("monitoring/node-exporter.default.j2", node=node,
                                       listen=monitoring.listen(node, monitoring.NODE),
                                       textfile_dir=monitoring.TEXTFILE_DIR, systemd_units=units), 0o644))
    if monitoring.MYSQLD in here:
        files.append(BundleFile("etc/default/prometheus-mysqld-exporter",
                                render("monitoring/mysqld-exporter.default.j2", node=node,
                                       listen=monitoring.listen(node, monitoring.MYSQLD), cnf=MYSQLD_EXPORTER_CNF),
                                0o644))
        files.append(BundleFile(MYSQLD_EXPORTER_CNF.lstrip("/"),
                                render("monitoring/mysqld-exporter.cnf.j2", user=monitoring.MYSQLD_EXPORTER_USER,
                                       socket=MYSQL_SOCKET), 0o644))
    if monitoring.HACLUSTER in here:
        files.append(BundleFile("etc/ha_cluster_exporter.yaml",
                                render("monitoring/ha_cluster_exporter.yaml.j2", node=node,
                                       listen=monitoring.listen(node, monitoring.HACLUSTER)), 0o644))
    if monitoring.RABBITMQ in here:
        files.append(BundleFile("etc/rabbitmq/enabled_plugins", "[rabbitmq_prometheus].\n", 0o644,
                                owner="root", group="rabbitmq"))
    return files


def units(topo: Topology, node: Node) -> list[str]:
    """The exporters' own units, which setup.sh enables and restarts when their files change."""
    return [e.unit for e in monitoring.exporters_on(topo, node) if e.unit]


def _seconds(duration: str) -> int:
    value, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()
    return int(value) * {"s": 1, "m": 60, "h": 3600}[unit]


def rule_tests(topo: Topology) -> list[dict]:
    """promtool's unit tests: per alert, its bad series (with the healthy series of the other rules
    of that name, so only it fires) must fire it with exactly its labels and annotations, and the
    healthy series of every rule of that name must fire none. Evaluated once `for` has passed."""
    interval = _seconds(monitoring.SCRAPE_INTERVAL)
    groups: dict[str, list[monitoring.Alert]] = {}
    for alert in monitoring.alerts(topo):
        groups.setdefault(alert.name, []).append(alert)
    tests = []

    def series(chosen, eval_s):
        count = eval_s // interval + 2
        return [{"series": s.selector, "values": f"{s.value:g}x{count}"} for s in chosen]

    for name, same in groups.items():
        eval_s = _seconds(same[0].for_) + 2 * 60
        for alert in same:
            others = [s for a in same if a is not alert for s in a.good]
            expected = []
            for fired in alert.fired:
                labels = {**dict(fired), **dict(alert.labels), "severity": alert.severity}
                expected.append({"exp_labels": dict(sorted(labels.items())),
                                 "exp_annotations": alert.annotations(labels)})
            tests.append({"interval": monitoring.SCRAPE_INTERVAL, "input_series": series([*alert.bad, *others], eval_s),
                          "alert_rule_test": [{"eval_time": f"{eval_s}s", "alertname": name, "exp_alerts": expected}]})
        tests.append({"interval": monitoring.SCRAPE_INTERVAL,
                      "input_series": series([s for a in same for s in a.good], eval_s),
                      "alert_rule_test": [{"eval_time": f"{eval_s}s", "alertname": name, "exp_alerts": []}]})
    return tests


def emit_prometheus(topo: Topology) -> list[BundleFile]:
    if not monitoring.compiled(topo):
        return []
    return [
        BundleFile(SCRAPE_CONFIG, render("monitoring/prometheus.yml.j2", topo=topo, jobs=monitoring.targets(topo),
                                         interval=monitoring.SCRAPE_INTERVAL, listen=monitoring.listen,
                                         rules=RULES.removeprefix("monitoring/")), 0o644),
        BundleFile(RULES, render("monitoring/rules.yml.j2", topo=topo, alerts=monitoring.alerts(topo)), 0o644),
        BundleFile(RULE_TESTS, render("monitoring/rules.test.yml.j2", rules="../rules/" + RULES.rsplit("/", 1)[1],
                                      interval=monitoring.SCRAPE_INTERVAL, tests=rule_tests(topo)), 0o644),
    ]
