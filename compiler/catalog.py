"""The OpenStack services hagen deploys, as data, and the records every emitter reads.

A catalog entry says what an API service *is* (its Keystone service type, the path of its
endpoint and of its health check, its database and who owns it). The records below are derived
once from the Topology (where it runs, on which VIP and port, which hosts may reach its
database) and read by HAProxy, the seeded SQL, the service's own config, the bootstrap, the
bundle README and topology.json, so that none of them knows a service by name.

Keystone is the first entry; every later service is one more entry, its own config template and
its schema entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Node, Topology, Vip
from .quoting import url_quote
from .secrets import SecretValues
from .targets import DebconfAnswer

# HAProxy serves the endpoints over plain HTTP; TLS would change this one fact.
ENDPOINT_SCHEME = "http"
# The one RabbitMQ user every OpenStack service connects as (transport_url).
RABBIT_USER = "openstack"


@dataclass(frozen=True)
class ServiceDatabase:
    """A service's schema on Galera, and the user that owns it."""
    name: str
    user: str
    password_secret: str


@dataclass(frozen=True)
class ServiceUser:
    """A service's own Keystone user (auth_token validates tokens as it), in the 'service'
    project with the roles it needs."""
    name: str
    password_secret: str
    roles: tuple[str, ...] = ("admin", "service")


@dataclass(frozen=True)
class ServiceHost:
    """How a service runs on Debian 13: its packages (their debconf questions answered first),
    the packaged unit that serves it, and its system user (db sync runs as it)."""
    packages: tuple[str, ...]
    debconf: tuple[DebconfAnswer, ...]
    unit: str  # the packaged unit's name; hagen's unit of that name replaces it (uwsgi on uwsgi_ini)
    system_user: str
    db_sync: tuple[str, ...]  # commands that create or upgrade its schema; each safe to rerun
    uwsgi_ini: str  # path on the node (hagen writes it)
    wsgi_script: str


@dataclass(frozen=True)
class ApiService:
    """What an OpenStack API service is, whatever the topology."""
    name: str  # the spec's services.<name>, and the model's Topology field
    service_type: str  # its type in Keystone's catalog
    frontend: str  # HAProxy's frontend name; its backend is '<name>-nodes'
    description: str  # HAProxy's comment over the frontend
    endpoint_path: str  # appended to scheme://vip:port for the catalog's endpoints
    health_path: str  # answers 200 when this node can serve (oslo.middleware healthcheck)
    database: ServiceDatabase
    config_file: str  # its main oslo.config file, as a path inside a node's folder
    # The oslo.config namespaces the service registers: its release's own
    # config-generator/<name>.conf (the same list in Zed and 2025.1 for Keystone). What
    # oslo-config-validator needs to know every option the file may set.
    config_namespaces: tuple[str, ...]
    python_package: str  # Debian's package of its modules, whose entry points name the options
    # The section oslo.db reads its connection from ('database', or a service's own such as
    # placement_database).
    database_section: str = "database"
    # None for Keystone itself, which keystone-manage bootstrap registers.
    keystone_user: ServiceUser | None = None
    # None for Keystone, whose Apache site is laid by its own emitter and target fields.
    host: ServiceHost | None = None
    # Targets this entry compiles for: an option set is release-bound, and hagen emits only what
    # the target's own release knows (see catalog_targets_check in checks.py).
    targets: tuple[str, ...] = ("debian12", "debian13", "el9")


KEYSTONE = ApiService(
    name="keystone", service_type="identity", frontend="keystone-public",
    description="Keystone v3 public API, balanced in http mode with its /healthcheck",
    endpoint_path="/v3", health_path="/healthcheck",
    database=ServiceDatabase("keystone", "keystone", "keystone_db_password"),
    config_file="etc/keystone/keystone.conf",
    config_namespaces=("keystone", "oslo.cache", "oslo.log", "oslo.messaging", "oslo.policy", "oslo.db",
                       "oslo.middleware", "osprofiler"),
    python_package="python3-keystone",
)

# The release each service entry's options are written for (and judged by).
RELEASE = "2025.1"

# Placement 13 (2025.1) under uwsgi, as Debian packages it: its own uwsgi options
# (chunked input) are why Debian does not run it under Apache.
PLACEMENT = ApiService(
    name="placement", service_type="placement", frontend="placement-api",
    description="Placement API, balanced in http mode; its root answers unauthenticated once the app loaded",
    endpoint_path="", health_path="/",
    database=ServiceDatabase("placement", "placement", "placement_db_password"),
    config_file="etc/placement/placement.conf",
    # placement 13.0.0's etc/placement/config-generator.conf, plus oslo.policy (its [oslo_policy]).
    config_namespaces=("placement.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.middleware.cors",
                       "oslo.middleware.http_proxy_to_wsgi", "oslo.policy", "osprofiler"),
    python_package="python3-placement",
    database_section="placement_database",
    keystone_user=ServiceUser("placement", "placement_keystone_password"),
    host=ServiceHost(
        packages=("placement-api", "python3-pymysql", "python3-openstackclient"),
        debconf=(DebconfAnswer("placement-common", "placement/configure_db", "boolean", "false"),
                 DebconfAnswer("placement-common", "placement/configure_ksat", "boolean", "false"),
                 DebconfAnswer("placement-api", "placement/configure_api-endpoint", "boolean", "false")),
        unit="placement-api", system_user="placement",
        db_sync=("placement-manage db sync",),
        uwsgi_ini="/etc/placement/placement-api-uwsgi.ini", wsgi_script="/usr/bin/placement-api"),
    targets=("debian13",),
)

CATALOG: tuple[ApiService, ...] = (KEYSTONE, PLACEMENT)
# The services a spec may place or leave out (its services.<name> key), run beside Keystone by
# default: every entry but Keystone.
API_SERVICES: tuple[str, ...] = tuple(s.name for s in CATALOG if s is not KEYSTONE)


@dataclass(frozen=True)
class ApiEndpoint:
    """Where one service is served: its nodes behind HAProxy on a VIP and port."""
    service: ApiService
    nodes: tuple[Node, ...]
    vip: Vip
    port: int

    @property
    def url(self) -> str:
        """The URL registered in Keystone's catalog (public, internal and admin alike for now)."""
        return f"{ENDPOINT_SCHEME}://{self.vip.hostname}:{self.port}{self.service.endpoint_path}"


def endpoint(topo: Topology, service: ApiService) -> ApiEndpoint:
    placed = topo.keystone if service is KEYSTONE else topo.api(service.name)
    return ApiEndpoint(service, placed.nodes, placed.vip, placed.public_port)


def endpoints(topo: Topology) -> tuple[ApiEndpoint, ...]:
    """The catalog services this topology runs (Keystone always; the others when the spec
    places them)."""
    return tuple(endpoint(topo, s) for s in CATALOG if s is KEYSTONE or topo.api(s.name) is not None)


def hosted_on(topo: Topology, node: Node) -> tuple[ApiEndpoint, ...]:
    """The catalog services, other than Keystone, that run on this node."""
    # services_of is the topology's per-node lookup: `node in ep.nodes` scanned the whole API
    # tier for every node, several times each (quadratic at a thousand nodes).
    here = topo.services_of(node)
    return tuple(ep for ep in endpoints(topo) if ep.service.host and ep.service.name in here)


@dataclass(frozen=True)
class Registration:
    """What Keystone's catalog holds for one service: its service entry, its endpoints (public,
    internal, admin, all on the VIP) and its service user. keystone-register.py reads these."""
    name: str
    type: str
    url: str
    region: str
    user: str
    password_env: str  # the secrets.env variable holding the user's password on the Keystone node
    roles: tuple[str, ...]

    INTERFACES = ("public", "internal", "admin")


def registrations(topo: Topology) -> tuple[Registration, ...]:
    return tuple(Registration(ep.service.name, ep.service.service_type, ep.url, topo.keystone.region,
                              ep.service.keystone_user.name, ep.service.keystone_user.password_secret.upper(),
                              ep.service.keystone_user.roles)
                 for ep in endpoints(topo) if ep.service.keystone_user)


def registration_secrets(topo: Topology) -> list[str]:
    """The service users' passwords the Keystone bootstrap node needs to register them."""
    return [ep.service.keystone_user.password_secret for ep in endpoints(topo) if ep.service.keystone_user]


def database_client_hosts(topo: Topology) -> list[str]:
    """MariaDB host patterns for a service's user: HAProxy connects from the load balancers'
    own addresses, so allow their networks (netmask form)."""
    nets = sorted({n.network.cidr for n in topo.loadbalancer.nodes}, key=str)
    return [f"{net.network_address}/{net.netmask}" for net in nets]


def databases(topo: Topology) -> tuple[ServiceDatabase, ...]:
    """The databases of the services this topology runs."""
    return tuple(ep.service.database for ep in endpoints(topo))


def database_url(topo: Topology, db: ServiceDatabase, secrets: SecretValues) -> str:
    """oslo.db's [database] connection: through the DB VIP, never a node."""
    g = topo.galera
    password = url_quote(secrets.get(db.password_secret))
    return f"mysql+pymysql://{db.user}:{password}@{g.vip.hostname}:{g.port}/{db.name}"


def transport_url(topo: Topology, secrets: SecretValues) -> str:
    """oslo.messaging's transport_url: every RabbitMQ node (clients fail over between them, as
    oslo.messaging does) or the RabbitMQ VIP, as the spec says."""
    r = topo.rabbitmq
    password = url_quote(secrets.get("rabbitmq_password"))
    hosts = [r.vip.hostname] if r.clients == "vip" else [n.name for n in r.nodes]
    return "rabbit://" + ",".join(f"{RABBIT_USER}:{password}@{h}:{r.port}" for h in hosts) + "/"
