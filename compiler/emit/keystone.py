"""Keystone: keystone.conf, the Apache site, Fernet/credential keys, admin-openrc."""

from __future__ import annotations

from .. import catalog
from ..catalog import KEYSTONE
from ..model import Node, Topology
from ..secrets import SecretValues
from .base import BundleFile, render


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    k = topo.keystone
    if node not in k.nodes:
        return []
    target = topo.target
    conf = render("keystone/keystone.conf.j2", node=node, db_host=topo.galera.vip.hostname,
                  rabbit_via_vip=topo.rabbitmq.clients == "vip",
                  transport_url=catalog.transport_url(topo, secrets),
                  database_url=catalog.database_url(topo, KEYSTONE.database, secrets),
                  memcache_servers=topo.memcached.servers(),
                  quorum=topo.rabbitmq.queue_mode == "quorum")
    files = [
        BundleFile(KEYSTONE.config_file, conf, 0o600, owner="keystone", group="keystone"),
        BundleFile(target.keystone_site_path.lstrip("/"),
                   render("keystone/keystone-wsgi.conf.j2", node=node, port=k.public_port, workers=k.workers,
                          target=target), 0o644),
        BundleFile("root/admin-openrc",
                   render("keystone/admin-openrc.j2", vip=k.vip, auth_url=catalog.endpoint(topo, KEYSTONE).url,
                          password=secrets.get("keystone_admin_password"), region=k.region), 0o600),
    ]
    # The same keys on every node, from the secrets file: a token issued by one
    # node validates on all of them, with no copying step.
    for repo, prefix in (("fernet-keys", "keystone_fernet_key_"), ("credential-keys", "keystone_credential_key_")):
        for index in (0, 1):
            files.append(BundleFile(f"etc/keystone/{repo}/{index}", secrets.get(f"{prefix}{index}"), 0o600,
                                    owner="keystone", group="keystone"))
    return files
