"""A rerun of pcs-resources.sh reconciles the CIB with its bundle (issue 17), judged by trixie's
own pcs, cibadmin, crm_simulate and crm_diff on CIB files, as hagen check drives them: an
unchanged bundle changes nothing, a changed setting is updated in place, what the bundle no longer
makes is removed, an operator's own resource is kept, and a change that would restart Galera on
every node at once is refused with the file untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler import toolsroot
from test_tools import trixie_tools  # noqa: F401 (the fixture)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = "cluster/ha-controller/pcs-resources.sh"
NODES = ("controller1", "controller2", "controller3")


def _changes(diff_xml: str) -> set[tuple[str, str]]:
    """crm_diff's changes as (operation, path), leaving out moves: the order of the CIB's
    elements is not a setting (an operator's resource made after hagen's ends up before them)."""
    return {(op, path) for op, path in re.findall(r'<change operation="(\w+)" path="([^"]+)"', diff_xml)
            if op != "move"}


def _build(hagen, tmp_path: Path, name: str, text: str) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text)
    assert hagen("build", spec, "-o", tmp_path / name).returncode == 0
    return tmp_path / name / SCRIPT


def test_a_rerun_reconciles_the_cib_with_its_bundle(tmp_path, hagen, trixie_tools):  # noqa: F811
    seed = (EXAMPLES / "seed.yaml").read_text()
    v2_text = seed.replace("address: 192.168.17.58", "address: 192.168.17.99", 1)  # a BMC moved
    v2_text = v2_text[:v2_text.index("  cinder:\n")] + v2_text[v2_text.index("  # Horizon"):]  # Cinder gone
    work = tmp_path / "work"
    work.mkdir()
    for name, text in (("v1", seed), ("v2", v2_text)):
        (work / f"{name}.sh").write_text(_build(hagen, tmp_path, name, text).read_text())
    # Galera's members changed: Pacemaker would restart every instance at once.
    v1 = (work / "v1.sh").read_text()
    assert "gcomm://controller1,controller2,controller3" in v1
    (work / "galera.sh").write_text(v1.replace("gcomm://controller1,controller2,controller3",
                                               "gcomm://controller1,controller2"))
    nodes = "\n".join(f"CIB_file=fresh.xml cibadmin --create -o nodes --xml-text '<node id=\"{i}\" uname=\"{n}\"/>'"
                      for i, n in enumerate(NODES, 1))
    up = " ".join(f"-u {n}" for n in NODES)
    script = f"""set -u
export HAGEN_PCS_FORCE=1
cibadmin --empty > fresh.xml
{nodes}
bash v1.sh fresh.xml 2>/dev/null; echo "fresh $?"
# the cluster running it: every resource started somewhere (a status section, as on a live CIB)
crm_simulate -x fresh.xml -S -O running.xml --quorum true {up} >/dev/null 2>&1; echo "simulate $?"
cp running.xml rerun.xml
bash v1.sh rerun.xml 2>/dev/null; echo "rerun $?"
crm_diff --original running.xml --new rerun.xml --no-version > rerun.diff; echo "rerun-diff $?"
cp running.xml changed.xml
pcs -f changed.xml resource create mine ocf:pacemaker:Dummy >/dev/null 2>&1; echo "mine $?"
cp changed.xml before.xml
cp running.xml galera.xml
# the two are independent (each script works in a directory of its own): side by side
bash v2.sh changed.xml 2>/dev/null & v2=$!
bash galera.sh galera.xml 2> galera.err >/dev/null & galera=$!
wait "$v2"; echo "v2 $?"
wait "$galera"; echo "galera $?"
crm_diff --original before.xml --new changed.xml --no-version > changed.diff; echo "changed-diff $?"
cmp -s running.xml galera.xml; echo "galera-untouched $?"
"""
    proc = toolsroot.run_in(trixie_tools, work, script, timeout=900)
    codes = dict(line.split(" ") for line in proc.stdout.splitlines() if re.fullmatch(r"[\w-]+ \d+", line))
    assert codes == {"fresh": "0", "simulate": "0", "rerun": "0", "rerun-diff": "0", "mine": "0", "v2": "0",
                     "changed-diff": "1", "galera": "3", "galera-untouched": "0"}, proc.stdout + proc.stderr

    # An unchanged bundle's rerun on a running cluster changes nothing, not even the order.
    assert (work / "rerun.diff").read_text().strip() == ""
    # The changed bundle: the moved BMC's address is updated in place, Cinder's cinder-volume (and
    # the tag's record of it) removed, and nothing else, the operator's resource included.
    assert _changes((work / "changed.diff").read_text()) == {
        ("modify", "/cib/configuration/resources/primitive[@id='fence-controller1']/instance_attributes"
                   "[@id='fence-controller1-instance_attributes']/nvpair[@id='fence-controller1-instance_attributes-ip']"),
        ("delete", "/cib/configuration/resources/primitive[@id='cinder-volume']"),
        ("delete", "/cib/configuration/tags/tag[@id='hagen-ha-controller']/obj_ref[@id='cinder-volume']"),
    }
    assert 'value="192.168.17.99"' in (work / "changed.xml").read_text()
    assert "--allow-full-restart" in (work / "galera.err").read_text()
