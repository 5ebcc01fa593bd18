"""The catalog's API services other than Keystone: each one's config (its own template, with
the shared oslo sections), the uwsgi ini of those uwsgi serves, the Ceph client files of those
that store in Ceph, and the systemd unit that runs it (in place of the package's)."""

from __future__ import annotations

from .. import catalog, pki
from ..catalog import ApiEndpoint, ApiService, Process, Uwsgi
from ..model import ACTIVE_ACTIVE, Node, Storage, Topology
from ..secrets import SecretValues
from . import node_tls
from .base import BundleFile, render


def keystone_auth(topo: Topology, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """[keystone_authtoken]: Keystone's VIP endpoint, and the service's own user."""
    user = ep.service.keystone_user
    return {"url": catalog.endpoint(topo, catalog.KEYSTONE).url.removesuffix(catalog.KEYSTONE.endpoint_path),
            "username": user.name, "password": secrets.get(user.password_secret), "region": topo.keystone.region,
            "memcache_servers": topo.memcached.servers(),
            # The CA its HTTPS calls to other services' VIPs verify against (None without TLS).
            "cafile": pki.ca_file(topo)}


def ceph_files(service: str, user: str, storage: Storage, secrets: SecretValues) -> list[BundleFile]:
    """The service's Ceph key (0600, readable by the service alone)."""
    keyring = render("ceph/keyring.j2", storage=storage,
                     key=secrets.get(catalog.ceph_key_secret(service)))
    return [BundleFile(f"etc/ceph/ceph.client.{storage.user}.keyring", keyring, 0o600, owner=user, group=user)]


def ceph_conf(topo: Topology, node: Node) -> list[BundleFile]:
    """The Ceph clients' view of the external cluster on this node: its monitors. One file for
    every service here that stores in Ceph (checks.py refuses two clusters on one node)."""
    users = [(p.name, p.storage) for p in topo.apis
             if p.storage and p.storage.kind == "rbd" and p.name in topo.services_of(node)]
    if not users:
        return []
    conf = render("ceph/ceph.conf.j2", storage=users[0][1], services=[name for name, _ in users])
    return [BundleFile("etc/ceph/ceph.conf", conf, 0o644)]


def cinder_settings(topo: Topology, node: Node, ep: ApiEndpoint) -> dict:
    """Cinder's own: its backend's section name, how cinder-volume is highly available and what
    every node calls it, the etcd member its locks go to (active/active), the libvirt secret of
    the Ceph key (rbd), the file listing the NFS shares (nfs)."""
    placed = topo.api(ep.service.name)
    active_active = placed.volume_ha == ACTIVE_ACTIVE
    return {"backend": placed.storage.kind, "active_active": active_active,
            "volume_host": catalog.volume_host(topo),
            "coordination_url": catalog.coordination_url(node) if active_active else None,
            "rbd_secret_uuid": catalog.rbd_secret_uuid(placed.storage) if placed.storage.kind == "rbd" else None,
            "shares_file": "/" + CINDER_NFS_SHARES}


# The NFS driver's list of exports (nfs_shares_config): one server:/path per line.
CINDER_NFS_SHARES = "etc/cinder/nfs_shares"


def dashboard_settings(topo: Topology, node: Node, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """What Horizon's settings say: the names browsers reach it by (Django refuses any other
    Host) and this node's own address (an operator's or a probe's request to this node alone),
    Keystone's endpoint on its VIP, the shared cache that holds sessions, its SECRET_KEY."""
    (secret_key, _), = ep.service.own_secrets
    return {"allowed_hosts": sorted({ep.vip.hostname, ep.vip.name, ep.vip.address, node.address}),
            "keystone_url": catalog.endpoint(topo, catalog.KEYSTONE).url,
            "cache_servers": topo.memcached.servers(), "secret_key": secrets.get(secret_key),
            "cafile": pki.ca_file(topo), "https": ep.scheme == "https",
            "static_root": catalog.HORIZON_STATIC_ROOT}


def heat_settings(topo: Topology, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """Heat's own: its stack-user domain and admin, its encryption key, and the CloudFormation
    API's root on the VIP (where instances call back)."""
    domain, = catalog.stack_domains(topo)
    cfn_port = topo.api(ep.service.name).port("cfn_port")
    return {"domain": domain.domain, "admin": domain.admin,
            "admin_password": secrets.get(catalog.HEAT_DOMAIN_ADMIN_SECRET),
            "auth_encryption_key": secrets.get(catalog.HEAT_AUTH_ENCRYPTION_SECRET),
            "cfn_url": f"{ep.scheme}://{ep.vip.hostname}:{cfn_port}"}


def config_context(topo: Topology, node: Node, ep: ApiEndpoint, secrets: SecretValues) -> dict:
    """What a service's config template reads: where it runs, and what it connects to (its
    database, Keystone as its service user, the bus), for the services that have each."""
    service, placed = ep.service, topo.api(ep.service.name)
    context = dict(node=node, release=catalog.RELEASE, port=ep.port, ports=dict(placed.more_ports), vip=ep.vip,
                   # Each other frontend's page on the VIP (Nova's console URL for browsers).
                   frontend_urls={b.name: b.health_url for b in catalog.balanced(topo) if b.service is service},
                   workers=placed.workers, storage=placed.storage, self_url=catalog.node_url(topo, ep, node),
                   # The node's certificate, where its own servers serve HTTPS to HAProxy.
                   node_tls=pki.node_tls_paths(topo, node, service.name))
    if service.database:
        context.update(db_host=topo.galera.vip.hostname, database_section=service.database_section,
                       database_url=catalog.database_url(topo, service.database, secrets),
                       more_database_urls={db.name: catalog.database_url(topo, db, secrets)
                                           for db in service.more_databases})
    if service.keystone_user:
        context["auth"] = keystone_auth(topo, ep, secrets)
    if service.messaging or service.keystone_user:
        context.update(transport_url=catalog.transport_url(topo, secrets), quorum=topo.rabbitmq.queue_mode == "quorum",
                       rabbit_ssl_ca_file=pki.ca_file(topo))
    # What it says of its peers: Neutron notifies Nova when Nova runs; Nova's [neutron] section
    # (with the metadata secret it shares with the compute nodes' OVN metadata agents).
    context.update(ovn=topo.ovn, nova=topo.api("nova") is not None)
    if topo.api("neutron") is not None:
        context["neutron_metadata_secret"] = secrets.get(catalog.NEUTRON_METADATA_SECRET)
    if service is catalog.HEAT:
        context["heat"] = heat_settings(topo, ep, secrets)
    if service is catalog.CINDER:
        context["cinder"] = cinder_settings(topo, node, ep)
    if service.config_kind == "django":
        context["dashboard"] = dashboard_settings(topo, node, ep, secrets)
    return context


def service_files(topo: Topology, node: Node, ep: ApiEndpoint, secrets: SecretValues) -> list[BundleFile]:
    service, host = ep.service, ep.service.host
    placed = topo.api(service.name)
    config_name = service.config_file.rsplit("/", 1)[-1]
    conf = render(f"{service.name}/{config_name}.j2", **config_context(topo, node, ep, secrets))
    files = [BundleFile(service.config_file, conf, 0o600, owner=host.system_user, group=host.system_user)]
    main = catalog.Process(host.unit, host.server, f"OpenStack {service.name} "
                           + (f"API ({service.service_type})" if service.service_type else "dashboard"))
    for process in (main, *host.processes):
        port = placed.port(process.frontend.port_key) if process.frontend else ep.port
        files += unit_files(service, node, process, port, placed.workers,
                            pki.node_tls_paths(topo, node, service.name) if catalog.serves_tls(process.server)
                            else None)
    files += node_tls.files_for(topo, node, service.name, secrets)
    if placed.storage and placed.storage.kind == "rbd":
        files += ceph_files(service.name, host.system_user, placed.storage, secrets)
    if placed.storage and placed.storage.kind == "nfs":
        files.append(BundleFile(CINDER_NFS_SHARES, "".join(f"{share}\n" for share in placed.storage.shares), 0o644))
    return files


def unit_files(service: ApiService, node: Node, process: Process, port: int, workers: int,
               tls: tuple[str, str] | None) -> list[BundleFile]:
    """One process's systemd unit, and the uwsgi ini it serves on when uwsgi serves it (over
    HTTPS with tls's certificate and key, when given)."""
    host, server, files = service.host, process.server, []
    if isinstance(server, Uwsgi):
        ini_name = server.ini.rsplit("/", 1)[-1]
        ini = render(f"{service.name}/{ini_name}.j2", node=node, port=port, workers=workers,
                     wsgi_script=server.wsgi_script, user=host.system_user, unit=process.unit,
                     static_map=server.static_map, replaces_packaged_file=host.packaged_unit, tls=tls)
        files.append(BundleFile(server.ini.lstrip("/"), ini, 0o644))
        exec_start, how = server.exec_start(), "under uwsgi, on hagen's ini"
    else:
        exec_start = server.exec_start(service.config_file)
        how = "on its own server, as its config says" if process.frontend or process.unit == host.unit else \
            "with no listening port, as its config says"
    gate = catalog.await_database(service)  # the daemon runs through it once its schema exists
    unit = render("openstack/service.unit.j2", node=node, unit=process.unit,
                  exec_start=f"{gate} {exec_start}" if gate else exec_start, waits_for_database=gate is not None,
                  user=host.system_user, how=how, description=process.description, logs_directory=host.own_log_dir,
                  replaces_packaged_unit=host.packaged_unit,
                  # A port below 1024 (Horizon's 80) needs the capability; the user stays unprivileged.
                  bind_privileged_port=port < 1024 and (process.frontend is not None or process.unit == host.unit))
    files.append(BundleFile(f"etc/systemd/system/{process.unit}.service", unit, 0o644))
    return files


def await_database_gate(topo: Topology, node: Node) -> list[BundleFile]:
    """The gate every unit of a service with a database starts with, once per node that runs one."""
    if not any(catalog.await_database(ep.service) for ep in catalog.hosted_on(topo, node)):
        return []
    return [BundleFile(catalog.AWAIT_DATABASE.lstrip("/"), render("openstack/hagen-await-database.py"), 0o755)]


def emit(topo: Topology, node: Node, secrets: SecretValues) -> list[BundleFile]:
    return [f for ep in catalog.hosted_on(topo, node) for f in service_files(topo, node, ep, secrets)] + \
        ceph_conf(topo, node) + await_database_gate(topo, node)
