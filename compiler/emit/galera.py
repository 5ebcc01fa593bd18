"""MariaDB Galera: server config, SST credentials, users, and the clustercheck endpoint."""

from __future__ import annotations

from .. import monitoring, pki
from ..catalog import database_client_hosts, databases
from ..model import Node, Topology
from ..secrets import SecretValues
from . import node_tls
from .base import BundleFile, render


def health_check_sources(topo: Topology) -> list[str]:
    """Who may ask clustercheck: the load balancers, and the node itself."""
    return ["127.0.0.1"] + [n.address for n in topo.loadbalancer.nodes]


def provider_options(g, tls: dict | None) -> list[str]:
    """Galera's wsrep_provider_options: its write-set cache, rebuilt from disk after a restart
    (gcache.recover), and replication's TLS with the server's own certificate."""
    options = [f"gcache.size={g.gcache_size}", "gcache.recover=yes"]
    if tls:
        options += [f"socket.ssl_cert={tls['cert']}", f"socket.ssl_key={tls['key']}", f"socket.ssl_ca={tls['ca']}"]
    return options


def read_at_start(topo: Topology) -> set[str]:
    """The node-relative files mariadbd reads when it starts (its conf.d files and its TLS pair):
    a change to one needs Galera restarted on the node. The clustercheck files and the users' SQL
    do not (xinetd and the bootstrap read them)."""
    return {p.lstrip("/") for p in (topo.target.galera_config_path, topo.target.galera_sst_config_path,
                                    *pki.node_tls_files("mariadb"))}


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    g = topo.galera
    if node not in g.nodes:
        return []
    target = topo.target
    cluster = topo.cluster_of(node)
    cert, key = pki.node_tls_files("mariadb")
    tls = {"ca": pki.ca_file(topo), "cert": cert, "key": key} if topo.tls else None
    files = [
        *node_tls.files_for(topo, node, "mariadb", secrets),
        BundleFile(target.galera_config_path.lstrip("/"),
                   render("galera/galera.cnf.j2", node=node, galera=g, target=target, cluster_name=cluster.name,
                          members=[n.name for n in g.nodes], tls=tls, provider_options=provider_options(g, tls)),
                   0o644),
        BundleFile("etc/hagen/galera-users.sql",
                   render("galera/galera-users.sql.j2",
                          root_password=secrets.get("galera_root_password"),
                          sst_password=secrets.get("galera_sst_password"),
                          clustercheck_password=secrets.get("galera_clustercheck_password"),
                          databases=[(db, secrets.get(db.password_secret)) for db in databases(topo)],
                          client_hosts=database_client_hosts(topo), require_tls=topo.tls,
                          exporter=(monitoring.MYSQLD_EXPORTER_USER, monitoring.MYSQLD_EXPORTER_GRANTS)
                          if monitoring.MYSQLD in monitoring.exporters_on(topo, node) else None), 0o600),
        BundleFile("etc/hagen/clustercheck.cnf",
                   render("galera/clustercheck.cnf.j2", password=secrets.get("galera_clustercheck_password")),
                   0o600, owner="mysql", group="mysql"),
        BundleFile("usr/local/bin/hagen-clustercheck", render("galera/hagen-clustercheck.sh.j2"), 0o755),
    ]
    if g.sst_method == "mariabackup":
        files.append(BundleFile(target.galera_sst_config_path.lstrip("/"),
                                render("galera/galera-sst.cnf.j2", sst_password=secrets.get("galera_sst_password")),
                                0o600, owner="mysql", group="mysql"))
    allowed = health_check_sources(topo)
    if target.clustercheck_listener == "xinetd":
        files.append(BundleFile("etc/xinetd.d/galera-clustercheck",
                                render("galera/xinetd-clustercheck.j2", node=node, port=g.clustercheck_port,
                                       allowed=allowed), 0o644))
    else:
        files.append(BundleFile("etc/systemd/system/hagen-clustercheck.socket",
                                render("galera/clustercheck.socket.j2", node=node, port=g.clustercheck_port,
                                       allowed=allowed), 0o644))
        files.append(BundleFile("etc/systemd/system/hagen-clustercheck@.service",
                                render("galera/clustercheck@.service.j2"), 0o644))
    return files
