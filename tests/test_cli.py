"""What an operator sees at the command line: help, summaries, the starter spec, README's snippets."""

import base64
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
    from compiler.catalog import CATALOG

    # and each catalog service's own modules, whose options oslo-config-validator loads
    missing = sorted((set(check.APT_PACKAGES.values()) | {s.python_package for s in CATALOG}) - packages)
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


KEY_LINE = re.compile(r"^(\s*)(?:- )?([a-z_]+):")


def _starter() -> str:
    return (ROOT / "templates" / "init" / "spec.yaml").read_text()


def test_starter_spec_comments_every_field():
    lines = _starter().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if KEY_LINE.match(line) and line.strip() not in ("version: 1",) and "#" not in line:
            # a key line explains itself with a trailing comment or the comment line above it
            if not lines[i - 1].lstrip().startswith("#"):
                uncommented.append(line)
    assert not uncommented
    assert lines[lines.index("version: 1") - 1].startswith("#")


def test_starter_spec_shows_every_field_of_the_schema():
    import json
    schema = json.loads((ROOT / "schemas" / "topology.schema.json").read_text())
    defs = schema.get("$defs", {})

    def keys(node):
        node = defs[node["$ref"].split("/")[-1]] if "$ref" in node else node
        found = set(node.get("properties", {}))
        for child in node.get("properties", {}).values():
            found |= keys(child)
        if "items" in node:
            found |= keys(node["items"])
        return found
    # keys of active lines and of commented-out optional settings ('# gcache_size: 512M')
    shown = {m.group(2) for line in _starter().splitlines() if (m := KEY_LINE.match(re.sub(r"^\s*#\s*", "", line)))}
    shown |= set(re.findall(r"[{,] ?([a-z_]+):", _starter()))  # keys inside flow mappings
    assert keys(schema) - shown == set()


def test_init_writes_a_spec_that_builds_and_refuses_to_overwrite(tmp_path, hagen):
    printed = hagen("init")
    assert printed.returncode == 0 and printed.stdout == _starter()
    written = hagen("init", "spec.yaml")
    assert written.returncode == 0 and (tmp_path / "spec.yaml").read_text() == _starter()
    assert "hagen validate spec.yaml" in written.stderr
    validated = hagen("validate", "spec.yaml")
    assert validated.returncode == 0 and "0 error(s), 0 warning(s)" in validated.stderr
    assert hagen("build", "spec.yaml", "-o", "out").returncode == 0
    (tmp_path / "spec.yaml").write_text("mine\n")
    again = hagen("init", "spec.yaml")
    assert again.returncode == 1 and "exists; use --force" in again.stderr
    assert (tmp_path / "spec.yaml").read_text() == "mine\n"
    assert hagen("init", "spec.yaml", "--force").returncode == 0
    assert (tmp_path / "spec.yaml").read_text() == _starter()


def test_short_help_debug_in_help_and_success_says_what_was_checked(tmp_path, hagen):
    for args in (["-h"], ["build", "-h"], ["secrets", "-h"], ["secrets", "check", "-h"], ["lab", "-h"]):
        proc = hagen(*args)
        assert proc.returncode == 0 and proc.stdout.startswith("Usage: hagen"), args
    assert "--debug" in hagen("--help").stdout
    (tmp_path / "spec.yaml").write_text(_starter())
    valid = hagen("validate", "spec.yaml")
    assert valid.returncode == 0
    assert valid.stderr.startswith("hagen: spec.yaml: valid (schema, names and references") and "0 error(s)" in valid.stderr
    assert hagen("validate", "--format", "json", "spec.yaml").stderr == ""  # json callers read stdout only
    secrets = tmp_path / "secrets.yaml"
    assert hagen("secrets", "init", secrets, "--spec", "spec.yaml").returncode == 0
    secrets.write_text(re.sub(r"^(ipmi_\w+): ''.*$", r"\1: 'bmc-Pa55word-20bytes'", secrets.read_text(), flags=re.M))
    ok = hagen("secrets", "check", secrets, "--spec", "spec.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "none missing, empty, weak or unused" in ok.stderr and "secrets spec.yaml needs" in ok.stderr
    assert "bmc-Pa55word" not in ok.stderr + ok.stdout


def _secrets_of(path):
    from ruamel.yaml import YAML

    return dict(YAML(typ="safe").load(path.read_text()))


def test_secrets_add_makes_only_what_is_missing_and_keeps_the_rest(tmp_path, hagen):
    """A grown spec's secrets file: `secrets add` makes the missing ones (a node certificate signed
    by the file's own CA, a password), keeps every other value byte for byte, stays 0600, and
    refuses to touch a file with a weak value."""
    from ruamel.yaml import YAML

    spec, secrets = ROOT / "examples/seed.yaml", tmp_path / "s.yaml"
    assert hagen("secrets", "init", secrets, "--spec", spec).returncode == 0
    before = _secrets_of(secrets)
    dropped = ("tls_controller2_node_key", "tls_controller2_node_cert", "keystone_db_password")
    yaml = YAML()
    yaml.dump({k: v for k, v in before.items() if k not in dropped}, secrets)
    secrets.chmod(0o600)
    added = hagen("secrets", "add", secrets, "--spec", spec)
    assert added.returncode == 0, added.stderr
    assert f"added 3 secrets to {secrets}" in added.stderr
    after = _secrets_of(secrets)
    assert {k: v for k, v in after.items() if k not in dropped} == {k: v for k, v in before.items() if k not in dropped}
    assert all(after[k] and after[k] != before[k] for k in dropped)
    assert secrets.stat().st_mode & 0o777 == 0o600
    (tmp_path / "ca.crt").write_text(after["tls_ca_cert"])
    (tmp_path / "node.crt").write_text(after["tls_controller2_node_cert"])
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "node.crt")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = hagen("secrets", "add", secrets, "--spec", spec)
    assert again.returncode == 0 and "added 0 secrets" in again.stderr
    assert _secrets_of(secrets) == after
    # A weak value is the operator's to settle: nothing is written.
    text = secrets.read_text()
    weak = re.sub(r"^keystone_db_password: .*$", "keystone_db_password: 'x'", text, flags=re.M)
    secrets.write_text(weak)
    refused = hagen("secrets", "add", secrets, "--spec", spec)
    assert refused.returncode == 1 and "left unchanged" in refused.stderr
    assert secrets.read_text() == weak and after["keystone_db_password"] not in refused.stderr + refused.stdout


def _filled(secrets):
    """A copy of a secrets file with the values only their owners know (BMC passwords) filled in."""
    filled = secrets.with_name("filled-" + secrets.name)
    filled.write_text(re.sub(r"^(\w+): ''  # FILL IN.*$", lambda m: f"{m.group(1)}: 'Bmc-{m.group(1)}'",
                             secrets.read_text(), flags=re.M))
    filled.chmod(0o600)
    return filled


def test_fernet_rotation_moves_each_key_one_place_and_an_older_file_keeps_its_primary(tmp_path, hagen):
    """`secrets rotate-fernet` is keystone-manage fernet_rotate on the secrets file: staged becomes
    primary, primary becomes secondary, a new key is staged, nothing else changes; a file from
    before the third key gets its primary carried to index 2 by `secrets add`, never a new one."""
    spec, secrets = ROOT / "examples/seed.yaml", tmp_path / "s.yaml"
    assert hagen("secrets", "init", secrets, "--spec", spec).returncode == 0
    before = _secrets_of(secrets)
    rotated = hagen("secrets", "rotate-fernet", secrets, "--spec", spec)
    assert rotated.returncode == 0, rotated.stderr
    after = _secrets_of(secrets)
    key = "keystone_fernet_key_{}".format
    assert after[key(2)] == before[key(0)] and after[key(1)] == before[key(2)]
    assert after[key(0)] not in before.values() and len(base64.urlsafe_b64decode(after[key(0)])) == 32
    assert {k: v for k, v in after.items() if "fernet" not in k} == {k: v for k, v in before.items() if "fernet" not in k}
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert not [v for v in before.values() if v and v in rotated.stdout + rotated.stderr]
    # Built into the bundle at the indices Keystone reads: the highest signs.
    built = hagen("build", spec, "-o", tmp_path / "deploy", "--secrets", _filled(secrets))
    assert built.returncode == 0, built.stderr
    repo = tmp_path / "deploy/nodes/controller1/etc/keystone/fernet-keys"
    assert {p.name: p.read_text() for p in repo.iterdir()} == {str(i): after[key(i)] for i in range(3)}
    # A file from before the third key.
    older = {k: v for k, v in after.items() if k != key(2)}
    secrets.write_text("".join(f"{k}: '{v}'\n" for k, v in older.items() if "\n" not in v) +
                       "".join(f"{k}: |\n" + "".join(f"  {line}\n" for line in v.splitlines())
                               for k, v in older.items() if "\n" in v))
    secrets.chmod(0o600)
    assert hagen("secrets", "add", secrets, "--spec", spec).returncode == 0
    assert _secrets_of(secrets)[key(2)] == older[key(1)]
