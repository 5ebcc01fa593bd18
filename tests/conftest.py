import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LAB_REPORT = "lab_report"  # the user property a lab test leaves its report table in


def pytest_collection_modifyitems(config, items):
    """The lab's deployments last (in a plain `pytest`; .ci/run runs them in a pytest of their own):
    the rest of the suite never runs beside booted hosts, which keep both cores busy."""
    items.sort(key=lambda item: bool(item.get_closest_marker("lab") and item.get_closest_marker("slow")))


def pytest_terminal_summary(terminalreporter):
    """Each lab test's report table at the end of the output, where CI's log (its tail) keeps it."""
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
