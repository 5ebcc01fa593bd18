"""From the client's events to the figures the lab reports. Pure functions: no I/O."""

from __future__ import annotations

import collections
import re

# A gap between two successful writes longer than this is an outage (the loop writes every 0.1 s
# and one write through HAProxy takes a few tens of milliseconds).
OUTAGE_GAP = 0.5


def _times(events: list[dict], kind: str, ok: bool | None = None, **match) -> list[float]:
    return sorted(e["t"] for e in events if e["k"] == kind and (ok is None or e["ok"] == ok)
                  and all(e.get(k) == v for k, v in match.items()))


def write_outage(events: list[dict], since: float, kind: str = "write", gap: float = OUTAGE_GAP) -> float:
    """The longest stretch after `since` (the crash) in which no request of this kind succeeded,
    in seconds (0 when no gap exceeded `gap`)."""
    good = _times(events, kind, True)
    before = [t for t in good if t <= since]
    after = [t for t in good if t > since]
    if not after:
        end = max((e["t"] for e in events), default=since)
        return end - since
    marks = ([before[-1]] if before else [since]) + after
    longest = max(b - a for a, b in zip(marks, marks[1:])) if len(marks) > 1 else 0.0
    return round(longest if longest > gap else 0.0, 2)


def vip_recovery(events: list[dict], vip: str, since: float) -> float | None:
    """Seconds from `since` until the VIP answered again after its last failed probe;
    0 when it never failed; None when it never answered again."""
    failed = [t for t in _times(events, "vip", False, vip=vip) if t >= since]
    if not failed:
        return 0.0
    answered = [t for t in _times(events, "vip", True, vip=vip) if t > failed[-1]]
    return round(answered[0] - since, 2) if answered else None


def acknowledged(events: list[dict], kind: str) -> set[int]:
    return {e["id"] for e in events if e["k"] == kind and e["ok"]}


def count(events: list[dict], kind: str, ok: bool) -> int:
    return sum(1 for e in events if e["k"] == kind and e["ok"] == ok)


def scenario_figures(events: list[dict], crash_at: float | None, rows: list[int], messages: list[int],
                     vips: list[str], providers: list[str] | None = None, images: list[str] | None = None,
                     flavors: list[str] | None = None, compute_services_down: list[str] | None = None,
                     dashboard: bool = False, networks: dict | None = None,
                     northbound: dict | None = None, stacks: dict | None = None,
                     stacks_resumed: list[str] | None = None, volumes: dict | None = None) -> dict:
    """What the issue asks for, per scenario."""
    acked_rows, acked_messages = acknowledged(events, "write"), acknowledged(events, "publish")
    figures = {
        "writes_acknowledged": len(acked_rows),
        "writes_failed": count(events, "write", False),
        "rows_lost": len(acked_rows - set(rows)),
        "messages_confirmed": len(acked_messages),
        "messages_lost": len(acked_messages - set(messages)),
        "publish_failures": count(events, "publish", False),
        "tokens_issued": count(events, "token", True),
        "token_failures": count(events, "token", False),
    }
    tried = count(events, "minority_write", True) + count(events, "minority_write", False)
    if tried:  # a partition: the cut-off node's own writes (none may be acknowledged, none lost)
        minority = acknowledged(events, "minority_write")
        figures.update(minority_writes_tried=tried, minority_writes_acknowledged=len(minority),
                       minority_rows_lost=len(minority - set(rows)))
    if providers is not None:  # Placement: providers it answered 200 for, and which it still lists
        created = {e["name"] for e in events if e["k"] == "placement" and e["ok"]}
        figures["providers_created"] = len(created)
        figures["placement_failures"] = count(events, "placement", False)
        figures["providers_lost"] = len(created - set(providers))
    if images is not None:  # Glance: images whose download matched, and which still download intact
        taken = {e["name"] for e in events if e["k"] == "image" and e["ok"]}
        figures["images_created"] = len(taken)
        figures["image_failures"] = count(events, "image", False)
        figures["images_lost"] = len(taken - set(images))
    if flavors is not None:  # Nova: flavors it answered 200 for, which it still lists; its daemons
        created = {e["name"] for e in events if e["k"] == "flavor" and e["ok"]}
        figures["flavors_created"] = len(created)
        figures["flavor_failures"] = count(events, "flavor", False)
        figures["flavors_lost"] = len(created - set(flavors))
        figures["compute_services_down"] = compute_services_down or []
    if networks is not None:  # Neutron: what it acknowledged, what it lists, what each OVN member holds
        figures.update(network_figures(events, networks, northbound or {}))
    if stacks is not None:  # Heat: stacks it accepted, and what became of each
        figures.update(stack_figures(events, stacks, stacks_resumed or []))
    if volumes is not None:  # Cinder: volumes it accepted, what became of each, earlier ones extended
        figures.update(volume_figures(events, volumes))
    if dashboard:  # Horizon: logins that reached a logged-in page, and sessions sent back to log in
        figures["logins"] = count(events, "login", True)
        figures["login_failures"] = count(events, "login", False)
        figures["sessions_lost"] = sum(1 for e in events if e["k"] == "session" and e.get("bounced"))
        figures["login_errors"] = errors(events, "login")
        figures["slowest_login_s"] = max((e.get("seconds", 0) for e in events if e["k"] == "login" and e["ok"]),
                                         default=None)
    if crash_at is not None:
        figures["write_outage_s"] = write_outage(events, crash_at)
        if networks is not None:  # one network every 2 s: a gap over 5 s is an outage
            figures["network_outage_s"] = write_outage(events, crash_at, "network", gap=5.0)
            figures["network_recovered"] = bool([t for t in _times(events, "network", True) if t > crash_at])
        if dashboard:  # one login a second: a gap over 3 s is an outage
            figures["login_outage_s"] = write_outage(events, crash_at, "login", gap=3.0)
        if flavors is not None:  # one request every 0.5 s: a gap over 2 s is an outage
            figures["flavor_outage_s"] = write_outage(events, crash_at, "flavor", gap=2.0)
        if images is not None:  # one image a second: a gap over 3 s is an outage
            figures["image_outage_s"] = write_outage(events, crash_at, "image", gap=3.0)
        if volumes is not None:  # one volume every 3 s: a gap over 7 s is an outage
            figures["volume_outage_s"] = write_outage(events, crash_at, "volume", gap=7.0)
        if stacks is not None:  # one stack every 3 s: a gap over 7 s is an outage
            figures["stack_outage_s"] = write_outage(events, crash_at, "stack", gap=7.0)
        if providers is not None:  # one request every 0.25 s: a gap over 1 s is an outage
            figures["placement_outage_s"] = write_outage(events, crash_at, "placement", gap=1.0)
        figures["vip_answers_again_s"] = {v: vip_recovery(events, v, crash_at) for v in vips}
    return figures


def errors(events: list[dict], kind: str) -> dict[str, int]:
    """Which request of a loop failed and how, most frequent first: the table says how many
    failed, this says why."""
    return dict(collections.Counter(e.get("error") or "refused" for e in events
                                    if e["k"] == kind and not e["ok"]).most_common(4))


def network_figures(events: list[dict], listed: dict, northbound: dict) -> dict:
    """Networks (with subnet, router and interface) Neutron acknowledged, those it no longer lists,
    and per OVN member the acknowledged logical switches and routers its Northbound replica lacks
    (Neutron names each 'neutron-<its id>')."""
    acked = [e for e in events if e["k"] == "network" and e["ok"]]
    names = {e["name"] for e in acked}
    switches = {f"neutron-{e['network']}" for e in acked}
    routers = {f"neutron-{e['router']}" for e in acked}
    return {
        "networks_created": len(names),
        "network_failures": count(events, "network", False),
        "networks_lost": len(names - set(listed.get("networks", []))) + len(names - set(listed.get("routers", []))),
        # Which request failed and how, most frequent first: the table says how many, this says why.
        "network_errors": errors(events, "network"),
        "northbound_missing": {member: len(switches - set(db["switches"])) + len(routers - set(db["routers"]))
                               for member, db in sorted(northbound.items())},
    }


def stack_figures(events: list[dict], listed: dict[str, str], resumed: list[str]) -> dict:
    """Stacks Heat accepted (201), those it no longer lists (lost), those that completed with the
    outputs their template makes (created, or resumed by an update after their engine died with
    the work), those that failed, those still in progress when verify gave up waiting, and
    completed ones whose outputs are wrong; and why creates were refused."""
    accepted = {e["name"] for e in events if e["k"] == "stack" and e["ok"]}
    status = {name: listed.get(name) for name in accepted}
    return {
        "stacks_created": len(accepted),
        "stack_failures": count(events, "stack", False),
        "stack_errors": errors(events, "stack"),
        "stacks_lost": sum(1 for s in status.values() if s is None),
        "stacks_complete": sum(1 for s in status.values() if s in ("CREATE_COMPLETE", "UPDATE_COMPLETE")),
        "stacks_resumed": sum(1 for name in resumed if name in accepted),
        "stacks_failed": sum(1 for s in status.values() if s and s.endswith("_FAILED")),
        "stacks_in_progress": sum(1 for s in status.values() if s and s.endswith("IN_PROGRESS")),
        "stack_outputs_wrong": sum(1 for s in status.values() if s == "OUTPUTS WRONG"),
        # Every lab stack of the run so far (earlier scenarios' too) must still read back intact.
        "stacks_broken_before": sum(1 for name, s in listed.items() if name not in accepted and s == "OUTPUTS WRONG"),
    }


def volume_figures(events: list[dict], found: dict) -> dict:
    """Volumes Cinder accepted (202), those it no longer lists (lost), available, in error (a
    create whose cinder-volume died with it: its node's service marks it so when it returns),
    still being created when verify gave up; and earlier scenarios' volumes extended after this
    one, or not."""
    accepted = {e["name"] for e in events if e["k"] == "volume" and e["ok"]}
    status = {name: found["volumes"].get(name) for name in accepted}
    return {
        "volumes_created": len(accepted),
        "volume_failures": count(events, "volume", False),
        "volume_errors": errors(events, "volume"),
        "volumes_lost": sum(1 for s in status.values() if s is None),
        "volumes_available": sum(1 for s in status.values() if s == "available"),
        "volumes_error": sum(1 for s in status.values() if s == "error"),
        "volumes_creating": sum(1 for s in status.values() if s == "creating"),
        "volumes_extended": len(found["volumes_extended"]),
        "volumes_not_extended": len(found["volumes_not_extended"]),
    }


def galera_transfer_from_log(text: str) -> str:
    """'IST', 'SST' or 'none', from a rejoining MariaDB's error log."""
    local = re.search(r"Local state: [0-9a-f-]+:(-?\d+)", text)
    received = re.search(r"SST received: [0-9a-f-]+:(-?\d+)", text)
    if received and not (local and local.group(1) == received.group(1)):
        return "SST"
    if "IST received" in text:
        return "IST"
    return "none"


def table(report: dict) -> str:
    """The report as a plain-text table, one row per scenario."""
    heads = ["scenario", "write outage s", "VIPs answer again s", "rows lost", "msgs lost/confirmed", "tokens ok/fail",
             "writes ok/fail", "providers lost/created", "placement fail", "placement outage s",
             "images lost/created", "image fail", "image outage s",
             "flavors lost/created", "flavor fail", "flavor outage s", "nova daemons down 2 min on",
             "networks lost/created", "network fail", "network outage s", "NB missing",
             "stacks lost/created", "stacks complete/resumed/failed", "stack fail", "stack outage s",
             "volumes lost/created", "volumes error/stuck creating", "earlier volumes extended/not", "volume fail",
             "volume outage s",
             "logins ok/fail", "sessions lost", "login outage s", "minority writes acked/tried", "fenced off/on s",
             "rejoin s",
             "state transfer"]
    rows = []
    for s in report["scenarios"]:
        f = s["figures"]
        vips = ", ".join(f"{k.removeprefix('vip-')} {'-' if v is None else v}"
                         for k, v in sorted(f.get("vip_answers_again_s", {}).items())) or "-"
        rejoin = s.get("rejoin", {})
        rows.append([s["name"], str(f.get("write_outage_s", "-")), vips, str(f["rows_lost"]),
                     f"{f['messages_lost']}/{f['messages_confirmed']}",
                     f"{f['tokens_issued']}/{f['token_failures']}",
                     f"{f['writes_acknowledged']}/{f['writes_failed']}",
                     f"{f['providers_lost']}/{f['providers_created']}" if "providers_created" in f else "-",
                     str(f.get("placement_failures", "-")), str(f.get("placement_outage_s", "-")),
                     f"{f['images_lost']}/{f['images_created']}" if "images_created" in f else "-",
                     str(f.get("image_failures", "-")), str(f.get("image_outage_s", "-")),
                     f"{f['flavors_lost']}/{f['flavors_created']}" if "flavors_created" in f else "-",
                     str(f.get("flavor_failures", "-")), str(f.get("flavor_outage_s", "-")),
                     ", ".join(f["compute_services_down"]) or "none" if "compute_services_down" in f else "-",
                     f"{f['networks_lost']}/{f['networks_created']}" if "networks_created" in f else "-",
                     str(f.get("network_failures", "-")), str(f.get("network_outage_s", "-")),
                     ", ".join(f"{m} {n}" for m, n in f.get("northbound_missing", {}).items()) or "-",
                     f"{f['stacks_lost']}/{f['stacks_created']}" if "stacks_created" in f else "-",
                     f"{f['stacks_complete']}/{f.get('stacks_resumed', 0)}/{f['stacks_failed']}"
                     if "stacks_created" in f else "-",
                     str(f.get("stack_failures", "-")), str(f.get("stack_outage_s", "-")),
                     f"{f['volumes_lost']}/{f['volumes_created']}" if "volumes_created" in f else "-",
                     f"{f['volumes_error']}/{f['volumes_creating']}" if "volumes_created" in f else "-",
                     f"{f['volumes_extended']}/{f['volumes_not_extended']}" if "volumes_created" in f else "-",
                     str(f.get("volume_failures", "-")), str(f.get("volume_outage_s", "-")),
                     f"{f['logins']}/{f['login_failures']}" if "logins" in f else "-",
                     str(f.get("sessions_lost", "-")), str(f.get("login_outage_s", "-")),
                     f"{f['minority_writes_acknowledged']}/{f['minority_writes_tried']}"
                     if "minority_writes_tried" in f else "-",
                     f"{s['fence']['off_s']}/{s['fence']['on_s']}" if "fence" in s else "-",
                     str(rejoin.get("all_s", "-")), rejoin.get("galera_transfer", "-")])
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [heads, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    tail = [f"{s['name']}: " + "; ".join(f"{node} exit {r['exit']}, {len(r['files_changed'])} files changed"
                                         for node, r in s["setup_reruns"].items())
            for s in report["scenarios"] if "setup_reruns" in s]
    tail += [f"{s['name']}: {r['vip']}'s monitor interval from {r['node']}: "
             + "; ".join(f"{step} bundle {r[step]['seconds']} s, exit {r[step]['exit']}, "
                         f"{'pushed' if r[step]['pushed'] else 'nothing pushed'}, every {r[step]['state']['interval']} "
                         f"on {', '.join(r[step]['state']['runs_on']) or 'no node'}"
                         for step in ("changed", "restored", "unchanged"))
             for s in report["scenarios"] if (r := s.get("reconcile"))]
    tail += [f"{s['name']}: volumes Cinder left 'creating' {', '.join(s['stuck_volumes']['ids'])}; their journal: "
             + (" | ".join(f"{node}: {line}" for node, lines in sorted(s["stuck_volumes"]["journal"].items())
                           for line in lines) or "nothing")
             for s in report["scenarios"] if "stuck_volumes" in s]
    tail += [f"{s['name']}: {s['node']} had not finished booting in the lab's wait; start jobs left after its "
             f"rejoin: {'; '.join(s['boot_jobs_left']) or 'none'}"
             for s in report["scenarios"] if "boot_jobs_left" in s]
    timed = [s for s in report["scenarios"] if "seconds" in s]
    if timed:
        tail.append("scenario seconds: " + ", ".join(
            f"{s['name']} {s['seconds']}" + (f" (verify {s['verify_s']['all']})" if s.get("verify_s") else "")
            for s in timed))
    tail += [f"{k}: {v}" for k, v in sorted(report.get("totals", {}).items())]
    if "error" in report:
        tail.append(f"stopped in {report['error']}")
    return "\n".join(lines + [""] + tail + alert_lines(report)) + "\n"


def alert_lines(report: dict) -> list[str]:
    """The lab Prometheus's view: its targets before the steady state, and each scenario's alerts
    with when they fired and ended (seconds from the crash; from the scenario's start otherwise)."""
    watched = report.get("monitoring")
    if watched is None:
        return []
    lines = ["", f"monitoring: targets up and no alert after {watched['settled_s']} s "
                 f"(down: {watched['targets_down'] or 'none'}, firing: {watched['firing'] or 'none'}); "
                 f"metrics the rules read that no exporter gave: {', '.join(watched['metrics_missing']) or 'none'}"]
    for s in report["scenarios"]:
        m = s.get("monitoring")
        if m is None:
            continue
        spans = "; ".join(f"{key} {span['fired_s']}..{'-' if span['resolved_s'] is None else span['resolved_s']}"
                          for key, span in m["alerts"].items()) or "none"
        cleared = f", none firing {m['cleared_after_verify_s']} s after the verify" if "cleared_after_verify_s" in m \
            else ""
        lines.append(f"alerts in {s['name']}: {spans}{cleared}")
    return lines
