"""setup.sh run for real, up to its package step, with the package manager replaced by a
recorder: what would a fresh host do?"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.emit import emit_bundle
from compiler.lower import lower
from compiler.secrets import SecretValues, generate_value, required_secrets
from compiler.spec import load_spec
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
