import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LAB_REPORT = "lab_report"  # the user property a lab test leaves its report table in


def pytest_collection_modifyitems(items):
    """The lab first: it is the longest test by far, and with -n 2 its worker starts it at once
    while the other worker runs the rest."""
    items.sort(key=lambda item: item.get_closest_marker("lab") is None)


def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (-n 2): every test of test_lab.py on one worker, in order (they share the
    machine's lab namespace, cgroups and claim), every other test on whichever worker is free.
    (xdist's own --dist loadgroup no longer groups with pytest 9.2: it renames items' nodeid,
    which 9.2 derives from elsewhere.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LabOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "lab" if nodeid.split("::")[0].endswith("test_lab.py") else nodeid

    return LabOnOneWorker(config, log)


def pytest_terminal_summary(terminalreporter):
    """Each lab test's report table, whichever worker ran it, at the end of the output."""
    for outcome in ("passed", "failed"):
        for rep in terminalreporter.stats.get(outcome, []):
            for name, text in getattr(rep, "user_properties", []):
                if name == LAB_REPORT and rep.when == "call":
                    terminalreporter.write_sep("=", f"{rep.nodeid} ({outcome})")
                    terminalreporter.write(text)


def tool_available(name: str) -> bool:
    return shutil.which(name) is not None or Path("/usr/sbin", name).exists()


@pytest.fixture
def hagen(tmp_path):
    """Run the installed console script like a user would; returns CompletedProcess."""
    def run(*args, **kw):
        return subprocess.run(["hagen", *map(str, args)], capture_output=True, text=True, cwd=kw.pop("cwd", tmp_path),
                              timeout=kw.pop("timeout", 120), **kw)
    return run


def retarget(spec_text: str, target: str) -> str:
    """The same topology on the other target (see compiler.spec.retarget)."""
    from compiler.spec import retarget as retarget_spec

    return retarget_spec(spec_text, target)
