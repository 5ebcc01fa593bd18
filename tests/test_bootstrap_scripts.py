"""A service's bootstrap script run for real on controller1, its tools replaced by stubs: does it
wait for what it says it waits for, and give up saying on which node?"""

import subprocess
from pathlib import Path

from compiler.emit import emit_bundle
from compiler.lower import lower
from compiler.secrets import SecretValues, generate_value, required_secrets
from compiler.spec import load_spec_text
from conftest import EXAMPLES

# heat-manage service list as heat 24 prints it (engine ids shortened): hostname, binary, engine
# id, host, topic, status, updated at. Each call prints the next file of listings/ (the last one
# again once they run out).
HEADER = "Hostname         Binary           Engine_Id  Host       Topic      Status     Updated At\n"
STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$HAGEN_TEST_LOG"
case "$(basename "$0")" in
    hostname) echo controller1 ;;
    runuser) shift 3; exec "$@" ;;          # runuser -u <user> -- <command...>
    python3) exit 0 ;;                       # the API answers through its VIP
    sleep) ;;
    heat-manage)
        [ "$1 $2" = "service list" ] || exit 0
        n=$(grep -c '^heat-manage service list' "$HAGEN_TEST_LOG")
        listing="$HAGEN_TEST_LISTINGS/$n"
        [ -f "$listing" ] || listing=$(ls "$HAGEN_TEST_LISTINGS"/* | sort -V | tail -1)
        cat "$listing" ;;
esac
"""


def _heat_bootstrap(tmp_path: Path) -> Path:
    topo = lower(load_spec_text((EXAMPLES / "seed.yaml").read_text(), "seed.yaml").data)
    values = SecretValues({n: generate_value(n) for n in required_secrets(topo)})
    script = tmp_path / "heat-bootstrap.sh"
    [content] = [f.content for f in emit_bundle(topo, values, []) if f.path == "bootstrap/heat-bootstrap.sh"]
    script.write_text(content)
    return script


def _run(tmp_path: Path, listings: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    stubs, listed, log = tmp_path / "stubs", tmp_path / "listings", tmp_path / "log"
    stubs.mkdir()
    listed.mkdir()
    for name in ("hostname", "runuser", "python3", "sleep", "heat-manage"):
        (stubs / name).write_text(STUB)
        (stubs / name).chmod(0o755)
    for i, text in enumerate(listings, start=1):
        (listed / str(i)).write_text(HEADER + text)
    log.touch()
    proc = subprocess.run(["bash", str(_heat_bootstrap(tmp_path))], capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{stubs}:/usr/bin:/bin", "HAGEN_TEST_LOG": str(log),
                               "HAGEN_TEST_LISTINGS": str(listed)})
    return proc, log.read_text().splitlines()


def _engine(host: str, status: str) -> str:
    return f"{host:<16} heat-engine      0f1e2d3c   {host:<10} engine     {status:<10} 2026-12-06 13:00:00\n"


def test_heat_bootstrap_waits_until_every_nodes_engine_reports_up(tmp_path):
    proc, calls = _run(tmp_path, [
        "",  # no engine registered yet: each crash-looped until the schema existed
        _engine("controller1", "up") + _engine("controller2.example.org", "up") + _engine("controller3", "down"),
        # controller3's engine from before its restart, down, beside its new one, up
        _engine("controller1", "up") + _engine("controller2.example.org", "up") + _engine("controller3", "down")
        + _engine("controller3", "up")])
    assert proc.returncode == 0, proc.stderr
    assert "heat-manage db_sync" in calls
    assert calls.count("heat-manage service list") == 3
    assert calls.index("heat-manage db_sync") < calls.index("heat-manage service list")
    assert "heat-engine up on every node" in proc.stdout


def test_heat_bootstrap_gives_up_naming_the_nodes_whose_engine_never_came_up(tmp_path):
    proc, calls = _run(tmp_path, [_engine("controller1", "up") + _engine("controller3", "down")])
    assert proc.returncode == 1
    assert calls.count("heat-manage service list") == 60
    assert "heat-engine not up on controller2 controller3" in proc.stderr
