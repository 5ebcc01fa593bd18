"""Secrets and hostile input: nothing leaks, nothing is injected, nothing half-written."""

import base64
import os
import resource
import stat
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from compiler import bundle as bundle_module
from compiler.cli import app
from compiler.emit import emit_bundle
from compiler.lower import lower
from compiler.pipeline import compile_path, compile_text
from compiler import pki
from compiler.secrets import (FIXED_SECRETS, SecretValues, generate_value, generate_values, required_secrets,
                              secrets_file_text)
from compiler.spec import load_spec
from conftest import EXAMPLES, ROOT, retarget

HOSTILE = sorted((ROOT / "tests" / "hostile").glob("*.yaml"))


def _limit_memory():
    limit = 1024 * 1024 * 1024  # 1 GiB of address space: a spec must never need more
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_hostile_corpus_is_large_enough():
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_spec_is_refused_quickly_with_the_exact_diagnostic(path, tmp_path, hagen):
    expected = path.with_suffix(".expect").read_text().splitlines()
    result = compile_path(str(path))
    got = [f"{d.span.line}:{d.span.column} {d.severity}[{d.code}] {d.message}" for d in result.diagnostics]
    assert got == expected
    out = tmp_path / "out"
    # Bounded: the build must finish within 20 s and 1 GiB (it takes under a second).
    proc = subprocess.run(["hagen", "build", str(path), "-o", str(out)], capture_output=True, text=True,
                          timeout=20, preexec_fn=_limit_memory)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == []


# --- secrets -------------------------------------------------------------------

def _topologies():
    for spec in ("seed", "separate-hosts"):
        for target in ("debian12", "el9"):
            result = compile_text(retarget((EXAMPLES / f"{spec}.yaml").read_text(), target), f"{spec}.yaml")
            yield f"{spec}-{target}", result.topology


@pytest.mark.parametrize("name,topo", list(_topologies()), ids=lambda v: v if isinstance(v, str) else "")
def test_review_bundle_holds_no_secret_in_any_encoding(name, topo):
    values = generate_values(topo, required_secrets(topo))
    deploy = emit_bundle(topo, SecretValues(values), [])
    review = emit_bundle(topo, SecretValues(), [])
    private = SecretValues(values).all_values()
    forms = _secret_forms(private) | {value.replace("$", "$$") for value in private}
    for f in review:
        data = f.content if isinstance(f.content, bytes) else f.content.encode()
        if f.path.endswith(".gz"):
            import gzip
            data = gzip.decompress(data)
        for form in forms:
            assert form.encode() not in data, f"{name}: {f.path} holds a secret"
        assert b"PRIVATE KEY" not in data, f"{name}: {f.path} holds a private key"
    # The private keys are in the deploy bundle (HAProxy's certificate files), and only in 0600 files.
    assert any(pki.is_pem(n) and not pki.is_certificate(n) for n in values) == any(
        b"PRIVATE KEY-----" in (f.content if isinstance(f.content, bytes) else f.content.encode()) for f in deploy)
    secret_holders = [f for f in deploy if any(form.encode() in (f.content if isinstance(f.content, bytes)
                                                                 else f.content.encode()) for form in _lines(private))]
    assert secret_holders and all(f.mode & 0o077 == 0 for f in secret_holders)


def _secrets_file(tmp_path, body: str, mode=0o600) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(body)
    os.chmod(path, mode)
    return path


def _good_secrets() -> dict:
    topo = lower(load_spec(str(EXAMPLES / "seed.yaml")).data)
    return generate_values(topo, required_secrets(topo))


def _lines(values) -> set[str]:
    """Each value, and each long line of a value of several lines (a PEM block's base64 lines,
    which a file may hold indented, as user-data does)."""
    return {line.strip() for value in values for line in [value, *value.splitlines()] if len(line.strip()) >= 16}


def _yaml(values: dict) -> str:
    if any("\n" in v.strip() for v in values.values()):
        return secrets_file_text(values, {name: "test" for name in values})
    return "".join(f"{k}: '{v}'\n" for k, v in values.items())


@pytest.mark.parametrize("case,edit,mode,code,words", [
    ("world readable", lambda v: v, 0o644, "H082", "readable by group or others"),
    ("weak password", lambda v: {**v, "hacluster_password": "password"}, 0o600, "H081", "well-known default"),
    ("short password", lambda v: {**v, "rabbitmq_password": "short1234"}, 0o600, "H081", "too short"),
    ("BMC password over IPMI's 20 bytes", lambda v: {**v, "ipmi_controller1": "a-bmc-password-of-21b"}, 0o600,
     "H081", "longer than IPMI's 20 bytes"),
    ("missing secret", lambda v: {k: x for k, x in v.items() if k != "keystone_db_password"}, 0o600, "H080", "missing"),
    ("bad fernet key", lambda v: {**v, "keystone_fernet_key_0": "not-a-key-but-long-enough"}, 0o600, "H081", "base64"),
    ("short fernet key", lambda v: {**v, "keystone_fernet_key_1": "c2hvcnRrZXlzaG9ydGtleQ=="}, 0o600, "H081", "32 bytes"),
    ("bad cookie", lambda v: {**v, "rabbitmq_erlang_cookie": "has spaces and $ signs!!"}, 0o600, "H081", "letters and digits"),
    ("newline in value", lambda v: {**v, "galera_sst_password": "line one is long\\nline two"}, 0o600, "H081", "line break"),
    ("key not PEM", lambda v: {**v, "tls_ca_key": "not-a-pem-block-but-long"}, 0o600, "H081", "is not a PEM block"),
    ("certificate for a key", lambda v: {**v, "tls_ca_key": v["tls_ca_cert"]}, 0o600, "H081", "not a private key"),
    ("two certificates", lambda v: {**v, "tls_ca_cert": v["tls_ca_cert"] + v["tls_ca_cert"]}, 0o600, "H081",
     "must hold one certificate"),
])
def test_bad_secrets_files_are_refused_without_printing_values(tmp_path, case, edit, mode, code, words):
    values = edit(_good_secrets())
    body = _yaml(values).replace("\\\\n", "\\n")
    if case == "newline in value":
        body = body.replace("'line one is long\\nline two'", '"line one is long\\nline two"')
    path = _secrets_file(tmp_path, body, mode)
    out = tmp_path / "deploy"
    proc = CliRunner().invoke(app, ["build", str(EXAMPLES / "seed.yaml"), "-o", str(out), "--secrets", str(path)])
    assert proc.exit_code == 1
    assert f"error[{code}]" in proc.output and words in proc.output
    for value in values.values():
        if len(value) >= 12:  # ('password' itself is a word of the message: 'hacluster_password')
            assert value not in proc.output
    assert not out.exists()


def test_secrets_file_that_is_not_a_mapping(tmp_path):
    path = _secrets_file(tmp_path, "- a\n- b\n")
    proc = CliRunner().invoke(app, ["build", str(EXAMPLES / "seed.yaml"), "-o", str(tmp_path / "d"), "--secrets", str(path)])
    assert proc.exit_code == 1 and "error[H012]" in proc.output


def test_secrets_yaml_error_does_not_quote_the_line(tmp_path):
    secret = "Sup3r-s3cret-value-that-must-not-show"
    path = _secrets_file(tmp_path, f"hacluster_password: '{secret}\n")  # unterminated quote
    proc = CliRunner().invoke(app, ["secrets", "check", str(path), "--spec", str(EXAMPLES / "seed.yaml")])
    assert proc.exit_code == 1 and secret not in proc.output and "error[H001]" in proc.output


def test_secrets_init_makes_every_secret_strong_and_private(tmp_path):
    path = tmp_path / "s.yaml"
    proc = CliRunner().invoke(app, ["secrets", "init", str(path), "--spec", str(EXAMPLES / "seed.yaml")])
    assert proc.exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    check = CliRunner().invoke(app, ["secrets", "check", str(path), "--spec", str(EXAMPLES / "seed.yaml")])
    # Every generated secret passes; only the three BMC passwords (left to the operator) are reported.
    assert check.exit_code == 1 and check.output.count("error[H084]") == 3, check.output
    assert "error[H081]" not in check.output and "error[H080]" not in check.output
    assert all(f"\n{name}: " in path.read_text() for name in FIXED_SECRETS)
    again = CliRunner().invoke(app, ["secrets", "init", str(path)])
    assert again.exit_code == 1  # never overwrite without --force


# --- the output directory --------------------------------------------------------

def test_symlink_planted_in_previous_bundle_does_not_redirect_writes(tmp_path, hagen):
    out = tmp_path / "out"
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    target = out / "nodes/controller1/setup.sh"
    target.unlink()
    target.symlink_to(victim)
    assert hagen("build", EXAMPLES / "seed.yaml", "-o", out).returncode == 0
    assert victim.read_text() == "untouched"
    assert not target.is_symlink()


def test_output_that_is_a_symlink_is_refused(tmp_path, hagen):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    proc = hagen("build", EXAMPLES / "seed.yaml", "-o", link)
    assert proc.returncode == 1 and "error[H090]" in proc.stderr
    assert list(real.iterdir()) == []


def test_write_failure_midway_keeps_the_previous_bundle(tmp_path, monkeypatch):
    result = compile_path(str(EXAMPLES / "seed.yaml"))
    out = tmp_path / "out"
    bundle_module.write_bundle(result.files, out, private=False)
    before = (out / "SHA256SUMS").read_bytes()
    real_open, calls = os.open, {"n": 0}

    def failing_open(path, flags, mode=0o777, **kw):
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError(28, "No space left on device")
        return real_open(path, flags, mode, **kw)
    monkeypatch.setattr(bundle_module.os, "open", failing_open)
    changed = compile_path(str(EXAMPLES / "separate-hosts.yaml"))  # the same bundle would not be rewritten
    with pytest.raises(OSError):
        bundle_module.write_bundle(changed.files, out, private=False)
    assert (out / "SHA256SUMS").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left behind


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=400),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                 lambda inner: st.one_of(st.lists(inner, max_size=4),
                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                 max_leaves=20).map(lambda v: __import__("json").dumps(v).encode()),
))
def test_fuzz_build_never_crashes_or_writes_outside(data):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "spec.yaml"
        spec.write_bytes(data)
        out = root / "out"
        proc = CliRunner().invoke(app, ["build", str(spec), "-o", str(out)])
        assert proc.exit_code in (0, 1), proc.output
        assert proc.exception is None or isinstance(proc.exception, SystemExit), repr(proc.exception)
        assert sorted(p.name for p in root.iterdir()) in (["spec.yaml"], ["out", "spec.yaml"])


def test_scripts_never_put_a_secret_on_a_command_line():
    """Secret variables from secrets.env may only reach programs through stdin (here-strings, a
    builtin printf into a pipe) or the environment; never as an argument that ps can show."""
    import re
    allowed = [re.compile(p) for p in (r'<<<"\$[A-Z_]+"$',                       # here-string to stdin
                                       r"^printf '[^']*' \"\$[A-Z_]+\" \| ",       # builtin printf into a pipe
                                       r"^OS_BOOTSTRAP_PASSWORD=\$KEYSTONE_ADMIN_PASSWORD$")]
    secret_vars = re.compile(r"\$\{?(HACLUSTER_PASSWORD|RABBITMQ_PASSWORD|KEYSTONE_ADMIN_PASSWORD)")
    files = compile_path(str(EXAMPLES / "seed.yaml")).files
    seen = 0
    for f in files:
        if not (f.path.endswith(".sh")):
            continue
        for line in f.content.splitlines():
            line = line.strip()
            if line.startswith("#") or not secret_vars.search(line):
                continue
            seen += 1
            assert any(p.search(line) for p in allowed), f"{f.path}: {line}"
    assert seen >= 4


def test_fence_password_script_returns_each_peer_password_exactly(tmp_path):
    topo = lower(load_spec(str(EXAMPLES / "seed.yaml")).data)
    values = {n: generate_value(n) for n in required_secrets(topo)}
    values["ipmi_controller2"] = "a b\\c'd\"e$(id)`x`;f  g"
    files = {f.path: f for f in emit_bundle(topo, SecretValues(values), [])}
    node = "nodes/controller1/"
    passwords = tmp_path / "fencing.passwords"
    passwords.write_text(files[node + "etc/hagen/fencing.passwords"].content)
    script = tmp_path / "hagen-fence-password"
    script.write_text(files[node + "usr/local/sbin/hagen-fence-password"].content)
    env = {"PATH": "/usr/bin:/bin", "HAGEN_FENCE_PASSWORDS": str(passwords)}
    for peer in ("controller2", "controller3"):
        proc = subprocess.run(["bash", str(script), peer], capture_output=True, text=True, env=env, timeout=10)
        assert proc.returncode == 0 and proc.stdout == values[f"ipmi_{peer}"] + "\n"
    own = subprocess.run(["bash", str(script), "controller1"], capture_output=True, text=True, env=env, timeout=10)
    assert own.returncode == 1  # a node never fences itself, so it holds no password of its own
    assert files[node + "etc/hagen/fencing.passwords"].mode == 0o600


def _secret_forms(values) -> set[str]:
    forms = _lines(values)
    for value in values:
        forms |= {value, base64.b64encode(value.encode()).decode(), urllib.parse.quote(value, safe="")}
    return forms


@pytest.mark.tools
def test_no_command_prints_a_secret_value(tmp_path, hagen):
    """Every command's stdout and stderr, over review and deploy bundles in every mix: diffs and
    tool reports end up in scrollback and CI logs. (hagen diff once printed the hacluster password.)"""
    spec = EXAMPLES / "seed.yaml"
    values = _good_secrets()
    secrets = _secrets_file(tmp_path, _yaml(values))
    rotated = dict(values, hacluster_password=generate_value("hacluster_password"))
    (tmp_path / "rotated.yaml").write_text(_yaml(rotated))
    os.chmod(tmp_path / "rotated.yaml", 0o600)
    weak = dict(values, rabbitmq_password="Qz7wk", unused_one="Unused-Kq8tZ3vP1mN5")
    (tmp_path / "weak.yaml").write_text(_yaml(weak))
    os.chmod(tmp_path / "weak.yaml", 0o600)
    runs = [
        ("build", spec, "-o", "out"),
        ("build", spec, "-o", "deploy", "--secrets", secrets),
        ("build", spec, "-o", "deploy2", "--secrets", tmp_path / "rotated.yaml"),
        ("build", spec, "-o", "deploy"),  # refused: would replace a deploy bundle
        ("build", "--check", spec, "-o", "deploy"),
        ("diff", "out", "deploy"),
        ("diff", "deploy", "out"),
        ("diff", spec, "deploy"),
        ("diff", "deploy", "deploy2"),
        ("validate", spec),
        ("secrets", "check", secrets, "--spec", spec),
        ("secrets", "check", tmp_path / "weak.yaml", "--spec", spec),
        ("check", "deploy"),
        ("check", "--format", "json", "deploy"),
    ]
    # (The certificates are public: a diff of a review and a deploy bundle may show the CA's.)
    forms = _secret_forms([*SecretValues(values).all_values(), *SecretValues(rotated).all_values(),
                           *SecretValues(weak).all_values()])
    for args in runs:
        proc = hagen(*args, timeout=300)
        assert "Traceback" not in proc.stderr, args
        for form in forms:
            assert form not in proc.stdout and form not in proc.stderr, f"hagen {' '.join(map(str, args))} printed a secret"
    # The diff still names what differs, so the redaction hides values, not changes.
    proc = hagen("diff", "deploy", "deploy2")
    assert proc.returncode == 1 and "(it holds secret values: not shown)" in proc.stdout
    assert "etc/hagen/secrets.env" in proc.stdout
