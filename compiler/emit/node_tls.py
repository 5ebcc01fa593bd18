"""A node's certificate and key as each of its TLS servers reads them: its own copy, owned by the
user it reads them as (pki.node_tls_readers), the key readable by that user alone."""

from __future__ import annotations

from .. import pki
from ..model import Node, Topology
from ..secrets import SecretValues
from .base import BundleFile


def files_for(topo: Topology, node: Node, service: str, secrets: SecretValues) -> list[BundleFile]:
    """The copy `service` reads on `node`; none when it serves no TLS there."""
    user = dict(pki.node_tls_readers(topo, node)).get(service)
    if user is None:
        return []
    cert = pki.node_certificate(topo, node)
    cert_path, key_path = pki.node_tls_files(service)
    return [BundleFile(cert_path.lstrip("/"), pki.as_file(secrets.get(cert.cert_secret)), 0o644, owner=user, group=user),
            BundleFile(key_path.lstrip("/"), pki.as_file(secrets.get(cert.key_secret)), 0o600, owner=user, group=user)]
