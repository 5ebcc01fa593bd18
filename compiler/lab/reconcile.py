"""The lab's proof that rerunning pcs-resources.sh reconciles a running cluster with its bundle
(issue 17), under the client's traffic, on the cluster's first node:

1. the script of a bundle that differs from the deployed one in a single setting, a VIP's monitor
   interval, is run: the live CIB then holds the new interval, and the VIP neither moves nor
   restarts (an operation's change is taken online);
2. the deployed bundle's script is run again: the interval is back, still without a restart;
3. it is run once more: it pushes nothing (an unchanged bundle changes nothing).

The changed bundle is the deployed script with that one argument edited, which is what hagen
would write for it: the spec has no knob for a VIP's monitor interval."""

from __future__ import annotations

import base64
import re
import shlex
import time

from . import hosts
from .hosts import LabError

# The deployed VIPs' monitor runs every 10 s (compiler.emit.pacemaker); the changed bundle's, 13 s.
DEPLOYED_INTERVAL, CHANGED_INTERVAL = "10s", "13s"
VARIANT = "/run/hagen-lab-pcs-resources-variant.sh"
NOTHING_PUSHED = "nothing to push"


def changed_script(script: str, vip: str) -> str:
    """The bundle's pcs-resources.sh with `vip`'s monitor interval changed."""
    create = f"'resource' 'create' '{vip}' "  # as the template quotes every argument
    lines = script.splitlines(keepends=True)
    changed = [line.replace(f"'interval={DEPLOYED_INTERVAL}'", f"'interval={CHANGED_INTERVAL}'")
               if create in line else line for line in lines]
    if changed == lines:
        raise LabError(f"pcs-resources.sh creates no {vip} with a monitor every {DEPLOYED_INTERVAL}")
    return "".join(changed)


def _vip_state(node: str, vip: str) -> dict:
    """Where the VIP runs, its monitor's interval in the CIB, and the call id of its last start or
    stop on each node (a restart makes a new one)."""
    query = hosts.host_command(node, f"""
crm_resource --locate --resource {shlex.quote(vip)} 2>/dev/null
cibadmin --query --xpath "//primitive[@id='{vip}']/operations/op[@name='monitor']"
cibadmin --query --xpath "//lrm_resource[@id='{vip}']/lrm_rsc_op[@id='{vip}_last_0']"
""", check=False, timeout=120).stdout
    return {"runs_on": sorted(re.findall(r"is running on: (\S+)", query)),
            "interval": (re.findall(r'<op [^>]*name="monitor"[^>]*interval="([^"]+)"', query)
                         or re.findall(r'<op [^>]*interval="([^"]+)"[^>]*name="monitor"', query) or [None])[0],
            "last_calls": sorted(re.findall(r'<lrm_rsc_op [^>]*call-id="(\d+)"', query))}


def _run(node: str, command: str) -> dict:
    started = time.monotonic()
    proc = hosts.host_command(node, command, check=False, timeout=900)
    return {"exit": proc.returncode, "seconds": round(time.monotonic() - started, 1),
            "pushed": NOTHING_PUSHED not in proc.stderr,
            "said": (proc.stderr.strip().splitlines() or [""])[-1]}


def prove(topo: dict) -> dict:
    """Run the three steps on the first cluster that holds a VIP; each step's result, with the
    VIP's state after it (and before the first)."""
    vips = list(topo["vips"])
    cluster, settings = next(((name, c) for name, c in topo["clusters"].items()
                              if any(v in c["resources"] for v in vips)), (None, None))
    if cluster is None:
        raise LabError("no Pacemaker cluster holds a VIP: nothing for pcs-resources.sh to reconcile")
    vip = next(v for v in vips if v in settings["resources"])
    node = settings["nodes"][0]
    setup = next(s["run"] for s in topo["deploy_steps"] if s["run"].endswith(f"/cluster/{cluster}/pcs-setup.sh"))
    script = setup.removesuffix("pcs-setup.sh") + "pcs-resources.sh"
    deployed = hosts.host_command(node, f"cat {shlex.quote(script)}", timeout=60).stdout
    encoded = base64.b64encode(changed_script(deployed, vip).encode()).decode()
    hosts.host_command(node, f"echo {encoded} | base64 -d > {VARIANT}", timeout=60)
    result = {"vip": vip, "node": node, "before": _vip_state(node, vip)}
    for step, command in (("changed", f"bash {VARIANT}"), ("restored", f"bash {shlex.quote(script)}"),
                          ("unchanged", f"bash {shlex.quote(script)}")):
        result[step] = _run(node, command)
        time.sleep(5)  # the cluster acts on the pushed change (a new monitor, the old one cancelled)
        result[step]["state"] = _vip_state(node, vip)
    hosts.host_command(node, f"rm -f {VARIANT}", check=False, timeout=60)
    return result


def problems(name: str, r: dict) -> list[str]:
    """What the three steps show went wrong."""
    found = []
    before = r["before"]
    expected = {"changed": CHANGED_INTERVAL, "restored": DEPLOYED_INTERVAL, "unchanged": DEPLOYED_INTERVAL}
    for step, interval in expected.items():
        s = r[step]
        state = s["state"]
        if s["exit"] != 0:
            found.append(f"{name}: pcs-resources.sh ({step}) exited {s['exit']}: {s['said']}")
        if state["interval"] != interval:
            found.append(f"{name}: after the {step} bundle's rerun, {r['vip']} is monitored every "
                         f"{state['interval']}, not {interval}")
        if state["runs_on"] != before["runs_on"] or state["last_calls"] != before["last_calls"]:
            found.append(f"{name}: the {step} bundle's rerun moved or restarted {r['vip']} "
                         f"({before['runs_on']} -> {state['runs_on']}, last start/stop calls "
                         f"{before['last_calls']} -> {state['last_calls']})")
    if r["unchanged"]["pushed"]:
        found.append(f"{name}: a rerun of the unchanged bundle changed the CIB ({r['unchanged']['said']})")
    return found
