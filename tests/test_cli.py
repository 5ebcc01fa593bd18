"""What an operator sees at the command line: help, summaries, the starter spec, README's snippets."""

import re
import shutil
import subprocess

import pytest

from compiler import check
from compiler.cli import check_summary
from conftest import ROOT


def _ci_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    return re.search(r"```yaml\n(  # e\.g\. GitHub Actions.*?)```", readme, flags=re.S).group(1)


def test_readme_ci_snippet_installs_every_tool_hagen_check_runs():
    snippet = _ci_snippet()
    apt_line = next(line for line in snippet.splitlines() if "apt-get install" in line)
    packages = set(apt_line.split("apt-get install", 1)[1].split()) - {"-y", "--no-install-recommends"}
    missing = sorted(set(check.APT_PACKAGES.values()) - packages)
    assert not missing, f"README's CI snippet lacks {missing}"
    assert '[check]"' in snippet  # pykickstart comes with hagen's extra, not from apt
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^check = \[(.*)\]$", pyproject, flags=re.M).group(1)
    assert all(pkg in extra for pkg in check.PIP_PACKAGES.values())
    assert "--strict" in snippet


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs Debian's apt")
def test_readme_ci_snippet_names_real_debian_packages():
    apt_line = next(line for line in _ci_snippet().splitlines() if "apt-get install" in line)
    packages = sorted(set(apt_line.split("apt-get install", 1)[1].split()) - {"-y", "--no-install-recommends"})
    unknown = [p for p in packages
               if "Candidate: (none)" in (out := subprocess.run(["apt-cache", "policy", p], capture_output=True,
                                                                 text=True).stdout) or not out.strip()]
    assert not unknown


def test_every_skip_hint_names_a_real_install_command():
    for tool in [*check.APT_PACKAGES, *check.PIP_PACKAGES]:
        hint = check.install_hint(tool)
        assert re.fullmatch(r"(apt-get install [a-z0-9.+-]+|pip install [a-z0-9-]+ \(or install hagen\[check\]\))", hint)
    assert check.install_hint("ksvalidator").startswith("pip install pykickstart")


@pytest.mark.parametrize("counts,strict,expected", [
    ({"PASS": 53, "FAIL": 0, "SKIP": 0, "N/A": 0}, True, "53 PASS, 0 FAIL, 0 SKIP, 0 N/A"),
    ({"PASS": 50, "FAIL": 0, "SKIP": 3, "N/A": 0}, False, "50 PASS, 0 FAIL, 3 SKIP, 0 N/A"),
    ({"PASS": 50, "FAIL": 0, "SKIP": 3, "N/A": 0}, True,
     "50 PASS, 0 FAIL, 3 SKIP, 0 N/A; failing: 3 SKIP (--strict: a skipped check is a failure)"),
    ({"PASS": 49, "FAIL": 1, "SKIP": 3, "N/A": 0}, True,
     "49 PASS, 1 FAIL, 3 SKIP, 0 N/A; failing: 1 FAIL and 3 SKIP (--strict: a skipped check is a failure)"),
])
def test_check_summary_never_contradicts_itself(counts, strict, expected):
    assert check_summary(counts, strict) == expected
