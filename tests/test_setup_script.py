"""setup.sh run for real, up to its package step, with the package manager replaced by a
recorder: what would a fresh host do?"""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.emit import emit_bundle
from compiler.lower import lower
from compiler.secrets import SecretValues, generate_value, required_secrets
from conftest import EXAMPLES, retarget

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="bind-mounts a fake /etc/os-release in a private mount namespace")

STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$HAGEN_TEST_LOG"
case "$(basename "$0") $1" in
    "hostname -s") echo "$HAGEN_TEST_NODE" ;;
    "rpm -q") exit 1 ;;                     # nothing is installed yet
    "dnf repolist") cat "$HAGEN_TEST_REPOS" ;;
    "dnf install") case " $* " in *" pcs "*|*" openstack-keystone "*) exit 97 ;; esac ;;  # stop here
esac
"""


def _node_bundle(tmp_path: Path, target: str, node: str) -> Path:
    from compiler.spec import load_spec_text
    text = retarget((EXAMPLES / "seed.yaml").read_text(), target)
    topo = lower(load_spec_text(text, "seed.yaml").data)
    values = SecretValues({n: generate_value(n) for n in required_secrets(topo)})
    bundle = tmp_path / "bundle"
    prefix = f"nodes/{node}/"
    for f in emit_bundle(topo, values, []):
        if f.path.startswith(prefix):
            path = bundle / f.path[len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.content if isinstance(f.content, bytes) else f.content.encode())
    return bundle


def _run_setup(tmp_path: Path, target: str, os_id: str, enabled_repos: str):
    bundle = _node_bundle(tmp_path, target, "controller1")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("hostname", "hostnamectl", "rpm", "dnf", "dpkg", "apt-get"):
        (stubs / name).write_text(STUB)
        (stubs / name).chmod(0o755)
    (tmp_path / "os-release").write_text(f'ID={os_id}\n')
    (tmp_path / "repos").write_text(enabled_repos)
    log = tmp_path / "log"
    log.touch()
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HAGEN_TEST_LOG": str(log), "HAGEN_TEST_NODE": "controller1",
           "HAGEN_TEST_REPOS": str(tmp_path / "repos")}
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'mount --bind "$1" /etc/os-release && exec bash "$2"', "sh",
                           str(tmp_path / "os-release"), str(bundle / "setup.sh")],
                          capture_output=True, text=True, env=env, timeout=60)
    return proc, log.read_text().splitlines()


@needs_root
def test_el9_setup_enables_the_repositories_on_centos_stream_before_installing(tmp_path):
    proc, calls = _run_setup(tmp_path, "el9", "centos", "appstream\nbaseos\n")
    dnf = [c for c in calls if c.startswith("dnf ") and not c.startswith("dnf repolist")]
    assert proc.returncode == 97, proc.stderr  # reached the package install, which the stub stops
    enables = ["dnf config-manager --set-enabled highavailability", "dnf config-manager --set-enabled crb",
               "dnf install -y centos-release-openstack-epoxy"]
    for command in enables:
        assert command in dnf
    install = next(i for i, c in enumerate(dnf) if " pcs " in f" {c} ")
    assert all(dnf.index(c) < install for c in enables)


@needs_root
def test_el9_setup_on_rhel_stops_naming_the_repository_to_enable(tmp_path):
    proc, calls = _run_setup(tmp_path, "el9", "rhel", "appstream\nbaseos\n")
    assert proc.returncode == 1
    assert "highavailability" in proc.stderr and "subscription-manager repos --enable" in proc.stderr
    assert not [c for c in calls if c.startswith("dnf install")]  # nothing half-installed


@needs_root
def test_el9_setup_with_the_repositories_enabled_goes_straight_to_install(tmp_path):
    proc, calls = _run_setup(tmp_path, "el9", "rhel", "rhel-9-for-x86_64-highavailability-rpms\ncodeready-builder-for-rhel-9-x86_64-rpms\nopenstack-epoxy\n")
    assert proc.returncode == 97, proc.stderr
    assert [c for c in calls if c.startswith("dnf ") and "repolist" not in c][0].startswith("dnf install -y pacemaker")


@needs_root
def test_preseed_late_command_lays_down_the_bundle_and_enables_first_boot(tmp_path):
    """Run the late_command as debian-installer would (sh -c, with in-target running the command
    in the installed system), in a mount namespace where the installed system's /var/lib and
    unit folder are scratch folders."""
    from compiler.check import preseed_values
    bundle = _node_bundle(tmp_path, "debian12", "controller1")
    command = preseed_values((bundle / "preseed-late.cfg").read_text())["preseed/late_command"]
    stubs, var_lib, units, log = tmp_path / "stubs", tmp_path / "var-lib", tmp_path / "units", tmp_path / "log"
    for folder in (stubs, var_lib, units):
        folder.mkdir()
    (stubs / "in-target").write_text('#!/bin/sh\nexec "$@"\n')
    (stubs / "systemctl").write_text(f'#!/bin/sh\necho "systemctl $*" >> {log}\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    script = 'mount --bind "$1" /var/lib && mount --bind "$2" /etc/systemd/system && exec sh -c "$3"'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                           str(var_lib), str(units), command],
                          capture_output=True, text=True, env={"PATH": f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin"},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == "systemctl enable hagen-setup.service\n"
    assert "ExecStart=/bin/bash /var/lib/hagen/bundle/setup.sh" in (units / "hagen-setup.service").read_text()
    staged = var_lib / "hagen" / "bundle"
    expected = {p for p in bundle.rglob("*") if p.is_file() and p.name not in ("user-data", "user-data.gz",
                                                                             "preseed-late.cfg")}
    got = {p for p in staged.rglob("*") if p.is_file()}
    assert {p.relative_to(staged) for p in got} == {p.relative_to(bundle) for p in expected}
    modes = {str(p.relative_to(bundle)): p for p in expected}
    for path in got:
        rel = str(path.relative_to(staged))
        info = path.stat()
        assert path.read_bytes() == modes[rel].read_bytes(), rel
        assert (info.st_uid, info.st_gid) == (0, 0), rel
    # The modes are the bundle's, not the writer's umask: secrets 0600, the Erlang cookie 0400.
    assert oct(staged.joinpath("etc/hagen/secrets.env").stat().st_mode & 0o777) == "0o600"
    assert oct(staged.joinpath("var/lib/rabbitmq/.erlang.cookie").stat().st_mode & 0o777) == "0o400"
    assert oct(staged.joinpath("setup.sh").stat().st_mode & 0o777) == "0o755"


# --- a node's cluster, as setup.sh and pcs-setup.sh find it on a rerun

DEBIAN_EXAMPLE_COROSYNC = """totem {
\tversion: 2
\tcluster_name: debian
}
nodelist {
\tnode {
\t\tname: node1
\t\tnodeid: 1
\t\tring0_addr: 127.0.0.1
\t}
}
"""

CLUSTER_STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$HAGEN_TEST_LOG"
case "$(basename "$0") $1" in
    "hostname -s") echo controller1 ;;
    "systemctl is-active") exit 3 ;;   # Pacemaker is not running
esac
"""


def _seed_files(target: str) -> dict[str, str]:
    from compiler.spec import load_spec_text
    topo = lower(load_spec_text(retarget((EXAMPLES / "seed.yaml").read_text(), target), "seed.yaml").data)
    values = SecretValues({n: generate_value(n) for n in required_secrets(topo)})
    return {f.path: f.content for f in emit_bundle(topo, values, []) if isinstance(f.content, str)}


def _run_against_corosync_conf(tmp_path: Path, script: str, corosync_conf: str):
    """bash running script with pcs, systemctl and hostname recorded, in a mount namespace whose
    /etc/corosync/corosync.conf is corosync_conf."""
    stubs, log, conf = tmp_path / "stubs", tmp_path / "log", tmp_path / "corosync.conf"
    stubs.mkdir(exist_ok=True)
    for name in ("pcs", "systemctl", "hostname"):
        (stubs / name).write_text(CLUSTER_STUB)
        (stubs / name).chmod(0o755)
    log.write_text("")
    conf.write_text(corosync_conf)
    (tmp_path / "script.sh").write_text(script)
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'mount --bind "$1" /etc/corosync/corosync.conf && exec bash "$2"', "sh",
                           str(conf), str(tmp_path / "script.sh")],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{stubs}:/usr/bin:/bin", "HAGEN_TEST_LOG": str(log)})
    return proc, [line for line in log.read_text().splitlines() if not line.startswith("hostname")]


def _setup_cluster_guard(setup: str) -> str:
    """The part of a node's setup.sh that decides what to do with the corosync.conf it finds."""
    start = setup.index("pacemaker_running=false")
    return "set -euo pipefail\n" + setup[start:setup.index("# Pacemaker starts and stops these")]


needs_corosync_conf = pytest.mark.skipif(not Path("/etc/corosync/corosync.conf").exists(),
                                         reason="bind-mounts over /etc/corosync/corosync.conf (corosync installed)")


@needs_root
@needs_corosync_conf
def test_setup_destroys_only_the_packages_example_cluster_and_refuses_another_real_one(tmp_path):
    files = _seed_files("debian13")
    guard = _setup_cluster_guard(files["nodes/controller1/setup.sh"])
    # Debian's corosync package: a one-node cluster 'debian' on loopback, replaced.
    proc, calls = _run_against_corosync_conf(tmp_path, guard, DEBIAN_EXAMPLE_COROSYNC)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["systemctl is-active --quiet pacemaker", "systemctl stop pacemaker corosync",
                     "pcs cluster destroy --force"]
    # This cluster, renamed in the spec (or this node taken from another cluster): refused, untouched.
    running = files["cluster/ha-controller/corosync.conf"].replace("cluster_name: ha-controller",
                                                                  "cluster_name: old-name")
    proc, calls = _run_against_corosync_conf(tmp_path, guard, running)
    assert proc.returncode == 1
    assert "belongs to Pacemaker cluster 'old-name'" in proc.stderr and "'ha-controller'" not in proc.stderr
    assert calls == ["systemctl is-active --quiet pacemaker"]
    # Its own cluster: kept.
    proc, calls = _run_against_corosync_conf(tmp_path, guard, files["cluster/ha-controller/corosync.conf"])
    assert (proc.returncode, calls) == (0, ["systemctl is-active --quiet pacemaker"])


@needs_root
@needs_corosync_conf
@pytest.mark.skipif(shutil.which("pcs") is None, reason="needs this machine's pcs (bookworm's, debian12's)")
def test_pcs_setup_refuses_a_running_cluster_whose_name_or_nodes_the_bundle_changes(tmp_path):
    """The corosync.conf that debian12's own pcs writes for the bundle's 'pcs cluster setup' passes
    pcs-setup.sh's check; the same cluster renamed, with a node more or with a node moved, does not."""
    files = _seed_files("debian12")
    script = files["cluster/ha-controller/pcs-setup.sh"]
    setup_args = shlex.split(re.search(r"^\s*pcs cluster setup (.*)$", script, flags=re.M).group(1))
    written = tmp_path / "pcs-corosync.conf"
    made = subprocess.run(["pcs", "cluster", "setup", *setup_args, "--corosync_conf", str(written)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    proc, calls = _run_against_corosync_conf(tmp_path, script, written.read_text())
    # Past the check: it goes on to read the node's secrets (absent here), having run no pcs command.
    assert "refusing" not in proc.stderr and "/etc/hagen/secrets.env" in proc.stderr
    assert calls == []
    node = "    node {\n        ring0_addr: 192.168.16.61\n        name: controller4\n        nodeid: 4\n    }\n"
    changed = {"renamed": written.read_text().replace("cluster_name: ha-controller", "cluster_name: other"),
               "a node more": written.read_text().replace("nodelist {\n", "nodelist {\n" + node, 1),
               "a node moved": written.read_text().replace("192.168.16.60", "192.168.16.70")}
    for what, conf in changed.items():
        proc, calls = _run_against_corosync_conf(tmp_path, script, conf)
        assert proc.returncode == 1, what
        assert "refusing before changing anything" in proc.stderr, what
        assert calls == [], what
