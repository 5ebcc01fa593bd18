"""A tools root: a debootstrapped Debian release holding the tools that judge its bundles, so
that a bookworm machine checks a debian13 bundle with trixie's haproxy, pcs, Pacemaker,
corosync, MariaDB, RabbitMQ, cloud-init and shellcheck. `hagen check --tools-root DIR` runs
the whole check inside it (chroot, in a private mount namespace with the bundle and hagen
bind-mounted), so every tool and /etc/os-release are the root's own. Needs root."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from .lab.hosts import LabError, building, debootstrap
from .resources import data_dir
from .catalog import CATALOG, Uwsgi
from .targets import TARGETS

# What hagen check runs (check.APT_PACKAGES' packages), plus what hagen itself imports there.
TOOL_PACKAGES = ("haproxy", "pcs", "pacemaker", "pacemaker-cli-utils", "corosync", "resource-agents",
                 "mariadb-server", "galera-4", "rabbitmq-server", "cloud-init", "shellcheck", "xinetd",
                 "systemd", "iproute2", "util-linux", "debconf", "tar", "python3-oslo.config",
                 # the ExecStart of the catalog services' units, which systemd-analyze verify resolves
                 "uwsgi-plugin-python3",
                 # ovn-ctl and ovsdb-tool, which judge OVN central's options (check_ovn_central)
                 "ovn-central",
                 # openssl, which judges the certificates and makes a test one for haproxy -c
                 "openssl",
                 # promtool, which judges the scrape config and the alert rules, and runs their tests
                 "prometheus")
PYTHON_PACKAGES = ("python3", "python3-jinja2", "python3-jsonschema", "python3-ruamel.yaml", "python3-typer")
MARKER = ".hagen-tools-root"
INSIDE = "/run/hagen-check"  # where the bundle and hagen appear inside the root


class ToolsRootError(Exception):
    """The root could not be made or used; the message says why."""


def wanted_packages(target_name: str) -> list[str]:
    """The tools, hagen's own imports, the target's cluster packages (pcs reads the metadata of
    the fence and resource agents the bundle names; fence_ipmilan is its own package on trixie),
    and the OpenStack services' modules (their options, for oslo-config-validator)."""
    services = {s.python_package for s in CATALOG}  # the options oslo-config-validator loads
    # The programs the catalog's units run (systemd-analyze verify resolves each ExecStart).
    # (Nova's: nova-consoleproxy, nova-conductor, nova-scheduler own theirs.)
    services |= {s.host.packages[0] for s in CATALOG if s.host and not isinstance(s.host.server, Uwsgi)}
    services |= {p for s in CATALOG if s.host and any(not isinstance(x.server, Uwsgi) for x in s.host.processes)
                 for p in s.host.packages}
    return sorted(set(TOOL_PACKAGES) | set(PYTHON_PACKAGES) | set(TARGETS[target_name].packages_cluster) | services)


def make(root: Path, target_name: str, log=print) -> bool:
    """Debootstrap the target's release into root with the tools; False when it is there already."""
    target = TARGETS[target_name]
    if not target.debian_suite:
        raise ToolsRootError(f"{target_name} is not a Debian release; no tools root can be made for it")
    if os.geteuid() != 0:
        raise ToolsRootError("making a tools root needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "chroot", "unshare"):
        if shutil.which(tool) is None:
            raise ToolsRootError(f"{tool} is not installed (apt-get install debootstrap util-linux coreutils)")
    with building(root, lambda m: log("hagen: " + m)):
        return _make(root, target, wanted_packages(target_name), log)


def _make(root: Path, target, packages: list[str], log) -> bool:
    stamp = f"{target.debian_suite} " + " ".join(packages)
    marker = root / MARKER
    if marker.is_file() and marker.read_text().strip() == stamp:
        return False
    if root.exists():
        shutil.rmtree(root)
    log(f"hagen: making a {target.debian_suite} tools root in {root} (a few minutes)")
    try:
        debootstrap(root, target.debian_suite, packages, keep_services_down=True, log=log)
    except LabError as err:
        raise ToolsRootError(str(err))
    marker.write_text(stamp + "\n")
    return True


def _inside(root: Path, mounts: dict[str, Path], command: str, args: list[str], **kw) -> subprocess.CompletedProcess:
    """Run `command` (a shell line; "$@" are `args`) in the root: a private mount namespace with
    each of `mounts` (inside path -> outside path) bind-mounted, /proc, /dev, /sys and a fresh
    /tmp, and a clean environment."""
    if os.geteuid() != 0:
        raise ToolsRootError("--tools-root needs root (a private mount namespace and chroot)")
    if not (root / MARKER).is_file():
        raise ToolsRootError(f"{root} is not a tools root; make one with 'hagen tools-root {root} --target NAME'")
    script = ["set -e", 'mount -t proc proc "$ROOT/proc"', 'mount --rbind /dev "$ROOT/dev"',
              'mount --rbind /sys "$ROOT/sys"', 'mount -t tmpfs tmpfs "$ROOT/tmp"']
    for inside, outside in mounts.items():
        script.append(f'mkdir -p "$ROOT"{shlex.quote(inside)} && mount --bind {shlex.quote(str(outside))} '
                      f'"$ROOT"{shlex.quote(inside)}')
    script.append(f'exec chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 {command}')
    with tempfile.TemporaryDirectory() as tmp:
        runner = Path(tmp) / "inside.sh"
        runner.write_text("\n".join(script) + "\n")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ROOT": str(root.resolve())}
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", str(runner), *args],
                              env=env, **kw)


def run_check(root: Path, bundle: Path, check_args: list[str]) -> int:
    """hagen check inside the root: the root's python3 runs this very hagen (bind-mounted) on the
    bundle (bind-mounted); its report goes to our stdout and stderr. Returns its exit code."""
    package = Path(__file__).resolve().parent
    mounts = {f"{INSIDE}/hagen/compiler": package, f"{INSIDE}/bundle": bundle.resolve()}
    for name in ("templates", "schemas"):  # a source checkout keeps them beside the package
        if not (package / "_data" / name).is_dir():
            mounts[f"{INSIDE}/hagen/{name}"] = data_dir(name)
    command = (f'PYTHONPATH={INSIDE}/hagen PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 '
               f'-c "from compiler.entry import main; main()" check "$@" {INSIDE}/bundle')
    return _inside(root, mounts, command, check_args).returncode


def run_in(root: Path, workdir: Path, script: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """A bash script run in the root with `workdir` as its current directory (bind-mounted at
    /run/hagen-work): how the tests drive the root's own tools on files of theirs."""
    inside = "/run/hagen-work"
    (workdir / ".script.sh").write_text(script)
    return _inside(root, {inside: workdir.resolve()}, f"bash -c 'cd {inside} && exec bash ./.script.sh'", [],
                   capture_output=True, text=True, timeout=timeout)
