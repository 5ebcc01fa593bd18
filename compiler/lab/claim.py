"""One lab per machine: the lab's network namespace, cgroup group and host names are the
machine's, so a second lab would tear down or kill the first one's hosts. `up` claims the
machine in a small file naming the lab root and the claiming process; another root waits (up to
its `wait_s`) or is refused while that lab is alive: its `up` still running, or a host it booted
still has processes. A claim whose process is gone and whose hosts are all down (an `up` killed
midway, a crashed test run) is stale: it is taken over, and the new `up` removes what it left."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from .hosts import LabError, LabState, host_pids

CLAIM_PATH = Path("/run/hagen-lab.claim")


class LabBusy(LabError):
    """Another lab holds this machine; the message names it."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _locked(path: Path):
    """The claim file, opened and locked so that two `up`s never both see it free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 65536)
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}


def _write(fd: int, data: dict) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(data, sort_keys=True) + "\n").encode())


def holder(path: Path = CLAIM_PATH) -> dict:
    """The live claim ({root, pid, since}) or {} when the machine is free or the claim is stale."""
    if not path.is_file():
        return {}
    with _locked(path) as fd:
        return _live(_read(fd))


def _hosts_running(root: Path) -> bool:
    """Does any host the lab in root booted still have processes (a lab left up after `up` ended)?"""
    try:
        names = LabState.load(root).hosts
    except (OSError, ValueError, KeyError):
        return False  # an unreadable state file boots nothing
    return any(host_pids(name) for name in names)


def _live(claim: dict) -> dict:
    if not claim.get("root"):
        return {}
    if _alive(int(claim.get("pid", 0))) or _hosts_running(Path(claim["root"])):
        return claim
    return {}


def describe(claim: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claim.get("since", 0)))
    return f"the lab in {claim['root']} (claimed by pid {claim.get('pid')} at {since})"


def acquire(root: Path, path: Path = CLAIM_PATH, wait_s: float = 0, log=None,
            poll_s: float = 10) -> Path | None:
    """Claim the machine for the lab in root, waiting up to wait_s for another lab to end; raise
    LabBusy naming who holds it if it does not. Returns the root of a stale claim taken over
    (its leftovers are the caller's to remove), else None."""
    root = root.resolve()
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        with _locked(path) as fd:
            previous = _read(fd)
            current = _live(previous)
            if not current or Path(current["root"]) == root:
                _write(fd, {"root": str(root), "pid": os.getpid(), "since": int(time.time())})
                stale = Path(previous["root"]) if previous.get("root") and not current else None
                return stale if stale and stale != root else None
        if time.monotonic() >= deadline:
            waited = f" (waited {wait_s:.0f} s)" if wait_s else ""
            raise LabBusy(f"this machine is in use by {describe(current)}{waited}; the lab's network "
                          f"namespace, cgroups and host names are shared, so a second lab would break it. "
                          f"Wait for it to finish, or end it with 'hagen lab down --root {current['root']}'")
        if log and not told:
            log(f"lab: waiting up to {wait_s:.0f} s for {describe(current)}")
            told = True
        time.sleep(poll_s)


def check_owner(root: Path, path: Path = CLAIM_PATH) -> None:
    """Refuse to touch the machine's lab resources on behalf of a root that does not hold them."""
    current = holder(path)
    if current and Path(current["root"]) != root.resolve():
        raise LabBusy(f"this machine's lab resources belong to {describe(current)}, not to {root}; "
                      "nothing was touched")


def release(root: Path, path: Path = CLAIM_PATH) -> None:
    """Give the machine back, if root holds it."""
    if not path.is_file():
        return
    with _locked(path) as fd:
        claim = _read(fd)
        if not claim or Path(claim.get("root", "")) == root.resolve():
            _write(fd, {})
