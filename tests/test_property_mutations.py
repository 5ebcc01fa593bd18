"""Each property must be able to fail: break one emitter at a time and watch the property that
guards it catch the break (generation only, no shrinking, so this stays quick)."""

import base64
import dataclasses

import pytest
from hypothesis import Phase, settings

import test_properties as props
from compiler.emit import cloudinit, haproxy, host, keystone, pacemaker
from compiler.emit.base import environment
from compiler import lower

quick = settings(max_examples=30, phases=[Phase.generate], derandomize=True, deadline=None)


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
    original = keystone.database_url
    monkeypatch.setattr(keystone, "database_url",
                        lambda topo, secrets: original(topo, secrets).replace(f":{topo.galera.port}/", f":{topo.galera.port + 1}/"))


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
        everywhere = dataclasses.replace(topo.keystone, memcached_nodes=topo.keystone.nodes)
        return original(dataclasses.replace(topo, keystone=everywhere), node, secrets)
    monkeypatch.setattr(keystone, "emit", broken)


def hosts_list_only_the_node_itself(monkeypatch):
    monkeypatch.setattr(host, "names_used_by", lambda topo, node: {node})


def endpoint_scheme_not_what_haproxy_forwards(monkeypatch):
    # haproxy.py read the scheme at import; the endpoints now say https while HAProxy says http.
    monkeypatch.setattr(keystone, "PUBLIC_SCHEME", "https")


_QUICK: dict = {}


def _quick(prop):
    """hypothesis refuses to apply settings to a property twice; some guard two mutations."""
    if prop not in _QUICK:
        _QUICK[prop] = quick(prop)
    return _QUICK[prop]


MUTATIONS = [
    (vip_on_node_address, props.test_every_bind_is_a_pacemaker_vip_and_every_vip_is_bound),
    (every_galera_server_active, props.test_galera_backend_clustercheck_and_wsrep_agree),
    (database_on_wrong_port, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (colocation_with_primitive, props.test_vips_follow_haproxy_and_each_node_is_in_one_cluster),
    (trailing_newline_lost_in_transit, props.test_user_data_and_the_installer_hook_carry_the_bundle_files),
    (double_quotes_in_shell, props.test_secret_values_round_trip_through_bash_and_never_leak_into_review),
    (spec_order_kept, props.test_order_of_the_spec_does_not_matter),
    (memcached_nodes_ignored, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
    (hosts_list_only_the_node_itself, props.test_vips_follow_haproxy_and_each_node_is_in_one_cluster),
    (endpoint_scheme_not_what_haproxy_forwards, props.test_keystone_reaches_db_rabbit_and_its_own_vip_consistently),
]


@pytest.mark.parametrize("mutate,prop", MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_property_catches_broken_emitter(mutate, prop, monkeypatch):
    run = _quick(prop)
    run()  # passes on the real emitters
    mutate(monkeypatch)
    # The property's own assertion must fire, not a crash somewhere in the build.
    with pytest.raises(AssertionError):
        run()
