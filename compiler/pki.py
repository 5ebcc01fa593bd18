"""TLS: the private CA and the server certificates hagen's endpoints need.

Which certificate covers which names is decided here once: the emitters (HAProxy's bind, the CA
file every client verifies with), `hagen check` (openssl verify, the SANs, expiry) and the tests
read it. The certificates and their keys live in the secrets file: `hagen secrets init` makes
them with openssl; a build only copies them, so the same secrets give the same bundle.
"""

from __future__ import annotations

import secrets as _random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .model import Node, Topology, Vip

HAPROXY_CERT_DIR = "/etc/haproxy/certs"
CA_KEY_SECRET, CA_CERT_SECRET = "tls_ca_key", "tls_ca_cert"
CA_DAYS, SERVER_DAYS = 3650, 825
# hagen check warns this long before a certificate expires.
EXPIRY_WARNING_DAYS = 30

# HAProxy's TLS settings: Mozilla's "intermediate" profile (TLS 1.2 with forward-secret AEAD
# ciphers, and TLS 1.3), without the DHE suites, which would need a DH parameter file.
TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                 "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
HSTS_SECONDS = 63072000  # two years, as Mozilla's guidelines advise


@dataclass(frozen=True)
class ServerCert:
    """One server certificate: the names and addresses clients reach it by, and where its key and
    certificate are kept. A VIP's is HAProxy's; a node's is read by each of its servers that serve TLS."""
    name: str  # the VIP's or the node's
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    kind: str = "server"  # 'server' (a VIP's, HAProxy's) or 'node'

    @property
    def _stem(self) -> str:
        # The kind keeps every VIP's and node's name apart from each other and from the CA's
        # (a VIP called 'ca' included).
        return f"tls_{self.name.replace('-', '_')}_{self.kind}"

    @property
    def key_secret(self) -> str:
        return self._stem + "_key"

    @property
    def cert_secret(self) -> str:
        return self._stem + "_cert"

    @property
    def haproxy_pem(self) -> str:
        """HAProxy's file: the certificate, then its key."""
        return f"{HAPROXY_CERT_DIR}/{self.name}.pem"

    @property
    def subject_alt_names(self) -> str:
        return ",".join([f"DNS:{d}" for d in self.dns_names] + [f"IP:{a}" for a in self.ip_addresses])


def vip_certificate(vip: Vip) -> ServerCert:
    # The VIP's hostname (the catalog's URLs), its name (the hosts file lists both) and its address
    # (a client given the address, as the lab's is).
    return ServerCert(vip.name, tuple(sorted({vip.hostname, vip.name})), (str(vip.address),))


def ca_file(topo: Topology) -> str | None:
    """Where every node (and the operator's client) finds the CA: the target's directory for local
    CAs, which its trust-store command reads, named in every client config too. None without TLS."""
    return topo.target.ca_trust_file if topo.tls else None


# Where a node's servers find its certificate and key (each service its own copy, owned by the
# user it reads it as: MariaDB, RabbitMQ and uwsgi after dropping root, Apache as root).
NODE_TLS_DIR = "/etc/hagen/tls"


def node_tls_files(service: str) -> tuple[str, str]:
    """(certificate, key) of a node's service ('mariadb', 'rabbitmq', or a catalog service's name)."""
    return f"{NODE_TLS_DIR}/{service}.crt", f"{NODE_TLS_DIR}/{service}.key"


def node_tls_readers(topo: Topology, node: Node) -> tuple[tuple[str, str], ...]:
    """(service, user) of each server on this node that serves TLS with the node's certificate:
    MariaDB, RabbitMQ, and each catalog service HAProxy reaches over HTTPS (catalog.tls_backends)."""
    from .catalog import KEYSTONE, by_name, tls_backends  # the catalog imports this module: import it late

    if not topo.tls:
        return ()
    readers = [("mariadb", "mysql")] if node in topo.galera.nodes else []
    if node in topo.rabbitmq.nodes:
        readers.append(("rabbitmq", "rabbitmq"))
    for name in tls_backends(topo, node):
        service = by_name(name)
        readers.append((name, "root" if service is KEYSTONE else service.host.system_user))
    return tuple(readers)


def node_tls_paths(topo: Topology, node: Node, service: str) -> tuple[str, str] | None:
    """(certificate, key) `service` serves TLS with on this node; None where it serves plain."""
    return node_tls_files(service) if service in dict(node_tls_readers(topo, node)) else None


def node_certificate(topo: Topology, node: Node) -> ServerCert:
    """A node's own: its name and address (its peers, oslo.messaging's transport_url and HAProxy's
    backend checks reach it so), and the VIPs HAProxy passes through to it undecrypted (the DB VIP,
    the RabbitMQ VIP when clients use one), whose clients then verify this node's certificate."""
    vips = [topo.galera.vip] if node in topo.galera.nodes else []
    if node in topo.rabbitmq.nodes and topo.rabbitmq.vip is not None:
        vips.append(topo.rabbitmq.vip)
    return ServerCert(node.name, tuple(sorted({node.name, *(v.hostname for v in vips), *(v.name for v in vips)})),
                      tuple(sorted({str(node.address), *(str(v.address) for v in vips)})), "node")


def laid_files(topo: Topology, cert: ServerCert) -> list[list[str]]:
    """[certificate, key] paths a certificate is laid in on its nodes: HAProxy's one file (on every
    load balancer), or each of a node's services' own copy."""
    if cert.kind == "server":
        return [[cert.haproxy_pem, cert.haproxy_pem]]
    return [list(node_tls_files(service)) for service, _ in node_tls_readers(topo, topo.node(cert.name))]


def node_certificates(topo: Topology) -> tuple[ServerCert, ...]:
    """Every node that serves TLS itself has its own certificate."""
    return tuple(node_certificate(topo, n) for n in topo.nodes if node_tls_readers(topo, n))


def tls_vips(topo: Topology) -> tuple[Vip, ...]:
    """The VIPs HAProxy terminates TLS on: every one an API frontend binds."""
    from .catalog import balanced  # the catalog imports secrets, which imports this module: import it late

    if not topo.tls:
        return ()
    seen = {b.vip.name: b.vip for b in balanced(topo)}
    return tuple(seen[name] for name in sorted(seen))


def server_certificates(topo: Topology) -> tuple[ServerCert, ...]:
    return tuple(vip_certificate(v) for v in tls_vips(topo))


def certificate_for(topo: Topology, vip: Vip) -> ServerCert | None:
    return vip_certificate(vip) if vip in tls_vips(topo) else None


def required(topo: Topology) -> dict[str, str]:
    """The TLS secrets (name -> what it is) a spec needs."""
    if not topo.tls:
        return {}
    needed = {CA_KEY_SECRET: f"{PEM_KEY}the private CA of {topo.name} (it signs every certificate below)",
              CA_CERT_SECRET: f"{PEM_CERT}the private CA of {topo.name} (public: every client verifies with it)"}
    for cert in (*server_certificates(topo), *node_certificates(topo)):
        needed[cert.key_secret] = f"{PEM_KEY}{cert.name}'s certificate"
        needed[cert.cert_secret] = f"{PEM_CERT}{cert.name} ({cert.subject_alt_names})"
    return needed


PEM_KEY, PEM_CERT = "PEM private key of ", "PEM certificate of "


def as_file(pem: str) -> str:
    """A PEM value as a file holds it: ending in one line break (a secrets file's block scalar
    keeps it, a quoted value may not), so that a certificate and a key concatenate cleanly."""
    return pem if pem.endswith("\n") else pem + "\n"


def is_certificate(name: str) -> bool:
    """Certificates are public: they may be in a review bundle's place and need no 0600."""
    return name.startswith("tls_") and name.endswith("_cert")


def is_pem(name: str) -> bool:
    return name.startswith("tls_") and name.endswith(("_key", "_cert"))


def pem_weakness(name: str, value: str) -> str:
    """Why a PEM secret is not what its name says, without quoting it; '' when fine. Whether it
    verifies, covers its names and is unexpired is hagen check's to say (with openssl)."""
    kind = "CERTIFICATE" if is_certificate(name) else "PRIVATE KEY"
    lines = value.strip().splitlines()
    if not lines or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        return f"is not a PEM block (-----BEGIN {kind}-----)"
    if not lines[0].rstrip("-").endswith(kind):
        return f"is a PEM block, but not a {kind.lower()}"
    if kind == "CERTIFICATE" and sum(line.startswith("-----BEGIN ") for line in lines) != 1:
        return "must hold one certificate (the CA's is its own secret)"
    return ""


# --- making them (hagen secrets init) -----------------------------------------------------

def _openssl(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


def _new_key(cwd: Path, name: str) -> None:
    # ECDSA P-256: what every TLS client of the control plane speaks, and small.
    _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name], cwd)


def generate(topo: Topology, existing: dict[str, str] | None = None) -> dict[str, str]:
    """A CA and a certificate per TLS VIP, signed by it (PEM text by secret name). Keys are written
    only into a private temporary directory and read back; none is ever on a command line."""
    existing = existing or {}
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hagen-pki-") as tmp:
        cwd = Path(tmp)
        if CA_KEY_SECRET in existing and CA_CERT_SECRET in existing:
            (cwd / "ca.key").write_text(existing[CA_KEY_SECRET])
            (cwd / "ca.crt").write_text(existing[CA_CERT_SECRET])
        else:
            _new_key(cwd, "ca.key")
            _openssl(["req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", str(CA_DAYS),
                      "-subj", f"/O=hagen/CN={topo.name} CA", "-config", "/dev/null",
                      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"], cwd)
        out[CA_KEY_SECRET], out[CA_CERT_SECRET] = (cwd / "ca.key").read_text(), (cwd / "ca.crt").read_text()
        for cert in (*server_certificates(topo), *node_certificates(topo)):
            if cert.key_secret in existing and cert.cert_secret in existing:
                continue
            _new_key(cwd, "server.key")
            (cwd / "server.ext").write_text(
                "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth, clientAuth\nsubjectKeyIdentifier = hash\n"
                f"authorityKeyIdentifier = keyid\nsubjectAltName = {cert.subject_alt_names}\n")
            _openssl(["req", "-new", "-key", "server.key", "-out", "server.csr", "-subj",
                      f"/O=hagen/CN={cert.dns_names[0]}", "-config", "/dev/null"], cwd)
            _openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                      "-set_serial", str(_random.randbits(63) + 1), "-days", str(SERVER_DAYS),
                      "-extfile", "server.ext", "-out", "server.crt"], cwd)
            out[cert.key_secret], out[cert.cert_secret] = (cwd / "server.key").read_text(), \
                (cwd / "server.crt").read_text()
    return out
