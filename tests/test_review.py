"""Reviewing bundles: the README's Mermaid picture (real parser), hagen diff, build --check,
check --record and the pre-commit hooks."""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import EXAMPLES, ROOT

MERMAID_DIR = ROOT / "tests" / "mermaid"


def _mermaid_block(readme: str) -> str:
    start = readme.index("```mermaid\n") + len("```mermaid\n")
    return readme[start:readme.index("```", start)]


@pytest.mark.parametrize("spec", ["seed", "separate-hosts"])
def test_readme_diagram_parses_with_the_real_mermaid_parser(spec, tmp_path, hagen):
    if not (MERMAID_DIR / "node_modules" / "mermaid").is_dir() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("mermaid is not installed: (cd tests/mermaid && npm ci)")
        pytest.skip("mermaid not installed: (cd tests/mermaid && npm ci)")
    assert hagen("build", EXAMPLES / f"{spec}.yaml", "-o", tmp_path / "b").returncode == 0
    text = _mermaid_block((tmp_path / "b" / "README.md").read_text())
    proc = subprocess.run(["node", str(MERMAID_DIR / "parse.mjs")], input=text, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"ok": True, "type": "flowchart-v2"}
    # and the parser does reject a broken picture, so the check above can fail
    broken = subprocess.run(["node", str(MERMAID_DIR / "parse.mjs")], input=text + "    broken[[[\n",
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1 and "Parse error on line" in broken.stdout


def test_readme_says_constraints_in_words():
    from compiler.pipeline import compile_path
    readme = next(f.content for f in compile_path(str(EXAMPLES / "seed.yaml")).files if f.path == "README.md")
    assert "- vip-db runs only where haproxy-clone runs\n" in readme
    assert "- vip-db starts after haproxy-clone (optional)\n" in readme
    assert "- fence-controller1 never runs on controller1\n" in readme


SEED = (EXAMPLES / "seed.yaml").read_text()
NODE4 = ("  - name: controller4\n    address: 192.168.16.61\n    interface: eth0\n"
         "    fencing: {address: 192.168.17.61, username: admin, password_secret: ipmi_controller4}\nvips:")
EDITS = {
    "add a node": (SEED.replace("vips:", NODE4, 1).replace("  galera:\n", "  galera:\n    nodes: [controller1, controller2, controller3]\n"), [
        "node controller4 (192.168.16.61) added with roles loadbalancer, rabbitmq, keystone, glance, placement, nova, "
        "neutron, heat, cinder, horizon, ovn-central",
        "backend controller4 added to vip-keystone (active, port 8776)",
        "backend controller4 added to vip-keystone (active, port 9292)",
        "backend controller4 added to vip-keystone (active, port 8004)",
        "backend controller4 added to vip-keystone (active, port 8000)",
        "backend controller4 added to vip-keystone (active, port 80)",
        "backend controller4 added to vip-keystone (active, port 5000)",
        "backend controller4 added to vip-keystone (active, port 9696)",
        "backend controller4 added to vip-keystone (active, port 8774)",
        "backend controller4 added to vip-keystone (active, port 8775)",
        "backend controller4 added to vip-keystone (active, port 6080)",
        "backend controller4 added to vip-keystone (active, port 8778)",
        "backend controller4 added to vip-rabbitmq (active, port 5672)",
        "OVN central RAFT members gains controller4",
        "pcs: cluster ha-controller gains node controller4 (refused while it runs)",
        "pcs: new resource fence-controller4 in cluster ha-controller",
        "pcs: new constraint in ha-controller: fence-controller4 never runs on controller4",
        "pcs: new constraint in ha-controller: galera-clone never runs on controller4",
    ]),
    # Its running nodes refuse the new name (setup.sh): the diff says so first.
    "rename the cluster": (SEED.replace("  name: ha-controller", "  name: ha-renamed", 1), [
        *(f"node controller{i} cluster ha-controller -> ha-renamed" for i in (1, 2, 3)),
        "pcs: cluster ha-controller removed (its running nodes refuse to join another cluster)",
        "pcs: new cluster ha-renamed on controller1, controller2, controller3",
    ]),
    "move a VIP": (SEED.replace("address: 192.168.16.200", "address: 192.168.16.210"), [
        "vip-db moves from 192.168.16.200 to 192.168.16.210",
        "pcs: resource vip-db in cluster ha-controller: ip=192.168.16.200 -> ip=192.168.16.210 "
        "(a rerun applies it; Pacemaker restarts it where it runs)",
    ]),
    # pcs-resources.sh reconciles: a rerun updates the running fence device (test_tools proves it).
    "move a BMC": (SEED.replace("address: 192.168.17.58", "address: 192.168.17.99", 1), [
        "pcs: resource fence-controller1 in cluster ha-controller: ip=192.168.17.58 -> ip=192.168.17.99 "
        "(a rerun applies it; Pacemaker restarts it where it runs)",
    ]),
    "change a port": (SEED.replace("public_port: 5000", "public_port: 5001"), [
        "frontend keystone-public on vip-keystone: port 5000 -> 5001",
        "backend controller1 of vip-keystone: port 5000 -> 5001",
        "backend controller2 of vip-keystone: port 5000 -> 5001",
        "backend controller3 of vip-keystone: port 5000 -> 5001",
        "keystone public_port 5000 -> 5001",
        "service keystone url https://vip-keystone:5000/v3 -> https://vip-keystone:5001/v3",
    ]),
    "move Placement to another port": (SEED.replace("port: 8778", "port: 8779"), [
        "frontend placement-api on vip-keystone: port 8778 -> 8779",
        "backend controller1 of vip-keystone: port 8778 -> 8779",
        "backend controller2 of vip-keystone: port 8778 -> 8779",
        "backend controller3 of vip-keystone: port 8778 -> 8779",
        "service placement url https://vip-keystone:8778 -> https://vip-keystone:8779",
    ]),
    # Nova needs Placement (H057): both go, and Horizon after them in the spec.
    "leave Placement, Nova, Neutron, Heat, Cinder and Horizon out": (SEED[:SEED.index("  # Placement")], [
        *(f"node controller{i} loses placement, nova, neutron, heat, cinder, horizon, ovn-central, ovn-gateway"
          for i in (1, 2, 3)),
        "frontend cinder-api removed",
        "frontend heat-api removed",
        "frontend heat-api-cfn removed",
        "frontend horizon removed",
        "frontend neutron-api removed",
        "frontend nova-api removed",
        "frontend nova-metadata removed",
        "frontend nova-novncproxy removed",
        "frontend placement-api removed",
        "service cinder removed",
        "service heat removed",
        "service horizon removed",
        "service neutron removed",
        "service nova removed",
        "service placement removed",
        # Cinder's NFS backend ran cinder-volume under Pacemaker.
        "pcs: resource cinder-volume removed from cluster ha-controller (a rerun stops and removes it)",
    ]),
    "waive fencing": (SEED.replace("  target: debian13\n", "  target: debian13\n  fencing_waiver: {reason: lab}\n"), [
        "fencing: fence_ipmilan per node -> waived: lab",
        "pcs: resource fence-controller1 removed from cluster ha-controller (a rerun stops and removes it)",
        "pcs: resource fence-controller2 removed from cluster ha-controller (a rerun stops and removes it)",
        "pcs: resource fence-controller3 removed from cluster ha-controller (a rerun stops and removes it)",
        "pcs: constraint removed from ha-controller: fence-controller1 never runs on controller1",
        "pcs: constraint removed from ha-controller: fence-controller2 never runs on controller2",
        "pcs: constraint removed from ha-controller: fence-controller3 never runs on controller3",
    ]),
}


def _diff_seed_against(hagen, tmp_path, text: str, *flags: str):
    """hagen diff of the seed against an edited copy: they must differ."""
    new = tmp_path / "new.yaml"
    new.write_text(text)
    proc = hagen("diff", *flags, EXAMPLES / "seed.yaml", new)
    assert proc.returncode == 1, proc.stderr
    return proc


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_diff_summarizes_spec_edits_exactly(edit, tmp_path, hagen):
    text, expected = EDITS[edit]
    proc = _diff_seed_against(hagen, tmp_path, text)
    summary, _, rest = proc.stdout.partition("\n\n")
    assert summary.splitlines() == ["Summary:"] + [f"  - {line}" for line in expected]
    assert rest.startswith("--- a/")  # then the unified diff of the files


def test_diff_says_galera_s_new_settings_are_refused_by_a_rerun_and_a_meta_change_restarts_nothing(tmp_path, hagen):
    """What a rerun of pcs-resources.sh does depends on which part of a resource changed: the
    agent's attributes restart it (Galera's on every node at once, so the script refuses it), its
    operations and meta attributes do not."""
    moved = (SEED.replace("vips:", NODE4, 1)
             .replace("  galera:\n", "  galera:\n    nodes: [controller1, controller2, controller4]\n"))
    proc = _diff_seed_against(hagen, tmp_path, moved)
    assert ("  - pcs: resource galera in cluster ha-controller: "
            "wsrep_cluster_address=gcomm://controller1,controller2,controller3 -> "
            "wsrep_cluster_address=gcomm://controller1,controller2,controller4 "
            "(a rerun refuses it unless --allow-full-restart: Pacemaker would restart it on every node at once)"
            ) in proc.stdout.splitlines()

    from compiler.diff import _rerun_effect
    vip = "ocf:heartbeat:IPaddr2 ip=192.168.16.200 cidr_netmask=24 op monitor interval={} meta resource-stickiness={}"
    assert _rerun_effect(vip.format("10s", "INFINITY").split(), vip.format("20s", "100").split(), False) == \
        "a rerun applies it online; nothing restarts"
    clone = "promotable meta promoted-max=3 failure-timeout={}"
    assert _rerun_effect(clone.format("60s").split(), clone.format("90s").split(), True) == \
        "a rerun applies it online; nothing restarts"


STAGED = "/var/lib/hagen/bundle"
PLANS = {
    # The new BMC address reaches controller1's copy of pcs-resources.sh (it alone runs it), then
    # the CIB; the other nodes' files are unchanged.
    "move a BMC": (SEED.replace("address: 192.168.17.58", "address: 192.168.17.99", 1), [
        "hagen secrets check SECRETS --spec NEW names any secret the new spec needs; hagen secrets add SECRETS "
        "--spec NEW makes only those, keeping every value",
        f"on controller1: copy nodes/controller1/ to {STAGED}/ and run {STAGED}/setup.sh as root (1 file change; "
        "it restarts the node's changed services); wait until pcs status shows controller1 online with every "
        "resource started before the next node",
        "on controller1: /usr/local/lib/hagen/cluster/ha-controller/pcs-resources.sh (reconciles the CIB with the "
        "bundle in one push)",
    ]),
    # HAProxy's new frontend port: each node in turn, HAProxy reloaded there; Keystone's catalog after.
    "change a port": (SEED.replace("public_port: 5000", "public_port: 5001"), [
        "hagen secrets check SECRETS --spec NEW names any secret the new spec needs; hagen secrets add SECRETS "
        "--spec NEW makes only those, keeping every value",
        *(f"on controller{i}: copy nodes/controller{i}/ to {STAGED}/ and run {STAGED}/setup.sh as root ({n} files "
          f"change; it restarts the node's changed services, then systemctl reload haproxy); wait until pcs status "
          f"shows controller{i} online with every resource started before the next node"
          for i, n in ((1, 12), (2, 11), (3, 11))),
        "on controller1: /usr/local/lib/hagen/bootstrap/keystone-bootstrap.sh (db_sync, admin user, endpoints on "
        "the VIP, the other services' users and endpoints)",
    ]),
    "rename the cluster": (SEED.replace("  name: ha-controller", "  name: ha-renamed", 1), [
        "refused by setup.sh and pcs-setup.sh, which change nothing: cluster ha-controller is renamed or removed: "
        "its running nodes refuse to join another cluster",
    ]),
    "add a node": (EDITS["add a node"][0], [
        "refused by setup.sh and pcs-setup.sh, which change nothing: cluster ha-controller's nodes change "
        "(controller1, controller2, controller3 -> controller1, controller2, controller3, controller4): hagen does "
        "not yet add or remove a running cluster's nodes",
    ]),
}


@pytest.mark.parametrize("edit", sorted(PLANS))
def test_diff_plans_the_steps_of_a_change_exactly(edit, tmp_path, hagen):
    text, expected = PLANS[edit]
    proc = _diff_seed_against(hagen, tmp_path, text, "--plan")
    _, _, plan = proc.stdout.partition("\n\nPlan (a running control plane, in this order):\n")
    assert plan.splitlines() == [f"  {i}. {step}" for i, step in enumerate(expected, 1)]
    assert "--- a/" not in proc.stdout  # the plan replaces the file diff


def test_a_galera_change_is_planned_with_its_outage_and_a_galera_file_with_a_restart_on_its_node(tmp_path, hagen):
    """A changed Galera setting in the CIB needs --allow-full-restart (the plan names the outage);
    a changed galera.cnf on a node needs Galera restarted there (setup.sh leaves it running)."""
    from compiler.diff import Side, plan
    from compiler.pipeline import compile_path

    def side(text):
        spec = tmp_path / "spec.yaml"
        spec.write_text(text)
        return Side({f.path: f.content.encode() if isinstance(f.content, str) else f.content
                     for f in compile_path(str(spec)).files})

    old = side(SEED)
    gcache = side(SEED.replace("  galera:\n", "  galera:\n    gcache_size: 2G\n", 1))
    steps = plan(old, gcache)
    assert [s for s in steps if "galera" in s] == [
        f"on controller{i}: copy nodes/controller{i}/ to {STAGED}/ and run {STAGED}/setup.sh as root (1 file change; "
        f"it restarts the node's changed services, then pcs resource restart galera-clone controller{i} --wait); "
        f"wait until pcs status shows controller{i} online with every resource started before the next node"
        for i in (1, 2, 3)]
    topo = json.loads(old.files["topology.json"])
    topo["clusters"]["ha-controller"]["resources"]["galera"] = "ocf:heartbeat:galera wsrep_cluster_address=gcomm://x"
    moved = Side({**old.files, "topology.json": json.dumps(topo).encode(),
                  "cluster/ha-controller/pcs-resources.sh": b"changed"})
    assert plan(old, moved)[-1] == ("on controller1: /usr/local/lib/hagen/cluster/ha-controller/pcs-resources.sh "
                                    "--allow-full-restart (reconciles the CIB with the bundle in one push; galera "
                                    "restarts on every node at once: plan the outage)")
    # Galera's operations changed, not its attributes: the script takes it without the flag.
    retimed = json.loads(old.files["topology.json"])
    galera = retimed["clusters"]["ha-controller"]["resources"]["galera"]
    assert "timeout=300s" in galera
    retimed["clusters"]["ha-controller"]["resources"]["galera"] = galera.replace("timeout=300s", "timeout=400s")
    slower = Side({**old.files, "topology.json": json.dumps(retimed).encode(),
                   "cluster/ha-controller/pcs-resources.sh": b"changed"})
    assert plan(old, slower)[-1] == ("on controller1: /usr/local/lib/hagen/cluster/ha-controller/pcs-resources.sh "
                                     "(reconciles the CIB with the bundle in one push)")
    # A cluster the old bundle did not have is created by its pcs-setup.sh (it then reconciles).
    unclustered = {**topo, "clusters": {}}
    assert [s for s in plan(Side({"topology.json": json.dumps(unclustered).encode()}), old) if "cluster/" in s] == [
        "on controller1: /usr/local/lib/hagen/cluster/ha-controller/pcs-setup.sh (creates cluster ha-controller and "
        "its resources)"]


def test_diff_spec_against_committed_bundle_and_equal_inputs(tmp_path, hagen):
    assert hagen("diff", EXAMPLES / "seed.yaml", ROOT / "out").returncode == 0
    assert hagen("diff", ROOT / "out", ROOT / "out").returncode == 0
    moved = tmp_path / "moved.yaml"
    moved.write_text(EDITS["move a VIP"][0])
    proc = hagen("diff", ROOT / "out", moved, "--summary")
    assert proc.returncode == 1 and proc.stdout == "Summary:\n" + "".join(f"  - {line}\n"
                                                                     for line in EDITS["move a VIP"][1])
    assert hagen("diff", tmp_path / "nothing", moved).returncode == 2


def test_build_check_current_stale_and_missing(tmp_path, hagen):
    out = tmp_path / "out"
    missing = hagen("build", "--check", EXAMPLES / "seed.yaml", "-o", out)
    assert missing.returncode == 1 and "does not exist" in missing.stderr and not out.exists()
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    current = hagen("build", "--check", EXAMPLES / "seed.yaml", "-o", out)
    assert current.returncode == 0 and "is current" in current.stderr
    (out / "nodes/controller2/etc/hosts").write_text("edited by hand\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    stale = hagen("build", "--check", EXAMPLES / "seed.yaml", "-o", out)
    assert stale.returncode == 1 and f"stale: {out}/nodes/controller2/etc/hosts" in stale.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing written


def test_check_record_is_kept_only_while_the_bundle_is_unchanged(tmp_path, hagen):
    from compiler.bundle import RECORD, record_digest, sums_digest
    from compiler.check import CheckResult, record_markdown

    out = tmp_path / "out"
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    digest = sums_digest((out / "SHA256SUMS").read_bytes())
    (out / RECORD).write_text(record_markdown([CheckResult("x", "haproxy -c -dW", "PASS")], digest))
    assert record_digest((out / RECORD).read_text()) == digest
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    assert (out / RECORD).exists()  # same bundle: the proof still holds
    assert hagen("build", "--check", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    moved = tmp_path / "moved.yaml"
    moved.write_text(EDITS["move a VIP"][0])
    assert hagen("build", moved, "-o", out).returncode == 0
    assert not (out / RECORD).exists()  # a different bundle: the old proof is dropped


PRE_COMMIT_BUDGET_S = 600


def test_pre_commit_hooks_run_from_this_repository(tmp_path):
    if shutil.which("pre-commit") is None or shutil.which("git") is None:
        pytest.skip("pre-commit or git missing")
    work = tmp_path / "ops"
    work.mkdir()
    # pre-commit installs the hook's environment from the package registry: bound every pip
    # request and the whole test, so a slow registry fails clearly instead of stalling CI.
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PIP_DEFAULT_TIMEOUT": "30", "PIP_RETRIES": "2", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    deadline = time.monotonic() + PRE_COMMIT_BUDGET_S
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    shutil.copy(EXAMPLES / "seed.yaml", work / "spec.yaml")
    subprocess.run(["hagen", "build", "spec.yaml", "-o", "out"], cwd=work, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)

    def run_hook(hook: str):
        left = deadline - time.monotonic()
        try:
            return subprocess.run(["pre-commit", "try-repo", str(ROOT), hook, "--all-files"], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=max(left, 1))
        except subprocess.TimeoutExpired:
            pytest.fail(f"pre-commit did not finish {hook} within the test's {PRE_COMMIT_BUDGET_S} s: installing the "
                        "hook environment from the package registry is too slow here")
    assert run_hook("hagen-validate").returncode == 0
    assert run_hook("hagen-build-check").returncode == 0
    (work / "spec.yaml").write_text((work / "spec.yaml").read_text().replace("public_port: 5000", "public_port: 5001"))
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)
    stale = run_hook("hagen-build-check")
    assert stale.returncode == 1 and "stale: out/" in stale.stdout
    (work / "spec.yaml").write_text((work / "spec.yaml").read_text().replace("vip: vip-db", "vip: vip-dbb"))
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)
    invalid = run_hook("hagen-validate")
    assert invalid.returncode == 1 and "error[H020]" in invalid.stdout
