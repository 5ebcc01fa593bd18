"""The real Debian tools judge the bundles (hagen check), and catch deliberate breakage."""

import shutil
from pathlib import Path

import pytest

from compiler.check import FAIL, NA, PASS, SKIP, check_bundle, check_haproxy, check_shell
from conftest import EXAMPLES, retarget, tool_available

pytestmark = pytest.mark.tools


def _build(tmp_path, hagen, spec, target):
    spec_file = tmp_path / f"{spec}.yaml"
    spec_file.write_text(retarget((EXAMPLES / f"{spec}.yaml").read_text(), target))
    assert hagen("build", spec_file, "-o", tmp_path / "b").returncode == 0
    return tmp_path / "b"


@pytest.mark.parametrize("spec,target", [("seed", "debian12"), ("separate-hosts", "el9")])
def test_bundles_pass_every_real_tool(tmp_path, hagen, spec, target):
    results = check_bundle(_build(tmp_path, hagen, spec, target))
    bad = [(r.artifact, r.tool, r.reason) for r in results if r.status in (FAIL, SKIP)]
    assert not bad
    tools = {r.tool.split(":")[0] for r in results if r.status == PASS}
    assert {"haproxy -c -dW", "shellcheck -S warning", "cloud-init schema", "ksvalidator -v RHEL9",
            "mariadbd --help --verbose", "corosync -t", "pcs cluster setup --corosync_conf"} <= tools
    if target == "debian12":
        assert {"crm_simulate", "crm_verify", "xinetd (started for 2 s)"} <= tools
    else:
        assert any(r.status == NA for r in results) and "systemd-analyze verify" in tools


@pytest.mark.skipif(not tool_available("haproxy"), reason="haproxy not installed")
def test_haproxy_catches_a_bad_keyword(tmp_path):
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                   "frontend f\n    bind 127.0.0.1:1\n    bogus_keyword yes\n")
    assert check_haproxy(tmp_path, cfg).status == FAIL


@pytest.mark.skipif(not tool_available("shellcheck"), reason="shellcheck not installed")
def test_shellcheck_catches_an_unquoted_variable(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/bash\nfor f in $(ls); do rm $f; done\n")
    assert check_shell(tmp_path, script).status == FAIL


def test_a_vip_without_haproxy_colocation_is_caught(tmp_path, hagen):
    bundle = _build(tmp_path, hagen, "seed", "debian12")
    script = bundle / "cluster/ha-controller/pcs-resources.sh"
    broken = "\n".join(l for l in script.read_text().splitlines() if "col-vip-db-with-haproxy' ||" not in l)
    script.write_text(broken + "\n")
    # Without colocation the VIP may land anywhere; a location rule pins it away from every HAProxy.
    script.write_text(script.read_text() + "pcs -f \"$cib\" resource disable haproxy-clone\n")
    results = check_bundle(bundle)
    assert any(r.status == FAIL and "vip-db" in r.reason for r in results if r.tool.startswith("crm_simulate"))
