"""The catalog's API services other than Keystone: each one's config (its own template, with
the shared oslo sections), the uwsgi ini of those uwsgi serves, the Ceph client files of those
that store in Ceph, and the systemd unit that runs it (in place of the package's)."""

from __future__ import annotations

from .. import catalog
from ..catalog import ApiEndpoint, ApiService, Process, Uwsgi
from ..model import Node, Storage, Topology
from ..secrets import SecretValues
from .base import BundleFile, render


def keystone_auth(topo: Topology, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """[keystone_authtoken]: Keystone's VIP endpoint, and the service's own user."""
    user = ep.service.keystone_user
    return {"url": catalog.endpoint(topo, catalog.KEYSTONE).url.removesuffix(catalog.KEYSTONE.endpoint_path),
            "username": user.name, "password": secrets.get(user.password_secret), "region": topo.keystone.region,
            "memcache_servers": topo.memcached.servers()}


def ceph_files(service: str, user: str, storage: Storage, secrets: SecretValues) -> list[BundleFile]:
    """The Ceph client's view of the external cluster: its monitors, and the service's key (0600,
    readable by the service alone)."""
    conf = render("ceph/ceph.conf.j2", storage=storage, service=service)
    keyring = render("ceph/keyring.j2", storage=storage,
                     key=secrets.get(catalog.ceph_key_secret(service)))
    return [BundleFile("etc/ceph/ceph.conf", conf, 0o644),
            BundleFile(f"etc/ceph/ceph.client.{storage.user}.keyring", keyring, 0o600, owner=user, group=user)]


def service_files(topo: Topology, node: Node, ep: ApiEndpoint, secrets: SecretValues) -> list[BundleFile]:
    service, host = ep.service, ep.service.host
    placed = topo.api(service.name)
    config_name = service.config_file.rsplit("/", 1)[-1]
    conf = render(f"{service.name}/{config_name}.j2", node=node, release=catalog.RELEASE, port=ep.port,
                  ports=dict(placed.more_ports), vip=ep.vip,
                  # Each other frontend's page on the VIP (Nova's console URL for browsers).
                  frontend_urls={b.name: b.health_url for b in catalog.balanced(topo) if b.service is service}, workers=placed.workers, storage=placed.storage,
                  db_host=topo.galera.vip.hostname, auth=keystone_auth(topo, ep, secrets),
                  self_url=catalog.node_url(ep, node),
                  database_url=catalog.database_url(topo, service.database, secrets),
                  more_database_urls={db.name: catalog.database_url(topo, db, secrets)
                                      for db in service.more_databases},
                  transport_url=catalog.transport_url(topo, secrets), quorum=topo.rabbitmq.queue_mode == "quorum")
    files = [BundleFile(service.config_file, conf, 0o600, owner=host.system_user, group=host.system_user)]
    main = catalog.Process(host.unit, host.server, f"OpenStack {service.name} API ({service.service_type})")
    for process in (main, *host.processes):
        port = placed.port(process.frontend.port_key) if process.frontend else ep.port
        files += unit_files(service, node, process, port, placed.workers)
    if placed.storage and placed.storage.kind == "rbd":
        files += ceph_files(service.name, host.system_user, placed.storage, secrets)
    return files


def unit_files(service: ApiService, node: Node, process: Process, port: int, workers: int) -> list[BundleFile]:
    """One process's systemd unit, and the uwsgi ini it serves on when uwsgi serves it."""
    host, server, files = service.host, process.server, []
    if isinstance(server, Uwsgi):
        ini_name = server.ini.rsplit("/", 1)[-1]
        ini = render(f"{service.name}/{ini_name}.j2", node=node, port=port, workers=workers,
                     wsgi_script=server.wsgi_script, user=host.system_user, unit=process.unit)
        files.append(BundleFile(server.ini.lstrip("/"), ini, 0o644))
        exec_start, how = server.exec_start(), "under uwsgi, on hagen's ini"
    else:
        exec_start = server.exec_start(service.config_file)
        how = "on its own server, as its config says" if process.frontend or process.unit == host.unit else \
            "on the message bus, as its config says"
    unit = render("openstack/service.unit.j2", node=node, unit=process.unit, exec_start=exec_start,
                  user=host.system_user, how=how, description=process.description)
    files.append(BundleFile(f"etc/systemd/system/{process.unit}.service", unit, 0o644))
    return files


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    return [f for ep in catalog.hosted_on(topo, node) for f in service_files(topo, node, ep, secrets)]
