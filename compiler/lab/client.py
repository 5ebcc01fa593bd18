"""The lab's client: runs inside the lab's network namespace and talks to the control plane only
as OpenStack services would, through the VIPs (and RabbitMQ's node URLs, as oslo.messaging does).

    python -m compiler.lab.client setup  CONFIG        create the write table
    python -m compiler.lab.client load   CONFIG EVENTS write, issue tokens, publish, create resource
                                                       providers, upload and download images,
                                                       create flavors and networks, log in to
                                                       the dashboard
                                                       and probe until SIGTERM
    python -m compiler.lab.client verify CONFIG        rows, messages, providers, intact images,
                                                       flavors present and Nova daemons down, as JSON

CONFIG is a 0600 JSON file with the addresses and credentials (see run.client_config). Every
event is one JSON line with a CLOCK_MONOTONIC timestamp, which the orchestrator shares.
"""

from __future__ import annotations

import hashlib
import html
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# How often each loop acts. The client shares the machine's two cores with the three hosts: at
# a write every 0.1 s, a password token every 0.5 s and a Horizon login every second (both bcrypt
# in Keystone) the hosts sat at a load average of 40, half the tokens timed out, and Neutron, Heat
# and Cinder took nothing in a minute of steady traffic (2026-12-07). An outage is still timed to
# within a second or two; the lab's are ten seconds and more.
WRITE_INTERVAL = 0.25
TOKEN_INTERVAL = 2.0
PUBLISH_INTERVAL = 0.2
PROBE_INTERVAL = 0.25
PLACEMENT_INTERVAL = 1.0
# Placement's microversion that returns the created provider (1.20) and filters by name.
PLACEMENT_VERSION = "placement 1.20"
PROVIDER_PREFIX = "hagen-lab-"
IMAGE_INTERVAL = 1.0
FLAVOR_INTERVAL = 1.0
NETWORK_INTERVAL = 2.0  # four Neutron requests each
# Each lab network's one subnet (tenant networks may overlap: every one has the same).
NETWORK_CIDR = "192.168.250.0/28"
STACK_INTERVAL = 3.0  # each create is an engine's work over the bus, a few seconds long
# A stack that needs no compute: a value Heat echoes back (its output must be the stack's own
# name), a random string it generates and stores (its output must keep its length), and a no-op.
STACK_SECRET_LENGTH = 24
STACK_TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "parameters": {"label": {"type": "string"}},
    # (A resource may not share a parameter's name: Heat refuses the template, "Duplicate names".)
    "resources": {"echo": {"type": "OS::Heat::Value", "properties": {"value": {"get_param": "label"}}},
                  "secret": {"type": "OS::Heat::RandomString", "properties": {"length": STACK_SECRET_LENGTH}},
                  "marker": {"type": "OS::Heat::None"}},
    "outputs": {"label": {"value": {"get_attr": ["echo", "value"]}},
                "secret": {"value": {"get_attr": ["secret", "value"]}}},
}
STACK_SETTLE_TIMEOUT = 90  # verify waits this long for stacks still being created (or resumed)
# A stack created, or resumed by an update, with every resource in place.
STACK_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
VOLUME_INTERVAL = 3.0  # each create is a scheduler's and a cinder-volume's work over the bus
VOLUME_SIZE_GB = 1
VOLUME_SETTLE_TIMEOUT = 90  # verify waits this long for volumes still being created or extended
# Verify extends this many of the earlier scenarios' volumes, the newest (enough to show that the
# cluster manages volumes another node created; all of them cost CI minutes on two cores).
VOLUMES_EXTENDED_AT_MOST = 10
DASHBOARD_INTERVAL = 3.0
# A browser's patience, not a page's usual time (one to three seconds here): the page after login
# asks Keystone, Nova and Neutron what the user may see, and right after a deployment, with every
# service's workers still starting on two cores, CI saw no login finish within 10 s.
DASHBOARD_TIMEOUT = 30
# The daemons every Nova node runs, which the compute API lists (os-services) with their state.
NOVA_DAEMONS = ("nova-conductor", "nova-scheduler")
IMAGE_BYTES = 64 * 1024  # small: the loop measures availability, not throughput
TABLE = "hagen_lab_writes"
QUEUE = "hagen-lab"


def _mysql(config: dict, sql: str, timeout: float = 10) -> subprocess.CompletedProcess:
    db = config["db"]
    # The password goes in a 0600 option file, never on the command line.
    return subprocess.run(["mariadb", f"--defaults-extra-file={config['mysql_options']}", "-h", db["host"],
                           "-P", str(db["port"]), "-N", "-B", "--connect-timeout=2", db["database"], "-e", sql],
                          capture_output=True, text=True, timeout=timeout)


def setup(config: dict) -> None:
    proc = _mysql(config, f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT PRIMARY KEY, scenario VARCHAR(64))")
    if proc.returncode != 0:
        sys.exit(f"client: cannot create {TABLE}: {proc.stderr.strip()}")
    if "neutron" in config:
        _lift_network_quota(config)
    if "cinder" in config:
        _lift_volume_quota(config)


# The network loop keeps everything it creates (the check counts it afterwards), one network,
# subnet, router and port per tick: a whole run passes Neutron's default quota of 100 networks.
UNLIMITED_NETWORK_QUOTA = {"network": -1, "subnet": -1, "router": -1, "port": -1}


def _lift_network_quota(config: dict) -> None:
    last_error = None
    for _ in range(10):
        try:
            token, project_id = _token_and_project(config["keystone"])
            _api(config, "neutron", token, "PUT", f"/v2.0/quotas/{project_id}", {"quota": UNLIMITED_NETWORK_QUOTA})
            return
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot lift the admin project's network quota: {last_error}")


# The volume loop keeps every volume it creates too: Cinder's default quota is 10 volumes a
# project (the first lab run had every create of the crash scenario refused, HTTP 413).
UNLIMITED_VOLUME_QUOTA = {"volumes": -1, "gigabytes": -1, "per_volume_gigabytes": -1}


def _lift_volume_quota(config: dict) -> None:
    last_error = None
    for _ in range(10):
        try:
            token, project_id = _token_and_project(config["keystone"])
            _project_api(config, "cinder", token, project_id, "PUT", f"/os-quota-sets/{project_id}",
                         {"quota_set": UNLIMITED_VOLUME_QUOTA})
            return
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot lift the admin project's volume quota: {last_error}")


class Recorder:
    def __init__(self, path: str):
        self.handle = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def __call__(self, kind: str, ok: bool, **extra) -> None:
        line = json.dumps({"k": kind, "t": time.monotonic(), "ok": ok, **extra}, sort_keys=True)
        with self.lock:
            self.handle.write(line + "\n")
            self.handle.flush()


def write_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    next_id = config["first_write_id"]
    while not stop.is_set():
        started = time.monotonic()
        try:
            ok = _mysql(config, f"INSERT INTO {TABLE} (id, scenario) VALUES ({next_id}, "
                                f"'{config['scenario']}')").returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        record("write", ok, id=next_id)
        next_id += 1
        stop.wait(max(0.0, WRITE_INTERVAL - (time.monotonic() - started)))


def token_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    ks = config["keystone"]
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": ks["password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode()
    while not stop.is_set():
        started = time.monotonic()
        request = urllib.request.Request(ks["url"] + "/auth/tokens", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                ok = response.status == 201 and bool(response.headers.get("X-Subject-Token"))
        except (urllib.error.URLError, OSError, TimeoutError):
            ok = False
        record("token", ok)
        stop.wait(max(0.0, TOKEN_INTERVAL - (time.monotonic() - started)))


def _token(ks: dict) -> str:
    """An admin token from Keystone through its VIP (raises on failure)."""
    return _token_and_project(ks)[0]


def _token_and_project(ks: dict) -> tuple[str, str]:
    """An admin token and the id of the project it is scoped to (raises on failure)."""
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": ks["password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode()
    request = urllib.request.Request(ks["url"] + "/auth/tokens", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["X-Subject-Token"], json.loads(response.read())["token"]["project"]["id"]


def _placement(config: dict, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(config["placement"]["url"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Auth-Token": token, "OpenStack-API-Version": PLACEMENT_VERSION,
                                              "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read() or b"{}")


def placement_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Create one resource provider per tick through Placement's VIP, as nova-compute registers
    itself; a provider counts as created only when Placement answered 200 with its uuid."""
    next_id, token = config["first_write_id"], None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-{next_id}"
        try:
            token = token or _token(config["keystone"])
            status, created = _placement(config, token, "POST", "/resource_providers", {"name": name})
            ok = status == 200 and created.get("name") == name and bool(created.get("uuid"))
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok = False
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError):
            ok = False
        record("placement", ok, id=next_id, name=name)
        next_id += 1
        stop.wait(max(0.0, PLACEMENT_INTERVAL - (time.monotonic() - started)))


def image_data(name: str) -> bytes:
    """An image's bytes, derived from its name, so that verify knows what each must hold."""
    return b"".join(hashlib.sha256(f"{name}/{i}".encode()).digest() for i in range(IMAGE_BYTES // 32))


def _glance(config: dict, token: str, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(config["glance"]["url"] + path, method=method, data=body,
                                     headers={"X-Auth-Token": token, "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def image_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Create, upload and download back one image per tick through Glance's VIP (HAProxy sends
    each request to the next node, so the three requests are served by different ones); an image
    counts only when its download matched its upload byte for byte."""
    next_id, token = config["first_write_id"], None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-{next_id}"
        data, image_id = image_data(name), None
        try:
            token = token or _token(config["keystone"])
            _, created = _glance(config, token, "POST", "/v2/images", json.dumps(
                {"name": name, "disk_format": "raw", "container_format": "bare"}).encode())
            image_id = json.loads(created)["id"]
            status, _ = _glance(config, token, "PUT", f"/v2/images/{image_id}/file", data, "application/octet-stream")
            _, downloaded = _glance(config, token, "GET", f"/v2/images/{image_id}/file")
            ok = status == 204 and downloaded == data
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok = False
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError):
            ok = False
        record("image", ok, id=next_id, name=name, image=image_id)
        next_id += 1
        stop.wait(max(0.0, IMAGE_INTERVAL - (time.monotonic() - started)))


# A service's own timeout per request: Neutron's writes are OVN transactions as well, and under
# the lab's load (a fenced node booting beside the client) each took 6 to 35 s, every one of them
# answered 201 (2026-12-07); an operator's client waits that long.
API_TIMEOUTS = {"nova": 10, "neutron": 40, "heat": 15, "cinder": 15}


def _api(config: dict, service: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One JSON request to a service's API through its VIP: the status and the decoded body."""
    request = urllib.request.Request(config[service]["url"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Auth-Token": token, "Content-Type": "application/json",
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=API_TIMEOUTS[service]) as response:
        return response.status, json.loads(response.read() or b"{}")


def flavor_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Create one flavor per tick through the compute API's VIP (a write to the API database
    that nova-api answers only once committed); it counts when Nova answered 200 with its id."""
    next_id, token = config["first_write_id"], None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-{next_id}"
        try:
            token = token or _token(config["keystone"])
            status, created = _api(config, "nova", token, "POST", "/flavors",
                                    {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 0}})
            ok = status == 200 and created["flavor"]["name"] == name and bool(created["flavor"]["id"])
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok = False
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError):
            ok = False
        record("flavor", ok, id=next_id, name=name)
        next_id += 1
        stop.wait(max(0.0, FLAVOR_INTERVAL - (time.monotonic() - started)))


def network_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Per tick, through Neutron's VIP: a network, its subnet, a router and the router's interface
    on that subnet (each an OVN Northbound transaction that Neutron commits before it answers).
    It counts when all four answered; the ids go in the event, for the Northbound check."""
    next_id, token = config["first_write_id"], None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-{next_id}"
        network_id = router_id = None
        step, error = "token", None  # a failure names the request it failed at, for the report
        try:
            token = token or _token(config["keystone"])
            step = "POST networks"
            _, net = _api(config, "neutron", token, "POST", "/v2.0/networks", {"network": {"name": name}})
            network_id = net["network"]["id"]
            step = "POST subnets"
            _, sub = _api(config, "neutron", token, "POST", "/v2.0/subnets", {"subnet": {
                "name": name, "network_id": network_id, "ip_version": 4, "cidr": NETWORK_CIDR}})
            step = "POST routers"
            _, router = _api(config, "neutron", token, "POST", "/v2.0/routers", {"router": {"name": name}})
            router_id = router["router"]["id"]
            step = "PUT add_router_interface"
            status, _ = _api(config, "neutron", token, "PUT", f"/v2.0/routers/{router_id}/add_router_interface",
                             {"subnet_id": sub["subnet"]["id"]})
            ok = status == 200
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok, error = False, f"{step}: HTTP {err.code}"
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as err:
            ok, error = False, f"{step}: {type(err).__name__}"
        record("network", ok, id=next_id, name=name, network=network_id, router=router_id, error=error)
        next_id += 1
        stop.wait(max(0.0, NETWORK_INTERVAL - (time.monotonic() - started)))


def _networks(config: dict) -> dict[str, list[str]]:
    """The names of the lab's networks and routers, listed through Neutron's VIP."""
    last_error = None
    for _ in range(10):
        try:
            token = _token(config["keystone"])
            found = {}
            for kind in ("networks", "routers"):
                _, listed = _api(config, "neutron", token, "GET", f"/v2.0/{kind}?fields=name")
                found[kind] = sorted(x["name"] for x in listed[kind] if x["name"].startswith(PROVIDER_PREFIX))
            return found
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot list networks: {last_error}")


def _project_api(config: dict, service: str, token: str, project_id: str, method: str, path: str,
                 body: dict | None = None):
    """One JSON request under an endpoint that Keystone's catalog holds with the project's id in
    it (Heat's, Cinder's), through the service's VIP."""
    base = urllib.parse.urlsplit(config[service]["url"])
    root = base.path.replace("%(project_id)s", project_id)
    request = urllib.request.Request(f"{base.scheme}://{base.netloc}{root}{path}",
                                     method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Auth-Token": token, "Content-Type": "application/json",
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=API_TIMEOUTS[service]) as response:
        return response.status, json.loads(response.read() or b"{}")


def _heat(config: dict, token: str, project_id: str, method: str, path: str, body: dict | None = None):
    return _project_api(config, "heat", token, project_id, method, path, body)


def stack_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Per tick, through Heat's VIP: create a stack (Heat answers 201 once it stored it and handed
    it to an engine). It counts when Heat accepted it; verify reads it back, outputs included."""
    next_id, token, project_id = config["first_write_id"], None, None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-{next_id}"
        stack_id, error = None, None
        try:
            if token is None:
                token, project_id = _token_and_project(config["keystone"])
            status, created = _heat(config, token, project_id, "POST", "/stacks", {
                "stack_name": name, "template": STACK_TEMPLATE, "parameters": {"label": name}})
            stack_id = created["stack"]["id"]
            ok = status == 201
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok, error = False, f"HTTP {err.code}"
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as err:
            ok, error = False, type(err).__name__
        record("stack", ok, id=next_id, name=name, stack=stack_id, error=error)
        next_id += 1
        stop.wait(max(0.0, STACK_INTERVAL - (time.monotonic() - started)))


def _settled_stacks(config: dict) -> tuple[str, str, list[dict]]:
    """Every lab stack Heat lists (with a token and project to read them further), once none is
    in progress or STACK_SETTLE_TIMEOUT has passed."""
    last_error, deadline = None, time.monotonic() + STACK_SETTLE_TIMEOUT
    while True:
        try:
            token, project_id = _token_and_project(config["keystone"])
            _, listed = _heat(config, token, project_id, "GET", "/stacks")
            ours = [s for s in listed["stacks"] if s["stack_name"].startswith(PROVIDER_PREFIX)]
            if any(s["stack_status"].endswith("IN_PROGRESS") for s in ours) and time.monotonic() < deadline:
                time.sleep(5)
                continue
            return token, project_id, ours
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                sys.exit(f"client: cannot list stacks: {last_error}")
            time.sleep(3)


def _resume(config: dict, token: str, project_id: str, stacks: list[dict]) -> list[str]:
    """Resume stacks left in progress, as their owner would: an update that changes nothing
    (PATCH, existing template and parameters). A convergence stack whose work an engine took and
    then died with stays in progress for good (an engine's start resets legacy stacks only); the
    update's traversal finds the dead engine's locks, marks those resources failed and redoes them.
    The names of those Heat accepted the update for (202)."""
    resumed = []
    for stack in stacks:
        try:
            status, _ = _heat(config, token, project_id, "PATCH", f"/stacks/{stack['stack_name']}/{stack['id']}", {})
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
            print(f"client: cannot resume stack {stack['stack_name']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if status == 202:
            resumed.append(stack["stack_name"])
    return resumed


def _stacks(config: dict) -> dict:
    """Every lab stack Heat lists, by name: its status, or 'OUTPUTS WRONG' for a completed one
    whose outputs are not what its template makes (its own name, a string of the right length);
    and the names of those verify resumed, having found them still in progress."""
    token, project_id, ours = _settled_stacks(config)
    stuck = [s for s in ours if s["stack_status"].endswith("IN_PROGRESS")]
    resumed = _resume(config, token, project_id, stuck) if stuck else []
    if resumed:
        token, project_id, ours = _settled_stacks(config)
    found = {}
    for stack in ours:
        status = stack["stack_status"]
        if status in STACK_DONE:
            _, shown = _heat(config, token, project_id, "GET", f"/stacks/{stack['stack_name']}/{stack['id']}")
            outputs = {o["output_key"]: o.get("output_value") for o in shown["stack"].get("outputs", [])}
            if outputs.get("label") != stack["stack_name"] or \
                    len(outputs.get("secret") or "") != STACK_SECRET_LENGTH:
                status = "OUTPUTS WRONG"
        found[stack["stack_name"]] = status
    return {"stacks": found, "stacks_resumed": resumed}


# What every HTTPS request and AMQPS connection of the client verifies the server with: the
# bundle's CA alone, and the certificate's names against the address it asked for.
TLS_CONTEXT: ssl.SSLContext | None = None


def trust_bundle_ca(cafile: str | None) -> None:
    """Make every urlopen (and every AMQP connection) verify against the deploy bundle's CA, and
    nothing else: a server that presented any other certificate, or none, fails the request."""
    global TLS_CONTEXT
    if cafile:
        TLS_CONTEXT = ssl.create_default_context(cafile=cafile)
        urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPSHandler(context=TLS_CONTEXT)))


class _Browser:
    """One browser of the dashboard: its own cookies (Django's CSRF and session cookies), following
    redirects as a browser does."""

    def __init__(self, base: str):
        import http.cookiejar

        self.base = base.rstrip("/")
        handlers = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if TLS_CONTEXT is not None:
            handlers.append(urllib.request.HTTPSHandler(context=TLS_CONTEXT))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.base + path, timeout=DASHBOARD_TIMEOUT) as response:
            return response.geturl(), response.read().decode("utf-8", "replace")

    def post(self, path: str, form: dict[str, str]) -> tuple[str, str]:
        request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode(),
                                         headers={"Referer": self.base + path})
        with self.opener.open(request, timeout=DASHBOARD_TIMEOUT) as response:
            return response.geturl(), response.read().decode("utf-8", "replace")


def login_form(page: str) -> dict[str, str]:
    """The login form's inputs and their values (the CSRF token, the region, Horizon's decoys)."""
    import re

    form = re.search(r'<form[^>]*action="[^"]*/auth/login/"[^>]*>(.*?)</form>', page, re.S)
    if form is None:
        raise ValueError("no login form on the page")
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1)):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


def logged_in(url: str, page: str) -> bool:
    """A page of a logged-in user: not sent back to the login page, and it offers to log out."""
    return "/auth/login/" not in urllib.parse.urlsplit(url).path and "/auth/logout/" in page


def dashboard_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Log in to Horizon through its VIP as a new browser each tick (the login page and its CSRF
    token, the POST, the redirect to the user's home page), then open a page twice on that session:
    HAProxy sends each request to the next node, so the session must be in the shared cache. A
    login counts when it reached a logged-in page; a session is lost when a later page of it was
    the login page again."""
    dash, ks = config["horizon"], config["keystone"]
    while not stop.is_set():
        started = time.monotonic()
        browser, ok = _Browser(dash["url"]), False
        step, error = "GET /auth/login/", None  # a failure names the request it failed at, for the report
        try:
            _, page = browser.get("/auth/login/")
            # Then to the user's settings page, which calls no other service: the default landing
            # page (the project overview) asks Neutron and Nova too, which the login should not measure.
            form = {**login_form(page), "username": "admin", "password": ks["password"], "next": "/settings/"}
            step = "POST /auth/login/"
            url, page = browser.post("/auth/login/", form)
            ok = logged_in(url, page)
            if not ok:
                error = f"ended on {urllib.parse.urlsplit(url).path}"
        except urllib.error.HTTPError as err:
            ok, error = False, f"HTTP {err.code}"
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as err:
            ok, error = False, type(err).__name__
        record("login", ok, seconds=round(time.monotonic() - started, 2),
               **({"error": f"{step}: {error}"} if error else {}))
        for _ in range(2 if ok else 0):
            try:
                url, page = browser.get("/settings/")
                record("session", logged_in(url, page), bounced="/auth/login/" in urllib.parse.urlsplit(url).path)
            except (urllib.error.URLError, OSError, TimeoutError):
                record("session", False, bounced=False)
        stop.wait(max(0.0, DASHBOARD_INTERVAL - (time.monotonic() - started)))


def probe_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        for vip in config["vips"]:
            try:
                with socket.create_connection((vip["address"], vip["port"]), timeout=0.5):
                    ok = True
            except OSError:
                ok = False
            record("vip", ok, vip=vip["name"])
        stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - started)))


def _amqp_connection(config: dict, index: int):
    import pika  # the lab's one extra dependency (hagen[lab])

    rabbit = config["rabbitmq"]
    host, port = rabbit["nodes"][index % len(rabbit["nodes"])]
    # AMQPS as oslo.messaging speaks it: the broker's certificate verified, its names included.
    tls = pika.SSLOptions(TLS_CONTEXT, server_hostname=host) if TLS_CONTEXT is not None else None
    params = pika.ConnectionParameters(host=host, port=port, credentials=pika.PlainCredentials(
        rabbit["user"], rabbit["password"]), socket_timeout=3, blocked_connection_timeout=10,
        connection_attempts=1, heartbeat=10, ssl_options=tls)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    return connection, channel


def publish_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Publish with confirms; on any failure move to the next node, as oslo.messaging does."""
    import pika

    node, connection, channel = 0, None, None
    next_id = config["first_message_id"]
    while not stop.is_set():
        started = time.monotonic()
        try:
            if channel is None:
                connection, channel = _amqp_connection(config, node)
                channel.confirm_delivery()
            channel.basic_publish("", QUEUE, str(next_id).encode(),
                                  pika.BasicProperties(delivery_mode=2), mandatory=True)
            record("publish", True, id=next_id)
        except Exception as exc:  # any broker or socket failure: count it and fail over
            record("publish", False, id=next_id, error=type(exc).__name__)
            try:
                if connection is not None:
                    connection.close()
            except Exception:
                pass
            node, connection, channel = node + 1, None, None
        next_id += 1
        stop.wait(max(0.0, PUBLISH_INTERVAL - (time.monotonic() - started)))
    if connection is not None:
        try:
            connection.close()
        except Exception:
            pass


def volume_loop(config: dict, record: Recorder, stop: threading.Event) -> None:
    """Per tick, through Cinder's VIP: create a volume (Cinder answers 202 once it stored it and
    cast it to a scheduler, which hands it to a cinder-volume of the cluster). It counts when Cinder
    accepted it; verify waits for it to become available, and extends it in a later scenario."""
    next_id, token, project_id = config["first_write_id"], None, None
    while not stop.is_set():
        started = time.monotonic()
        name = f"{_scenario_volume_prefix(config)}{next_id}"
        volume_id, error = None, None
        try:
            if token is None:
                token, project_id = _token_and_project(config["keystone"])
            status, created = _project_api(config, "cinder", token, project_id, "POST", "/volumes",
                                           {"volume": {"name": name, "size": VOLUME_SIZE_GB}})
            volume_id = created["volume"]["id"]
            ok = status == 202
        except urllib.error.HTTPError as err:
            if err.code == 401:
                token = None
            ok, error = False, f"HTTP {err.code}"
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as err:
            ok, error = False, type(err).__name__
        record("volume", ok, id=next_id, name=name, volume=volume_id, error=error)
        next_id += 1
        stop.wait(max(0.0, VOLUME_INTERVAL - (time.monotonic() - started)))


def _settled_volumes(config: dict, creates: bool = True) -> tuple[str, str, list[dict]]:
    """Every lab volume Cinder lists (with a token and project to act on them), once none is being
    extended and (with `creates`) none of this scenario's is being created, or VOLUME_SETTLE_TIMEOUT
    has passed. (A volume still 'creating' after that wait, or from an earlier scenario, is one
    Cinder dropped: waiting for it again would only wait out the bound.)"""
    last_error, deadline = None, time.monotonic() + VOLUME_SETTLE_TIMEOUT
    current = _scenario_volume_prefix(config) if creates else None
    while True:
        try:
            token, project_id = _token_and_project(config["keystone"])
            _, listed = _project_api(config, "cinder", token, project_id, "GET", "/volumes/detail?limit=1000")
            ours = [v for v in listed["volumes"] if (v.get("name") or "").startswith(PROVIDER_PREFIX)]
            busy = [v for v in ours if v["status"] == "extending"
                    or (current and v["status"] == "creating" and v["name"].startswith(current))]
            if busy and time.monotonic() < deadline:
                time.sleep(3)
                continue
            return token, project_id, ours
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                sys.exit(f"client: cannot list volumes: {last_error}")
            time.sleep(3)


def _volumes(config: dict) -> dict:
    """Every lab volume Cinder lists, by name: its status. Then the newest volumes of earlier
    scenarios still at their first size (VOLUMES_EXTENDED_AT_MOST) are extended through the VIP
    (managed by whichever cinder-volume takes each, after whatever the scenario did), and the names
    of those that reached the new size and of those that did not."""
    token, project_id, ours = _settled_volumes(config)
    current = _scenario_volume_prefix(config)
    earlier = sorted((v for v in ours if v["status"] == "available" and v["size"] == VOLUME_SIZE_GB
                      and not v["name"].startswith(current)), key=lambda v: v["name"])[-VOLUMES_EXTENDED_AT_MOST:]
    asked = []
    for volume in earlier:
        try:
            status, _ = _project_api(config, "cinder", token, project_id, "POST", f"/volumes/{volume['id']}/action",
                                     {"os-extend": {"new_size": VOLUME_SIZE_GB + 1}})
            if status == 202:
                asked.append(volume["name"])
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
            print(f"client: cannot extend volume {volume['name']}: {type(exc).__name__}: {exc}", file=sys.stderr)
    if asked:
        token, project_id, ours = _settled_volumes(config, creates=False)
    by_name = {v["name"]: v for v in ours}
    extended = [n for n in asked if by_name.get(n, {}).get("size") == VOLUME_SIZE_GB + 1
                and by_name[n]["status"] == "available"]
    return {"volumes": {v["name"]: v["status"] for v in ours}, "volumes_extended": extended,
            "volumes_not_extended": sorted({v["name"] for v in earlier} - set(extended)),
            # This scenario's volumes still 'creating' by their ids, for the lab to find what
            # Cinder's daemons logged of them.
            "volumes_stuck": {v["name"]: v["id"] for v in ours
                              if v["status"] == "creating" and v["name"].startswith(current)}}


def _scenario_volume_prefix(config: dict) -> str:
    return f"{PROVIDER_PREFIX}{config['scenario'].replace(' ', '-')}-"


def load(config: dict, events: str) -> None:
    record, stop = Recorder(events), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    loops = [write_loop, token_loop, probe_loop, publish_loop]
    if "placement" in config:
        loops.append(placement_loop)
    if "glance" in config:
        loops.append(image_loop)
    if "nova" in config:
        loops.append(flavor_loop)
    if "neutron" in config:
        loops.append(network_loop)
    if "heat" in config:
        loops.append(stack_loop)
    if "cinder" in config:
        loops.append(volume_loop)
    if "horizon" in config:
        loops.append(dashboard_loop)
    threads = [threading.Thread(target=loop, args=(config, record, stop), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    record("started", True)
    while not stop.is_set():
        stop.wait(0.5)
    deadline = time.monotonic() + max(API_TIMEOUTS.values()) + 5  # each loop's request in flight ends
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    record("stopped", True)


def verify(config: dict) -> dict:
    """Which written rows are present, and every message the queue still holds (drained)."""
    proc = _mysql(config, f"SELECT id FROM {TABLE}", timeout=60)
    if proc.returncode != 0:
        sys.exit(f"client: cannot read {TABLE}: {proc.stderr.strip()}")
    rows = [int(x) for x in proc.stdout.split()]
    messages, last_error = [], None
    for attempt in range(len(config["rabbitmq"]["nodes"]) * 2):
        try:
            connection, channel = _amqp_connection(config, attempt)
            while True:
                method, _, body = channel.basic_get(QUEUE, auto_ack=False)
                if method is None:
                    break
                messages.append(int(body))
                channel.basic_ack(method.delivery_tag)
            connection.close()
            break
        except Exception as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(2)
    else:
        sys.exit(f"client: cannot drain {QUEUE}: {last_error}")
    found = {"rows": rows, "messages": messages}
    # How long each service's check took, said on stderr as it goes: when the whole verify outlasts
    # the harness's bound, the harness reports what was still running.
    timings, started = {}, time.monotonic()

    def timed(name: str, check) -> None:
        began = time.monotonic()
        result = check(config)
        timings[name] = round(time.monotonic() - began, 1)
        print(f"verify: {name} {timings[name]} s", file=sys.stderr, flush=True)
        if isinstance(result, dict):
            found.update(result)
        else:
            found[name] = result
    if "placement" in config:
        timed("providers", _providers)
    if "glance" in config:
        timed("images", _intact_images)
    if "nova" in config:
        timed("flavors", _flavors)
        timed("compute_services_down", _compute_services_down)
    if "neutron" in config:
        timed("networks", _networks)
    if "heat" in config:
        timed("stacks", _stacks)
    if "cinder" in config:
        timed("volumes", _volumes)
    timings["all"] = round(time.monotonic() - started, 1)
    found["verify_s"] = timings
    return found


def _intact_images(config: dict) -> list[str]:
    """The lab's images Glance still lists active and serves with the bytes they were uploaded with
    (each downloaded through the VIP, so from every node in turn)."""
    last_error = None
    for _ in range(10):
        try:
            token, intact, path = _token(config["keystone"]), [], "/v2/images?limit=1000"
            while path:
                _, page = _glance(config, token, "GET", path)
                listed = json.loads(page)
                for image in listed["images"]:
                    if image["name"].startswith(PROVIDER_PREFIX) and image["status"] == "active":
                        _, downloaded = _glance(config, token, "GET", f"/v2/images/{image['id']}/file")
                        if downloaded == image_data(image["name"]):
                            intact.append(image["name"])
                path = listed.get("next")
            return sorted(intact)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot list images: {last_error}")


def _providers(config: dict) -> list[str]:
    """The names of the lab's resource providers, listed through Placement's VIP."""
    last_error = None
    for _ in range(10):
        try:
            _, listed = _placement(config, _token(config["keystone"]), "GET", "/resource_providers")
            return sorted(p["name"] for p in listed["resource_providers"] if p["name"].startswith(PROVIDER_PREFIX))
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot list resource providers: {last_error}")


def _flavors(config: dict) -> list[str]:
    """The names of the lab's flavors, listed through the compute API's VIP."""
    last_error = None
    for _ in range(10):
        try:
            token, names, marker = _token(config["keystone"]), [], ""
            while True:  # pages of 1000 (osapi_max_limit): a long lab makes more flavors than that
                _, listed = _api(config, "nova", token, "GET", f"/flavors?limit=1000{marker}")
                page = listed["flavors"]
                names += [f["name"] for f in page if f["name"].startswith(PROVIDER_PREFIX)]
                if len(page) < 1000:
                    return sorted(names)
                marker = f"&marker={page[-1]['id']}"
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(3)
    sys.exit(f"client: cannot list flavors: {last_error}")


def _compute_services_down(config: dict) -> list[str]:
    """'daemon@node' for each of NOVA_DAEMONS on each Nova node that the compute API does not list
    up and enabled (openstack compute service list). A restarted node's daemons report within
    their heartbeat; wait up to two minutes for every one."""
    wanted = {f"{d}@{n}" for d in NOVA_DAEMONS for n in config["nova"]["nodes"]}
    down, deadline = sorted(wanted), time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            _, listed = _api(config, "nova", _token(config["keystone"]), "GET", "/os-services")
            up = {f"{s['binary']}@{s['host']}" for s in listed["services"]
                  if s["state"] == "up" and s["status"] == "enabled"}
            down = sorted(wanted - up)
            if not down:
                return []
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, KeyError):
            pass
        time.sleep(5)
    return down


def main(argv: list[str]) -> None:
    command, config_path = argv[0], argv[1]
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    trust_bundle_ca(config.get("cafile"))
    if command == "setup":
        setup(config)
    elif command == "load":
        load(config, argv[2])
    elif command == "verify":
        sys.stdout.write(json.dumps(verify(config)) + "\n")
    else:
        sys.exit(f"client: unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
