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

import uuid
from dataclasses import dataclass

from .model import ACTIVE_ACTIVE, ACTIVE_PASSIVE, Node, Storage, Topology, Vip
from . import pki
from .quoting import url_quote
from .secrets import SecretValues
from .targets import DebconfAnswer



def endpoint_scheme(topo: Topology) -> str:
    """What clients speak to a VIP's API frontend: HTTPS (HAProxy terminates TLS) unless the spec
    waives TLS. HAProxy reaches each node's own server over HTTPS too where that server can serve
    it (backend_scheme)."""
    return "https" if topo.tls else "http"


def serves_tls(server: Uwsgi | OwnServer | None) -> bool:
    """Whether a service's server can serve HTTPS itself: uwsgi can (https-socket), Apache can
    (Keystone's, None here: it is not a catalog host's server), an own server when it says so."""
    return server is None or isinstance(server, Uwsgi) or server.serves_tls


def backend_scheme(topo: Topology, server: Uwsgi | OwnServer | None) -> str:
    """What HAProxy speaks to a node's own server: HTTPS, verifying the node's certificate, when
    the spec has TLS and the server can serve it; plain HTTP otherwise (Glance's own server)."""
    return "https" if topo.tls and serves_tls(server) else "http"

# The one RabbitMQ user every OpenStack service connects as (transport_url).
RABBIT_USER = "openstack"
# How long an OpenStack service waits for any one read from MariaDB (pymysql's read_timeout, in
# [database] connection_parameters) before it drops the connection and opens another. Without it
# a read never ends on its own: HAProxy 3.0 can leave a client's connection open forever when the
# server it was still connecting that client to is marked down (on-marked-down shutdown-sessions),
# and the lab saw nova-conductor's heartbeat wait for a MariaDB greeting from the VIP that never
# came. Longer than any wait MariaDB bounds itself (innodb_lock_wait_timeout, 50 s) and as long as
# HAProxy waits for an API's answer (timeout server 1m).
DATABASE_READ_TIMEOUT_S = 60
# How long a service's auth_token middleware waits for Keystone (connecting, then each read) when
# it validates a token ([keystone_authtoken] http_connect_timeout, keystoneauth's session timeout
# despite its name); it then retries (http_request_max_retries, 3) on a new connection. Unset, a
# request waits for ever on a pooled connection to the VIP's old holder that died without a word
# (a cut cable, a power loss): the lab saw a cut-off node leave every API worker on the survivors
# stuck in that read for over a minute, their health checks failing behind it. Keystone answers a
# validation in well under a second, a few seconds when two cores are busy.
KEYSTONE_REQUEST_TIMEOUT_S = 10


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
class Uwsgi:
    """Served by uwsgi on hagen's ini (the release's recommended WSGI server for the service)."""
    ini: str  # path on the node (hagen writes it, from <service>/<file name>.j2)
    wsgi_script: str
    # (URL prefix, folder) uwsgi serves as files, not through the app (Horizon's collected static).
    static_map: tuple[str, str] | None = None

    def exec_start(self) -> str:
        return f"/usr/bin/uwsgi_python3 --ini {self.ini}"


@dataclass(frozen=True)
class OwnServer:
    """Served by the service's own server, which listens where its config says (bind_host and
    bind_port) with its own workers: the way its release's documentation says to run it."""
    command: str  # the program, run on config_file
    # Whether it serves HTTPS with the node's certificate when its config names one (the noVNC
    # proxy's ssl_only, cert and key). Glance's eventlet server lost its TLS options (its
    # glance/common/wsgi.py has no cert_file since Train), so HAProxy reaches it over HTTP.
    serves_tls: bool = False

    def exec_start(self, config_file: str) -> str:
        return f"{self.command} --config-file=/{config_file}"


@dataclass(frozen=True)
class SyncStep:
    """One command of a service's schema setup, run once from one node as its system user. Each
    is safe to rerun; `done_exit` is the exit status by which a command says that what it would
    create exists already (nova-manage cell_v2 create_cell: 2), which is success on a rerun."""
    command: str
    done_exit: int | None = None


@dataclass(frozen=True)
class DaemonsUp:
    """How a service's daemons on the bus say they are up, read from its own database: a command
    (run as the system user on the bootstrap node) printing one line per registered daemon, and
    the whitespace-separated columns of that line holding its binary, its host and its state.
    The bootstrap waits for `unit` on every node: each one waits for the schema before it starts
    (hagen-await-database), and a request sent while none listens waits on the bus."""
    command: str
    header_lines: int
    binary_column: int  # 1-based, as awk counts
    host_column: int
    state_column: int
    up: str  # what the state column says of a live daemon
    unit: str  # the daemon waited for, as the binary column names it


@dataclass(frozen=True)
class CheckPace:
    """How often each load balancer checks each server: every `inter` while the server's state
    holds, every `fastinter` once a check disagrees with it (so `fall` failures are confirmed
    fast), and every `downinter` while it is down (so it is back soon after it recovers)."""
    inter: str
    fastinter: str | None = None
    downinter: str | None = None

    def words(self) -> str:
        """For the bundle README's health column."""
        faster = sorted({v for v in (self.fastinter, self.downinter) if v})
        return f"every {self.inter}" + (f" ({', '.join(faster)} once failing or down)" if faster else "")

    def haproxy(self) -> str:
        return " ".join(f"{key} {value}" for key, value in (("inter", self.inter), ("fastinter", self.fastinter),
                                                          ("downinter", self.downinter)) if value)


# A check the service answers in its own process (oslo.middleware's /healthcheck, a version list).
EVERY_2S = CheckPace("2s")
# A check that costs a process or a page each time: a forked websockify handler (the noVNC
# proxy), a rendered login page (Horizon's Django). Three load balancers checking three servers
# every 2 s cost 0.2 and 0.11 cores of the 2-core lab's 1.25 idle (2026-12-07); at this pace a
# third of that, while a failing server's checks still come 2 s apart, as do a down one's.
COSTLY_CHECK_PACE = CheckPace("6s", fastinter="2s", downinter="2s")


@dataclass(frozen=True)
class Frontend:
    """A port a service serves beside its API's, with its own process and HAProxy frontend
    (Nova's metadata API, its noVNC proxy). Its port is the spec's services.<name>.<port_key>."""
    port_key: str
    frontend: str
    description: str
    health_path: str
    # HAProxy's timeout tunnel: how long an upgraded connection (a websocket console) may stay
    # quiet before HAProxy closes it; None for plain request/response.
    tunnel_timeout: str | None = None
    check_pace: CheckPace = EVERY_2S
    # Its own entry in Keystone's catalog, when clients find it there (Heat's CloudFormation API,
    # type 'cloudformation'): (service name, service type, endpoint path). None for one they do not.
    catalog_entry: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class Process:
    """One more systemd unit of a service: a daemon on the message bus alone (Nova's conductor
    and scheduler), or the server of one of its other frontends."""
    unit: str  # the packaged unit's name; hagen's unit of that name replaces it
    server: Uwsgi | OwnServer
    description: str
    frontend: Frontend | None = None
    # Whether it runs on one node at a time, under Pacemaker, when the service's volume_ha is
    # active-passive (cinder-volume on a backend whose driver cannot run active/active).
    follows_volume_ha: bool = False


@dataclass(frozen=True)
class ServiceHost:
    """How a service runs on Debian 13: its packages (their debconf questions answered first),
    the packaged unit that serves it, and its system user (db sync runs as it)."""
    packages: tuple[str, ...]
    debconf: tuple[DebconfAnswer, ...]
    unit: str  # the packaged unit's name; hagen's unit of that name replaces it
    system_user: str
    db_sync: tuple[SyncStep, ...]  # what creates or upgrades its schemas; each safe to rerun
    server: Uwsgi | OwnServer
    processes: tuple[Process, ...] = ()  # its other units, on every node of the service
    # Units its packages ship and start that this deployment does not run (they would listen on
    # every address with the package's defaults): setup.sh masks them.
    unwanted_units: tuple[str, ...] = ()
    # Files its packages install that would override hagen's config (Debian's Horizon settings
    # snippets, read after local_settings.py): setup.sh removes them.
    unwanted_files: tuple[str, ...] = ()
    # Whether its units make /var/log/<system user> (LogsDirectory=): no package of it does.
    own_log_dir: bool = False
    # Whether its packages ship the unit hagen's replaces (Horizon's run under Apache: none).
    packaged_unit: bool = True
    daemons_up: DaemonsUp | None = None

    @property
    def units(self) -> tuple[str, ...]:
        return (self.unit, *(p.unit for p in self.processes))


@dataclass(frozen=True)
class StoreGroups:
    """Config sections a service creates at run time as copies of one option group (Glance's
    stores: one per enabled_backends id, and its reserved ones). No namespace lists them, so the
    validator judges each as the group it copies."""
    copies: str  # the option group each section is a copy of
    reserved: tuple[str, ...]  # sections always present
    listed_by: tuple[str, str]  # (section, option) whose 'id:type' (or 'id') list names the others
    # Options a copy may set that the service registers in another group of their own at run time
    # (Cinder's per-backend backend_host, in [backend]): (option, group).
    moved: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ApiService:
    """What an OpenStack API service is, whatever the topology."""
    name: str  # the spec's services.<name>, and the model's Topology field
    service_type: str | None  # its type in Keystone's catalog; None for one not in it (Horizon)
    frontend: str  # HAProxy's frontend name; its backend is '<name>-nodes'
    description: str  # HAProxy's comment over the frontend
    endpoint_path: str  # appended to scheme://vip:port for the catalog's endpoints
    health_path: str  # answers 200 when this node can serve (oslo.middleware healthcheck)
    database: ServiceDatabase | None  # None for a service with no schema (Horizon)
    config_file: str  # its main config file (oslo.config's but Horizon's), as a path inside a node's folder
    # The oslo.config namespaces the service registers: its release's own
    # config-generator/<name>.conf (the same list in Zed and 2025.1 for Keystone). What
    # oslo-config-validator needs to know every option the file may set.
    config_namespaces: tuple[str, ...]
    # Debian's package of its modules (whose entry points name the options; Horizon's settings
    # module), installed in the tools root that judges its config.
    python_package: str
    # The section oslo.db reads its connection from ('database', or a service's own such as
    # placement_database).
    database_section: str = "database"
    # None for Keystone itself, which keystone-manage bootstrap registers.
    keystone_user: ServiceUser | None = None
    # None for Keystone, whose Apache site is laid by its own emitter and target fields.
    host: ServiceHost | None = None
    store_groups: StoreGroups | None = None
    # More schemas the service owns beside `database`, as the same user (Nova's API database and
    # its cell0): the seeded SQL creates each, and the service's config names them.
    more_databases: tuple[ServiceDatabase, ...] = ()
    # Other catalog services it calls, which the spec must place too (checks.py refuses otherwise).
    needs: tuple[str, ...] = ()
    # Whether it talks over RabbitMQ (its config's transport_url, whose brokers it reaches by name).
    messaging: bool = False
    # Its own section of the bundle README (what the operator does next), a template under
    # readme/; rendered with the topology's endpoints and frontends.
    readme_section: str | None = None
    # HAProxy's client and server timeouts for this service, when its requests may go quiet for
    # longer than the defaults' minute (an image upload: the store writes and checksums).
    request_timeout: str | None = None
    # Secrets of its own beyond its database's and service user's passwords: (name, what it is).
    own_secrets: tuple[tuple[str, str], ...] = ()
    # How its config file is judged: oslo-config-validator with config_namespaces, or Django's
    # own system checks on Horizon's settings (check.py).
    config_kind: str = "oslo"
    # HAProxy's health check sends this request's Host header (the VIP's name): Django answers a
    # request without one, or for a host outside ALLOWED_HOSTS, with 400.
    check_with_host: bool = False
    check_pace: CheckPace = EVERY_2S
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
        db_sync=(SyncStep("placement-manage db sync"),),
        server=Uwsgi(ini="/etc/placement/placement-api-uwsgi.ini", wsgi_script="/usr/bin/placement-api")),
    targets=("debian13",),
)

# Glance 30 (2025.1) runs under its own (eventlet) server: its release's documentation advises
# against any WSGI server (interoperable import and chunked uploads break), and Debian's unit runs
# it that way too. Image data lives in the spec's store (model.Storage), which decides its HA.
GLANCE = ApiService(
    name="glance", service_type="image", frontend="glance-api",
    description="Glance image API, balanced in http mode with its /healthcheck",
    endpoint_path="", health_path="/healthcheck",
    database=ServiceDatabase("glance", "glance", "glance_db_password"),
    config_file="etc/glance/glance-api.conf",
    # glance 30.0.0's etc/oslo-config-generator/glance-api.conf.
    config_namespaces=("castellan.config", "glance.api", "glance.store", "os_brick", "glance.multi_store",
                       "oslo.concurrency", "oslo.messaging", "oslo.db", "oslo.policy",
                       "keystonemiddleware.auth_token", "oslo.limit", "oslo.log", "oslo.middleware.cors",
                       "oslo.middleware.healthcheck", "oslo.middleware.http_proxy_to_wsgi", "oslo.reports"),
    python_package="python3-glance",
    keystone_user=ServiceUser("glance", "glance_keystone_password"),
    host=ServiceHost(
        packages=("glance-api", "python3-pymysql"),
        debconf=(DebconfAnswer("glance-common", "glance/configure_db", "boolean", "false"),
                 DebconfAnswer("glance-common", "glance/configure_rabbit", "boolean", "false"),
                 DebconfAnswer("glance-common", "glance/configure_ksat", "boolean", "false"),
                 DebconfAnswer("glance-api", "glance/configure_api-endpoint", "boolean", "false")),
        unit="glance-api", system_user="glance",
        # db sync applies the migrations not applied yet; load_metadefs skips namespaces it has.
        db_sync=(SyncStep("glance-manage db sync"), SyncStep("glance-manage db load_metadefs")),
        server=OwnServer("/usr/bin/glance-api")),
    store_groups=StoreGroups("glance_store", ("os_glance_staging_store", "os_glance_tasks_store"),
                             ("DEFAULT", "enabled_backends")),
    request_timeout="6h",  # a large image to a slow store: a request may be quiet for minutes
    targets=("debian13",),
)

# Nova 31 (2025.1)'s control services: the compute API and the metadata API under uwsgi (as
# Debian runs them), the conductor and the scheduler on the message bus, and the noVNC proxy that
# browsers reach through HAProxy with a websocket. One cell (cell1) beside cell0; compute nodes
# are not deployed by hagen (the bundle README says what one needs to join).
NOVA_DB_USER, NOVA_DB_SECRET = "nova", "nova_db_password"
# The console page of Debian's novnc package: what HAProxy checks and compute nodes hand out.
NOVNC_PAGE = "/vnc_auto.html"
NOVA = ApiService(
    name="nova", service_type="compute", frontend="nova-api",
    description="Nova compute API, balanced in http mode; its root (the version list) answers unauthenticated",
    endpoint_path="/v2.1", health_path="/",
    # [database]: cell1's schema (create_cell maps it); the API database and cell0 beside it.
    database=ServiceDatabase("nova", NOVA_DB_USER, NOVA_DB_SECRET),
    more_databases=(ServiceDatabase("nova_api", NOVA_DB_USER, NOVA_DB_SECRET),
                    # map_cell0's default: the [database] connection's name with _cell0 appended.
                    ServiceDatabase("nova_cell0", NOVA_DB_USER, NOVA_DB_SECRET)),
    config_file="etc/nova/nova.conf",
    # nova 31.0.0's etc/nova/nova-config-generator.conf.
    config_namespaces=("nova.conf", "oslo.log", "oslo.messaging", "oslo.policy", "oslo.privsep",
                       "oslo.service.periodic_task", "oslo.service.service", "oslo.middleware",
                       "oslo.concurrency", "keystonemiddleware.auth_token", "osprofiler"),
    python_package="python3-nova",
    keystone_user=ServiceUser("nova", "nova_keystone_password"),
    host=ServiceHost(
        packages=("nova-api", "nova-conductor", "nova-scheduler", "nova-consoleproxy", "python3-pymysql"),
        debconf=(DebconfAnswer("nova-common", "nova/configure_db", "boolean", "false"),
                 DebconfAnswer("nova-common", "nova/configure_rabbit", "boolean", "false"),
                 DebconfAnswer("nova-common", "nova/configure_ksat", "boolean", "false"),
                 DebconfAnswer("nova-common", "nova/configure_neutron", "boolean", "false"),
                 DebconfAnswer("nova-common", "nova/configure_placement", "boolean", "false"),
                 DebconfAnswer("nova-api", "novaapi/configure_db", "boolean", "false"),
                 DebconfAnswer("nova-api", "nova/configure_api-endpoint", "boolean", "false"),
                 DebconfAnswer("nova-consoleproxy", "nova-consoleproxy/daemon_type", "select", "novnc")),
        unit="nova-api", system_user="nova",
        # The upstream order: the API schema, the cell mappings (cell0, then cell1 on this
        # config's [database] and transport_url), then the cells' schema.
        db_sync=(SyncStep("nova-manage api_db sync"), SyncStep("nova-manage cell_v2 map_cell0"),
                 SyncStep("nova-manage cell_v2 create_cell --name=cell1 --verbose", done_exit=2),
                 SyncStep("nova-manage db sync")),
        server=Uwsgi(ini="/etc/nova/nova-api-uwsgi.ini", wsgi_script="/usr/bin/nova-api-wsgi"),
        processes=(
            Process("nova-api-metadata", Uwsgi(ini="/etc/nova/nova-api-metadata-uwsgi.ini",
                                               wsgi_script="/usr/bin/nova-metadata-wsgi"),
                    "OpenStack Nova metadata API (instances' metadata, through Neutron's proxy)",
                    Frontend("metadata_port", "nova-metadata", "Nova metadata API, balanced in http mode with its "
                             "/healthcheck", "/healthcheck")),
            Process("nova-novncproxy", OwnServer("/usr/bin/nova-novncproxy", serves_tls=True),
                    "OpenStack Nova noVNC proxy (instance consoles over a websocket)",
                    Frontend("novncproxy_port", "nova-novncproxy", "Nova noVNC console proxy, websockets "
                             "tunnelled through http mode", NOVNC_PAGE, tunnel_timeout="1h",
                             check_pace=COSTLY_CHECK_PACE)),
            Process("nova-conductor", OwnServer("/usr/bin/nova-conductor"), "OpenStack Nova conductor"),
            Process("nova-scheduler", OwnServer("/usr/bin/nova-scheduler"), "OpenStack Nova scheduler")),
        # nova-consoleproxy ships every console proxy; browsers reach noVNC's only.
        unwanted_units=("nova-serialproxy", "nova-spicehtml5proxy")),
    needs=("glance", "placement"),
    messaging=True,
    readme_section="readme/nova-compute-nodes.md.j2",
    targets=("debian13",),
)

# Neutron 26 (2025.1) with ML2/OVN, in the processes its release runs on a controller: the API
# under uwsgi (since 2025.1 neutron serves its API only through WSGI; the eventlet neutron-server is
# deprecated, and in the lab stopped answering network requests after a node's crash), the periodic
# workers and the OVN maintenance worker (which keeps Neutron's database and OVN's in step, and
# repairs what a failed transaction left). OVN needs no agents, so no RPC server runs (neutron's
# "server-side processes" guide: only when agents need RPC). Its config is one file (the ML2 and OVN
# sections in neutron.conf): uwsgi's app reads the files OS_NEUTRON_CONFIG_FILES names, the daemons
# the one --config-file, so Debian's ml2_conf.ini is never read. OVN central itself (the RAFT
# clusters) is model.Ovn, not an API.
NEUTRON_METADATA_SECRET = "neutron_metadata_secret"
NEUTRON = ApiService(
    name="neutron", service_type="network", frontend="neutron-api",
    description="Neutron network API, balanced in http mode with its /healthcheck",
    endpoint_path="", health_path="/healthcheck",
    database=ServiceDatabase("neutron", "neutron", "neutron_db_password"),
    config_file="etc/neutron/neutron.conf",
    # neutron 26.0.0's etc/oslo-config-generator/neutron.conf and ml2_conf.ini (with ML2/OVN's).
    config_namespaces=("neutron", "neutron.agent", "neutron.db", "neutron.experimental", "neutron.extensions",
                       "nova.auth", "ironic.auth", "placement.auth", "designate.auth", "oslo.log", "oslo.cache",
                       "oslo.db", "oslo.policy", "oslo.privsep", "oslo.concurrency", "oslo.messaging",
                       "oslo.middleware.cors", "oslo.middleware.healthcheck", "oslo.middleware.http_proxy_to_wsgi",
                       "oslo.reports", "oslo.service.periodic_task", "oslo.service.service", "oslo.service.sslutils",
                       "oslo.service.wsgi", "oslo.versionedobjects", "keystonemiddleware.auth_token", "osprofiler",
                       "neutron.ml2", "neutron.ml2.ovn"),
    python_package="python3-neutron",
    keystone_user=ServiceUser("neutron", "neutron_keystone_password"),
    host=ServiceHost(
        # neutron-common holds every program and no unit; Debian's neutron-api package would add
        # a uwsgi unit that starts on every address at install.
        packages=("neutron-common", "python3-pymysql", "uwsgi-core", "uwsgi-plugin-python3"),
        debconf=(DebconfAnswer("neutron-common", "neutron/configure_db", "boolean", "false"),
                 DebconfAnswer("neutron-common", "neutron/configure_rabbit", "boolean", "false"),
                 DebconfAnswer("neutron-common", "neutron/configure_ksat", "boolean", "false"),
                 DebconfAnswer("neutron-common", "neutron/configure_nova", "boolean", "false")),
        unit="neutron-api", system_user="neutron",
        # 'heads': the expand and contract branches both; safe to rerun.
        db_sync=(SyncStep("neutron-db-manage --config-file /etc/neutron/neutron.conf upgrade heads"),),
        server=Uwsgi(ini="/etc/neutron/neutron-api-uwsgi.ini", wsgi_script="/usr/bin/neutron-api"),
        processes=(
            Process("neutron-periodic-workers", OwnServer("/usr/bin/neutron-periodic-workers"),
                    "OpenStack Neutron periodic workers (the ML2 plugin's periodic tasks)"),
            Process("neutron-ovn-maintenance-worker", OwnServer("/usr/bin/neutron-ovn-maintenance-worker"),
                    "OpenStack Neutron OVN maintenance worker (keeps the Neutron and OVN databases in step)")),
        own_log_dir=False, packaged_unit=False),
    messaging=True,
    own_secrets=((NEUTRON_METADATA_SECRET, "shared secret of Nova's metadata API and the compute nodes' "
                  "OVN metadata agents (metadata_proxy_shared_secret)"),),
    readme_section="readme/neutron-ovn.md.j2",
    targets=("debian13",),
)
# What the OVN roles install (model.Ovn): the central databases and northd; a gateway chassis's
# ovn-controller with its Open vSwitch.
OVN_CENTRAL_PACKAGES = ("ovn-central",)
OVN_GATEWAY_PACKAGES = ("ovn-host", "openvswitch-switch")

# Horizon 25 (2025.1), the dashboard: a Django app with no database of its own. Debian serves it
# through Apache's mod_wsgi on every address (openstack-dashboard-apache); hagen runs it under uwsgi
# on the node's address, as the other uwsgi services, with its static files mapped by uwsgi. Its
# sessions live in memcached (the cache servers Keystone lists), so any node serves any logged-in
# user and a node's loss logs no one out; SECRET_KEY is one secret on every node (it signs them).
HORIZON_STATIC_ROOT = "/var/lib/openstack-dashboard/static"
HORIZON = ApiService(
    name="horizon", service_type=None, frontend="horizon",
    description="Horizon dashboard, balanced in http mode; sessions in memcached, so any node serves any user",
    endpoint_path="/", health_path="/auth/login/",
    database=None,
    config_file="etc/openstack-dashboard/local_settings.py",
    config_namespaces=(),
    python_package="openstack-dashboard",
    host=ServiceHost(
        packages=("openstack-dashboard", "python3-pymemcache", "uwsgi-core", "uwsgi-plugin-python3"),
        debconf=(),  # its one question (ALLOWED_HOSTS) edits the file hagen replaces
        unit="horizon", system_user="horizon",  # the package's postinst makes the user
        db_sync=(),
        server=Uwsgi(ini="/etc/openstack-dashboard/horizon-uwsgi.ini", wsgi_script="/usr/share/openstack-dashboard/wsgi.py",
                     static_map=("/static", HORIZON_STATIC_ROOT)),
        # Debian's snippet sets CACHES to each process's own memory (sessions on one worker of one
        # node); the others repeat what local_settings.py sets. hagen's file is the whole config.
        unwanted_files=tuple(f"/etc/openstack-dashboard/local_settings.d/_000{i}_debian_{name}.py" for i, name in (
            (1, "debug"), (2, "compress_offline"), (3, "static_root"), (4, "osprofiler"), (5, "webroot"),
            (6, "cache"))),
        own_log_dir=True, packaged_unit=False),
    own_secrets=(("horizon_secret_key", "Django SECRET_KEY of every Horizon node (signs sessions and CSRF tokens)"),),
    config_kind="django",
    check_with_host=True,
    check_pace=COSTLY_CHECK_PACE,
    readme_section="readme/horizon-dashboard.md.j2",
    targets=("debian13",),
)

# Heat 24 (2025.1): its two APIs under uwsgi, as Debian runs them (the native API and the
# CloudFormation-compatible one, each with its own port, frontend and catalog entry), and
# heat-engine, which does the work over the bus: any engine takes any request, so every node runs
# one. Stacks' own users live in a domain of their own ('heat'), administered by heat_domain_admin,
# so a stack's credentials never reach the Default domain; heat acts for a user through trusts, as
# its own service user ([trustee]).
HEAT_STACK_DOMAIN = "heat"
HEAT_DOMAIN_ADMIN = "heat_domain_admin"
HEAT_DOMAIN_ADMIN_SECRET = "heat_domain_admin_password"
HEAT_AUTH_ENCRYPTION_SECRET = "heat_auth_encryption_key"
# The roles Heat's policies name: a stack owner's, and the one its stack users get.
HEAT_ROLES = ("heat_stack_owner", "heat_stack_user")
HEAT = ApiService(
    name="heat", service_type="orchestration", frontend="heat-api",
    description="Heat orchestration API, balanced in http mode with its /healthcheck",
    endpoint_path="/v1/%(project_id)s", health_path="/healthcheck",
    database=ServiceDatabase("heat", "heat", "heat_db_password"),
    config_file="etc/heat/heat.conf",
    # heat 24.0.0's etc/heat/heat-config-generator.conf.
    config_namespaces=("heat.common.cache", "heat.common.config", "heat.common.context", "heat.common.crypt",
                       "heat.engine.clients.os.keystone.heat_keystoneclient", "heat.engine.hot.functions",
                       "heat.common.wsgi", "heat.engine.clients", "heat.engine.notification",
                       "heat.engine.resources", "heat.api.aws.ec2token", "keystonemiddleware.auth_token",
                       "oslo.cache", "oslo.messaging", "oslo.middleware", "oslo.log", "oslo.policy",
                       "oslo.reports", "oslo.service.service", "oslo.service.periodic_task",
                       "oslo.service.sslutils", "oslo.versionedobjects", "osprofiler"),
    python_package="python3-heat",
    keystone_user=ServiceUser("heat", "heat_keystone_password"),
    host=ServiceHost(
        # heat-common holds both WSGI scripts; Debian's heat-api and heat-api-cfn packages would add
        # uwsgi units that start on every address at install. heat-engine ships its daemon's unit.
        packages=("heat-common", "heat-engine", "python3-pymysql", "uwsgi-core", "uwsgi-plugin-python3"),
        debconf=(DebconfAnswer("heat-common", "heat/configure_with_debconf", "boolean", "false"),
                 DebconfAnswer("heat-common", "heat/configure_db", "boolean", "false"),
                 DebconfAnswer("heat-common", "heat/configure_rabbit", "boolean", "false"),
                 DebconfAnswer("heat-common", "heat/configure_ksat", "boolean", "false")),
        unit="heat-api", system_user="heat",
        db_sync=(SyncStep("heat-manage db_sync"),),
        server=Uwsgi(ini="/etc/heat/heat-api-uwsgi.ini", wsgi_script="/usr/bin/heat-wsgi-api"),
        processes=(
            Process("heat-api-cfn", Uwsgi(ini="/etc/heat/heat-api-cfn-uwsgi.ini",
                                          wsgi_script="/usr/bin/heat-wsgi-api-cfn"),
                    "OpenStack Heat CloudFormation-compatible API (and its wait conditions)",
                    Frontend("cfn_port", "heat-api-cfn", "Heat CloudFormation API, balanced in http mode with "
                             "its /healthcheck", "/healthcheck",
                             catalog_entry=("heat-cfn", "cloudformation", "/v1"))),
            Process("heat-engine", OwnServer("/usr/bin/heat-engine"), "OpenStack Heat engine")),
        packaged_unit=False,
        # heat-manage service list: Hostname Binary Engine_Id Host Topic Status "Updated At"; an
        # engine is 'up' while it reported within 2 x periodic_interval.
        daemons_up=DaemonsUp("heat-manage service list", header_lines=1, binary_column=2, host_column=1,
                             state_column=6, up="up", unit="heat-engine")),
    messaging=True,
    own_secrets=((HEAT_DOMAIN_ADMIN_SECRET, f"password of {HEAT_DOMAIN_ADMIN}, the admin of Heat's stack-user "
                  f"domain '{HEAT_STACK_DOMAIN}'"),
                 (HEAT_AUTH_ENCRYPTION_SECRET, "key Heat encrypts stored credentials and hidden parameters "
                  "with (auth_encryption_key; the same on every node, 32 characters)")),
    targets=("debian13",),
)

# Cinder 26 (2025.1): cinder-api under uwsgi (as Debian runs it) behind HAProxy and
# cinder-scheduler on every node, and cinder-volume as its backend allows (model.Storage and
# volume_ha). Its catalog type is volumev3, which Nova's [cinder] catalog_info and the clients
# look up by default.
CINDER = ApiService(
    name="cinder", service_type="volumev3", frontend="cinder-api",
    description="Cinder block-storage API, balanced in http mode with its /healthcheck",
    endpoint_path="/v3/%(project_id)s", health_path="/healthcheck",
    database=ServiceDatabase("cinder", "cinder", "cinder_db_password"),
    config_file="etc/cinder/cinder.conf",
    # cinder 26.0.0's tools/config/cinder-config-generator.conf.
    config_namespaces=("castellan.config", "cinder", "keystonemiddleware.auth_token", "osprofiler", "oslo.config",
                       "oslo.concurrency", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware", "oslo.policy",
                       "oslo.privsep", "oslo.reports", "oslo.service.periodic_task", "oslo.service.service",
                       "oslo.service.sslutils", "oslo.service.wsgi", "oslo.versionedobjects", "os_brick"),
    python_package="python3-cinder",
    keystone_user=ServiceUser("cinder", "cinder_keystone_password"),
    host=ServiceHost(
        packages=("cinder-api", "cinder-scheduler", "cinder-volume", "python3-pymysql", "uwsgi-core",
                  "uwsgi-plugin-python3"),
        debconf=(DebconfAnswer("cinder-common", "cinder/configure_db", "boolean", "false"),
                 DebconfAnswer("cinder-common", "cinder/configure_rabbit", "boolean", "false"),
                 DebconfAnswer("cinder-common", "cinder/configure_ksat", "boolean", "false"),
                 DebconfAnswer("cinder-api", "cinder/configure_api-endpoint", "boolean", "false")),
        unit="cinder-api", system_user="cinder",
        db_sync=(SyncStep("cinder-manage db sync"),),
        server=Uwsgi(ini="/etc/cinder/cinder-api-uwsgi.ini", wsgi_script="/usr/bin/cinder-wsgi"),
        processes=(
            Process("cinder-scheduler", OwnServer("/usr/bin/cinder-scheduler"), "OpenStack Cinder scheduler"),
            Process("cinder-volume", OwnServer("/usr/bin/cinder-volume"),
                    "OpenStack Cinder volume service (the backend's driver)", follows_volume_ha=True)),
        # cinder-volume's package pulls in tgt, an iSCSI target on every address: neither backend
        # hagen configures exports through it.
        unwanted_units=("tgt",),
        # cinder-manage service list: Binary Host Zone Status State "Updated At" ...; a live
        # service's state is ':-)'. Every node's scheduler (cinder-volume's host is the backend's).
        daemons_up=DaemonsUp("cinder-manage service list", header_lines=1, binary_column=1, host_column=2,
                             state_column=5, up=":-)", unit="cinder-scheduler")),
    # Each backend's section (enabled_backends lists them) is a copy of [backend_defaults].
    store_groups=StoreGroups("backend_defaults", (), ("DEFAULT", "enabled_backends"),
                             moved=(("backend_host", "backend"),)),
    readme_section="readme/cinder-volumes.md.j2",
    messaging=True,
    targets=("debian13",),
)

CATALOG: tuple[ApiService, ...] = (KEYSTONE, GLANCE, PLACEMENT, NOVA, NEUTRON, HEAT, CINDER, HORIZON)
# The services a spec may place or leave out (its services.<name> key), run beside Keystone by
# default: every entry but Keystone.
API_SERVICES: tuple[str, ...] = tuple(s.name for s in CATALOG if s is not KEYSTONE)


def by_name(name: str) -> ApiService:
    return next(s for s in CATALOG if s.name == name)


def frontend_port_keys(name: str) -> tuple[str, ...]:
    """The spec keys of a service's other frontends' ports (services.nova.metadata_port, ...)."""
    host = by_name(name).host
    return tuple(p.frontend.port_key for p in host.processes if p.frontend) if host else ()


@dataclass(frozen=True)
class ApiEndpoint:
    """Where one service is served: its nodes behind HAProxy on a VIP and port."""
    service: ApiService
    nodes: tuple[Node, ...]
    vip: Vip
    port: int
    scheme: str  # endpoint_scheme's

    @property
    def url(self) -> str:
        """The URL registered in Keystone's catalog (public, internal and admin alike for now)."""
        return f"{self.scheme}://{self.vip.hostname}:{self.port}{self.service.endpoint_path}"


@dataclass(frozen=True)
class Balanced:
    """One HAProxy frontend of a catalog service and its backend: the API's, or one of its other
    frontends' (Frontend). HAProxy, the port checks and the lab read these."""
    service: ApiService
    name: str  # the frontend's
    backend: str
    description: str
    vip: Vip
    port: int
    nodes: tuple[Node, ...]
    health_path: str
    request_timeout: str | None
    tunnel_timeout: str | None
    scheme: str  # endpoint_scheme's
    backend_scheme: str  # what HAProxy speaks to the nodes' own servers (backend_scheme's)
    check_host: str | None = None  # the Host header its health check sends (ApiService.check_with_host)
    check_pace: CheckPace = EVERY_2S

    @property
    def health_url(self) -> str:
        return f"{self.scheme}://{self.vip.hostname}:{self.port}{self.health_path}"


def balanced(topo: Topology) -> tuple[Balanced, ...]:
    """Every frontend of every catalog service this topology runs, each service's API first."""
    out = []
    for ep in endpoints(topo):
        s = ep.service
        # The API's backend keeps its historical name, '<service>-nodes'.
        out.append(Balanced(s, s.frontend, f"{s.name}-nodes", s.description, ep.vip, ep.port, ep.nodes,
                            s.health_path, s.request_timeout, None, ep.scheme,
                            backend_scheme(topo, s.host.server if s.host else None),
                            ep.vip.hostname if s.check_with_host else None, check_pace=s.check_pace))
        for process in (s.host.processes if s.host else ()):
            if f := process.frontend:
                out.append(Balanced(s, f.frontend, f"{f.frontend}-nodes", f.description, ep.vip,
                                    topo.api(s.name).port(f.port_key), ep.nodes, f.health_path, None,
                                    f.tunnel_timeout, ep.scheme, backend_scheme(topo, process.server),
                                    check_pace=f.check_pace))
    return tuple(out)


def node_url(topo: Topology, ep: ApiEndpoint, node: Node) -> str:
    """The service on one node itself, not the VIP (Glance's worker_self_reference_url: the
    node that staged an image import is asked for it by the others)."""
    return f"{backend_scheme(topo, ep.service.host.server)}://{node.address}:{ep.port}"


def tls_backends(topo: Topology, node: Node) -> tuple[str, ...]:
    """The catalog services (Keystone included) whose own servers on this node serve HTTPS to
    HAProxy: each reads the node's certificate from its own copy (pki.node_tls_files)."""
    if not topo.tls:
        return ()
    here = topo.services_of(node)
    return tuple(ep.service.name for ep in endpoints(topo) if ep.service.name in here and (
        serves_tls(ep.service.host.server if ep.service.host else None)
        or any(p.frontend and serves_tls(p.server) for p in ep.service.host.processes)))


# What a store's client needs on the service's nodes, beyond the service's own packages (Glance's
# rbd driver imports python3-rbd and python3-rados; ceph-common brings the 'rbd' and 'ceph' CLIs an
# operator checks the pool with).
STORAGE_PACKAGES = {"file": (), "rbd": ("python3-rados", "python3-rbd", "ceph-common"), "nfs": ("nfs-common",)}


def packages(topo: Topology, ep: ApiEndpoint) -> tuple[str, ...]:
    """What a node running this service installs for it."""
    placed = topo.api(ep.service.name)
    return ep.service.host.packages + (STORAGE_PACKAGES[placed.storage.kind] if placed.storage else ()) + \
        (COORDINATION_PACKAGES if placed.volume_ha == ACTIVE_ACTIVE else ())


# --- volume HA: active/active with its locks in etcd, or active/passive under Pacemaker ------
# etcd, which holds the locks of an active/active cinder-volume cluster (tooz, through the
# etcd3gw driver: its gRPC one does not work under eventlet, as Kolla-Ansible found), and the
# driver (and etcdctl, which the bundle README checks it with). One member on each node of the
# service; each service reaches its own node's member.
COORDINATION_PACKAGES = ("etcd-server", "etcd-client", "python3-etcd3gw")
ETCD_CLIENT_PORT, ETCD_PEER_PORT = 2379, 2380
ETCD_CONFIG = "etc/default/etcd"  # the packaged unit's EnvironmentFile


def coordination_members(topo: Topology) -> tuple[Node, ...]:
    """The etcd members: the nodes of an active/active volume service (none without one)."""
    placed = topo.api("cinder")
    return placed.nodes if placed and placed.volume_ha == ACTIVE_ACTIVE else ()


def coordination_url(node: Node) -> str:
    """tooz's backend_url on a member: its own etcd, over the v3 HTTP gateway."""
    return f"etcd3+http://{node.address}:{ETCD_CLIENT_PORT}?api_version=v3"


def volume_host(topo: Topology) -> str:
    """What every cinder-volume of the deployment calls itself: active/active, its [DEFAULT]
    cluster; active/passive, its backend's backend_host. Volumes are recorded as
    '<this>@<backend>#<pool>', so any node that runs it manages every volume."""
    return topo.name


def failover_processes(topo: Topology) -> tuple[tuple[ApiEndpoint, Process], ...]:
    """The catalog processes Pacemaker runs on one node at a time (cinder-volume when the
    spec's volume_ha is active-passive), with their service's endpoint."""
    return tuple((ep, p) for ep in endpoints(topo) if ep.service.host
                 and topo.api(ep.service.name).volume_ha == ACTIVE_PASSIVE
                 for p in ep.service.host.processes if p.follows_volume_ha)


def rbd_secret_uuid(storage: Storage) -> str:
    """The libvirt secret compute nodes hold the Ceph client's key in (Cinder's rbd_secret_uuid):
    derived from the cluster and client, so every build and every compute node agree on it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ceph://{storage.fsid}/client.{storage.user}"))


def shared_mounts(topo: Topology, node: Node) -> list[str]:
    """The directories that must be a mounted shared filesystem on this node before its services
    start (setup.sh refuses to go on without them: a local directory would split the store)."""
    return sorted(p.storage.path for p in topo.apis
                  if p.storage and p.storage.kind == "file" and p.storage.shared and node in p.nodes)


def ceph_key_secret(service: str) -> str:
    """The secret holding a service's Ceph key (its client's keyring)."""
    return f"{service}_ceph_key"


def endpoint(topo: Topology, service: ApiService) -> ApiEndpoint:
    placed = topo.keystone if service is KEYSTONE else topo.api(service.name)
    return ApiEndpoint(service, placed.nodes, placed.vip, placed.public_port, endpoint_scheme(topo))


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
    internal, admin, all on the VIP) and its service user, if the entry has one (a service's
    second entry, Heat's CloudFormation API, has none: its user comes with the first).
    keystone-register.py reads these."""
    name: str
    type: str
    url: str
    region: str
    user: str | None
    password_env: str | None  # the secrets.env variable holding the user's password on the Keystone node
    roles: tuple[str, ...]

    INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class StackDomain:
    """A domain a service keeps its own users in (Heat's stack users), its admin (a user of that
    domain with the admin role on it), and the roles the service's users are given."""
    domain: str
    admin: str
    password_env: str
    roles: tuple[str, ...]


def registrations(topo: Topology) -> tuple[Registration, ...]:
    out = []
    for ep in endpoints(topo):
        user = ep.service.keystone_user
        if not user:
            continue
        out.append(Registration(ep.service.name, ep.service.service_type, ep.url, topo.keystone.region,
                                user.name, user.password_secret.upper(), user.roles))
        for f in (p.frontend for p in ep.service.host.processes if p.frontend and p.frontend.catalog_entry):
            name, service_type, path = f.catalog_entry
            port = topo.api(ep.service.name).port(f.port_key)  # on the service's VIP, as HAProxy binds it
            out.append(Registration(name, service_type, f"{ep.scheme}://{ep.vip.hostname}:{port}{path}",
                                    topo.keystone.region, None, None, ()))
    return tuple(out)


def stack_domains(topo: Topology) -> tuple[StackDomain, ...]:
    """The stack-user domains of the services this topology runs (Heat's), created once."""
    if topo.api("heat") is None:
        return ()
    return (StackDomain(HEAT_STACK_DOMAIN, HEAT_DOMAIN_ADMIN, HEAT_DOMAIN_ADMIN_SECRET.upper(), HEAT_ROLES),)


def registration_secrets(topo: Topology) -> list[str]:
    """The service users' (and stack domain admins') passwords the Keystone bootstrap node needs
    to register them."""
    return [ep.service.keystone_user.password_secret for ep in endpoints(topo) if ep.service.keystone_user] + \
        [d.password_env.lower() for d in stack_domains(topo)]


def database_client_hosts(topo: Topology) -> list[str]:
    """MariaDB host patterns for a service's user: HAProxy connects from the load balancers'
    own addresses, so allow their networks (netmask form)."""
    nets = sorted({n.network.cidr for n in topo.loadbalancer.nodes}, key=str)
    return [f"{net.network_address}/{net.netmask}" for net in nets]


def databases(topo: Topology) -> tuple[ServiceDatabase, ...]:
    """The databases of the services this topology runs."""
    return tuple(db for ep in endpoints(topo) for db in (ep.service.database, *ep.service.more_databases) if db)


# What each unit of a service with a database runs its daemon through: it waits until the
# database answers and holds the service's schema, then execs the daemon. Before the bootstrap's
# db sync, starting the daemon itself would import the whole service only to die, again and
# again, on every node.
AWAIT_DATABASE = "/usr/local/bin/hagen-await-database"


def await_database(service: ApiService) -> str | None:
    """What the service's units' ExecStart begins with (the daemon's command follows): the gate,
    on its config file's connection."""
    if service.database is None:
        return None
    return f"{AWAIT_DATABASE} /{service.config_file} {service.database_section}"


def database_url(topo: Topology, db: ServiceDatabase, secrets: SecretValues) -> str:
    """oslo.db's [database] connection: through the DB VIP, never a node; over TLS, PyMySQL
    verifying the Galera node's certificate (chain and the VIP's name) with hagen's CA."""
    g = topo.galera
    password = url_quote(secrets.get(db.password_secret))
    tls = f"?ssl_ca={pki.ca_file(topo)}&ssl_check_hostname=true" if topo.tls else ""
    return f"mysql+pymysql://{db.user}:{password}@{g.vip.hostname}:{g.port}/{db.name}{tls}"


def transport_hosts(topo: Topology) -> list[str]:
    """host:port of each RabbitMQ broker a client lists: every RabbitMQ node (clients fail over
    between them, as oslo.messaging does) or the RabbitMQ VIP, as the spec says."""
    r = topo.rabbitmq
    hosts = [r.vip.hostname] if r.clients == "vip" else [n.name for n in r.nodes]
    return [f"{h}:{r.port}" for h in hosts]


def transport_url(topo: Topology, secrets: SecretValues) -> str:
    """oslo.messaging's transport_url, as the OpenStack user on transport_hosts."""
    password = url_quote(secrets.get("rabbitmq_password"))
    return "rabbit://" + ",".join(f"{RABBIT_USER}:{password}@{h}" for h in transport_hosts(topo)) + "/"


def ep_user(name: str) -> str:
    return by_name(name).host.system_user


def storage_prerequisites(topo: Topology) -> list[str]:
    """What the operator provides before deploying, for each service's store (the bundle README)."""
    out = []
    for placed in topo.apis:
        store, nodes = placed.storage, ", ".join(n.name for n in placed.nodes)
        if store is None:
            continue
        if store.kind == "file" and store.shared:
            out.append(f"{placed.name}: mount one shared filesystem (NFS, CephFS) at `{store.path}` on {nodes}, "
                       f"writable by the `{ep_user(placed.name)}` user (the same uid on every node), mounted at boot "
                       "before their setup.sh runs (which refuses an unmounted path).")
        elif store.kind == "file":
            out.append(f"{placed.name}: its images are in `{store.path}` on {nodes} alone; back that directory up.")
        elif store.kind == "nfs":
            out.append(f"{placed.name}: export {', '.join(f'`{s}`' for s in store.shares)} read-write to {nodes} "
                       f"(whichever runs cinder-volume mounts them), writable by the `{ep_user(placed.name)}` user "
                       "(the same uid on every node).")
        else:
            # Cinder clones volumes from images in the same cluster: its client reads Glance's pool.
            images = next((p.storage.pool for p in topo.apis if p.name == "glance" and p.storage.kind == "rbd"
                           and p.storage.fsid == store.fsid and placed.name != "glance"), None)
            reads = f", profile rbd-read-only pool={images}" if images else ""
            out.append(f"{placed.name}: in Ceph cluster {store.fsid}, create pool `{store.pool}` (`ceph osd pool create "
                       f"{store.pool}` then `rbd pool init {store.pool}`) and its client "
                       f"(`ceph auth get-or-create client.{store.user} mon 'profile rbd' osd 'profile rbd "
                       f"pool={store.pool}{reads}' mgr 'profile rbd pool={store.pool}'`); put the key in the secrets "
                       f"file as `{ceph_key_secret(placed.name)}`.")
    return out
