"""The lab's external Ceph cluster: what an operator's storage team runs beside the control plane,
which hagen's bundle only connects to. One monitor and one OSD (BlueStore on a sparse file, one
replica), run as this machine's own Ceph daemons inside the lab's network namespace at the spec's
first monitor address, with the spec's fsid; each rbd store's pool, and its client with the key the
deploy bundle's keyring holds. No kernel module and no block device: a container lab can have it.
No manager daemon either: RBD needs none (the cluster reports HEALTH_WARN for it)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

from . import hosts

# The daemons, from this machine's packages (apt-get install ceph-mon ceph-osd ceph-common).
TOOLS = ("ceph-mon", "ceph-osd", "ceph", "ceph-authtool", "monmaptool", "rbd")
OSD_BLOCK_BYTES = 8 * 1024 ** 3  # sparse: volumes of a few GiB each, written by no one
OSD_MEMORY_TARGET = 512 * 1024 ** 2
PG_COUNT = 8


class CephError(hosts.LabError):
    pass


def missing_tool() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install ceph-mon ceph-osd ceph-common)"
    return None


def _dir(root: Path) -> Path:
    return root / "ceph"


def _conf(d: Path, fsid: str, monitor: str) -> str:
    return f"""[global]
fsid = {fsid}
mon_host = {monitor}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
osd_memory_target = {OSD_MEMORY_TARGET}
run_dir = {d}/run
pid_file = {d}/run/$name.pid
admin_socket = {d}/run/$name.asok
log_file = {d}/log/$name.log
keyring = {d}/admin.keyring
[mon]
mon_data = {d}/mon/$id
[osd]
osd_data = {d}/osd/$id
osd_objectstore = bluestore
bluestore_block_path = {d}/osd/$id.block
bluestore_block_create = true
bluestore_block_size = {OSD_BLOCK_BYTES}
"""


def _run(argv: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(hosts.in_netns(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    if proc.returncode != 0:
        raise CephError(f"{' '.join(argv[:3])}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return proc


def start(root: Path, ceph: dict, keyrings: dict[str, str], log=print) -> float:
    """Make and start the cluster topology.json's 'ceph' describes, with each client's keyring
    (its text, from the deploy bundle). The seconds it took."""
    started = time.monotonic()
    d = _dir(root)
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("run", "log", "mon/a", "osd/0"):
        (d / sub).mkdir(parents=True)
    monitor = ceph["monitors"][0]
    # The monitor's address beside the client's, on the lab's bridge.
    hosts.run(hosts.in_netns(["ip", "addr", "replace", f"{monitor}/32", "dev", hosts.BRIDGE]))
    conf = d / "ceph.conf"
    conf.write_text(_conf(d, ceph["fsid"], monitor))
    c = ["-c", str(conf)]
    _run(["ceph-authtool", "--create-keyring", str(d / "mon.keyring"), "--gen-key", "-n", "mon.",
          "--cap", "mon", "allow *"])
    _run(["ceph-authtool", "--create-keyring", str(d / "admin.keyring"), "--gen-key", "-n", "client.admin",
          "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *"])
    _run(["ceph-authtool", str(d / "mon.keyring"), "--import-keyring", str(d / "admin.keyring")])
    _run(["monmaptool", "--create", "--add", "a", f"{monitor}:6789", "--fsid", ceph["fsid"], str(d / "monmap")])
    _run(["ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", str(d / "monmap"), "--keyring", str(d / "mon.keyring")])
    _run(["ceph-mon", *c, "-i", "a"])  # daemonizes
    osd_uuid = str(uuid.uuid4())
    osd_id = _run(["ceph", *c, "osd", "new", osd_uuid], timeout=120).stdout.strip()
    osd_keyring = d / "osd" / osd_id / "keyring"
    (d / "osd" / osd_id).mkdir(parents=True, exist_ok=True)
    _run(["ceph-authtool", "--create-keyring", str(osd_keyring), "--gen-key", "-n", f"osd.{osd_id}"])
    _run(["ceph", *c, "auth", "add", f"osd.{osd_id}", "osd", "allow *", "mon", "allow profile osd",
          "-i", str(osd_keyring)])
    _run(["ceph-osd", *c, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid, "--keyring", str(osd_keyring)],
         timeout=300)
    _run(["ceph-osd", *c, "-i", osd_id, "--keyring", str(osd_keyring)])
    for service, client in sorted(ceph["clients"].items()):
        pool, user = client["pool"], client["user"]
        _run(["ceph", *c, "osd", "pool", "create", pool, str(PG_COUNT)])
        _run(["ceph", *c, "osd", "pool", "set", pool, "size", "1", "--yes-i-really-mean-it"])
        _run(["rbd", *c, "pool", "init", pool], timeout=120)
        # The key the bundle's keyring holds, with the caps the bundle README asks for.
        keyring = d / f"client.{user}.keyring"
        key = keyrings[service].split("key = ", 1)[1].split()[0]
        keyring.write_text(f"[client.{user}]\n\tkey = {key}\n\tcaps mon = \"profile rbd\"\n"
                           f"\tcaps osd = \"profile rbd pool={pool}\"\n")
        keyring.chmod(0o600)
        _run(["ceph", *c, "auth", "import", "-i", str(keyring)])
    _wait_osd_up(c)
    seconds = round(time.monotonic() - started, 1)
    log(f"lab: Ceph cluster {ceph['fsid']} at {monitor} (1 monitor, 1 OSD) in {seconds} s")
    return seconds


def _wait_osd_up(c: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = subprocess.run(hosts.in_netns(["ceph", *c, "osd", "stat"]), capture_output=True, text=True,
                              timeout=30)
        if proc.returncode == 0 and " 1 up" in proc.stdout:
            return
        time.sleep(2)
    raise CephError("the lab's OSD did not come up; see its log under the lab root's ceph/log")


def stop(root: Path) -> list[str]:
    """Stop the cluster's daemons (their pid files say which), and remove its data."""
    d, stopped = _dir(root), []
    for pid_file in sorted((d / "run").glob("*.pid")) if (d / "run").is_dir() else []:
        if hosts.kill_pid_file(pid_file):
            stopped.append(pid_file.stem)
    if d.exists():
        shutil.rmtree(d, ignore_errors=True)
    return [f"Ceph {name}" for name in stopped]


def fill_client_keys(secrets: Path) -> list[str]:
    """Give each Ceph client key a lab secrets file leaves empty a new cephx key: the storage
    team's part, whose cluster (start) then imports the key the bundle carries."""
    return hosts.fill_empty_secrets(
        secrets, r"\w+_ceph_key",
        lambda: subprocess.run(["ceph-authtool", "--gen-print-key"], capture_output=True, text=True,
                               check=True).stdout.strip(),
        "a cephx key the lab's Ceph cluster imports")
