"""Building: golden bundles, determinism, file modes, the committed out/, CLI behaviour."""

import hashlib
import os
import stat
from pathlib import Path

import pytest

from compiler.pipeline import compile_path, compile_text
from conftest import EXAMPLES, ROOT, retarget

CASES = [(spec, target) for spec in ("seed", "separate-hosts") for target in ("debian12", "debian13", "el9")]
GOLDEN = ROOT / "tests" / "golden"


def build_files(spec: str, target: str):
    text = retarget((EXAMPLES / f"{spec}.yaml").read_text(), target)
    result = compile_text(text, f"{spec}.yaml")
    assert result.ok, result.diagnostics
    return result.files


@pytest.mark.parametrize("spec,target", CASES)
def test_golden_bundle(spec, target):
    """Every file's hash equals the golden list; regenerate with HAGEN_UPDATE_GOLDEN=1 and review the diff."""
    files = build_files(spec, target)
    sums = next(f for f in files if f.path == "SHA256SUMS").content
    golden = GOLDEN / f"{spec}-{target}.SHA256SUMS"
    if os.environ.get("HAGEN_UPDATE_GOLDEN"):
        golden.write_text(sums)
    assert sums == golden.read_text()


@pytest.mark.parametrize("spec,target", CASES)
def test_second_build_is_identical(spec, target):
    first = [(f.path, f.mode, f.content) for f in build_files(spec, target)]
    second = [(f.path, f.mode, f.content) for f in build_files(spec, target)]
    assert first == second


def test_sha256sums_match_contents():
    files = build_files("seed", "debian12")
    listed = dict(line.split("  ")[::-1] for line in next(f for f in files if f.path == "SHA256SUMS").content.splitlines())
    for f in files:
        if f.path == "SHA256SUMS":
            continue
        data = f.content if isinstance(f.content, bytes) else f.content.encode()
        assert listed[f.path] == hashlib.sha256(data).hexdigest(), f.path


def test_text_files_have_lf_endings_and_no_host_paths():
    for f in build_files("seed", "debian12"):
        if isinstance(f.content, str):
            assert "\r" not in f.content, f.path
            assert str(ROOT) not in f.content, f.path


def test_committed_out_is_current():
    """out/ is exactly what examples/seed.yaml compiles to (CHECK-RECORD.md aside: hagen check writes it)."""
    from compiler.bundle import compare_with_disk

    result = compile_path(str(EXAMPLES / "seed.yaml"))
    assert compare_with_disk(result.files, ROOT / "out") == {"stale": [], "missing": [], "extra": []}


def test_rebuilding_an_unchanged_spec_writes_nothing_but_any_drift_is_rewritten(tmp_path, hagen):
    out = tmp_path / "b"
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    hosts = out / "nodes/controller1/etc/hosts"
    before = hosts.stat()
    again = hagen("build", EXAMPLES / "seed.yaml", "-o", out)
    assert again.returncode == 0 and "nothing written" in again.stderr
    assert hosts.stat().st_ino == before.st_ino  # the same file: not replaced
    drifts = [lambda: hosts.write_text(hosts.read_text() + "10.0.0.9 intruder\n"),
              lambda: (out / "README.md").chmod(0o600),
              lambda: (out / "nodes/controller1/stray").write_text("x"),
              lambda: hosts.unlink() or hosts.symlink_to("/etc/hostname"),
              lambda: (out / "nodes").chmod(0o777)]
    file_count = len(compile_path(str(EXAMPLES / "seed.yaml")).files)
    for drift in drifts:
        drift()
        rebuilt = hagen("build", EXAMPLES / "seed.yaml", "-o", out)
        assert rebuilt.returncode == 0 and f"wrote {file_count} files" in rebuilt.stderr
        assert hagen("build", EXAMPLES / "seed.yaml", "-o", out, "--check").returncode == 0
        assert stat.S_IMODE((out / "README.md").stat().st_mode) == 0o644 and not hosts.is_symlink()
        assert stat.S_IMODE((out / "nodes").stat().st_mode) == 0o755


def test_modes_on_disk(tmp_path, hagen):
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", tmp_path / "b").returncode == 0
    b = tmp_path / "b"
    assert stat.S_IMODE((b / "nodes/controller1/setup.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((b / "nodes/controller1/etc/keystone/keystone.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((b / "nodes/controller1/var/lib/rabbitmq/.erlang.cookie").stat().st_mode) == 0o400
    assert stat.S_IMODE((b / "nodes/controller1/etc/haproxy/haproxy.cfg").stat().st_mode) == 0o644


def test_one_pacemaker_cluster_per_disjoint_node_set():
    seed = {f.path.split("/")[1] for f in build_files("seed", "debian12") if f.path.startswith("cluster/")}
    separate = {f.path.split("/")[1] for f in build_files("separate-hosts", "el9") if f.path.startswith("cluster/")}
    assert seed == {"ha-controller"}
    # Keystone-only nodes are in no cluster: systemd runs Apache there.
    assert separate == {"rhos5-loadbalancer", "rhos5-galera", "rhos5-rabbitmq"}


def test_pcs_dialect_follows_target():
    deb = next(f.content for f in build_files("seed", "debian12") if f.path.endswith("pcs-resources.sh"))
    el9 = next(f.content for f in build_files("seed", "el9") if f.path.endswith("pcs-resources.sh"))
    assert "'promotable' 'promoted-max=3'" in deb and "'promotable' 'meta' 'promoted-max=3'" in el9
    assert "--master" not in deb + el9 and "master-max" not in deb + el9


def test_build_refuses_a_directory_that_is_not_a_bundle(tmp_path, hagen):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = hagen("build", EXAMPLES / "seed.yaml", "-o", precious)
    assert proc.returncode == 1
    assert "not a hagen bundle" in proc.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
    assert list(precious.iterdir()) == [precious / "notes.txt"]


def test_rebuild_replaces_a_previous_bundle(tmp_path, hagen):
    out = tmp_path / "out"
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    (out / "stray").write_text("x")
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    assert not (out / "stray").exists()


def test_failed_build_leaves_previous_bundle(tmp_path, hagen):
    out = tmp_path / "out"
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    before = (out / "SHA256SUMS").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "seed.yaml").read_text().replace("vip: vip-db", "vip: vip-mysql"))
    proc = hagen("build", bad, "-o", out)
    assert proc.returncode == 1
    assert (out / "SHA256SUMS").read_text() == before


def test_cli_basics(tmp_path, hagen):
    assert hagen("--version").stdout.startswith("hagen ")
    schema = hagen("schema")
    assert schema.returncode == 0 and '"$schema": "https://json-schema.org/draft/2020-12/schema"' in schema.stdout
    starter = hagen("init")
    (tmp_path / "spec.yaml").write_text(starter.stdout)
    assert hagen("validate", "spec.yaml").returncode == 0
    assert hagen("build").returncode == 2  # usage error
    for command in ("build", "validate", "check", "schema", "init", "secrets"):
        assert hagen(command, "--help").returncode == 0


def test_validate_examples_clean(hagen):
    proc = hagen("validate", EXAMPLES / "seed.yaml", EXAMPLES / "separate-hosts.yaml")
    # clean: nothing but the one line that says what was checked
    assert proc.returncode == 0 and proc.stderr.count("\n") == 1 and "0 error(s), 0 warning(s)" in proc.stderr, proc.stderr


def test_error_points_at_the_spot(tmp_path, hagen):
    bad = tmp_path / "spec.yaml"
    bad.write_text((EXAMPLES / "seed.yaml").read_text().replace("vip: vip-db", "vip: vip-dbb"))
    proc = hagen("build", bad, "-o", tmp_path / "never")
    assert proc.returncode == 1
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "vip-dbb" in l)
    assert f"spec.yaml:{line}:10: error[H020]: vip 'vip-dbb' is not defined" in proc.stderr
    assert "did you mean 'vip-db'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "never").exists()


def test_secrets_init_and_deploy_build(tmp_path, hagen):
    spec = EXAMPLES / "seed.yaml"
    proc = hagen("secrets", "init", "s.yaml", "--spec", spec)
    assert proc.returncode == 0 and "fill in 3 left empty: ipmi_controller1, ipmi_controller2" in proc.stderr
    assert stat.S_IMODE((tmp_path / "s.yaml").stat().st_mode) == 0o600
    # The BMC passwords are the BMCs' own: left empty, reported, and a deploy build refuses them.
    text = (tmp_path / "s.yaml").read_text()
    assert "ipmi_controller1: ''  # FILL IN: BMC password of controller1" in text
    proc = hagen("secrets", "check", "s.yaml", "--spec", spec)
    assert proc.returncode == 1 and proc.stderr.count("error[H084]") == 3
    proc = hagen("build", spec, "-o", "deploy", "--secrets", "s.yaml")
    assert proc.returncode == 1 and "secret 'ipmi_controller2' (BMC password of controller2) is not filled in" in proc.stderr
    assert not (tmp_path / "deploy").exists()
    for n in (1, 2, 3):
        text = text.replace(f"ipmi_controller{n}: ''", f"ipmi_controller{n}: 'bmc-{n}-Kx7pQ2vLm9zR4t'")  # IPMI's 20 bytes
    (tmp_path / "s.yaml").write_text(text)
    assert hagen("secrets", "check", "s.yaml", "--spec", spec).returncode == 0
    proc = hagen("build", spec, "-o", "deploy", "--secrets", "s.yaml")
    assert proc.returncode == 0, proc.stderr
    deploy = tmp_path / "deploy"
    assert stat.S_IMODE(deploy.stat().st_mode) == 0o700
    text = "".join(p.read_text(errors="replace") for p in deploy.rglob("*") if p.is_file() and p.suffix != ".gz")
    assert "__SECRET_" not in text.replace("'__SECRET''_'", "")


def test_a_build_never_silently_swaps_a_deploy_bundle_for_a_review_bundle(tmp_path, hagen):
    no_fencing = tmp_path / "lab.yaml"
    no_fencing.write_text((ROOT / "lab" / "lab-spec.yaml").read_text())
    assert hagen("secrets", "init", "s.yaml", "--spec", no_fencing).returncode == 0
    assert hagen("lab", "keys", "s.yaml").returncode == 0  # the lab spec's Ceph client key
    assert hagen("build", no_fencing, "-o", "deploy", "--secrets", "s.yaml").returncode == 0, "setup"
    before = {p: p.read_bytes() for p in (tmp_path / "deploy").rglob("*") if p.is_file()}
    proc = hagen("build", no_fencing, "-o", "deploy")
    assert proc.returncode == 1
    assert "error[H091]: output 'deploy' holds a deploy bundle" in proc.stderr
    assert "would become placeholders" in proc.stderr and "--replace-kind" in proc.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "deploy").rglob("*") if p.is_file()} == before
    # ... and a deploy build does not silently fill secrets into a review bundle either.
    assert hagen("build", no_fencing, "-o", "review").returncode == 0
    proc = hagen("build", no_fencing, "-o", "review", "--secrets", "s.yaml")
    assert proc.returncode == 1 and "holds a review bundle" in proc.stderr
    # Asked for explicitly, the kind changes.
    proc = hagen("build", no_fencing, "-o", "deploy", "--replace-kind")
    assert proc.returncode == 0, proc.stderr
    assert "kind: review" in (tmp_path / "deploy" / ".hagen-bundle").read_text()


@pytest.mark.parametrize("queue_mode", ["quorum", "mirrored"])
def test_bundle_readme_says_what_the_rabbitmq_bootstrap_does_about_policies(queue_mode):
    # Mirrored classic queues exist only up to RabbitMQ 3.13: debian12 still has them.
    text = retarget((EXAMPLES / "seed.yaml").read_text(), "debian12").replace("queue_mode: quorum",
                                                                             f"queue_mode: {queue_mode}")
    result = compile_text(text)
    files = {f.path: f.content for f in result.files}
    script, readme = files["bootstrap/rabbitmq-cluster.sh"], files["README.md"]
    sets_policy = "rabbitmqctl set_policy" in script
    assert sets_policy == (queue_mode == "mirrored")
    rabbit_line = next(line for line in readme.splitlines() if line.startswith("- RabbitMQ"))
    assert ("sets no policy" in rabbit_line) == (not sets_policy)
    if sets_policy:
        assert "`ha-all` policy" in rabbit_line and "'ha-all'" in script
    assert "policy step runs after all nodes joined" not in readme or sets_policy


def test_mirrored_queues_on_debian13_are_refused_where_the_spec_says_so(tmp_path, hagen):
    spec = tmp_path / "spec.yaml"
    spec.write_text(retarget((EXAMPLES / "seed.yaml").read_text(), "debian13").replace("queue_mode: quorum",
                                                                                        "queue_mode: mirrored"))
    proc = hagen("validate", spec)
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if "queue_mode" in text)
    assert proc.returncode == 1 and f"spec.yaml:{line}:" in proc.stderr and "error[H060]" in proc.stderr
    assert "removed in RabbitMQ 4.0, which debian13 ships" in proc.stderr


def test_debian13_differs_from_debian12_only_where_the_target_data_says():
    deb12 = {f.path: f.content for f in build_files("seed", "debian12")}
    deb13 = {f.path: f.content for f in build_files("seed", "debian13")}
    pcs12, pcs13 = deb12["cluster/ha-controller/pcs-resources.sh"], deb13["cluster/ha-controller/pcs-resources.sh"]
    assert "'clone' 'interleave=true'" in pcs12 and "'resource' 'clone' 'haproxy' 'meta' 'interleave=true'" in pcs13
    assert "'score=INFINITY'" in pcs13 and "'score=" not in pcs12
    setup13 = deb13["nodes/controller1/setup.sh"]
    assert "keystone keystone/configure_db boolean false" in setup13
    assert "debconf-set-selections" not in deb12["nodes/controller1/setup.sh"]
    assert "'fence-agents-ipmilan'" in setup13


def test_units_systemd_starts_at_boot_never_pull_in_what_pacemaker_runs():
    """The package's placement-api.service Wants= mysql.service and rabbitmq-server.service: enabled,
    it started MariaDB at boot behind Pacemaker's back (the lab's galera agent then refused the node).
    hagen ships whole units for the catalog's services (a drop-in cannot remove a dependency)."""
    import configparser

    from compiler import catalog
    from compiler.catalog import CATALOG, Uwsgi
    from compiler.emit.host import pacemaker_units
    from compiler.pipeline import compile_doc
    from compiler.spec import load_spec_text

    result = compile_doc(load_spec_text((EXAMPLES / "seed.yaml").read_text(), "seed.yaml"))
    files = {f.path: f.content for f in result.files}
    topo = result.topology
    hosted = [s for s in CATALOG if s.host]
    assert hosted
    for node in topo.nodes:
        managed = {u.removesuffix(".service") for u in pacemaker_units(topo, node)} | {"mysql", "mariadb"}
        for service in hosted:
            servers = {service.host.unit: service.host.server, **{p.unit: p.server for p in service.host.processes}}
            for name, server in servers.items():
                path = f"nodes/{node.name}/etc/systemd/system/{name}.service"
                assert not any(p.startswith(path + ".d/") for p in files), "a drop-in keeps the package's dependencies"
                unit = configparser.ConfigParser(strict=False, interpolation=None)
                unit.read_string(files[path])
                wanted = server.exec_start() if isinstance(server, Uwsgi) else server.exec_start(service.config_file)
                # A service with a database runs its daemon through the schema gate (which execs it).
                gate = f"{catalog.AWAIT_DATABASE} /{service.config_file} {service.database_section} " \
                    if service.database else ""
                assert unit["Service"]["ExecStart"] == gate + wanted
                named = " ".join(unit["Unit"].get(k, "") for k in ("Wants", "Requires", "After", "BindsTo", "Requisite"))
                # Debian's nova units Want= keystone.service, which hagen masks (Apache serves Keystone).
                assert not {n.removesuffix(".service") for n in named.split()} & (managed | {"keystone"}), named


def test_packaged_units_hagen_does_not_run_are_masked_before_they_are_stopped():
    """nova-consoleproxy starts its serial and SPICE proxies on every address; Debian's keystone
    package its uwsgi on :5000. A unit stopped before it is masked can be started again by a unit
    that Wants= it (Debian's nova units want keystone.service), which cancels the stop: the lab saw
    the old Keystone keep :5000 and Apache fail to bind it."""
    setup = next(f.content for f in compile_path(str(EXAMPLES / "seed.yaml")).files
                 if f.path == "nodes/controller1/setup.sh")
    for unit in ("keystone", "nova-serialproxy", "nova-spicehtml5proxy"):
        mask, stop = setup.index(f"systemctl mask '{unit}'\n"), setup.index(f"systemctl stop '{unit}' ")
        assert mask < stop
    assert "disable --now 'keystone'" not in setup


def test_keystone_bootstrap_carries_the_registration_program_whole():
    """keystone-register.py travels inside keystone-bootstrap.sh's heredoc: it must arrive as valid
    Python, and the registrations it reads must name no secret, only the variables holding them."""
    import ast
    import json
    import re
    import shlex

    from compiler.pipeline import compile_path

    files = {f.path: f.content for f in compile_path(str(EXAMPLES / "seed.yaml")).files}
    boot = files["bootstrap/keystone-bootstrap.sh"]
    program = re.search(r"<<'HAGEN_REGISTER'\n(.*)\nHAGEN_REGISTER\n", boot, flags=re.S).group(1)
    ast.parse(program)
    argument = re.search(r"^python3 - (.+) <<'HAGEN_REGISTER'$", boot, flags=re.M).group(1)
    registered, domains = (json.loads(a) for a in shlex.split(argument))
    # Heat's CloudFormation API is a second catalog entry of Heat's, with no user of its own.
    assert [(r["name"], r["type"]) for r in registered] == [
        ("glance", "image"), ("placement", "placement"), ("nova", "compute"), ("neutron", "network"),
        ("heat", "orchestration"), ("heat-cfn", "cloudformation"), ("cinder", "volumev3")]
    assert "__SECRET_" not in argument
    assert [r["password_env"] for r in registered] == ["GLANCE_KEYSTONE_PASSWORD", "PLACEMENT_KEYSTONE_PASSWORD",
                                                      "NOVA_KEYSTONE_PASSWORD", "NEUTRON_KEYSTONE_PASSWORD",
                                                      "HEAT_KEYSTONE_PASSWORD", None, "CINDER_KEYSTONE_PASSWORD"]
    assert domains == [{"domain": "heat", "admin": "heat_domain_admin", "password_env": "HEAT_DOMAIN_ADMIN_PASSWORD",
                        "roles": ["heat_stack_owner", "heat_stack_user"]}]
    for variable in ("GLANCE_KEYSTONE_PASSWORD", "HEAT_KEYSTONE_PASSWORD", "HEAT_DOMAIN_ADMIN_PASSWORD"):
        assert f"export {variable}\n" in boot
    assert "export None" not in boot


@pytest.mark.parametrize("spec", ["seed", "separate-hosts"])
def test_every_node_applies_sysctls_the_running_kernel_knows(spec):
    """Every node carries the TCP keepalive sysctls (a client whose server died mid-handshake must
    not wait two hours: the lab's Neutron did) and setup.sh applies each sysctl file it lays down.
    Each key names a file under /proc/sys: the kernel is the consumer, and sysctl -p of an unknown
    key fails the whole setup."""
    from compiler.emit.host import KEEPALIVE_SYSCTL_FILE, TCP_KEEPALIVE

    result = compile_path(str(EXAMPLES / f"{spec}.yaml"))
    files = {f.path: f for f in result.files}
    for node in result.topology.nodes:
        prefix = f"nodes/{node.name}/"
        sysctl_files = [p.removeprefix(prefix) for p in files if p.startswith(prefix + "etc/sysctl.d/")]
        assert KEEPALIVE_SYSCTL_FILE in sysctl_files, node.name
        setup = files[prefix + "setup.sh"].content
        for path in sysctl_files:
            assert files[prefix + path].mode == 0o644
            assert f"sysctl -q -p '/{path}'" in setup or f"sysctl -q -p /{path}" in setup, (node.name, path)
            settings = dict(line.split(" = ") for line in files[prefix + path].content.splitlines()
                            if line and not line.startswith("#"))
            for key in settings:
                assert Path("/proc/sys", *key.split(".")).exists(), key
        keepalive = files[prefix + KEEPALIVE_SYSCTL_FILE].content
        assert {k: int(v) for k, v in (line.split(" = ") for line in keepalive.splitlines() if " = " in line)} == TCP_KEEPALIVE
