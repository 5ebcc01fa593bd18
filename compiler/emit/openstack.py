"""The catalog's API services other than Keystone: each one's config (its own template, with
the shared oslo sections), its uwsgi ini, and the systemd unit that runs it (in place of the
package's)."""

from __future__ import annotations

from .. import catalog
from ..catalog import ApiEndpoint
from ..model import Node, Topology
from ..secrets import SecretValues
from .base import BundleFile, render


def keystone_auth(topo: Topology, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """[keystone_authtoken]: Keystone's VIP endpoint, and the service's own user."""
    user = ep.service.keystone_user
    return {"url": catalog.endpoint(topo, catalog.KEYSTONE).url.removesuffix(catalog.KEYSTONE.endpoint_path),
            "username": user.name, "password": secrets.get(user.password_secret), "region": topo.keystone.region,
            "memcache_servers": topo.memcached.servers()}


def service_files(topo: Topology, node: Node, ep: ApiEndpoint, secrets: SecretValues) -> list[BundleFile]:
    service, host = ep.service, ep.service.host
    placed = topo.api(service.name)
    config_name = service.config_file.rsplit("/", 1)[-1]
    conf = render(f"{service.name}/{config_name}.j2", node=node, release=catalog.RELEASE,
                  db_host=topo.galera.vip.hostname, auth=keystone_auth(topo, ep, secrets),
                  database_url=catalog.database_url(topo, service.database, secrets))
    ini_name = host.uwsgi_ini.rsplit("/", 1)[-1]
    ini = render(f"{service.name}/{ini_name}.j2", node=node, port=ep.port, workers=placed.workers,
                 wsgi_script=host.wsgi_script, user=host.system_user, unit=host.unit)
    unit = render("openstack/uwsgi.service.j2", node=node, unit=host.unit, ini=host.uwsgi_ini, user=host.system_user,
                  description=f"OpenStack {service.name} API ({service.service_type}) under uwsgi")
    return [
        BundleFile(service.config_file, conf, 0o600, owner=host.system_user, group=host.system_user),
        BundleFile(host.uwsgi_ini.lstrip("/"), ini, 0o644),
        BundleFile(f"etc/systemd/system/{host.unit}.service", unit, 0o644),
    ]


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    return [f for ep in catalog.hosted_on(topo, node) for f in service_files(topo, node, ep, secrets)]
