"""The cluster-wide bootstrap sequence: Galera check, RabbitMQ joins, Keystone bootstrap."""

from __future__ import annotations

import dataclasses
import json

from ..catalog import KEYSTONE, RABBIT_USER, Registration, endpoint, endpoints, registrations, stack_domains
from ..model import Topology
from .base import BundleFile, render
from .rabbitmq import queue_policies

# Where setup.sh lays the cluster-wide scripts on the node that runs them.
NODE_LIB = "/usr/local/lib/hagen"


def steps(topo: Topology) -> list[tuple[str, str, str]]:
    """(script name, node to run it on, what it does), in the order to run them."""
    return [
        ("galera-ready.sh", topo.galera.nodes[0].name, "wait for Galera to form and check it"),
        ("rabbitmq-cluster.sh", topo.rabbitmq.nodes[0].name, "join RabbitMQ nodes, create the OpenStack user"),
        ("keystone-bootstrap.sh", topo.keystone.nodes[0].name,
         "db_sync, admin user, endpoints on the VIP" + (", the other services' users and endpoints"
                                                         if registrations(topo) else "")),
        *((service_script(ep.service.name), ep.nodes[0].name,
           f"{ep.service.name}'s schema: " + ", ".join(f"`{s.command.split(' --')[0]}`" for s in ep.service.host.db_sync)
           + "; then wait for it on its VIP")
          for ep in with_schema(topo)),
    ]


def with_schema(topo: Topology) -> list:
    """The catalog services (beside Keystone) whose schema a bootstrap script creates: Horizon has none."""
    return [ep for ep in endpoints(topo) if ep.service.host and ep.service.host.db_sync]


def service_script(name: str) -> str:
    return f"{name}-bootstrap.sh"


def registrations_json(topo: Topology) -> str:
    """What keystone-register.py reads: names, URLs and the variables holding passwords (no secret)."""
    return json.dumps([{**dataclasses.asdict(r), "interfaces": list(Registration.INTERFACES)}
                       for r in registrations(topo)], sort_keys=True)


def stack_domains_json(topo: Topology) -> str:
    """The stack-user domains keystone-register.py creates, with their admins (no secret)."""
    return json.dumps([dataclasses.asdict(d) for d in stack_domains(topo)], sort_keys=True)


def deploy_steps(topo: Topology) -> list[dict[str, str]]:
    """The cluster-wide steps after every node ran its setup.sh, in order: each cluster's pcs setup,
    then the bootstrap scripts. The bundle README tells them to people, topology.json to programs
    (hagen lab runs exactly these)."""
    out = [{"node": c.first.name, "run": f"{NODE_LIB}/cluster/{c.name}/pcs-setup.sh",
            "what": f"cluster {c.name}: host auth, setup, start, then `pcs-resources.sh` builds the CIB "
                    "offline and pushes it once"} for c in topo.clusters]
    out += [{"node": node, "run": f"{NODE_LIB}/bootstrap/{script}", "what": what}
            for script, node, what in steps(topo)]
    return out


def emit(topo: Topology) -> list[BundleFile]:
    g, r, k = topo.galera, topo.rabbitmq, topo.keystone
    services = [BundleFile(f"bootstrap/{service_script(ep.service.name)}",
                           render("bootstrap/service-bootstrap.sh.j2", service=ep.service, host=ep.service.host,
                                  first=ep.nodes[0], nodes=[n.name for n in ep.nodes],
                                  script=service_script(ep.service.name),
                                  health_url=ep.url.removesuffix(ep.service.endpoint_path) + ep.service.health_path),
                           0o755)
                for ep in with_schema(topo)]
    return [
        BundleFile("bootstrap/galera-ready.sh",
                   render("bootstrap/galera-ready.sh.j2", first=g.nodes[0], size=len(g.nodes)), 0o755),
        BundleFile("bootstrap/rabbitmq-cluster.sh",
                   render("bootstrap/rabbitmq-cluster.sh.j2", first=r.nodes[0], others=r.nodes[1:],
                          user=RABBIT_USER, policies=queue_policies(topo),
                          version=topo.target.rabbitmq_version), 0o755),
        BundleFile("bootstrap/keystone-bootstrap.sh",
                   render("bootstrap/keystone-bootstrap.sh.j2", first=k.nodes[0], url=endpoint(topo, KEYSTONE).url,
                          region=k.region, registrations=registrations(topo),
                          registrations_json=registrations_json(topo), stack_domains=stack_domains(topo),
                          stack_domains_json=stack_domains_json(topo)), 0o755),
        *services,
    ]
