"""The lab's Prometheus: the operator's monitoring server, configured by the bundle's own
monitoring/ folder, unchanged. This machine's prometheus runs inside the lab's network namespace
at the client's address (one of the scrapers the spec's networks allow), scrapes every node's
exporters, and evaluates hagen's alert rules; the lab reads its HTTP API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote

from . import hosts

PORT = 9090
POLL_S = 5


class PrometheusError(hosts.LabError):
    pass


def missing_tool() -> str | None:
    return None if shutil.which("prometheus") else "prometheus is not installed (apt-get install prometheus)"


def _dir(root: Path) -> Path:
    return root / "prometheus"


def start(root: Path, bundle: Path, address: str, log=print) -> float:
    """Start Prometheus on the bundle's scrape config and rules; the seconds until it was ready."""
    started = time.monotonic()
    d = _dir(root)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(bundle / "monitoring", d / "config")  # its rule path is relative to the config
    out = open(d / "prometheus.log", "wb")
    # nsenter execs prometheus itself: this pid is the server's.
    proc = subprocess.Popen(hosts.in_netns(["prometheus", f"--config.file={d}/config/prometheus.yml",
                                            f"--storage.tsdb.path={d}/data", f"--web.listen-address={address}:{PORT}"]),
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    (d / "prometheus.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PrometheusError(f"prometheus exited {proc.returncode}; see {d / 'prometheus.log'}")
        try:
            api(address, "/-/ready", raw=True)
            seconds = round(time.monotonic() - started, 1)
            log(f"lab: Prometheus at {address}:{PORT} on the bundle's monitoring/ config in {seconds} s")
            return seconds
        except PrometheusError:
            time.sleep(1)
    raise PrometheusError(f"prometheus was not ready within 60 s; see {d / 'prometheus.log'}")


def stop(root: Path) -> list[str]:
    d = _dir(root)
    stopped = ["Prometheus"] if hosts.kill_pid_file(d / "prometheus.pid") else []
    shutil.rmtree(d, ignore_errors=True)
    return stopped


# The query runs inside the lab's namespace, where the server listens.
_GET = ("import sys, urllib.request; "
        "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())")


def api(address: str, path: str, raw: bool = False):
    proc = subprocess.run(hosts.in_netns(["python3", "-c", _GET, f"http://{address}:{PORT}{path}"]),
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise PrometheusError(f"GET {path}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return proc.stdout if raw else json.loads(proc.stdout)["data"]


def targets(address: str) -> dict[str, str]:
    """{'job/instance': 'up' or the scrape's last error}"""
    found = {}
    for t in api(address, "/api/v1/targets?state=active")["activeTargets"]:
        key = f"{t['labels']['job']}/{t['labels']['instance']}"
        found[key] = "up" if t["health"] == "up" else (t.get("lastError") or t["health"])
    return found


def alert_key(alert: dict) -> str:
    labels = {k: v for k, v in alert["labels"].items() if k not in ("alertname", "severity")}
    return alert["labels"]["alertname"] + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def firing(address: str) -> list[str]:
    return sorted(alert_key(a) for a in api(address, "/api/v1/alerts")["alerts"] if a["state"] == "firing")


def metrics_read_by_rules(bundle: Path) -> list[str]:
    """The metric names the alert rules read: every series their unit tests feed them."""
    text = (bundle / "monitoring/tests/hagen.rules.test.yml").read_text()
    return sorted(set(re.findall(r"^\s+- series: '([a-zA-Z_:][a-zA-Z0-9_:]*)\{", text, flags=re.M)))


def missing_metrics(address: str, names: list[str]) -> list[str]:
    """The names no target exports now."""
    missing = []
    for name in names:
        query = quote(f'count({{__name__="{name}"}})', safe="")
        if not api(address, f"/api/v1/query?query={query}")["result"]:
            missing.append(name)
    return missing


def wait_settled(address: str, timeout: float) -> dict:
    """Until every target is up and no alert fires (or the timeout): what was left, and when."""
    started = time.monotonic()
    down, alerts = {}, []
    while time.monotonic() - started < timeout:
        try:
            down = {k: v for k, v in targets(address).items() if v != "up"}
            alerts = firing(address)
        except PrometheusError as err:
            down, alerts = {"prometheus": str(err)}, []
        if not down and not alerts:
            return {"settled_s": round(time.monotonic() - started, 1), "targets_down": {}, "firing": []}
        time.sleep(POLL_S)
    return {"settled_s": None, "targets_down": down, "firing": alerts}


class AlertTimeline:
    """Polls the firing alerts in the background: when each began and ended firing, in seconds
    from `since` (a time.monotonic() the scenario sets, the crash's)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.since = time.monotonic()
        self.spans: dict[str, dict] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                now_firing = set(firing(self.address))
            except (PrometheusError, subprocess.TimeoutExpired, ValueError):
                self.errors += 1
                continue
            t = round(time.monotonic() - self.since, 1)
            for key in now_firing:
                span = self.spans.setdefault(key, {"fired_s": t, "resolved_s": None})
                span["resolved_s"] = None
            for key, span in self.spans.items():
                if key not in now_firing and span["resolved_s"] is None:
                    span["resolved_s"] = t

    def __enter__(self) -> "AlertTimeline":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
