"""Generated specs for the scaling benchmark: N nodes, the services spread the way a large
control plane would be (3 load balancers, 3 or 5 Galera nodes, 3 RabbitMQ nodes on their own
hosts, Keystone and Placement - the stateless API tier, the whole catalog - on all the others, with
memcached on 3 of them), three VIPs (Placement on Keystone's, its own port).

memcached_everywhere=True keeps the spec default instead (memcached on every Keystone node):
every keystone.conf then lists every cache server, so that bundle grows with the square of
the Keystone tier by its nature; the benchmark reports it on its own row."""

from __future__ import annotations

import ipaddress
import json


def spec_for(n: int, memcached_everywhere: bool = False) -> str:
    net = ipaddress.IPv4Network("10.0.0.0/16" if n > 200 else "10.0.0.0/24")
    names = [f"node{i}" for i in range(1, n + 1)]
    nodes = [{"name": name, "address": str(net.network_address + 10 + i),
              "fencing": {"address": str(ipaddress.IPv4Address("172.16.0.10") + i), "username": "admin",
                          "password_secret": f"ipmi_{i}"}} for i, name in enumerate(names)]
    if n < 12:  # small: the article's layout, everything on every node
        placement = {s: names for s in ("loadbalancer", "galera", "rabbitmq", "keystone")}
        if n % 2 == 0:
            placement["galera"] = names[:-1] if n > 2 else names[:1]
    else:
        galera = 5 if n >= 30 else 3
        placement = {"loadbalancer": names[:3], "galera": names[3:3 + galera],
                     "rabbitmq": names[3 + galera:6 + galera], "keystone": names[6 + galera:]}
    vips = [{"name": v, "address": str(net.broadcast_address - 1 - i), "hostname": v}
            for i, v in enumerate(("vip-db", "vip-keystone", "vip-rabbitmq"))]
    spec = {
        "version": 1,
        "cluster": {"name": "bench", "target": "debian13"},
        "networks": [{"name": "mgmt", "cidr": str(net)}],
        "nodes": nodes,
        "vips": vips,
        "services": {
            "loadbalancer": {"nodes": placement["loadbalancer"]},
            "galera": {"nodes": placement["galera"], "vip": "vip-db"},
            "rabbitmq": {"nodes": placement["rabbitmq"], "vip": "vip-rabbitmq"},
            "keystone": {"nodes": placement["keystone"], "vip": "vip-keystone"},
            # The whole catalog, on Keystone's nodes and VIP.
            "glance": {"store": {"type": "file", "shared": True}},
            "placement": {},
            "nova": {},
        },
    }
    if n >= 12 and not memcached_everywhere:
        spec["services"]["keystone"]["memcached_nodes"] = placement["keystone"][:3]
    return json.dumps(spec, indent=1)
