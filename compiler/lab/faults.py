"""The faults the lab inflicts on one node, and the probe that watches a cut-off node's writes.

A crash is a power cut: the node is dead and its peers may take over at once. A hang and a
partition leave the node alive, still believing in its resources: only fencing (its BMC powering
it off) makes taking them over safe, so the lab refuses both on a spec that waives fencing.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable

from . import hosts


@dataclass(frozen=True)
class Fault:
    inflict: Callable[[str], None]
    alive: bool  # the node runs on after it: its fence must power it off before on


FAULTS = {
    "crash": Fault(hosts.crash_host, alive=False),  # a power cut: every process of the node killed
    "hang": Fault(hosts.freeze_host, alive=True),  # every process of the node stopped
    "partition": Fault(hosts.cut_off, alive=True),  # a pulled cable: the node's link down
}


# The probe's rows get ids far from the client's (which count up from the scenario's first id).
MINORITY_ID_OFFSET = 50_000_000
MINORITY_WRITE_TIMEOUT_S = 30
MINORITY_INTERVAL_S = 0.5


class MinorityProbe:
    """Writes a row every half second into the lab's table from inside a cut-off node, straight
    to its own Galera member through the local socket (as a service or an operator on that node
    would). Galera must refuse them all: a member that cannot see a majority is not Primary. A
    write it acknowledged there would be lost, or would diverge from what the majority accepted.
    Each attempt is an event {"k": "minority_write", "t", "ok", "id"} stamped when its answer
    came; the probe ends with the node (it is one of the node's processes)."""

    def __init__(self, node: str, database: str, table: str, first_id: int):
        self.events: list[dict] = []
        script = (f"i={first_id + MINORITY_ID_OFFSET}\n"
                  "while :; do\n"
                  f"  if timeout {MINORITY_WRITE_TIMEOUT_S} mariadb -N -B {shlex.quote(database)} -e "
                  f"\"INSERT INTO {table} (id, scenario) VALUES ($i, 'minority')\" >/dev/null 2>&1\n"
                  "  then echo \"ok $i\"; else echo \"refused $i\"; fi\n"
                  f"  i=$((i + 1)); sleep {MINORITY_INTERVAL_S}\n"
                  "done\n")
        self._process = hosts.host_process(node, script)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._process.stdout:
            verdict, _, row_id = line.strip().partition(" ")
            if row_id.isdigit():
                self.events.append({"k": "minority_write", "t": time.monotonic(), "ok": verdict == "ok",
                                    "id": int(row_id)})

    def stop(self) -> list[dict]:
        """The attempts so far; stops the probe if the node's power-off has not already."""
        if self._process.poll() is None:  # nsenter and the bash it forked: their process group
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(timeout=10)
        return list(self.events)
