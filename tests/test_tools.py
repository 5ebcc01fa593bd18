"""The real Debian tools judge the bundles (hagen check), and catch deliberate breakage."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from compiler import check
from compiler.catalog import KEYSTONE
from compiler.check import FAIL, NA, PASS, SKIP, check_bundle
from conftest import EXAMPLES, retarget

pytestmark = pytest.mark.tools


def _build(tmp_path, hagen, spec, target):
    spec_file = tmp_path / f"{spec}.yaml"
    spec_file.write_text(retarget((EXAMPLES / f"{spec}.yaml").read_text(), target))
    assert hagen("build", spec_file, "-o", tmp_path / "b").returncode == 0
    return tmp_path / "b"


@pytest.mark.parametrize("spec,target", [("seed", "debian12"), ("separate-hosts", "el9"),
                                         ("separate-hosts", "debian12"), ("seed", "el9")])
def test_bundles_pass_every_real_tool(tmp_path, hagen, spec, target):
    results = check_bundle(_build(tmp_path, hagen, spec, target))
    bad = [(r.artifact, r.tool, r.reason) for r in results if r.status in (FAIL, SKIP)]
    assert not bad
    tools = {r.tool.split(":")[0].split(" (")[0] for r in results if r.status == PASS}
    installer = {"debconf-set-selections --checkonly", "shellcheck -s sh", "tar -xz"} if target == "debian12" \
        else {"ksvalidator -v RHEL9", "shellcheck -s bash -S warning"}
    assert {"shellcheck -S warning", "size"} | installer <= tools
    release_bound = {"haproxy -c -dW", "cloud-init schema", "mariadbd --help --verbose", "corosync -t",
                     "pcs cluster setup --corosync_conf", "cuttlefish"}
    if target == "debian12":
        assert release_bound | {"crm_simulate", "crm_verify", "xinetd", "pcs -f", "HAProxy binds = IPaddr2 VIPs"} <= tools
        assert not any(r.status == NA for r in results)
    else:
        # bookworm's haproxy, MariaDB, RabbitMQ, corosync, pcs, cloud-init and systemd are not el9's:
        # they ran, and what they accepted is N/A, never PASS.
        not_counted = {r.tool.split(":")[0].split(" (")[0] for r in results if r.status == NA}
        assert release_bound | {"systemd-analyze verify", "pcs -f + crm_simulate"} <= not_counted
        assert not tools & release_bound
        assert all("el9 runs its own release" in r.reason or "dialect" in r.reason
                   for r in results if r.status == NA)


@pytest.fixture(scope="module")
def seed_bundle(tmp_path_factory):
    from compiler.bundle import write_bundle
    from compiler.pipeline import compile_text

    for target in ("debian12", "el9"):
        result = compile_text(retarget((EXAMPLES / "seed.yaml").read_text(), target), "seed.yaml")
        write_bundle(result.files, tmp_path_factory.getbasetemp() / target, private=False)
    return tmp_path_factory.getbasetemp()


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def _drop_commands(path: Path, needle: str) -> None:
    """A pcs-resources.sh whose pcs commands naming `needle` are gone (its list of what it makes,
    and its tag, still name them: the commands are the breakage)."""
    lines = path.read_text().splitlines()
    kept = [line for line in lines if not (line.startswith("pcs -f") and needle in line)]
    assert len(kept) < len(lines)
    path.write_text("\n".join(kept) + "\n")


def _add_commands(path: Path, *commands: str) -> None:
    """A pcs-resources.sh with more pcs commands after its own (before it records and pushes)."""
    _edit(path, "\n# Record what this bundle made", "".join(f"\npcs -f \"$cib\" {c}" for c in commands)
          + "\n\n# Record what this bundle made")


N1 = "nodes/controller1/"
PCS = "cluster/ha-controller/pcs-resources.sh"
# name -> (target, mutation, check function, args relative to the bundle, text the failure must mention)
BREAKAGES = {
    "haproxy keyword": ("debian12", lambda b: _edit(b / N1 / "etc/haproxy/haproxy.cfg", "option redispatch", "option redispatchh"),
                        check.check_haproxy, N1 + "etc/haproxy/haproxy.cfg", "redispatchh"),
    "missing VIP resource": ("debian12", lambda b: _drop_commands(b / PCS, "vip-keystone"),
                             check.check_cluster, "cluster/ha-controller", "192.168.16.202"),
    "constraint to a missing resource": ("debian12", lambda b: _edit(b / PCS, "'with' 'haproxy-clone'", "'with' 'haproxy-klone'"),
                                         check.check_cluster, "cluster/ha-controller", "haproxy-klone"),
    "VIP lost when one node fails": ("debian12", lambda b: _add_commands(
                                     b / PCS, "constraint location add -- pin-db vip-db controller2 -INFINITY",
                                     "constraint location add -- pin-db3 vip-db controller3 -INFINITY"),
                                     check.check_cluster, "cluster/ha-controller", "vip-db is not running"),
    "invalid user-data key": ("debian12", lambda b: _edit(b / N1 / "user-data", "runcmd:\n", "runcmd: 7\nbootcmd:\n"),
                              check.check_user_data, N1 + "user-data", "runcmd"),
    "shellcheck warning": ("debian12", lambda b: _edit(b / N1 / "setup.sh", "set -euo pipefail\n", "set -euo pipefail\nleftover=1\n"),
                           check.check_shell, N1 + "setup.sh", "SC2034"),
    "unknown MariaDB option": ("debian12", lambda b: _edit(b / N1 / "etc/mysql/mariadb.conf.d/60-galera.cnf", "wsrep_on = ON", "wsrep_on = ON\nwsrep_bogus_knob = 1"),
                               check.check_mariadb, N1 + "etc/mysql/mariadb.conf.d/60-galera.cnf", "wsrep_bogus_knob"),
    "unknown RabbitMQ key": ("debian12", lambda b: _edit(b / N1 / "etc/rabbitmq/rabbitmq.conf", "loopback_users.guest = true", "loopback_users.guest = true\nqueue_mode_default = quorum"),
                             check.check_rabbitmq, N1 + "etc/rabbitmq/rabbitmq.conf", "queue_mode_default"),
    "bad corosync value": ("debian12", lambda b: _edit(b / "cluster/ha-controller/corosync.conf", "crypto_cipher: aes256", "crypto_cipher: rot13"),
                           check.check_corosync, "cluster/ha-controller/corosync.conf", "cipher"),
    # pcs's own refusal must reach the report (it once said only "length differs").
    "cluster name pcs refuses": ("debian12", lambda b: _edit(b / "cluster/ha-controller/corosync.conf",
                                                             "cluster_name: ha-controller",
                                                             "cluster_name: openstack-production-eu1-loadbalancer"),
                                 check.check_corosync, "cluster/ha-controller/corosync.conf", "GFS2"),
    "fence device runs where it fences": ("debian12", lambda b: _drop_commands(b / PCS, "-avoids-controller"),
                                          check.check_cluster, "cluster/ha-controller", "a node it fences"),
    "fence device aimed at the wrong node": ("debian12", lambda b: _edit(b / PCS, "'pcmk_host_list=controller2'",
                                                                         "'pcmk_host_list=controller3'"),
                                             check.check_cluster, "cluster/ha-controller", "no fence device targets controller2"),
    "failed node not fenced": ("debian12", lambda b: _edit(b / PCS, "stonith-enabled=true", "stonith-enabled=false"),
                               check.check_cluster, "cluster/ha-controller", "fenced nothing after controller1 failed"),
    "bad unit file": ("el9", lambda b: _edit(b / N1 / "etc/systemd/system/hagen-clustercheck.socket", "Accept=yes", "Accept=perhaps"),
                      check.check_units, None, "perhaps"),
    "xinetd listener": ("debian12", lambda b: _edit(b / N1 / "etc/xinetd.d/galera-clustercheck", "socket_type     = stream", "socket_type     = streem"),
                        check.check_xinetd, N1 + "etc/xinetd.d/galera-clustercheck", "Bad socket type"),
    # Anaconda runs %post with /bin/sh unless told: pipefail is a bash option.
    "kickstart %post run by sh": ("el9", lambda b: _edit(b / N1 / "kickstart-post.ks", " --interpreter=/bin/bash", ""),
                                  check.check_kickstart, N1 + "kickstart-post.ks", "pipefail"),
    "preseed question type": ("debian12", lambda b: _edit(b / N1 / "preseed-late.cfg", "late_command string", "late_command strin"),
                              check.check_preseed, N1 + "preseed-late.cfg", "strin"),
    "preseed archive stale": ("debian12", lambda b: _edit(b / N1 / "etc/haproxy/haproxy.cfg", "option redispatch", "option redispatch\n    maxconn 10"),
                              check.check_preseed, N1 + "preseed-late.cfg", "etc/haproxy/haproxy.cfg: content differs"),
    # A secret file the archive would unpack world-readable: FILE-MODES says 0600, the archive must agree.
    "preseed archive mode": ("debian12", lambda b: _edit(b / "FILE-MODES", "0600  nodes/controller1/etc/hagen/secrets.env",
                                                         "0644  nodes/controller1/etc/hagen/secrets.env"),
                             check.check_preseed, N1 + "preseed-late.cfg", "etc/hagen/secrets.env"),
    "unknown Keystone option": ("debian12", lambda b: _edit(b / N1 / "etc/keystone/keystone.conf", "[token]\n",
                                                            "[token]\nbogus_knob = 1\n"),
                                check.check_oslo_config, N1 + "etc/keystone/keystone.conf", "token/bogus_knob"),
    "Keystone value of the wrong type": ("debian12", lambda b: _edit(b / N1 / "etc/keystone/keystone.conf",
                                                                     "max_active_keys = 3", "max_active_keys = three"),
                                         check.check_oslo_config, N1 + "etc/keystone/keystone.conf", "'three'"),
    "kickstart %post": ("el9", lambda b: _edit(b / N1 / "kickstart-post.ks", "umask 077\n", "umask 077\nleftover=1\n"),
                        check.check_kickstart, N1 + "kickstart-post.ks", "SC2034"),
}


# (target, check, artifact) -> what the check did not pass in the unbroken seed bundle (nothing)
_UNBROKEN_VERDICTS: dict = {}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_breakage_is_caught_by_the_right_check(name, seed_bundle, tmp_path):
    target, mutate, check_fn, rel, mention = BREAKAGES[name]
    bundle = tmp_path / "b"
    shutil.copytree(seed_bundle / target, bundle)
    if check_fn is check.check_units:
        args = (sorted((bundle / N1 / "etc/systemd/system").glob("hagen-clustercheck*")),)
    elif check_fn is check.check_oslo_config:
        args = (bundle / rel, KEYSTONE)
    else:
        args = (bundle / rel,)
    key = (target, check_fn.__name__, rel)
    if key not in _UNBROKEN_VERDICTS:  # one unbroken seed bundle for every breakage of a check: judged once
        before = check_fn(bundle, *args)
        before = before if isinstance(before, list) else [before]
        _UNBROKEN_VERDICTS[key] = [(r.tool, r.reason) for r in before if r.status != PASS]
    assert not _UNBROKEN_VERDICTS[key]
    mutate(bundle)
    after = check_fn(bundle, *args)
    after = after if isinstance(after, list) else [after]
    failures = [r for r in after if r.status == FAIL]
    assert failures, f"{name} was not caught"
    assert any(mention in r.reason for r in failures), [r.reason for r in failures]


def test_a_checked_out_bundle_keeps_its_modes_in_file_modes(seed_bundle, tmp_path):
    """git keeps only the executable bit: CI's clone of out/ has every secret file 0644. The archive
    check must judge the modes the bundle lists, not the ones git left (CI failed on exactly this)."""
    bundle = tmp_path / "b"
    shutil.copytree(seed_bundle / "debian12", bundle)
    for f in bundle.rglob("*"):
        if f.is_file():
            f.chmod(0o755 if f.stat().st_mode & 0o100 else 0o644)
    results = check.check_preseed(bundle, bundle / N1 / "preseed-late.cfg")
    archive = next(r for r in results if r.tool == "tar -xz")
    assert archive.status == PASS, archive.reason
    listed = (bundle / "FILE-MODES").read_text()
    assert "0600  nodes/controller1/etc/hagen/secrets.env\n" in listed
    assert "0755  nodes/controller1/setup.sh\n" in listed


def test_a_63_character_node_name_is_accepted_by_every_consumer(tmp_path, hagen):
    """A hostname label may have 63 characters; hagen allowed 32. pcs, corosync, Pacemaker (crm_simulate),
    HAProxy, MariaDB, RabbitMQ and cloud-init must all take the longest name the schema accepts."""
    long_name = "controller-" + "x" * 50 + "01"
    assert len(long_name) == 63
    spec = tmp_path / "spec.yaml"
    # Judged by this machine's own (bookworm) tools, so on the release they belong to.
    seed = re.sub(r"(?<!ipmi_)controller1", long_name, retarget((EXAMPLES / "seed.yaml").read_text(), "debian12"))
    spec.write_text(seed)
    proc = hagen("build", spec, "-o", tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    results = check_bundle(tmp_path / "b")
    bad = [(r.artifact, r.tool, r.reason) for r in results if r.status in (FAIL, SKIP)]
    assert not bad
    assert any(r.tool.startswith("crm_simulate: " + long_name) for r in results)
    too_long = tmp_path / "too-long.yaml"
    too_long.write_text(seed.replace(long_name, long_name + "x"))
    proc = hagen("validate", too_long)
    assert proc.returncode == 1 and "is 64 characters long; at most 63 are allowed" in proc.stderr
    assert "hint: expected 1 to 63 lower-case letters" in proc.stderr


def test_a_derived_cluster_name_pcs_would_refuse_is_caught_by_validate(tmp_path, hagen):
    """cluster.name 'openstack-production-eu1' (24) with services on disjoint node sets became
    'openstack-production-eu1-loadbalancer' (37): pcs cluster setup refused it on the first step."""
    path = Path(__file__).parent / "invalid" / "059-derived-cluster-name-too-long.yaml"
    proc = hagen("validate", path)
    assert proc.returncode == 1 and "error[H024]" in proc.stderr and "at most 19 characters" in proc.stderr
    # What pcs itself says about that name, so the check stays honest about the limit.
    pcs = check.find_tool("pcs")
    out = tmp_path / "corosync.conf"
    refused = check.run([pcs, "cluster", "setup", "openstack-production-eu1-loadbalancer", "n1", "addr=10.0.0.1",
                         "--corosync_conf", str(out), "--no-cluster-uuid", "--overwrite"])
    assert refused.returncode != 0 and "GFS2" in refused.stdout + refused.stderr
    accepted = check.run([pcs, "cluster", "setup", "a" * 32, "n1", "addr=10.0.0.1",
                          "--corosync_conf", str(out), "--no-cluster-uuid", "--overwrite"])
    assert accepted.returncode == 0, accepted.stderr


def _two_lb_spec(tmp_path) -> Path:
    text = (EXAMPLES / "separate-hosts.yaml").read_text()
    text = text.replace("nodes: [rhos5-lb1, rhos5-lb2, rhos5-lb3]", "nodes: [rhos5-lb1, rhos5-lb2]")
    text = re.sub(r"^  - \{name: rhos5-lb3.*\n", "", text, flags=re.M)
    spec = tmp_path / "two-lb.yaml"
    spec.write_text(retarget(text, "debian12"))
    return spec


def test_a_pair_of_load_balancers_survives_one_failure_and_never_races_to_fence(tmp_path, hagen):
    """two_node: 1 keeps the survivor quorate, so the failure simulation must say so (it once
    simulated --quorum false and reported 'haproxy runs on []'); and the pair must not fence each
    other at once after a split."""
    assert hagen("build", _two_lb_spec(tmp_path), "-o", tmp_path / "b").returncode == 0
    cluster = tmp_path / "b" / "cluster" / "rhos5-loadbalancer"
    assert "two_node: 1" in (cluster / "corosync.conf").read_text()
    results = check.check_cluster(tmp_path / "b", cluster)
    by_tool = {r.tool: r for r in results}
    bad = [(r.tool, r.reason) for r in results if r.status != PASS]
    assert not bad
    for node in ("rhos5-lb1", "rhos5-lb2"):
        survivor = ({"rhos5-lb1", "rhos5-lb2"} - {node}).pop()
        placed = by_tool[f"crm_simulate: {node} failed"].details["placement"]
        assert placed["haproxy"] == [survivor] and placed["vip-db"] == [survivor]
    assert "pcmk_delay_base=10s" in by_tool["fence race (two_node)"].reason
    # Without the delay both would shoot at once: the check must say so.
    script = cluster / "pcs-resources.sh"
    script.write_text(script.read_text().replace(" 'pcmk_delay_base=10s'", ""))
    race = {r.tool: r for r in check.check_cluster(tmp_path / "b", cluster)}["fence race (two_node)"]
    assert race.status == FAIL and "fence each other at once" in race.reason


# --- debian13: judged by trixie's own tools, inside a tools root -------------------------------

TRIXIE_ROOT = Path(os.environ.get("HAGEN_TOOLS_ROOT_TRIXIE", "/var/tmp/hagen-tools-trixie"))


@pytest.fixture(scope="module")
def trixie_tools(tmp_path_factory):
    """A trixie tools root, made once (`hagen tools-root`; kept between runs: its marker says
    what it holds). Without root or debootstrap the debian13 checks cannot run: a skip here, a
    failure in CI."""
    from compiler import toolsroot

    why = None
    if os.geteuid() != 0:
        why = "needs root (debootstrap, chroot)"
    elif shutil.which("debootstrap") is None:
        why = "debootstrap is not installed"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"debian13 bundles must be judged in CI, but: {why}")
        pytest.skip(f"DEBIAN13 TOOLS SKIPPED: {why}")
    toolsroot.make(TRIXIE_ROOT, "debian13", log=lambda line: None)
    return TRIXIE_ROOT


def _check_in_root(hagen, root, bundle, *extra):
    proc = hagen("check", "--tools-root", root, "--format", "json", *extra, bundle, timeout=900)
    return proc, json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else []


@pytest.mark.parametrize("spec", ["seed", "separate-hosts"])
def test_debian13_bundles_pass_trixies_own_tools(tmp_path, hagen, spec, trixie_tools):
    bundle = _build(tmp_path, hagen, spec, "debian13")
    here = hagen("check", "--format", "json", bundle)  # bookworm's tools: never a PASS for debian13
    assert here.returncode == 0 and {r["status"] for r in json.loads(here.stdout)} == {NA}
    proc, results = _check_in_root(hagen, trixie_tools, bundle, "--strict")
    bad = [(r["artifact"], r["tool"], r["reason"]) for r in results if r["status"] != PASS]
    assert proc.returncode == 0 and results and not bad, bad
    tools = {r["tool"] for r in results}
    assert any(t.startswith("cuttlefish (rabbitmq_server-4.0") for t in tools)  # trixie's RabbitMQ, not 3.10
    assert {"crm_verify", "pcs -f (pcs-resources.sh)", "corosync -t", "xinetd (started for 2 s)", "haproxy -c -dW",
            "mariadbd --help --verbose", "cloud-init schema", "debconf-set-selections --checkonly"} <= tools
    assert any(t.startswith("crm_simulate: ") and t.endswith(" failed") for t in tools)


# artifact -> (edit, text the failure on that artifact must mention): one breakage per tool
DEBIAN13_BREAKAGES = {
    N1 + "etc/haproxy/haproxy.cfg": (lambda b: _edit(b / N1 / "etc/haproxy/haproxy.cfg", "option redispatch",
                                                     "option redispatchh"), "redispatchh"),
    # debian12's pcs 0.11.5 forms are deprecated in trixie's pcs 0.12
    "cluster/ha-controller": (lambda b: _edit(b / PCS, "'resource' 'clone' 'haproxy' 'meta' 'interleave=true'",
                                              "'resource' 'clone' 'haproxy' 'interleave=true'"), "Deprecation Warning"),
    "cluster/ha-controller/corosync.conf": (lambda b: _edit(b / "cluster/ha-controller/corosync.conf",
                                                            "crypto_cipher: aes256", "crypto_cipher: rot13"), "cipher"),
    N1 + "etc/mysql/mariadb.conf.d/60-galera.cnf": (
        lambda b: _edit(b / N1 / "etc/mysql/mariadb.conf.d/60-galera.cnf", "wsrep_on = ON",
                        "wsrep_on = ON\nwsrep_bogus_knob = 1"), "wsrep_bogus_knob"),
    N1 + "etc/rabbitmq/rabbitmq.conf": (lambda b: _edit(b / N1 / "etc/rabbitmq/rabbitmq.conf",
                                                        "loopback_users.guest = true",
                                                        "loopback_users.guest = true\nha_mode_default = all"),
                                        "ha_mode_default"),
    N1 + "user-data": (lambda b: _edit(b / N1 / "user-data", "runcmd:\n", "runcmd: 7\nbootcmd:\n"), "runcmd"),
    N1 + "setup.sh": (lambda b: _edit(b / N1 / "setup.sh", "set -euo pipefail\n", "set -euo pipefail\nleftover=1\n"),
                      "SC2034"),
    N1 + "etc/xinetd.d/galera-clustercheck": (lambda b: _edit(b / N1 / "etc/xinetd.d/galera-clustercheck",
                                                              "socket_type     = stream", "socket_type     = streem"),
                                              "Bad socket type"),
    N1 + "preseed-late.cfg": (lambda b: _edit(b / N1 / "preseed-late.cfg", "late_command string",
                                              "late_command strin"), "strin"),
    # Keystone 27's own option registry (python3-keystone of trixie in the root)
    N1 + "etc/keystone/keystone.conf": (lambda b: _edit(b / N1 / "etc/keystone/keystone.conf", "[token]\n",
                                                        "[token]\nbogus_knob = 1\n"), "token/bogus_knob"),
    # Placement 13's registry: its own [api] section, and a value of the wrong type in oslo.db's
    N1 + "etc/placement/placement.conf": (lambda b: _edit(b / N1 / "etc/placement/placement.conf", "[api]\n",
                                                          "[api]\nbogus_knob = 1\n"), "api/bogus_knob"),
    # Neutron 26's registry, with ML2/OVN's options: an unknown option in [ovn]
    N1 + "etc/neutron/neutron.conf": (lambda b: _edit(b / N1 / "etc/neutron/neutron.conf", "[ovn]\n",
                                                      "[ovn]\nbogus_knob = 1\n"), "ovn/bogus_knob"),
    # trixie's ovn-ctl (an option it does not know) and ovsdb-tool (a RAFT address it refuses)
    N1 + "etc/default/ovn-central": (lambda b: _edit(b / N1 / "etc/default/ovn-central", "--db-nb-election-timer=",
                                                     "--db-nb-elction-timer="), "--db-nb-elction-timer"),
    "nodes/controller2/etc/default/ovn-central": (
        lambda b: _edit(b / "nodes/controller2/etc/default/ovn-central", "--db-sb-cluster-remote-proto=tcp",
                        "--db-sb-cluster-remote-proto=tpc"), "OVN_Southbound"),
    # hagen's own placement-api.service, by trixie's systemd
    N1 + "etc/systemd/system": (lambda b: _edit(b / N1 / "etc/systemd/system/placement-api.service", "Restart=always",
                                                "Restart=perhaps"), "perhaps"),
}


def test_each_trixie_tool_catches_its_breakage(tmp_path, hagen, trixie_tools):
    bundle = _build(tmp_path, hagen, "seed", "debian13")
    for edit, _ in DEBIAN13_BREAKAGES.values():
        edit(bundle)
    proc, results = _check_in_root(hagen, trixie_tools, bundle)
    assert proc.returncode == 1
    for artifact, (_, mention) in DEBIAN13_BREAKAGES.items():
        failures = [r for r in results if r["artifact"] == artifact and r["status"] == FAIL]
        assert any(mention in r["reason"] for r in failures), (artifact, [r["reason"] for r in failures])
    untouched = [r for r in results if r["artifact"] == N1 + "etc/hosts" or r["artifact"].startswith("nodes/controller3/")]
    assert all(r["status"] == PASS for r in untouched), [r for r in untouched if r["status"] != PASS]


def _deploy(tmp_path, hagen, spec_text: str, name: str = "deploy") -> tuple[Path, Path]:
    """A deploy bundle of a spec and the secrets it was built with (the BMC passwords filled in)."""
    spec, secrets = tmp_path / f"{name}.yaml", tmp_path / f"{name}-secrets.yaml"
    spec.write_text(spec_text)
    assert hagen("secrets", "init", secrets, "--spec", spec).returncode == 0
    secrets.write_text(re.sub(r"^(ipmi_\w+): ''.*$", r"\1: 'bmc-\1'", secrets.read_text(), flags=re.M))
    assert hagen("build", spec, "-o", tmp_path / name, "--secrets", secrets).returncode == 0
    return tmp_path / name, secrets


def test_certificates_of_a_deploy_bundle_are_judged_by_openssl(tmp_path, hagen):
    """bookworm's openssl is debian12's own: the CA, each VIP's certificate (chain, key, names,
    expiry) and haproxy -c with the real certificates in place all pass; then one node's
    certificate from another CA, one's key swapped, one's certificate for another address each
    fail with what is wrong."""
    seed = retarget((EXAMPLES / "seed.yaml").read_text(), "debian12")
    bundle, _ = _deploy(tmp_path, hagen, seed)
    results = check_bundle(bundle)
    tls = [r for r in results if r.tool.startswith("openssl")]
    # Per node: the CA, HAProxy's certificate of the VIP, and the node's own as MariaDB, RabbitMQ
    # and Keystone's Apache read it (debian12 runs Keystone alone of the catalog).
    assert len(tls) == 3 * 5 and all(r.status == PASS and not r.reason for r in tls), tls
    assert {r.artifact for r in tls} >= {"nodes/controller2/etc/hagen/tls/mariadb.crt",
                                         "nodes/controller2/etc/hagen/tls/rabbitmq.crt",
                                         "nodes/controller2/etc/hagen/tls/keystone.crt"}
    haproxy = [r for r in results if r.tool == "haproxy -c -dW"]
    assert haproxy and all(r.status == PASS and "placeholder" not in r.reason for r in haproxy), haproxy
    # Stand-ins: a second deploy of the same spec (another CA), and one whose VIP moved.
    other_ca, _ = _deploy(tmp_path, hagen, seed, "other-ca")
    moved, _ = _deploy(tmp_path, hagen, seed.replace("192.168.16.202", "192.168.16.222"), "moved")
    pem = "etc/haproxy/certs/vip-keystone.pem"
    shutil.copy(other_ca / "nodes/controller1" / pem, bundle / "nodes/controller1" / pem)
    mine, theirs = (bundle / "nodes/controller2" / pem).read_text(), (other_ca / "nodes/controller2" / pem).read_text()
    key_at = theirs.index("-----BEGIN PRIVATE KEY-----")
    (bundle / "nodes/controller2" / pem).write_text(mine[:mine.index("-----BEGIN PRIVATE KEY-----")] + theirs[key_at:])
    shutil.copy(moved / "nodes/controller3" / pem, bundle / "nodes/controller3" / pem)
    shutil.copy(moved / "nodes/controller3/usr/local/share/ca-certificates/hagen-ca.crt",
                bundle / "nodes/controller3/usr/local/share/ca-certificates/hagen-ca.crt")
    judged = {r.artifact: r for r in check_bundle(bundle) if r.tool.startswith("openssl verify")}
    assert judged["nodes/controller1/" + pem].status == FAIL
    assert "does not verify against" in judged["nodes/controller1/" + pem].reason
    assert judged["nodes/controller2/" + pem].status == FAIL
    assert judged["nodes/controller2/" + pem].reason == "its key is not the certificate's"
    assert judged["nodes/controller3/" + pem].status == FAIL
    assert judged["nodes/controller3/" + pem].reason == "its subjectAltName lacks 192.168.16.202 (clients of vip-keystone use them)"
