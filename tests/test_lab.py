"""The lab: three Debian 12 hosts booted from the bundle's own user-data deploy the control plane,
then each is crashed and rebooted while a client writes, issues tokens and publishes through the
VIPs. Runs as root with systemd-nspawn; skips loudly elsewhere, and fails instead in CI."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from compiler.lab import claim, hosts, report, run
from conftest import LAB_REPORT, retarget

# How long a lab test waits for another run's lab on this machine: a whole lab (up and test) takes
# about 25 minutes here.
LAB_WAIT_S = float(os.environ.get("HAGEN_LAB_WAIT_S", 40 * 60))

ROOT = Path(__file__).resolve().parent.parent
LAB_SPEC = ROOT / "lab" / "lab-spec.yaml"


def _events(*items):
    return [{"k": k, "t": t, "ok": ok, **extra} for k, t, ok, extra in items]


# --- the figures, from events (no root needed) ---------------------------------------------

def test_write_outage_is_the_longest_gap_after_the_crash():
    events = _events(*[("write", t / 10, True, {"id": t}) for t in range(0, 50)],
                     ("write", 5.5, False, {"id": 99}),
                     *[("write", 9.0 + t / 10, True, {"id": 100 + t}) for t in range(10)])
    assert report.write_outage(events, since=4.95) == pytest.approx(4.1)
    assert report.write_outage(events[:50], since=2.0) == 0.0  # no gap: no outage


def test_vip_recovery_counts_from_the_crash_to_the_first_answer_after_the_last_failure():
    events = _events(("vip", 1.0, True, {"vip": "a"}), ("vip", 2.0, False, {"vip": "a"}),
                     ("vip", 3.0, True, {"vip": "a"}), ("vip", 4.0, False, {"vip": "a"}),
                     ("vip", 6.5, True, {"vip": "a"}), ("vip", 2.0, True, {"vip": "b"}))
    assert report.vip_recovery(events, "a", since=1.5) == 5.0
    assert report.vip_recovery(events, "b", since=1.5) == 0.0
    assert report.vip_recovery(events[:4], "a", since=1.5) is None


def test_a_node_that_did_not_rejoin_is_reported_with_its_scrubbed_journal():
    events = _events(("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 7}), ("token", 1, True, {}))
    figures = report.scenario_figures(events, None, rows=[1], messages=[7], vips=[])
    rejoin = {"galera_s": 40.0, "neutron_s": None, "all_s": None}
    journal = {"neutron": [run.scrub("neutron-api: mysql+pymysql://neutron:hunter2@db/neutron password=hunter2")]}
    found = run.problems({"scenarios": [{"name": "crash c1", "figures": figures, "rejoin": rejoin,
                                         "rejoin_journal": journal}]})
    assert found == [f"crash c1: the node did not rejoin every cluster: {rejoin}",
                     "crash c1: neutron's journal on the node: neutron-api: mysql+pymysql://neutron:***@db/neutron "
                     "password=***"]
    assert "hunter2" not in "".join(found)


def test_a_reconcile_that_left_the_old_interval_restarted_the_vip_or_pushed_again_is_a_problem():
    """The lab's reconcile steps (compiler.lab.reconcile): the changed bundle's interval must be
    live, the VIP must stay where it was without a new start or stop, and the unchanged bundle
    must push nothing. The first case is what the script before reconciliation did: it kept the
    old interval."""
    from compiler.lab import reconcile

    script = ("pcs -f \"$cib\" 'resource' 'create' 'vip-db' 'ocf:heartbeat:IPaddr2' 'op' 'monitor' 'interval=10s'\n"
              "pcs -f \"$cib\" 'resource' 'create' 'vip-api' 'ocf:heartbeat:IPaddr2' 'op' 'monitor' 'interval=10s'\n")
    changed = reconcile.changed_script(script, "vip-db").splitlines()
    assert changed[0].endswith("'interval=13s'") and changed[1].endswith("'interval=10s'")
    with pytest.raises(reconcile.LabError):
        reconcile.changed_script(script, "vip-rabbitmq")

    state = {"runs_on": ["c3"], "interval": "10s", "last_calls": ["25", "26"]}

    def step(interval, pushed=True, **changes):
        return {"exit": 0, "seconds": 50.0, "pushed": pushed, "said": "CIB updated",
                "state": {**state, "interval": interval, **changes}}

    good = {"vip": "vip-db", "node": "c1", "before": state, "changed": step("13s"), "restored": step("10s"),
            "unchanged": step("10s", pushed=False)}
    assert reconcile.problems("r", good) == []
    kept_old = {**good, "changed": step("10s", pushed=False)}
    assert reconcile.problems("r", kept_old) == ["r: after the changed bundle's rerun, vip-db is monitored every 10s, "
                                                 "not 13s"]
    restarted = {**good, "restored": step("10s", last_calls=["25", "31"])}
    assert reconcile.problems("r", restarted) == [
        "r: the restored bundle's rerun moved or restarted vip-db (['c3'] -> ['c3'], last start/stop calls "
        "['25', '26'] -> ['25', '31'])"]
    pushed_again = {**good, "unchanged": step("10s")}
    assert reconcile.problems("r", pushed_again) == ["r: a rerun of the unchanged bundle changed the CIB (CIB updated)"]
    figures = report.scenario_figures(_events(("token", 1, True, {})), None, rows=[], messages=[], vips=[])
    table = report.table({"scenarios": [{"name": "r", "figures": figures, "reconcile": good}]})
    assert ("r: vip-db's monitor interval from c1: changed bundle 50.0 s, exit 0, pushed, every 13s on c3; "
            "restored bundle 50.0 s, exit 0, pushed, every 10s on c3; unchanged bundle 50.0 s, exit 0, "
            "nothing pushed, every 10s on c3") in table


def test_a_late_service_s_journal_leaves_out_the_labs_own_probes(monkeypatch):
    """rabbitmqctl runs `su rabbitmq` each time the lab asks: CI's only view of a RabbitMQ that did
    not come back was fifteen of those lines. Pacemaker's failed actions are reported beside."""
    journal = "\n".join(["[1.0] c1 pacemaker-controld[6]: notice: Requesting local execution of start operation "
                         "for rabbitmq on c1", "[2.0] c1 su[31]: (to rabbitmq) root on none",
                         "[2.1] c1 su[31]: pam_unix(su:session): session opened for user rabbitmq(uid=112)",
                         "[3.0] c1 systemd[1]: rabbitmq-server.service: start operation timed out"]) + "\n"
    failures = "Failed Resource Actions:\n  * rabbitmq start on c1 returned 'error' (Timed Out)\n"
    commands = []

    def host_command(name, command, **kwargs):
        commands.append((name, command))
        return subprocess.CompletedProcess(command, 0, failures if command.startswith("crm_mon") else journal, "")

    monkeypatch.setattr(run.hosts, "host_command", host_command)
    assert run.rejoin_journal("c1", ["rabbitmq"]) == {"rabbitmq": [journal.splitlines()[0], journal.splitlines()[3]]}
    failed = run.failed_actions("c1")
    assert failed == ["Failed Resource Actions:", "* rabbitmq start on c1 returned 'error' (Timed Out)"]
    assert {name for name, _ in commands} == {"c1"}
    events = _events(("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 7}), ("token", 1, True, {}))
    figures = report.scenario_figures(events, None, rows=[1], messages=[7], vips=[])
    found = run.problems({"scenarios": [{"name": "crash c1", "figures": figures,
                                         "rejoin": {"rabbitmq_s": None, "all_s": None}, "failed_actions": failed}]})
    assert found[-1] == ("crash c1: Pacemaker's failed actions: Failed Resource Actions: | "
                         "* rabbitmq start on c1 returned 'error' (Timed Out)")


def _bmc_events(root: Path, *events) -> None:
    (root / "bmc").mkdir(parents=True, exist_ok=True)
    (root / "bmc" / "events.jsonl").write_text("".join(json.dumps({"t": t, "host": h, "action": a}) + "\n"
                                                       for t, h, a in events))


def test_fencing_is_read_from_the_bmcs_power_events(tmp_path):
    """A fence of a hung node powers it off, then on; of a crashed one (already off), on only.
    Events of another host or from before the fault do not count."""
    fault = time.monotonic() - 30  # (the events' clock is the system's monotonic one)
    _bmc_events(tmp_path, (fault - 5, "c1", "on"), (fault + 1, "c2", "off"), (fault + 2.5, "c1", "off"),
                (fault + 4, "c1", "on"))
    assert run._wait_fenced(tmp_path, "c1", fault) == {"off_s": 2.5, "on_s": 4.0}
    _bmc_events(tmp_path, (fault + 3, "c1", "off (was off)"), (fault + 3.5, "c1", "on"))
    assert run._wait_fenced(tmp_path, "c1", fault) == {"off_s": None, "on_s": 3.5}
    figures = {"rows_lost": 0, "messages_lost": 0, "tokens_issued": 1, "writes_acknowledged": 1,
               "messages_confirmed": 1}
    unfenced = {"name": "crash c1", "fault": "crash", "node": "c1", "figures": figures,
                "fence": {"off_s": None, "on_s": None}}
    assert run.problems({"scenarios": [unfenced]}) == [
        f"crash c1: the node was not fenced within {run.FENCE_TIMEOUT_S} s (its BMC was never asked)"]
    only_on = {"name": "hang c2", "fault": "hang", "node": "c2", "figures": figures,
               "fence": {"off_s": None, "on_s": 3.5}}
    assert run.problems({"scenarios": [only_on]}) == [
        "hang c2: the node (hang) was powered on again without being powered off"]
    assert run.problems({"scenarios": [{**only_on, "name": "crash c2", "fault": "crash"}]}) == []


def test_a_cut_off_node_must_refuse_every_write_its_probe_tries():
    """The partition's probe writes through the cut-off node's own Galera member: any write it
    acknowledged is a problem (and counted lost when the healed cluster lacks it), and a probe that
    tried nothing proves nothing."""
    base = _events(("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 7}), ("token", 1, True, {}))
    fence = {"off_s": 9.0, "on_s": 11.0}

    def partition(minority_events, rows):
        figures = report.scenario_figures(base + minority_events, 0.5, rows=rows, messages=[7], vips=[])
        return figures, run.problems({"scenarios": [{"name": "partition c3", "fault": "partition", "node": "c3",
                                                     "figures": figures, "fence": fence}]})

    refused = _events(("minority_write", 2, False, {"id": 50}), ("minority_write", 3, False, {"id": 51}))
    figures, found = partition(refused, rows=[1])
    assert (figures["minority_writes_tried"], figures["minority_writes_acknowledged"]) == (2, 0)
    assert found == []
    taken = refused + _events(("minority_write", 4, True, {"id": 52}), ("minority_write", 5, True, {"id": 53}))
    figures, found = partition(taken, rows=[1, 52])
    assert (figures["minority_writes_acknowledged"], figures["minority_rows_lost"]) == (2, 1)
    assert found == ["partition c3: the cut-off node's Galera member acknowledged 2 writes (1 of them lost): "
                     "a minority must refuse every write"]
    assert partition([], rows=[1])[1] == ["partition c3: the probe on the cut-off node made no write attempt"]
    assert "minority writes acked/tried" in report.table({"scenarios": [{"name": "p", "figures": figures}]})


def test_lost_rows_and_messages_are_acknowledged_ones_missing_afterwards():
    events = _events(("write", 1, True, {"id": 1}), ("write", 2, True, {"id": 2}), ("write", 3, False, {"id": 3}),
                     ("publish", 1, True, {"id": 7}), ("publish", 2, True, {"id": 8}), ("token", 1, False, {}))
    figures = report.scenario_figures(events, None, rows=[1, 3], messages=[7, 8], vips=[])
    assert (figures["rows_lost"], figures["messages_lost"], figures["token_failures"]) == (1, 0, 1)
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        "x: rows_lost = 1", "x: no Keystone token issued"]
    rerun = {"c1": {"exit": 0, "files_changed": []}, "c2": {"exit": 0, "files_changed": ["/etc/hosts"]}}
    clean = {**figures, "rows_lost": 0, "tokens_issued": 1}
    assert run.problems({"scenarios": [{"name": "r", "figures": clean, "setup_reruns": rerun}]}) == [
        "r: setup.sh on c2 is not a no-op: {'exit': 0, 'files_changed': ['/etc/hosts']}"]


def test_lost_providers_are_created_ones_placement_no_longer_lists():
    events = _events(("placement", 1, True, {"id": 1, "name": "p1"}), ("placement", 2, False, {"id": 2, "name": "p2"}),
                     ("placement", 3, True, {"id": 3, "name": "p3"}), ("placement", 3.2, True, {"id": 4, "name": "p4"}),
                     ("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1}))
    figures = report.scenario_figures(events, 1.5, rows=[1], messages=[1], vips=[], providers=["p1", "p4"])
    assert (figures["providers_created"], figures["placement_failures"], figures["providers_lost"]) == (3, 1, 1)
    assert figures["placement_outage_s"] == 2.0  # from the last success before the crash (1) to the next (3)
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        "x: Placement created 3 resource providers, 1 of them lost"]
    assert "providers_created" not in report.scenario_figures(events, None, [1], [1], [])  # no Placement: no figure


def test_lost_flavors_and_nova_daemons_down_are_problems():
    events = _events(("flavor", 1, True, {"id": 1, "name": "f1"}), ("flavor", 2, False, {"id": 2, "name": "f2"}),
                     ("flavor", 4.5, True, {"id": 3, "name": "f3"}),
                     ("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1}))
    figures = report.scenario_figures(events, 1.5, rows=[1], messages=[1], vips=[], flavors=["f3"],
                                      compute_services_down=["nova-scheduler@c2"])
    assert (figures["flavors_created"], figures["flavor_failures"], figures["flavors_lost"]) == (2, 1, 1)
    assert figures["flavor_outage_s"] == 3.5  # a gap over 2 s: from the last success (1) to the next (4.5)
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        "x: Nova created 2 flavors, 1 of them lost", "x: Nova daemons not up at the end: nova-scheduler@c2"]
    # Late after an earlier crash is a figure; only the end state is a problem.
    healed = {**figures, "flavors_lost": 0, "compute_services_down": []}
    assert run.problems({"scenarios": [{"name": "x", "figures": figures | {"flavors_lost": 0}},
                                       {"name": "y", "figures": healed}]}) == []


def test_neutron_accepting_no_network_for_too_long_after_a_crash_is_a_problem():
    base = [("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1})]
    net = [("network", t, True, {"id": i, "name": f"n{i}", "network": f"N{i}", "router": f"R{i}"})
           for i, t in enumerate((1.0, 3.0, 3.0 + run.NETWORK_OUTAGE_BOUND_S + 1), start=1)]
    listed = {"networks": ["n1", "n2", "n3"], "routers": ["n1", "n2", "n3"]}
    figures = report.scenario_figures(_events(*base, *net), 2.0, rows=[1], messages=[1], vips=[], networks=listed)
    assert figures["network_outage_s"] == run.NETWORK_OUTAGE_BOUND_S + 1
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        f"x: Neutron accepted no network for {run.NETWORK_OUTAGE_BOUND_S + 1.0} s after the crash "
        f"(bound {run.NETWORK_OUTAGE_BOUND_S} s)"]
    on_time = report.scenario_figures(_events(*base, *net[:2]), 2.0, rows=[1], messages=[1], vips=[], networks=listed)
    assert run.problems({"scenarios": [{"name": "x", "figures": on_time}]}) == []
    never = report.scenario_figures(_events(*base, *net[:1]), 2.0, rows=[1], messages=[1], vips=[], networks=listed)
    assert run.problems({"scenarios": [{"name": "x", "figures": never}]}) == [
        "x: Neutron accepted no network after the crash"]


def test_stacks_lost_or_with_wrong_outputs_are_problems_and_failed_ones_a_figure():
    base = [("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1})]
    stacks = [("stack", t, ok, {"id": i, "name": f"s{i}", "stack": f"S{i}", "error": None if ok else "HTTP 503"})
              for i, (t, ok) in enumerate([(1.0, True), (2.0, True), (3.0, True), (4.0, False), (5.0, True),
                                           (6.0, True)], start=1)]
    listed = {"s1": "CREATE_COMPLETE", "s2": "CREATE_FAILED", "s3": "OUTPUTS WRONG", "s5": "CREATE_IN_PROGRESS",
              "s6": "UPDATE_COMPLETE", "s0": "CREATE_COMPLETE"}  # s0: an earlier scenario's; s4 was refused
    figures = report.scenario_figures(_events(*base, *stacks), None, rows=[1], messages=[1], vips=[], stacks=listed,
                                      stacks_resumed=["s5", "s6", "s0"])
    assert {k: figures[k] for k in ("stacks_created", "stack_failures", "stacks_lost", "stacks_complete",
                                    "stacks_resumed", "stacks_failed", "stacks_in_progress", "stack_outputs_wrong",
                                    "stacks_broken_before", "stack_errors")} == {
        "stacks_created": 5, "stack_failures": 1, "stacks_lost": 0, "stacks_complete": 2, "stacks_resumed": 2,
        "stacks_failed": 1, "stacks_in_progress": 1, "stack_outputs_wrong": 1, "stacks_broken_before": 0,
        "stack_errors": {"HTTP 503": 1}}
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        "x: Heat accepted 5 stacks: 0 lost, 1 with wrong outputs (1 refused: {'HTTP 503': 1})",
        "x: 1 stacks still in progress at the end, resumed once by an update"]
    lost = report.scenario_figures(_events(*base, *stacks), None, [1], [1], [],
                                   stacks={"s1": "CREATE_COMPLETE", "s2": "CREATE_FAILED", "s3": "CREATE_COMPLETE",
                                           "s5": "CREATE_COMPLETE", "s6": "CREATE_COMPLETE", "s0": "OUTPUTS WRONG"})
    assert (lost["stacks_lost"], lost["stacks_broken_before"], lost["stacks_resumed"]) == (0, 1, 0)
    assert run.problems({"scenarios": [{"name": "x", "figures": lost}]}) == [
        "x: Heat accepted 5 stacks: 0 lost, 1 with wrong outputs (1 refused: {'HTTP 503': 1})"]
    gone = report.scenario_figures(_events(*base, *stacks), None, [1], [1], [], stacks={"s1": "CREATE_COMPLETE"})
    assert gone["stacks_lost"] == 4  # a failed create is still listed (as failed); a lost stack is not
    # None accepted (each create timed out: no engine took it) is a problem that says so.
    refused = [("stack", t, False, {"id": t, "name": f"r{t}", "stack": None, "error": "TimeoutError"}) for t in (1, 2)]
    none = report.scenario_figures(_events(*base, *refused), None, [1], [1], [], stacks={})
    assert run.problems({"scenarios": [{"name": "x", "figures": none}]}) == [
        "x: Heat accepted 0 stacks: 0 lost, 0 with wrong outputs (2 refused: {'TimeoutError': 2})"]


def test_volumes_lost_stuck_or_not_extended_are_problems_and_errors_after_a_crash_a_figure():
    base = [("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1})]
    volumes = [("volume", t, ok, {"id": i, "name": f"v{i}", "volume": f"V{i}", "error": None if ok else "HTTP 503"})
               for i, (t, ok) in enumerate([(1.0, True), (2.0, True), (3.0, True), (4.0, False), (5.0, True)],
                                           start=1)]
    found = {"volumes": {"v1": "available", "v2": "error", "v3": "creating", "v0": "available"},  # v5 lost
             "volumes_extended": ["v0"], "volumes_not_extended": ["vx"]}
    figures = report.scenario_figures(_events(*base, *volumes), None, rows=[1], messages=[1], vips=[], volumes=found)
    assert {k: figures[k] for k in ("volumes_created", "volume_failures", "volume_errors", "volumes_lost",
                                    "volumes_available", "volumes_error", "volumes_creating", "volumes_extended",
                                    "volumes_not_extended")} == {
        "volumes_created": 4, "volume_failures": 1, "volume_errors": {"HTTP 503": 1}, "volumes_lost": 1,
        "volumes_available": 1, "volumes_error": 1, "volumes_creating": 1, "volumes_extended": 1,
        "volumes_not_extended": 1}
    assert run.problems({"scenarios": [{"name": "x", "figures": figures}]}) == [
        "x: Cinder accepted 4 volumes, 1 of them lost (1 refused: {'HTTP 503': 1})",
        "x: 1 earlier volumes could not be extended",
        "x: 1 volumes still being created at the end",
        "x: 1 accepted volumes ended in error with every node up"]
    # After a crash (the scenario has a rejoin), a create whose cinder-volume died with it may end
    # in error: a figure, not a problem; every volume there, extended, none stuck: no problem.
    crashed = report.scenario_figures(_events(*base, *volumes), None, rows=[1], messages=[1], vips=[], volumes={
        "volumes": {"v1": "available", "v2": "error", "v3": "available", "v5": "available"},
        "volumes_extended": ["v0"], "volumes_not_extended": []})
    assert run.problems({"scenarios": [{"name": "x", "figures": crashed, "rejoin": {"all_s": 60.0}}]}) == []
    # A create Cinder dropped in a fault (acknowledged, never recorded as a daemon's work) stays
    # 'creating': not a problem there, but the report names it with what the journals said of it.
    dropped = report.scenario_figures(_events(*base, *volumes), None, rows=[1], messages=[1], vips=[], volumes={
        "volumes": {"v1": "available", "v2": "error", "v3": "creating", "v5": "available"},
        "volumes_extended": ["v0"], "volumes_not_extended": []})
    scenario = {"name": "crash c1", "fault": "crash", "figures": dropped, "rejoin": {"all_s": 60.0},
                "stuck_volumes": {"ids": ["V3"], "journal": {"c2": ["cinder-scheduler: V3 DBConnectionError"]}}}
    assert run.problems({"scenarios": [scenario]}) == []
    table = report.table({"scenarios": [scenario]})
    assert "crash c1: volumes Cinder left 'creating' V3; their journal: c2: cinder-scheduler: V3 DBConnectionError" \
        in table
    steady = {k: v for k, v in scenario.items() if k not in ("fault", "rejoin")}
    assert run.problems({"scenarios": [steady]}) == ["crash c1: 1 volumes still being created at the end",
                                                     "crash c1: 1 accepted volumes ended in error with every node up"]


def test_a_report_cut_short_says_where_it_stopped_and_how_long_each_scenario_took():
    figures = report.scenario_figures(_events(("token", 1, True, {}), ("write", 1, True, {"id": 1}),
                                              ("publish", 1, True, {"id": 1})), None, rows=[1], messages=[1], vips=[])
    cut = {"scenarios": [{"name": "steady", "figures": figures, "seconds": 81.5, "verify_s": {"all": 12.0}}],
           "error": "crash c1: client verify outlasted 600 s (finished: rows)"}
    table = report.table(cut)
    assert "scenario seconds: steady 81.5 (verify 12.0)" in table
    assert table.endswith("stopped in crash c1: client verify outlasted 600 s (finished: rows)\n")
    # A node slow to finish booting is a figure; one whose units never finish starting, a problem.
    late = {"name": "crash c1", "node": "c1", "fault": "crash", "figures": figures, "boot_jobs_left": []}
    assert run.problems({"scenarios": [late]}) == []
    assert "crash c1: c1 had not finished booting in the lab's wait; start jobs left after its rejoin: none" \
        in report.table({"scenarios": [late]})
    stuck = {**late, "boot_jobs_left": ["1234 etcd.service start running"]}
    assert run.problems({"scenarios": [stuck]}) == [
        "crash c1: c1 was still starting units after it rejoined: 1234 etcd.service start running"]


def test_no_login_is_a_problem_that_says_how_each_try_failed():
    base = [("token", 1, True, {}), ("write", 1, True, {"id": 1}), ("publish", 1, True, {"id": 1})]
    tries = [("login", 2, False, {"seconds": 30.0, "error": "POST /auth/login/: TimeoutError"}),
             ("login", 33, False, {"seconds": 0.4, "error": "POST /auth/login/: HTTP 500"}),
             ("login", 34, False, {"seconds": 30.0, "error": "POST /auth/login/: TimeoutError"})]
    figures = report.scenario_figures(_events(*base, *tries), None, rows=[1], messages=[1], vips=[], dashboard=True)
    assert figures["login_errors"] == {"POST /auth/login/: TimeoutError": 2, "POST /auth/login/: HTTP 500": 1}
    assert figures["slowest_login_s"] is None
    assert run.problems({"scenarios": [{"name": "steady", "figures": figures}]}) == [
        "steady: no one could log in to the dashboard (3 tries: {'POST /auth/login/: TimeoutError': 2, "
        "'POST /auth/login/: HTTP 500': 1})"]
    slow = report.scenario_figures(_events(*base, *tries, ("login", 60, True, {"seconds": 12.5})), None, [1], [1], [],
                                   dashboard=True)
    assert (slow["logins"], slow["slowest_login_s"]) == (1, 12.5)
    assert run.problems({"scenarios": [{"name": "steady", "figures": slow}]}) == []


# Lines as MariaDB 10.11 with mariabackup logged them in the lab: the SST script runs for an IST too.
REJOIN_BY_IST = """WSREP: State transfer required:
\tGroup state: 8bd69f20-eb36-11f1-b754-1e3869686c9b:681
\tLocal state: 8bd69f20-eb36-11f1-b754-1e3869686c9b:351
WSREP: Running: 'wsrep_sst_mariabackup --role 'joiner' --address '10.99.0.11'
WSREP: SST received: 8bd69f20-eb36-11f1-b754-1e3869686c9b:351
WSREP: Receiving IST: 330 writesets, seqnos 352-681
WSREP: IST received: 8bd69f20-eb36-11f1-b754-1e3869686c9b:681
"""


def test_galera_transfer_tells_ist_from_a_full_sst():
    assert report.galera_transfer_from_log(REJOIN_BY_IST) == "IST"
    full = REJOIN_BY_IST.replace("SST received: 8bd69f20-eb36-11f1-b754-1e3869686c9b:351",
                                 "SST received: 8bd69f20-eb36-11f1-b754-1e3869686c9b:670")
    assert report.galera_transfer_from_log(full) == "SST"
    assert report.galera_transfer_from_log("WSREP: Synchronized with group, ready for connections") == "none"


def _watched(steady_alerts=None, crash_alerts=None, still_firing=(), missing=()):
    quiet = {"rows_lost": 0, "messages_lost": 0, "tokens_issued": 1, "writes_acknowledged": 1, "messages_confirmed": 1}
    return {"monitoring": {"settled_s": 40.0, "targets_down": {}, "firing": [], "metrics_missing": list(missing)},
            "scenarios": [{"name": "steady", "figures": quiet, "monitoring": {"alerts": steady_alerts or {}}},
                          {"name": "crash controller1", "fault": "crash", "node": "controller1", "figures": quiet,
                           "rejoin": {"all_s": 80.0},
                           "monitoring": {"alerts": crash_alerts or {}, "still_firing": list(still_firing),
                                          "targets_down": {}, "cleared_after_verify_s": 12.0}}]}


def test_alerts_must_name_the_crashed_node_end_after_it_and_stay_quiet_in_the_steady_state():
    fired = {"HagenGaleraNodeNotSynced{instance=controller1,job=mysqld}": {"fired_s": 70.0, "resolved_s": 150.0}}
    assert run.monitoring_problems(_watched(crash_alerts=fired)) == []
    assert run.monitoring_problems(_watched(crash_alerts={"HagenGaleraClusterIncomplete{instance=controller2,job=mysqld}":
                                                          {"fired_s": 70.0, "resolved_s": 150.0}})) == \
        ["crash controller1: no alert named the crashed node (fired: "
         "HagenGaleraClusterIncomplete{instance=controller2,job=mysqld})"]
    # controller10 is not controller1
    assert run.monitoring_problems(_watched(crash_alerts={"HagenNodeDown{instance=controller10,job=node}": {}}))
    assert run.monitoring_problems(_watched(steady_alerts=fired, crash_alerts=fired)) == \
        ["steady: alerts fired with every node up: HagenGaleraNodeNotSynced{instance=controller1,job=mysqld}"]
    assert "still firing" in run.monitoring_problems(_watched(crash_alerts=fired, still_firing=["HagenNodeDown{}"]))[0]
    # The lab's overlay roots have no filesystem series: a documented gap, not a problem; others are.
    assert run.monitoring_problems(_watched(crash_alerts=fired, missing=["node_filesystem_avail_bytes"])) == []
    assert run.monitoring_problems(_watched(crash_alerts=fired, missing=["haproxy_server_status"])) == \
        ["monitoring: the alert rules read metrics no exporter gives: haproxy_server_status"]
    assert report.alert_lines(_watched(crash_alerts=fired))[-1] == \
        "alerts in crash controller1: HagenGaleraNodeNotSynced{instance=controller1,job=mysqld} 70.0..150.0, " \
        "none firing 12.0 s after the verify"


def test_client_address_avoids_nodes_and_vips():
    topo = {"nodes": {"a": {"address": "10.0.0.254", "network": "10.0.0.0/24"}},
            "vips": {"v": {"address": "10.0.0.253"}}}
    assert run.client_address(topo) == "10.0.0.252/24"


def test_lab_refuses_review_bundles_and_other_interfaces(tmp_path, hagen):
    assert hagen("build", LAB_SPEC, "-o", tmp_path / "review").returncode == 0
    with pytest.raises(hosts.LabError, match="review bundle"):
        run.read_topology(tmp_path / "review")
    assert hagen("build", ROOT / "examples" / "seed.yaml", "-o", tmp_path / "seed").returncode == 0
    with pytest.raises(hosts.LabError, match="interface 'eth0'"):
        run.read_topology(tmp_path / "seed")
    el9_spec = tmp_path / "el9.yaml"
    el9_spec.write_text(retarget((ROOT / "examples" / "separate-hosts.yaml").read_text(), "el9"))
    assert hagen("build", el9_spec, "-o", tmp_path / "el9").returncode == 0
    with pytest.raises(hosts.LabError, match=r"boots Debian hosts \(debian12, debian13\); this bundle targets el9"):
        run.read_topology(tmp_path / "el9")
    topology = tmp_path / "seed" / "topology.json"
    topology.write_text(topology.read_text().replace('"deploy_steps"', '"steps"'))
    with pytest.raises(hosts.LabError, match=r"lacks what the lab reads \(deploy_steps\).*older hagen"):
        run.read_topology(tmp_path / "seed")
    topology.write_text("{")
    with pytest.raises(hosts.LabError, match="not valid JSON"):
        run.read_topology(tmp_path / "seed")
    with pytest.raises(hosts.LabError, match="not a hagen bundle"):
        run.read_topology(tmp_path / "nowhere")


def test_client_takes_keystones_own_database_and_transport_urls(tmp_path, hagen):
    secrets, bundle = tmp_path / "s.yaml", tmp_path / "deploy"
    assert hagen("secrets", "init", secrets, "--spec", LAB_SPEC).returncode == 0
    assert hagen("lab", "keys", secrets).returncode == 0
    assert hagen("build", LAB_SPEC, "-o", bundle, "--secrets", secrets).returncode == 0
    values = YAML(typ="safe").load(secrets.read_text())
    state = hosts.LabState(tmp_path / "lab")
    state.root.mkdir()
    config = run.client_config(bundle, run.read_topology(bundle), state)
    # Each node's simulated BMC answers at the spec's address with the password its fence device sends.
    assert [(b.host, b.address, b.username, b.password) for b in run.lab_bmcs(bundle, run.read_topology(bundle))] \
        == [(f"controller{i}", f"10.99.0.2{i}", "admin", values[f"ipmi_controller{i}"]) for i in (1, 2, 3)]
    assert config["rabbitmq"]["nodes"] == [["10.99.0.11", 5672], ["10.99.0.12", 5672], ["10.99.0.13", 5672]]
    assert (config["rabbitmq"]["user"], config["rabbitmq"]["password"]) == ("openstack", values["rabbitmq_password"])
    assert config["keystone"] == {"url": "https://10.99.0.202:5000/v3", "password": values["keystone_admin_password"]}
    # The client verifies the VIPs with the CA the bundle lays on the nodes, which is the secrets file's.
    assert Path(config["cafile"]).read_text() == values["tls_ca_cert"]
    assert config["db"] == {"host": "10.99.0.200", "port": 3306, "database": "keystone"}
    options = Path(config["mysql_options"])
    assert options.stat().st_mode & 0o777 == 0o600
    assert f"password={values['keystone_db_password']}\n" in options.read_text()
    assert {v["name"] for v in config["vips"]} == {"vip-db", "vip-keystone", "vip-rabbitmq"}
    # Placement at its registered URL, with the VIP's address (the client has no hosts file)
    assert config["placement"] == {"url": "https://10.99.0.202:8778", "nodes": ["controller1", "controller2", "controller3"]}
    assert config["cinder"]["url"] == "https://10.99.0.202:8776/v3/%(project_id)s"
    # The lab's Ceph gets the key the bundle gives client.cinder, which lab keys filled in.
    keyrings = run.ceph_keyrings(bundle, run.read_topology(bundle))
    assert f"key = {values['cinder_ceph_key']}\n" in keyrings["cinder"]


def test_client_publishes_through_the_vip_when_the_spec_says_so(tmp_path, hagen):
    spec, secrets, bundle = tmp_path / "spec.yaml", tmp_path / "s.yaml", tmp_path / "deploy"
    spec.write_text(LAB_SPEC.read_text().replace("clients: direct", "clients: vip"))
    assert hagen("secrets", "init", secrets, "--spec", spec).returncode == 0
    assert hagen("lab", "keys", secrets).returncode == 0  # the lab's Ceph imports the keys the bundle carries
    assert hagen("build", spec, "-o", bundle, "--secrets", secrets).returncode == 0
    state = hosts.LabState(tmp_path / "lab")
    state.root.mkdir()
    config = run.client_config(bundle, run.read_topology(bundle), state)
    assert config["rabbitmq"]["nodes"] == [["10.99.0.213", 5672]]


def test_host_pids_tolerate_a_unit_cgroup_that_vanishes_mid_walk(tmp_path, monkeypatch):
    """The host's systemd removes a unit's cgroup while we walk (CI once failed on exactly this)."""
    top = tmp_path / "systemd" / hosts.CGROUP_GROUP / "c1"
    for d, pids in [(top, "11\n"), (top / "payload", "12\n"), (top / "payload" / "gone.service", "13\n")]:
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text(pids)
    real_scandir = os.scandir

    def scandir_after_removal(path):
        if isinstance(path, (str, os.PathLike)) and Path(path).name == "gone.service":
            shutil.rmtree(path)  # systemd stopped the unit between listing its parent and entering it
        return real_scandir(path)

    monkeypatch.setattr(hosts, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(os, "scandir", scandir_after_removal)
    assert sorted(hosts.host_pids("c1")) == [11, 12]
    assert hosts.host_pids("absent") == []


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
@pytest.mark.parametrize("verb", [["down"], ["test", "deploy"], ["up", "deploy"]])
def test_lab_verbs_say_they_need_root(tmp_path, verb):
    """Root is checked first: no bundle is read, nothing is created."""
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "hagen", "lab", *verb,
                           "--root", str(tmp_path / "lab")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert "needs root" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "lab").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_second_lab_is_refused_while_the_first_is_alive_and_says_who_holds_it(tmp_path, monkeypatch):
    path, first, second = tmp_path / "claim", tmp_path / "lab-a", tmp_path / "lab-b"
    first.mkdir()
    claim.acquire(first, path)
    assert claim.holder(path)["root"] == str(first) and claim.holder(path)["pid"] == os.getpid()
    claim.acquire(first, path)  # the same lab again (up after an interrupted up): fine
    with pytest.raises(claim.LabBusy) as busy:
        claim.acquire(second, path)
    assert str(first) in str(busy.value) and f"pid {os.getpid()}" in str(busy.value)
    assert f"hagen lab down --root {first}" in str(busy.value)
    # up has finished (its process is gone) but a host it booted runs: still the first lab's machine.
    path.write_text(json.dumps({"root": str(first), "pid": _dead_pid(), "since": 0}))
    hosts.LabState(first, hosts={"controller1": {}}).save()
    monkeypatch.setattr(claim, "host_pids", lambda name: [4242] if name == "controller1" else [])
    with pytest.raises(claim.LabBusy):
        claim.acquire(second, path)
    with pytest.raises(claim.LabBusy):
        claim.check_owner(second, path)  # 'down' of another root touches nothing
    # the first lab's process is gone and its hosts are down (an up killed midway): a stale claim,
    # taken over, and acquire names the abandoned root so that up removes its leftovers
    monkeypatch.setattr(claim, "host_pids", lambda name: [])
    assert claim.acquire(second, path) == first.resolve()
    assert claim.holder(path)["root"] == str(second)
    claim.release(first, path)  # not the holder: nothing changes
    assert claim.holder(path)["root"] == str(second)
    claim.release(second, path)
    assert claim.holder(path) == {}


def test_a_second_build_of_a_root_waits_for_the_first_and_then_reuses_it(tmp_path, monkeypatch):
    """CI builds the lab's base in the background while the tests start: a lab that reaches the
    base mid-build waits for it, then finds its marker, instead of removing a root half made."""
    base, said, order = tmp_path / "base", [], []
    monkeypatch.setattr(hosts, "debootstrap", lambda *a, **kw: pytest.fail("the half-made root was rebuilt"))
    stamp = ["trixie", *sorted(set(hosts.BASE_EXTRA_PACKAGES) | {"haproxy"})]

    def first():
        with hosts.building(base, log=said.append):
            order.append("first builds")
            time.sleep(0.5)
            base.mkdir()
            (base / ".hagen-lab-base").write_text(" ".join(stamp) + "\n")
            order.append("first done")

    builder = threading.Thread(target=first)
    builder.start()
    time.sleep(0.1)
    try:
        assert hosts.build_base(base, "trixie", ["haproxy"], "", log=said.append) == 0.0  # reused, not rebuilt
    finally:
        builder.join()
    assert order == ["first builds", "first done"]
    assert said == [f"lab: waiting for another build of {base} to end"]


def test_a_second_lab_waits_its_turn_when_asked_to(tmp_path):
    path, first, second = tmp_path / "claim", tmp_path / "lab-a", tmp_path / "lab-b"
    claim.acquire(first, path)
    said = []
    with pytest.raises(claim.LabBusy) as busy:
        claim.acquire(second, path, wait_s=0.3, log=said.append, poll_s=0.05)
    assert "(waited 0 s)" in str(busy.value) and str(first) in str(busy.value)
    assert len(said) == 1 and str(first) in said[0]  # told once, not once per poll
    releaser = threading.Timer(0.3, claim.release, (first, path))
    releaser.start()
    try:
        assert claim.acquire(second, path, wait_s=30, poll_s=0.05) is None  # the first ended cleanly
    finally:
        releaser.join()
    assert claim.holder(path)["root"] == str(second)


# --- the lab itself ------------------------------------------------------------------------

def _skip_or_fail(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the lab must run in CI, but: {why}")
    pytest.skip(f"LAB SKIPPED: {why}")


def _leftovers(root: Path) -> list[str]:
    left = []
    if Path(f"/run/netns/{hosts.NETNS}").exists():
        left.append("netns")
    left += [str(p) for c in hosts.CGROUP_CONTROLLERS if (p := hosts.CGROUP_ROOT / c / hosts.CGROUP_GROUP).exists()]
    mounts = Path("/proc/mounts").read_text()
    left += [line.split()[1] for line in mounts.splitlines() if str(root) in line]
    return left


@pytest.fixture
def ghost_lab(tmp_path):
    """A lab state naming one host, 'ghost', that was never booted, under the machine's claim.
    The cgroups and namespace are the machine's: like any lab, wait for the claim (CI once ran a
    teardown test while an abandoned lab's cgroups were still there, and the shared group was busy)."""
    why = hosts.preflight()
    if why:
        _skip_or_fail(why)
    root = tmp_path / "lab"
    run.claim_machine(root, wait_s=LAB_WAIT_S)
    try:
        state = hosts.LabState(root, base="", base_owned=False)
        state.hosts["ghost"] = {"upper": "", "work": "", "merged": str(root / "merged")}
        state.save()
        yield state
    finally:
        claim.release(root)


@pytest.mark.lab
def test_teardown_removes_a_half_started_lab_by_pid(ghost_lab):
    """An interrupted run leaves processes in the lab's cgroups and a namespace: down removes them."""
    root = ghost_lab.root
    hosts.create_network(ghost_lab, "10.123.0.1/24")
    cgroup = hosts.CGROUP_ROOT / "systemd" / hosts.CGROUP_GROUP / "ghost"
    cgroup.mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: (cgroup / "cgroup.procs").write_text(
        str(os.getpid())))
    assert hosts.host_pids("ghost") == [sleeper.pid]
    hosts.teardown(root)
    assert sleeper.wait(timeout=10) == -9
    assert _leftovers(root) == []
    assert hosts.teardown(root) == []  # a second teardown finds nothing and fails on nothing


@pytest.mark.lab
def test_teardown_leaves_another_labs_hosts_in_the_shared_group(ghost_lab):
    """The machine's cgroup group holds every lab's hosts: tearing one lab down keeps another's."""
    other = hosts.CGROUP_ROOT / "systemd" / hosts.CGROUP_GROUP / "someone-elses-host"
    other.mkdir(parents=True, exist_ok=True)
    try:
        hosts.teardown(ghost_lab.root)
        assert other.is_dir()
    finally:
        other.rmdir()
    hosts.teardown(ghost_lab.root)
    assert _leftovers(ghost_lab.root) == []


@pytest.mark.lab
@pytest.mark.slow
def test_lab_deploys_the_bundle_and_survives_a_crash_of_the_first_node(tmp_path_factory, hagen, record_property):
    """CI's core lab (the whole one no longer fits CI's hour): trixie hosts, controller1 crashed,
    the node that bootstraps every cluster and holds the VIPs first, and fenced by the others.
    The setup.sh rerun under load is the whole lab's (`-m lab_full`): on two cores it took 8
    minutes, each node's setup.sh 3 (2026-12-07). So is the reconcile of the CIB: under the
    client's load each of its three pcs-resources.sh runs took minutes (2026-12-07)."""
    _deploy_and_crash_each_node(LAB_SPEC, tmp_path_factory, hagen, record_property, crash=["controller1"],
                                rerun=False, reconcile_cib=False)


@pytest.mark.lab_full
@pytest.mark.slow
def test_lab_deploys_the_bundle_and_survives_each_crash(tmp_path_factory, hagen, record_property):
    """The lab spec's own release (debian13): trixie hosts, every node crashed in turn, then
    controller2 hung (its processes stopped, not dead) and controller3 cut off the network, each
    of which the others must fence through its BMC (about 25 minutes more than CI's core lab can
    spend)."""
    _deploy_and_crash_each_node(LAB_SPEC, tmp_path_factory, hagen, record_property, hang=["controller2"],
                                partition=["controller3"])


@pytest.mark.lab
@pytest.mark.lab_debian12
@pytest.mark.slow
def test_lab_on_debian12_hosts(tmp_path_factory, hagen, record_property):
    """The same spec on bookworm hosts, for clusters still on Debian 12 (not in CI's default run:
    `pytest -m lab_debian12`)."""
    spec = tmp_path_factory.mktemp("spec12") / "lab-debian12.yaml"
    spec.write_text(retarget(LAB_SPEC.read_text(), "debian12"))
    _deploy_and_crash_each_node(spec, tmp_path_factory, hagen, record_property)


def _deploy_and_crash_each_node(spec: Path, tmp_path_factory, hagen, record_property, crash: list[str] | None = None,
                                hang: list[str] = (), partition: list[str] = (), rerun: bool = True,
                                reconcile_cib: bool = True) -> None:
    why = hosts.preflight()
    if why:
        _skip_or_fail(why)
    work = tmp_path_factory.mktemp("lab")
    secrets, bundle = work / "lab-secrets.yaml", work / "deploy"
    assert hagen("secrets", "init", secrets, "--spec", spec).returncode == 0
    assert hagen("lab", "keys", secrets).returncode == 0  # the lab's Ceph imports the keys the bundle carries
    built = hagen("build", spec, "-o", bundle, "--secrets", secrets)
    assert built.returncode == 0, built.stderr
    # A root of this run's own (two runs on one machine never share one); the machine-wide
    # claim makes a second lab wait its turn (up to LAB_WAIT_S) instead of tearing this one down.
    root = Path(os.environ.get("HAGEN_LAB_ROOT") or tempfile.mkdtemp(prefix="hagen-lab-test-", dir="/var/tmp"))
    base = Path(os.environ["HAGEN_LAB_BASE"]) if os.environ.get("HAGEN_LAB_BASE") else None
    try:
        up = run.up(bundle, root, base, wait_s=LAB_WAIT_S)
    except claim.LabBusy:
        if not os.environ.get("HAGEN_LAB_ROOT"):  # never claimed: nothing but our empty root to remove
            shutil.rmtree(root, ignore_errors=True)
        raise
    except BaseException:
        run.down(root)  # a half-up lab's hosts would spin beside the rest of the run
        raise
    steps = "steps: " + ", ".join(f"{Path(s['run']).name} {s['seconds']} s" for s in up["steps"]) + "\n" + \
        ", ".join(f"{k}: {v}" for k, v in sorted(up["timings"].items())) + "\n"
    try:
        try:
            result = run.test(bundle, root, crash=crash, hang=hang, partition=partition, rerun=rerun,
                              reconcile_cib=reconcile_cib)
        except Exception:  # the scenarios that ran, and where it stopped (run.test saved them)
            if (root / "report.json").is_file():
                record_property(LAB_REPORT, "Lab report, cut short (hagen lab test):\n"
                                + report.table(json.loads((root / "report.json").read_text())) + steps)
            raise
        # Printed at the end of pytest's output (conftest), where CI's log keeps it, pass or fail.
        record_property(LAB_REPORT, "Lab report (hagen lab test):\n" + report.table(result) + steps
                        + "lab-only deviations:\n" + "".join(f"  - {d}\n" for d in result["deviations"]))
        assert [s["run"] for s in up["steps"]] == [s["run"] for s in run.read_topology(bundle)["deploy_steps"]]
        assert [s["name"] for s in result["scenarios"]] == ["steady"] + ["rerun setup.sh"] * rerun + [
            run.RECONCILE] * reconcile_cib + [
            f"crash {name}" for name in (crash or [f"controller{i}" for i in (1, 2, 3)])] + [
            f"hang {name}" for name in hang] + [f"partition {name}" for name in partition]
        assert run.problems(result) == []
    finally:
        run.down(root)
    assert _leftovers(root) == []
    kept = {p.name: p.read_text() for p in root.iterdir() if p.is_file()}
    assert set(kept) == {"report.json", "up.json", "steps.log"}  # the client's credential files are gone
    for name, value in YAML(typ="safe").load(secrets.read_text()).items():
        assert not [f for f, text in kept.items() if value in text], f"secret {name} left in the lab's files"
    assert claim.holder() == {}  # down gave the machine back
    if not os.environ.get("HAGEN_LAB_ROOT"):
        shutil.rmtree(root)


# A host's power as a file: what the simulated BMC switched, seen by the test (the lab's own
# HostPower kills and boots a host instead; the lab's fencing scenarios use that one).
_FILE_POWERED_BMC = """
import sys
from pathlib import Path
from compiler.lab import bmc

class FilePower:
    def __init__(self, path):
        self.path = Path(path)
    def is_on(self):
        return self.path.read_text() == "on"
    def off(self):
        self.path.write_text("off")
    def on(self):
        self.path.write_text("on")

state, port, password = sys.argv[1], int(sys.argv[2]), sys.stdin.readline().rstrip("\\n")
bmc.serve([bmc.Bmc("controller1", "127.0.0.1", "admin", password)], lambda host: FilePower(state), port=port)
"""


def _free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fence_ipmilan_powers_a_host_off_and_on_through_its_simulated_bmc(tmp_path):
    """The real fence agent (fence_ipmilan with lanplus and a password script, as the bundle's
    stonith resources call it) against the lab's simulated BMC: status, off, on and reboot do
    what they say to the host's power, and a wrong password is refused."""
    from compiler.lab import bmc
    for tool in ("fence_ipmilan", "ipmitool"):
        if not (shutil.which(tool) or Path("/usr/sbin", tool).exists()):
            _skip_or_fail(f"{tool} is not installed (apt-get install fence-agents ipmitool)")
    if bmc.missing_tool():
        _skip_or_fail(bmc.missing_tool())
    power, port = tmp_path / "power", _free_udp_port()
    power.write_text("on")
    secret = tmp_path / "password"
    secret.write_text("s3cr'et pass\n")
    secret.chmod(0o600)
    server = subprocess.Popen([sys.executable, "-c", _FILE_POWERED_BMC, str(power), str(port)],
                              stdin=subprocess.PIPE, text=True, cwd=ROOT)
    server.stdin.write(secret.read_text())
    server.stdin.close()

    def fence(action: str, password_file: Path = secret) -> subprocess.CompletedProcess:
        return subprocess.run([shutil.which("fence_ipmilan") or "/usr/sbin/fence_ipmilan", "--ip", "127.0.0.1",
                               "--ipport", str(port), "--username", "admin", "--lanplus",
                               "--password-script", f"cat {password_file}", "--action", action],
                              capture_output=True, text=True, timeout=60)

    try:
        time.sleep(1)
        status = fence("status")
        assert status.returncode == 0 and "ON" in status.stdout, status.stdout + status.stderr
        assert fence("off").returncode == 0 and power.read_text() == "off"
        status = fence("status")
        assert status.returncode == 2 and "OFF" in status.stdout  # the agents' exit code for "off"
        assert fence("on").returncode == 0 and power.read_text() == "on"
        power.write_text("off")  # a reboot of a host that is off powers it on
        assert fence("reboot").returncode == 0 and power.read_text() == "on"
        wrong = tmp_path / "wrong"
        wrong.write_text("not it\n")
        refused = fence("off", wrong)
        assert refused.returncode != 0 and power.read_text() == "on"
    finally:
        server.kill()
        server.wait()
