"""Simulated BMCs for the lab's hosts, so that fencing is real there.

A server's baseboard management controller answers IPMI over LAN on its own address; Pacemaker's
fence_ipmilan asks it for the power state and to power the server off and on. Here one process
(in the lab's network namespace) answers for every host, each on the BMC address the spec gives
that node, with the node's BMC user and password from the deploy bundle: the bundle's own
fence_ipmilan resources fence lab hosts unmodified. Powering a host off is a power cut (every
process of its cgroup killed, as hosts.crash_host does); powering it on boots it again from its
disk (hosts.boot_host), as after a real power cycle. pyghmi's BMC class speaks the protocol
(IPMI 2.0, RMCP+, what fence_ipmilan's lanplus asks for); design-notes.md saw trixie's
fence_ipmilan drive it.

Each power action is appended to bmc/events.jsonl with the system's monotonic clock (the same in
every process), so the lab can tell when a fenced host went off and came back.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..secrets import BMC_PASSWORD, generate_bmc_password
from . import hosts

IPMI_PORT = 623


class BmcError(hosts.LabError):
    pass


def missing_tool() -> str | None:
    if importlib.util.find_spec("pyghmi") is None:  # the lab's extra
        return "pyghmi is not installed (pip install 'hagen[lab]'): the lab's simulated BMCs need it"
    return None


@dataclass(frozen=True)
class Bmc:
    """One host's BMC, as the spec's fencing block describes it."""
    host: str
    address: str
    username: str
    password: str


def fill_passwords(secrets: Path) -> list[str]:
    """Give each BMC password a lab secrets file leaves empty a new random one: the lab's simulated
    BMCs take whatever the bundle says."""
    return hosts.fill_empty_secrets(secrets, r"\w+", generate_bmc_password,
                                    "the lab's simulated BMC's password", fill_note=BMC_PASSWORD)


def _dir(root: Path) -> Path:
    return root / "bmc"


class HostPower:
    """A lab host's power, as its BMC switches it."""

    def __init__(self, root: Path, host: str):
        self.root, self.host = root, host
        self.lock = threading.Lock()

    def is_on(self) -> bool:
        return bool(hosts.host_pids(self.host))

    def _record(self, action: str) -> None:
        with open(_dir(self.root) / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"t": time.monotonic(), "host": self.host, "action": action}) + "\n")

    def off(self) -> None:
        with self.lock:
            was_on = self.is_on()
            hosts.crash_host(self.host)
            self._record("off" if was_on else "off (was off)")

    def on(self) -> None:
        with self.lock:
            if self.is_on():
                self._record("on (was on)")
                return
            state = hosts.LabState.load(self.root)  # where its disk is, read now (the lab may have moved on)
            hosts.mount_overlay(state, self.host)
            hosts.boot_host(state, self.host)
            self._record("on")


def simulated_bmc_class():
    """pyghmi's BMC base class, given a host's power (imported late: only the lab needs pyghmi)."""
    from pyghmi.ipmi import bmc

    class SimulatedBmc(bmc.Bmc):
        def __init__(self, authdata: dict, address: str, port: int, power):
            super().__init__(authdata, port=port, address=address)
            self.power = power

        def get_power_state(self):
            return "on" if self.power.is_on() else "off"

        def power_off(self):
            self.power.off()

        def power_on(self):
            self.power.on()

        def power_cycle(self):
            self.power.off()
            self.power.on()

        power_reset = power_cycle

        def power_shutdown(self):  # a host here has no ACPI button: a soft off is a hard one
            self.power.off()

    return SimulatedBmc


def serve(bmcs: list[Bmc], power_of, port: int = IPMI_PORT) -> None:
    """Answer IPMI for each BMC until killed; power_of(host) gives the host's power switch."""
    from pyghmi.ipmi import bmc
    cls = simulated_bmc_class()
    for b in bmcs:
        cls({b.username: b.password}, b.address, port, power_of(b.host))
    bmc.Bmc.listen(timeout=30)


# --- run from the lab: one daemon in the lab's namespace ------------------------------------

def start(root: Path, bmcs: list[Bmc], netns: str, bridge: str, prefix: int, log=print) -> None:
    """Put each BMC's address on the lab's bridge and start the daemon that answers for them all.
    Its configuration (with the passwords) is a 0600 file in the lab's root, never an argument."""
    d = _dir(root)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = d / "bmcs.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump([dataclasses.asdict(b) for b in bmcs], f)
    for b in bmcs:
        hosts.run(hosts.in_netns(["ip", "addr", "replace", f"{b.address}/{prefix}", "dev", bridge], netns))
    out = open(d / "bmc.log", "ab")
    proc = subprocess.Popen(hosts.in_netns([sys.executable, "-m", "compiler.lab.bmc", str(root)], netns),
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    (d / "bmc.pid").write_text(f"{proc.pid}\n")
    time.sleep(1)
    if proc.poll() is not None:
        raise BmcError(f"the simulated BMCs exited {proc.returncode}; see {d / 'bmc.log'}")
    log(f"lab: simulated BMCs for {', '.join(f'{b.host} at {b.address}' for b in bmcs)}")


def events(root: Path) -> list[dict]:
    path = _dir(root) / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stop(root: Path) -> list[str]:
    """Kill the daemon and remove its folder (its configuration holds the BMC passwords; the
    report already has what its events said)."""
    d = _dir(root)
    stopped = ["simulated BMCs"] if hosts.kill_pid_file(d / "bmc.pid") else []
    shutil.rmtree(d, ignore_errors=True)
    return stopped


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    bmcs = [Bmc(**b) for b in json.loads((_dir(root) / "bmcs.json").read_text(encoding="utf-8"))]
    serve(bmcs, lambda host: HostPower(root, host))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
