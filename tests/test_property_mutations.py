"""Each property must be able to fail: break one emitter at a time and watch the property that
guards it catch the break (generation only, no shrinking, so this stays quick)."""

import base64
import dataclasses
import re
import traceback

import pytest
from hypothesis import Phase, seed, settings

import test_properties as props
from compiler.emit import bootstrap, cloudinit, galera, haproxy, host, keystone, openstack, ovn, pacemaker, rabbitmq, review
from compiler.emit import base as emit_base
from compiler.emit.base import environment
from compiler import catalog, lower, model, monitoring, pki
from compiler.emit import monitoring as monitoring_emit

quick = settings(max_examples=30, phases=[Phase.generate], derandomize=True, deadline=None, database=None)


def vip_on_node_address(monkeypatch):
    original = haproxy.galera_frontend

    def broken(topo):
        fe = original(topo)
        return dataclasses.replace(fe, vip=dataclasses.replace(fe.vip, address=topo.galera.nodes[0].address))
    monkeypatch.setattr(haproxy, "galera_frontend", broken)


def every_galera_server_active(monkeypatch):
    original = haproxy.galera_frontend

    def broken(topo):
        fe = original(topo)
        return dataclasses.replace(fe, servers=tuple(dataclasses.replace(s, options="check") for s in fe.servers))
    monkeypatch.setattr(haproxy, "galera_frontend", broken)


def database_on_wrong_port(monkeypatch):
    original = catalog.database_url
    monkeypatch.setattr(catalog, "database_url", lambda topo, db, secrets: original(topo, db, secrets).replace(
        f":{topo.galera.port}/", f":{topo.galera.port + 1}/"))


def colocation_with_primitive(monkeypatch):
    monkeypatch.setattr(pacemaker, "HAPROXY_CLONE", "haproxy")


def trailing_newline_lost_in_transit(monkeypatch):
    monkeypatch.setattr(cloudinit, "_b64", lambda text: base64.b64encode(text.rstrip("\n").encode()).decode())


def double_quotes_in_shell(monkeypatch):
    monkeypatch.setitem(environment().filters, "shell", lambda value: f'"{value}"')


def spec_order_kept(monkeypatch):
    monkeypatch.setattr(lower, "natural_key", lambda name: 0)


def memcached_nodes_ignored(monkeypatch):
    original = keystone.emit

    def broken(topo, node, secrets):
        everywhere = dataclasses.replace(topo.memcached, nodes=topo.keystone.nodes)
        return original(dataclasses.replace(topo, memcached=everywhere), node, secrets)
    monkeypatch.setattr(keystone, "emit", broken)


def hosts_list_only_the_node_itself(monkeypatch):
    monkeypatch.setattr(host, "names_used_by", lambda topo, node: {node})


def endpoint_scheme_not_what_haproxy_forwards(monkeypatch):
    # HAProxy tells the services their clients spoke plain HTTP, while the endpoints say https.
    original = haproxy.api_frontend

    def broken(topo, b):
        fe = original(topo, b)
        return dataclasses.replace(fe, frontend_options=tuple(
            line.replace("X-Forwarded-Proto https", "X-Forwarded-Proto http") for line in fe.frontend_options))
    monkeypatch.setattr(haproxy, "api_frontend", broken)


def certificate_of_another_vip(monkeypatch):
    # Each API frontend presents the certificate of the VIP listed after its own.
    original = pki.certificate_for

    def broken(topo, vip):
        vips = pki.tls_vips(topo)
        return original(topo, vips[(vips.index(vip) + 1) % len(vips)]) if vip in vips else None
    monkeypatch.setattr(pki, "certificate_for", broken)


def placement_registered_over_http(monkeypatch):
    # One service's endpoint says http while its frontend ends TLS.
    original = catalog.endpoint

    def broken(topo, service):
        ep = original(topo, service)
        return dataclasses.replace(ep, scheme="http") if service is catalog.PLACEMENT else ep
    monkeypatch.setattr(catalog, "endpoint", broken)


def services_verify_without_the_ca(monkeypatch):
    original = openstack.keystone_auth
    monkeypatch.setattr(openstack, "keystone_auth", lambda topo, ep, secrets: {
        **original(topo, ep, secrets), "cafile": None})


def node_certificate_without_the_db_vip(monkeypatch):
    # Galera's certificate names the node alone: a client of the DB VIP would refuse it.
    original = pki.node_certificate

    def broken(topo, node):
        cert = original(topo, node)
        keep = {node.name, str(node.address)}
        return dataclasses.replace(cert, dns_names=tuple(d for d in cert.dns_names if d in keep),
                                   ip_addresses=tuple(a for a in cert.ip_addresses if a in keep))
    monkeypatch.setattr(pki, "node_certificate", broken)


def messaging_without_tls(monkeypatch):
    # oslo.messaging left on plain AMQP, which RabbitMQ no longer listens for.
    original = openstack.config_context
    monkeypatch.setattr(openstack, "config_context", lambda *args: {**original(*args), "rabbit_ssl_ca_file": None})


def database_users_without_required_tls(monkeypatch):
    # The service users may log in over plain TCP: a misconfigured client would send in clear.
    _edit_template(monkeypatch, galera, "galera/galera-users.sql.j2", lambda out, context: out.replace(" REQUIRE SSL;", ";"))


def backend_servers_not_verified(monkeypatch):
    # HAProxy encrypts to the API nodes but accepts any certificate: a man in the middle passes.
    monkeypatch.setattr(haproxy, "backend_tls", lambda topo, b: " ssl verify none" if b.backend_scheme == "https" else "")


def uwsgi_left_on_plain_http(monkeypatch):
    # The API nodes' uwsgi keeps serving plain HTTP while HAProxy speaks HTTPS to it.
    original = openstack.unit_files
    monkeypatch.setattr(openstack, "unit_files", lambda service, node, process, port, workers, tls:
                        original(service, node, process, port, workers, None))


def verifyhost_names_the_first_node(monkeypatch):
    # Every server line checks for the first node's name: the others' certificates never match.
    original = haproxy.api_frontend

    def broken(topo, b):
        fe = original(topo, b)
        first = fe.servers[0].name
        return dataclasses.replace(fe, servers=tuple(dataclasses.replace(
            s, options=re.sub(r"verifyhost \S+", f"verifyhost {first}", s.options)) for s in fe.servers))
    monkeypatch.setattr(haproxy, "api_frontend", broken)


def ca_left_out_of_the_trust_store(monkeypatch):
    def edit(out, context):
        return re.sub(r"^update-ca-(certificates|trust) >/dev/null\n", "", out, flags=re.M)
    _edit_template(monkeypatch, host, "host/setup.sh.j2", edit)


def _edit_template(monkeypatch, module, template, edit):
    """A one-line bug in a template: its rendered text passes through edit(text, context)."""
    original = module.render

    def broken(name, **context):
        out = original(name, **context)
        return edit(out, context) if name == template else out
    monkeypatch.setattr(module, "render", broken)


def _edit_pcs(monkeypatch, edit):
    """A bug in the pcs emitter: each command's arguments pass through edit(args, cluster)."""
    original = pacemaker.pcs_steps

    def broken(topo, cluster):
        return [dataclasses.replace(step, args=tuple(edit(list(step.args), cluster)))
                for step in original(topo, cluster)]
    monkeypatch.setattr(pacemaker, "pcs_steps", broken)


def clone_listed_by_its_primitive(monkeypatch):
    """pcs 0.11's one-step clone recorded as its primitive: a rerun would remove the primitive
    from inside the clone and leave the clone behind."""
    original = pacemaker.pcs_steps

    def broken(topo, cluster):
        return [dataclasses.replace(step, creates=step.creates.removesuffix("-clone")) for step in original(topo, cluster)]
    monkeypatch.setattr(pacemaker, "pcs_steps", broken)


def topology_json_lists_only_the_first_api_node(monkeypatch):
    monkeypatch.setattr(review, "endpoints", lambda topo: tuple(dataclasses.replace(ep, nodes=ep.nodes[:1])
                                                                for ep in catalog.endpoints(topo)))


# --- backend servers, per node

def last_keystone_server_on_the_wrong_port(monkeypatch):
    original = haproxy.api_frontend

    def broken(topo, ep):
        fe = original(topo, ep)
        servers = list(fe.servers)
        servers[-1] = dataclasses.replace(servers[-1], port=servers[-1].port + 1)
        return dataclasses.replace(fe, servers=tuple(servers))
    monkeypatch.setattr(haproxy, "api_frontend", broken)


def apache_listens_elsewhere_on_the_last_keystone_node(monkeypatch):
    original = keystone.emit

    def broken(topo, node, secrets):
        files = original(topo, node, secrets)
        if node != topo.keystone.nodes[-1]:
            return files
        return [dataclasses.replace(f, content=re.sub(r"^Listen (\S+):(\d+)", lambda m: f"Listen {m[1]}:{int(m[2]) + 1}",
                                                      f.content, flags=re.M)) if "wsgi" in f.path else f
                for f in files]
    monkeypatch.setattr(keystone, "emit", broken)


# --- the cluster's name

def rabbitmq_cluster_name_from_the_spec_not_the_cluster(monkeypatch):
    original = rabbitmq.emit

    def broken(topo, node, secrets):
        files = original(topo, node, secrets)
        return [dataclasses.replace(f, content=re.sub(r"^cluster_name = .*$", f"cluster_name = {topo.name}",
                                                      f.content, flags=re.M)) if f.path.endswith("rabbitmq.conf")
                else f for f in files]
    monkeypatch.setattr(rabbitmq, "emit", broken)


def wsrep_cluster_name_differs_on_one_node(monkeypatch):
    def edit(out, context):
        if context["node"] != context["galera"].nodes[-1]:
            return out
        return re.sub(r"^wsrep_cluster_name = (.*)$", r"wsrep_cluster_name = \1-x", out, flags=re.M)
    _edit_template(monkeypatch, galera, "galera/galera.cnf.j2", edit)


def pcs_setup_compares_node_names_only(monkeypatch):
    monkeypatch.setattr(model.PacemakerCluster, "membership",
                        property(lambda self: " ".join(sorted([self.name, *(n.name for n in self.nodes)]))))


# --- who may ask clustercheck

def clustercheck_allows_only_the_first_load_balancer(monkeypatch):
    monkeypatch.setattr(galera, "health_check_sources",
                        lambda topo: ["127.0.0.1", topo.loadbalancer.nodes[0].address])


# --- values derived from the network

def vip_netmask_assumes_a_24(monkeypatch):
    _edit_pcs(monkeypatch, lambda args, cluster: [re.sub(r"^cidr_netmask=\d+$", "cidr_netmask=24", a) for a in args])


def vip_nic_from_the_first_node_only(monkeypatch):
    original = pacemaker.pcs_steps

    def broken(topo, cluster):
        nic = topo.loadbalancer.nodes[0].interface
        out = []
        for step in original(topo, cluster):
            args = list(step.args)
            if args[:2] == ["resource", "create"] and "ocf:heartbeat:IPaddr2" in args and nic \
                    and not any(a.startswith("nic=") for a in args):
                args.insert(args.index("op"), f"nic={nic}")
            out.append(dataclasses.replace(step, args=tuple(args)))
        return out
    monkeypatch.setattr(pacemaker, "pcs_steps", broken)


# --- fencing topology

def fence_device_aimed_at_the_next_node(monkeypatch):
    def edit(args, cluster):
        names = [n.name for n in cluster.nodes]
        return [f"pcmk_host_list={names[(names.index(a.split('=', 1)[1]) + 1) % len(names)]}"
                if a.startswith("pcmk_host_list=") else a for a in args]
    _edit_pcs(monkeypatch, edit)


def fence_device_avoids_the_wrong_node(monkeypatch):
    def edit(args, cluster):
        if args[:3] == ["constraint", "location", "add"] and args[5].startswith("fence-"):
            names = [n.name for n in cluster.nodes]
            args[6] = names[(names.index(args[6]) + 1) % len(names)]
        return args
    _edit_pcs(monkeypatch, edit)


def fence_device_dials_another_bmc(monkeypatch):
    def edit(args, cluster):
        if args[:2] == ["stonith", "create"]:
            bmcs = [n.fencing.address for n in cluster.nodes]
            return [f"ip={bmcs[(bmcs.index(a[3:]) + 1) % len(bmcs)]}" if a.startswith("ip=") else a for a in args]
        return args
    _edit_pcs(monkeypatch, edit)


# --- secret files on every delivery path

def user_data_writes_everything_0644(monkeypatch):
    _edit_template(monkeypatch, cloudinit, "cloudinit/user-data.j2",
                   lambda out, context: out.replace("permissions: '0600'", "permissions: '0644'"))


def setup_installs_secrets_world_readable(monkeypatch):
    _edit_template(monkeypatch, host, "host/setup.sh.j2",
                   lambda out, context: out.replace("install_file 0600 ", "install_file 0644 "))


# --- spec settings

def defaults_section_keeps_the_default_maxconn(monkeypatch):
    _edit_template(monkeypatch, haproxy, "haproxy/haproxy.cfg.j2",
                   lambda out, context: re.sub(r"(defaults\n(?:.*\n)*?\s+maxconn )\d+", r"\g<1>10000", out))


def openrc_region_left_at_regionone(monkeypatch):
    _edit_template(monkeypatch, keystone, "keystone/admin-openrc.j2",
                   lambda out, context: re.sub(r"OS_REGION_NAME=.*", "OS_REGION_NAME=RegionOne", out))


# --- the catalog's services beyond Keystone

def heat_callbacks_on_the_orchestration_port(monkeypatch):
    original = openstack.heat_settings

    def broken(topo, ep, secrets):
        found = original(topo, ep, secrets)
        return {**found, "cfn_url": found["cfn_url"].rsplit(":", 1)[0] + f":{ep.port}"}
    monkeypatch.setattr(openstack, "heat_settings", broken)


def cinder_volume_named_after_each_node(monkeypatch):
    # Each node's cinder-volume under its own name: a volume created through one node is no
    # longer manageable once another runs the service.
    original = openstack.cinder_settings
    monkeypatch.setattr(openstack, "cinder_settings", lambda topo, node, ep: {
        **original(topo, node, ep), "volume_host": node.name})


def cinder_locks_on_the_first_member(monkeypatch):
    # Every node's locks sent to the first etcd member: its loss takes every node's locks with it.
    original = openstack.cinder_settings

    def broken(topo, node, ep):
        found = original(topo, node, ep)
        return {**found, "coordination_url": found["coordination_url"] and catalog.coordination_url(ep.nodes[0])}
    monkeypatch.setattr(openstack, "cinder_settings", broken)


def active_passive_volume_left_to_systemd(monkeypatch):
    # cinder-volume on an NFS backend started by systemd on every node, no Pacemaker resource.
    monkeypatch.setattr(catalog, "failover_processes", lambda topo: ())


def registered_endpoint_on_the_wrong_port(monkeypatch):
    original = catalog.registrations
    monkeypatch.setattr(bootstrap, "registrations", lambda topo: tuple(
        dataclasses.replace(r, url=re.sub(r":(\d+)", lambda m: f":{int(m[1]) + 1}", r.url, count=1))
        for r in original(topo)))


def auth_token_user_not_the_registered_one(monkeypatch):
    original = openstack.keystone_auth
    monkeypatch.setattr(openstack, "keystone_auth",
                        lambda topo, ep, secrets: {**original(topo, ep, secrets), "username": "nova"})


def service_database_password_from_keystone(monkeypatch):
    original = catalog.database_url

    def broken(topo, db, secrets):
        if db.name == "placement":
            db = dataclasses.replace(db, password_secret="keystone_db_password")
        return original(topo, db, secrets)
    monkeypatch.setattr(catalog, "database_url", broken)


def uwsgi_listens_on_keystones_port(monkeypatch):
    original = openstack.service_files
    monkeypatch.setattr(openstack, "service_files", lambda topo, node, ep, secrets: original(
        topo, node, dataclasses.replace(ep, port=topo.keystone.public_port), secrets))


def auth_token_cache_on_every_service_node(monkeypatch):
    original = openstack.keystone_auth
    monkeypatch.setattr(openstack, "keystone_auth", lambda topo, ep, secrets: {
        **original(topo, ep, secrets), "memcache_servers": [f"{n.address}:11211" for n in ep.nodes]})


def glance_names_the_vip_as_itself(monkeypatch):
    monkeypatch.setattr(catalog, "node_url", lambda topo, ep, node: ep.url)


def setup_forgets_the_shared_store_mount(monkeypatch):
    monkeypatch.setattr(catalog, "shared_mounts", lambda topo, node: [])


def keyring_for_the_admin_client(monkeypatch):
    # Glance's alone: were Cinder's key renamed too, a node running both would write one file twice,
    # and the build's own invariant (not the property) would stop it.
    original = openstack.ceph_files
    monkeypatch.setattr(openstack, "ceph_files", lambda service, user, storage, secrets: original(
        service, user, dataclasses.replace(storage, user="admin") if service == "glance" else storage, secrets))


def cell0_not_seeded(monkeypatch):
    # The seeded SQL forgets one of a service's more databases: map_cell0 then fails on the first deploy.
    original = galera.databases
    monkeypatch.setattr(galera, "databases", lambda topo: tuple(db for db in original(topo) if db.name != "nova_cell0"))


def console_url_on_the_metadata_port(monkeypatch):
    def edit(out, context):
        return out.replace(f":{context['ports']['novncproxy_port']}/", f":{context['ports']['metadata_port']}/")
    _edit_template(monkeypatch, openstack, "nova/nova.conf.j2", edit)


def nova_reports_to_placement_as_placement(monkeypatch):
    def edit(out, context):
        head, _, tail = out.partition("[placement]\n")
        return head + "[placement]\n" + tail.replace("username = nova\n", "username = placement\n", 1)
    _edit_template(monkeypatch, openstack, "nova/nova.conf.j2", edit)


_QUICK: dict = {}


def _quick(prop):
    """hypothesis refuses to apply settings to a property twice; some guard two mutations."""
    if prop not in _QUICK:
        _QUICK[prop] = quick(prop)
    return _QUICK[prop]


def horizon_sessions_on_localhost(monkeypatch):
    # Horizon's packaged default: each node's own memcached, so a session lives on one node.
    original = openstack.dashboard_settings

    def broken(topo, node, ep, secrets):
        return {**original(topo, node, ep, secrets), "cache_servers": ["127.0.0.1:11211"]}
    monkeypatch.setattr(openstack, "dashboard_settings", broken)


def horizon_health_check_names_the_node(monkeypatch):
    # HAProxy's check asks for a host Django does not serve: every node answers 400, none is up.
    original = catalog.balanced

    def broken(topo):
        return tuple(dataclasses.replace(b, check_host=b.nodes[0].name) if b.check_host else b
                     for b in original(topo))
    monkeypatch.setattr(haproxy, "balanced", broken)


def ovn_joiner_joins_itself(monkeypatch):
    # Each joiner names its own RAFT address as the cluster to join: it never reaches the founder
    # and, with no database file yet, waits forever (or a wiped member makes a cluster of one).
    original = ovn.central_options

    def broken(cluster, node):
        return [o.replace(f"-cluster-remote-addr={cluster.founder.address}", f"-cluster-remote-addr={node.address}")
                for o in original(cluster, node)]
    monkeypatch.setattr(ovn, "central_options", broken)


def neutron_lists_only_the_first_northbound_member(monkeypatch):
    # Neutron then loses the Northbound whenever that one member is down.
    def edit(out, context):
        nb = context["ovn"].connection(context["ovn"].NB_PORT)
        return out.replace(f"ovn_nb_connection = {nb}", f"ovn_nb_connection = {nb.split(',')[0]}")
    _edit_template(monkeypatch, openstack, "neutron/neutron.conf.j2", edit)


def gateway_tunnels_from_the_founder(monkeypatch):
    original = ovn.gateway_settings

    def broken(cluster, node):
        return [(k, cluster.founder.address if k == "ovn-encap-ip" else v) for k, v in original(cluster, node)]
    monkeypatch.setattr(ovn, "gateway_settings", broken)


def database_reads_given_up_before_lock_waits(monkeypatch):
    # An environment of its own: an imported template (oslo/common.j2) keeps the globals it was
    # first imported with, so changing the cached environment's globals would change nothing.
    env = environment().overlay()
    env.globals = {**env.globals, "database_read_timeout_s": 30}
    monkeypatch.setattr(emit_base, "environment", lambda: env)


def token_validations_outlast_haproxy(monkeypatch):
    env = environment().overlay()
    env.globals = {**env.globals, "keystone_request_timeout_s": 30}
    monkeypatch.setattr(emit_base, "environment", lambda: env)


def neutron_api_workers_left_to_the_cpu_count(monkeypatch):
    _edit_template(monkeypatch, openstack, "neutron/neutron.conf.j2",
                   lambda out, context: re.sub(r"^api_workers = \d+\n", "", out, flags=re.M))


# --- monitoring

def scrape_target_on_another_port(monkeypatch):
    _edit_template(monkeypatch, monitoring_emit, "monitoring/prometheus.yml.j2",
                   lambda out, context: out.replace(f":{monitoring.MYSQLD.port}'", f":{monitoring.MYSQLD.port + 1}'"))


def exporter_open_to_everyone(monkeypatch):
    _edit_template(monkeypatch, monitoring_emit, "monitoring/scrapers.conf.j2",
                   lambda out, context: out.replace("IPAddressAllow=localhost", "IPAddressAllow=any localhost"))


def haproxy_metrics_open_to_everyone(monkeypatch):
    original = haproxy.metrics_frontend

    def broken(topo, node):
        found = original(topo, node)
        return found and {**found, "allowed": ["0.0.0.0/0"]}
    monkeypatch.setattr(haproxy, "metrics_frontend", broken)


def mysqld_exporter_on_every_node(monkeypatch):
    original = monitoring.exporters_on

    def broken(topo, node):
        found = original(topo, node)
        return found + [monitoring.MYSQLD] if found and monitoring.MYSQLD not in found else found
    monkeypatch.setattr(monitoring, "exporters_on", broken)


def _edit_alerts(monkeypatch, edit):
    original = monitoring.alerts
    monkeypatch.setattr(monitoring, "alerts", lambda topo: edit(original(topo), topo))


def vip_alert_for_the_first_vip_only(monkeypatch):
    _edit_alerts(monkeypatch, lambda found, topo: [a for a in found if a.name != "HagenVipNotHeld"]
                 + [a for a in found if a.name == "HagenVipNotHeld"][:1])


def galera_alert_counts_one_node_less(monkeypatch):
    size = "mysql_global_status_wsrep_cluster_size < "
    _edit_alerts(monkeypatch, lambda found, topo: [
        dataclasses.replace(a, expr=f"{size}{len(topo.galera.nodes) - 1}") if a.expr.startswith(size) else a
        for a in found])


def alert_never_tested_quiet(monkeypatch):
    original = monitoring_emit.rule_tests

    def broken(topo):
        tests = original(topo)
        first = tests[0]["alert_rule_test"][0]["alertname"]
        return [t for t in tests if t["alert_rule_test"][0]["exp_alerts"]
                or t["alert_rule_test"][0]["alertname"] != first]
    monkeypatch.setattr(monitoring_emit, "rule_tests", broken)


def units_wait_on_the_api_database(monkeypatch):
    # Nova's units would wait for nova_api (api_database), which exists before its main schema.
    original = catalog.await_database
    monkeypatch.setattr(catalog, "await_database", lambda service: original(service).replace(
        " database", " api_database") if service is catalog.NOVA else original(service))


def commits_flushed_once_a_second(monkeypatch):
    _edit_template(monkeypatch, galera, "galera/galera.cnf.j2",
                   lambda out, context: out.replace("innodb_flush_log_at_trx_commit = 1", "innodb_flush_log_at_trx_commit = 2"))


MUTATIONS = [
    (commits_flushed_once_a_second, props.test_every_database_client_bounds_its_reads_and_every_commit_is_flushed),
    (units_wait_on_the_api_database,
     props.test_catalog_services_reach_their_database_keystone_and_vip_consistently),
    (scrape_target_on_another_port,
     props.test_every_scrape_target_is_an_exporter_of_that_node_open_to_the_scrapers_only),
    (exporter_open_to_everyone, props.test_every_scrape_target_is_an_exporter_of_that_node_open_to_the_scrapers_only),
    (haproxy_metrics_open_to_everyone,
     props.test_every_scrape_target_is_an_exporter_of_that_node_open_to_the_scrapers_only),
    (mysqld_exporter_on_every_node,
     props.test_every_scrape_target_is_an_exporter_of_that_node_open_to_the_scrapers_only),
    (vip_alert_for_the_first_vip_only, props.test_alerts_watch_what_the_spec_places_and_each_is_unit_tested),
    (galera_alert_counts_one_node_less, props.test_alerts_watch_what_the_spec_places_and_each_is_unit_tested),
    (alert_never_tested_quiet, props.test_alerts_watch_what_the_spec_places_and_each_is_unit_tested),
    (cinder_volume_named_after_each_node,
     props.test_cinder_volume_runs_as_its_backend_allows_with_one_name_on_every_node),
    (cinder_locks_on_the_first_member,
     props.test_cinder_volume_runs_as_its_backend_allows_with_one_name_on_every_node),
    (active_passive_volume_left_to_systemd,
     props.test_cinder_volume_runs_as_its_backend_allows_with_one_name_on_every_node),
    (database_reads_given_up_before_lock_waits,
     props.test_every_database_client_bounds_its_reads_and_every_commit_is_flushed),
    (token_validations_outlast_haproxy,
     props.test_api_requests_give_up_on_a_silent_keystone_and_neutron_caches_its_hash_ring),
    (neutron_api_workers_left_to_the_cpu_count,
     props.test_api_requests_give_up_on_a_silent_keystone_and_neutron_caches_its_hash_ring),
    (heat_callbacks_on_the_orchestration_port,
     props.test_heat_engines_apis_and_callbacks_agree_with_haproxy_and_keystone),
    (vip_on_node_address, props.test_every_bind_is_a_pacemaker_vip_and_every_vip_is_bound),
    (every_galera_server_active, props.test_galera_backend_clustercheck_and_wsrep_agree),
    (database_on_wrong_port, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (colocation_with_primitive, props.test_vips_follow_haproxy_and_each_node_is_in_one_cluster),
    (clone_listed_by_its_primitive, props.test_a_rerun_of_pcs_resources_knows_everything_it_made),
    (trailing_newline_lost_in_transit, props.test_user_data_and_the_installer_hook_carry_the_bundle_files),
    (double_quotes_in_shell, props.test_secret_values_round_trip_through_bash_and_never_leak_into_review),
    (spec_order_kept, props.test_order_of_the_spec_does_not_matter),
    (memcached_nodes_ignored, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (hosts_list_only_the_node_itself, props.test_vips_follow_haproxy_and_each_node_is_in_one_cluster),
    (endpoint_scheme_not_what_haproxy_forwards, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (topology_json_lists_only_the_first_api_node, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (last_keystone_server_on_the_wrong_port, props.test_every_backend_server_is_a_node_listening_on_that_port),
    (apache_listens_elsewhere_on_the_last_keystone_node, props.test_every_backend_server_is_a_node_listening_on_that_port),
    (rabbitmq_cluster_name_from_the_spec_not_the_cluster, props.test_every_consumer_sees_the_same_cluster_name),
    (wsrep_cluster_name_differs_on_one_node, props.test_every_consumer_sees_the_same_cluster_name),
    (pcs_setup_compares_node_names_only, props.test_every_consumer_sees_the_same_cluster_name),
    (clustercheck_allows_only_the_first_load_balancer,
     props.test_clustercheck_answers_exactly_the_load_balancers_that_check_it),
    (vip_netmask_assumes_a_24, props.test_vip_netmask_and_nic_come_from_its_network_and_the_load_balancers),
    (vip_nic_from_the_first_node_only, props.test_vip_netmask_and_nic_come_from_its_network_and_the_load_balancers),
    (fence_device_aimed_at_the_next_node, props.test_each_fence_device_targets_its_own_node_its_bmc_and_runs_elsewhere),
    (fence_device_avoids_the_wrong_node, props.test_each_fence_device_targets_its_own_node_its_bmc_and_runs_elsewhere),
    (fence_device_dials_another_bmc, props.test_each_fence_device_targets_its_own_node_its_bmc_and_runs_elsewhere),
    (user_data_writes_everything_0644, props.test_secret_files_stay_private_on_every_delivery_path),
    (setup_installs_secrets_world_readable, props.test_secret_files_stay_private_on_every_delivery_path),
    (defaults_section_keeps_the_default_maxconn, props.test_spec_settings_reach_the_files_that_use_them),
    (openrc_region_left_at_regionone, props.test_spec_settings_reach_the_files_that_use_them),
    (registered_endpoint_on_the_wrong_port,
     props.test_catalog_services_reach_their_database_keystone_and_vip_consistently),
    (auth_token_user_not_the_registered_one,
     props.test_catalog_services_reach_their_database_keystone_and_vip_consistently),
    (service_database_password_from_keystone,
     props.test_catalog_services_reach_their_database_keystone_and_vip_consistently),
    (auth_token_cache_on_every_service_node,
     props.test_catalog_services_reach_their_database_keystone_and_vip_consistently),
    (uwsgi_listens_on_keystones_port, props.test_no_two_listeners_on_a_node_share_a_port),
    (glance_names_the_vip_as_itself, props.test_glance_nodes_name_themselves_and_share_one_store),
    (setup_forgets_the_shared_store_mount, props.test_glance_nodes_name_themselves_and_share_one_store),
    (keyring_for_the_admin_client, props.test_glance_nodes_name_themselves_and_share_one_store),
    (cell0_not_seeded, props.test_nova_nodes_share_the_bus_the_cells_and_the_console_proxy),
    (console_url_on_the_metadata_port, props.test_nova_nodes_share_the_bus_the_cells_and_the_console_proxy),
    (nova_reports_to_placement_as_placement, props.test_nova_nodes_share_the_bus_the_cells_and_the_console_proxy),
    (horizon_sessions_on_localhost, props.test_horizon_nodes_share_sessions_and_answer_for_their_vip),
    (horizon_health_check_names_the_node, props.test_horizon_nodes_share_sessions_and_answer_for_their_vip),
    (ovn_joiner_joins_itself, props.test_ovn_members_form_one_raft_cluster_that_every_client_lists),
    (neutron_lists_only_the_first_northbound_member, props.test_ovn_members_form_one_raft_cluster_that_every_client_lists),
    (gateway_tunnels_from_the_founder, props.test_ovn_members_form_one_raft_cluster_that_every_client_lists),
    (certificate_of_another_vip, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (placement_registered_over_http, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (services_verify_without_the_ca, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (database_users_without_required_tls, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (backend_servers_not_verified, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (uwsgi_left_on_plain_http, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (verifyhost_names_the_first_node, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (ca_left_out_of_the_trust_store, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (node_certificate_without_the_db_vip, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
    (messaging_without_tls, props.test_every_https_url_is_served_with_a_certificate_naming_its_host),
]


# A bug that only some topologies show (an rbd store, memcached on a subset) must be caught by one
# of a few seeded runs of 30 examples: one derandomized run missed two such bugs in CI's whole
# suite while catching them when run alone (the cause is not understood), so a single run of a
# rare case is luck either way.
SEEDS = (1, 2, 3, 4)


def _caught(run):
    for attempt in SEEDS:
        seed(attempt)(run)
        try:
            run()
        except AssertionError as err:
            return err
    return None


@pytest.mark.parametrize("mutate,prop", MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_property_catches_broken_emitter(mutate, prop, monkeypatch):
    run = _quick(prop)
    seed(SEEDS[0])(run)
    run()  # passes on the real emitters
    monkeypatch.setattr(props, "build", props.compile_spec)  # no bundle compiled before the break
    mutate(monkeypatch)
    # The property's own assertion must fire: not a crash, and not the build refusing the spec.
    caught = _caught(run)
    assert caught is not None, f"{prop.__name__} passed {len(SEEDS)} runs of 30 examples with {mutate.__name__}"
    ours = [frame for frame in traceback.extract_tb(caught.__traceback__) if frame.filename.endswith("test_properties.py")]
    assert ours and ours[-1].name != "build", f"{mutate.__name__} broke the build, not {prop.__name__}"
    assert prop.__name__ in {frame.name for frame in ours}, f"failed outside {prop.__name__}"
