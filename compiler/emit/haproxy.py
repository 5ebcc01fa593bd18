"""HAProxy: one frontend per service VIP:port, backends on the service nodes."""

from __future__ import annotations

from dataclasses import dataclass

from .. import monitoring, pki
from ..catalog import EVERY_2S, Balanced, balanced
from ..model import Node, Topology, Vip
from ..secrets import SecretValues
from .base import BundleFile, render


@dataclass(frozen=True)
class Server:
    name: str
    address: str
    port: int
    options: str


@dataclass(frozen=True)
class Frontend:
    name: str
    backend: str
    vip: Vip
    port: int
    mode: str
    comment: str
    health: str  # how a server is judged healthy, in words (the bundle README's health column)
    frontend_options: tuple[str, ...]
    backend_options: tuple[str, ...]
    servers: tuple[Server, ...]
    tls: pki.ServerCert | None = None  # HAProxy terminates TLS on the bind with this certificate
    backend_tls: bool = False  # HAProxy speaks HTTPS to the servers (verifying each node's certificate)


def galera_frontend(topo: Topology) -> Frontend:
    g = topo.galera
    # Exactly one writer: multi-writer balancing causes certification conflicts.
    # clustercheck answers 200 only when the node is Synced.
    servers = tuple(
        Server(n.name, n.address, g.port, "check" + ("" if i == 0 else " backup"))
        for i, n in enumerate(g.nodes)
    )
    return Frontend(
        name="galera", backend="galera-nodes", vip=g.vip, port=g.port, mode="tcp",
        comment="MariaDB Galera: one active server, the others backup; health from clustercheck",
        health=f"HTTP 200 from clustercheck :{g.clustercheck_port}, {EVERY_2S.words()}",
        frontend_options=("option clitcpka", "timeout client 3600s"),
        backend_options=("option srvtcpka", "timeout server 3600s", "option httpchk",
                         "http-check expect status 200",
                         # The writer's failover waits on these checks, so they keep the fast
                         # pace, though each forks a shell and a mysql client (0.23 cores of the
                         # 2-core lab, 2026-12-07).
                         f"default-server port {g.clustercheck_port} {EVERY_2S.haproxy()} rise 2 fall 3 "
                         "on-marked-down shutdown-sessions"),
        servers=servers,
    )


def health_check(b: Balanced) -> tuple[str, ...]:
    """HAProxy's check request: HTTP/1.0 without a Host header, or, for an app that refuses a
    request for a host it does not serve (Django's ALLOWED_HOSTS), HTTP/1.1 naming the VIP."""
    if b.check_host is None:
        return (f"option httpchk GET {b.health_path}",)
    return ("option httpchk", f"http-check send meth GET uri {b.health_path} ver HTTP/1.1 hdr Host {b.check_host}")


def api_frontend(topo: Topology, b: Balanced) -> Frontend:
    """An OpenStack API: http mode, round robin over its nodes, each checked on its health path;
    TLS ends here (a plain HTTP request on the port fails the handshake), and browsers are told
    to use nothing else for the VIP's name (HSTS)."""
    timeouts = (f"timeout client {b.request_timeout}",) if b.request_timeout else ()
    cert = pki.certificate_for(topo, b.vip)
    hsts = (f'http-response set-header Strict-Transport-Security "max-age={pki.HSTS_SECONDS}"',) if cert else ()
    return Frontend(
        name=b.name, backend=b.backend, vip=b.vip, port=b.port, mode="http",
        comment=b.description, health=f"GET {b.health_path}, {b.check_pace.words()}", tls=cert, backend_tls=b.backend_scheme == "https",
        # Services build their version-discovery links from these (enable_proxy_headers_parsing):
        # they must name the VIP and scheme clients use, not the backend's own address.
        frontend_options=("option httplog", "option forwardfor",
                          f"http-request set-header X-Forwarded-Proto {b.scheme}", *hsts, *timeouts),
        backend_options=("balance roundrobin", *health_check(b),
                         "http-check expect status 200",
                         f"default-server {b.check_pace.haproxy()} rise 2 fall 5" + backend_tls(topo, b),
                         *((f"timeout server {b.request_timeout}",) if b.request_timeout else ()),
                         # A websocket upgraded in http mode: HAProxy then tunnels it, quiet for
                         # this long at most (a console left open).
                         *((f"timeout tunnel {b.tunnel_timeout}",) if b.tunnel_timeout else ())),
        servers=tuple(Server(n.name, n.address, b.port, "check" + (f" verifyhost {n.name}" if backend_tls(topo, b) else ""))
                      for n in b.nodes),
    )


def backend_tls(topo: Topology, b: Balanced) -> str:
    """The servers' TLS (health checks included) to each node's own server, whose certificate is
    verified against the CA; each server line adds the name it must hold (verifyhost: the node's
    name, which pki.node_certificate puts in it)."""
    return f" ssl verify required ca-file {pki.ca_file(topo)}" if b.backend_scheme == "https" else ""


def rabbitmq_frontend(topo: Topology) -> Frontend | None:
    r = topo.rabbitmq
    if r.vip is None:
        return None
    return Frontend(
        name="rabbitmq", backend="rabbitmq-nodes", vip=r.vip, port=r.port, mode="tcp",
        comment="RabbitMQ AMQP: long-lived connections with oslo heartbeats, so long idle timeouts and TCP keepalives",
        health=f"TCP connect, {EVERY_2S.words()}",
        frontend_options=("option clitcpka", "timeout client 2h"),
        backend_options=("balance roundrobin", "option srvtcpka", "timeout server 2h",
                         f"default-server {EVERY_2S.haproxy()} rise 2 fall 5"),
        servers=tuple(Server(n.name, n.address, r.port, "check") for n in r.nodes),
    )


def frontends(topo: Topology) -> tuple[Frontend, ...]:
    found = [galera_frontend(topo), rabbitmq_frontend(topo), *(api_frontend(topo, b) for b in balanced(topo))]
    return tuple(sorted((f for f in found if f), key=lambda f: f.name))


def metrics_frontend(topo: Topology, node: Node) -> dict | None:
    """HAProxy's built-in Prometheus exporter: a frontend of its own on the node's address, which
    answers the scrapers (and the node itself) only."""
    if monitoring.HAPROXY not in monitoring.exporters_on(topo, node):
        return None
    return {"bind": monitoring.listen(node, monitoring.HAPROXY),
            "allowed": ["127.0.0.0/8", *monitoring.scrapers(topo)]}


def certificate_files(topo: Topology, secrets: SecretValues) -> list[BundleFile]:
    """Each TLS VIP's certificate and key in one file, as HAProxy reads them (as root, before it
    drops to its own user): readable by root alone."""
    return [BundleFile(cert.haproxy_pem.lstrip("/"),
                       pki.as_file(secrets.get(cert.cert_secret)) + pki.as_file(secrets.get(cert.key_secret)), 0o600)
            for cert in pki.server_certificates(topo)]


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    if node not in topo.loadbalancer.nodes:
        return []
    text = render("haproxy/haproxy.cfg.j2", node=node, maxconn=topo.loadbalancer.maxconn,
                  frontends=frontends(topo), tls=topo.tls, ciphers=pki.TLS12_CIPHERS,
                  ciphersuites=pki.TLS13_CIPHERSUITES, metrics=metrics_frontend(topo, node))
    return [*certificate_files(topo, secrets),
        BundleFile("etc/haproxy/haproxy.cfg", text, 0o644),
        # HAProxy needs two descriptors per connection; say so instead of relying on defaults.
        BundleFile("etc/systemd/system/haproxy.service.d/hagen-limits.conf",
                   "# Generated by hagen: two descriptors per connection (maxconn "
                   f"{topo.loadbalancer.maxconn}) and room for listeners and checks.\n"
                   f"[Service]\nLimitNOFILE={2 * topo.loadbalancer.maxconn + 4096}\n", 0o644),
        BundleFile("etc/sysctl.d/60-hagen-haproxy.conf",
                   "# Generated by hagen: HAProxy binds VIPs this node may not hold right now.\n"
                   "net.ipv4.ip_nonlocal_bind = 1\n", 0o644),
    ]
