"""Diagnostics: the invalid-spec corpus (exact positions), JSON output, --werror, mutated specs."""

import copy
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from compiler.cli import app
from compiler.diagnostics import CODES
from compiler.docs import diagnostics_table
from compiler.pipeline import compile_path, compile_text
from conftest import EXAMPLES, ROOT

CORPUS = sorted((ROOT / "tests" / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (error|warning)\[(H\d{3})\] (.*)$")


def expectations(path: Path):
    return [EXPECT.match(line).groups() for line in path.read_text().splitlines() if line.startswith("# expect:")]


def test_corpus_is_large_enough_and_covers_most_codes():
    assert len(CORPUS) >= 40
    codes = {code for path in CORPUS for (_, _, _, code, _) in expectations(path)}
    spec_codes = {c for c in CODES if not c.startswith("H08") and c not in ("H003", "H090", "H091")}
    assert spec_codes - codes == set()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_spec_gives_exactly_the_expected_diagnostics(path, tmp_path):
    expected = expectations(path)
    assert expected, f"{path.name} states no expectation"
    result = compile_path(str(path))
    got = [(str(d.span.line), str(d.span.column), d.severity, d.code, d.message) for d in result.diagnostics]
    assert got == expected
    out = tmp_path / "bundle"
    proc = CliRunner().invoke(app, ["build", str(path), "-o", str(out)])
    has_error = any(sev == "error" for _, _, sev, _, _ in expected)
    assert proc.exit_code == (1 if has_error else 0)
    assert out.exists() == (not has_error)
    assert "Traceback" not in proc.output
    assert proc.exception is None or isinstance(proc.exception, SystemExit), proc.exception


def test_json_format_and_werror(tmp_path):
    path = next(p for p in CORPUS if "galera-four-nodes" in p.name)
    proc = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert proc.exit_code == 0
    items = json.loads(proc.stdout)
    assert items == [{"file": str(path), "line": 31, "column": 5, "code": "H051", "severity": "warning",
                      "message": "galera has 4 nodes: an even count can split into two halves without quorum",
                      "hint": "list 3 or 5 nodes"}]
    strict = CliRunner().invoke(app, ["validate", "--werror", "--format", "json", str(path)])
    assert strict.exit_code == 1 and json.loads(strict.stdout)[0]["severity"] == "error"


def test_text_format_shows_the_line_and_a_caret(tmp_path):
    path = next(p for p in CORPUS if "undefined-vip" in p.name)
    proc = CliRunner().invoke(app, ["validate", str(path)])
    assert proc.exit_code == 1
    assert f"{path}:28:10: error[H020]: vip 'vip-mysql' is not defined\n" \
           "   28 |     vip: vip-mysql\n" \
           "      |          ^^^^^^^^^\n" in proc.output


def test_missing_file_is_a_diagnostic(tmp_path):
    proc = CliRunner().invoke(app, ["build", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "o")])
    assert proc.exit_code == 1 and "error[H003]" in proc.output and "Traceback" not in proc.output


def test_docs_list_every_code():
    assert (ROOT / "docs" / "diagnostics.md").read_text() == diagnostics_table()


# --- mutated valid specs --------------------------------------------------------

BASE = YAML(typ="rt").load((EXAMPLES / "seed.yaml").read_text())


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield prefix + (i,)
            yield from _paths(value, prefix + (i,))


ALL_PATHS = [p for p in _paths(BASE) if isinstance(p[-1], str)]
REFERENCES = [("services", "galera", "vip"), ("services", "keystone", "vip"), ("services", "rabbitmq", "vip")]


def _parent(doc, path):
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_specs(draw):
    doc = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(["drop", "rename", "retype", "dangling"]))
    if kind == "dangling":
        path = draw(st.sampled_from(REFERENCES))
        _parent(doc, path)[path[-1]] = draw(st.sampled_from(["vip-mysql", "vip-x", "nodb"]))
    else:
        required = {("version",), ("cluster",), ("cluster", "name"), ("cluster", "target"), ("networks",),
                    ("nodes",), ("vips",), ("services",), ("services", "galera", "vip"),
                    ("services", "keystone", "vip")}
        candidates = ALL_PATHS if kind != "drop" else [p for p in ALL_PATHS if p in required or
                                                       (len(p) == 3 and p[0] in ("nodes", "vips") and p[2] in ("name", "address", "hostname"))]
        path = draw(st.sampled_from(candidates))
        parent = _parent(doc, path)
        if kind == "drop":
            del parent[path[-1]]
        elif kind == "rename":
            parent.insert(0, path[-1] + draw(st.sampled_from(["x", "_", "s"])), parent.pop(path[-1]))
        else:
            value = parent[path[-1]]
            parent[path[-1]] = draw(st.sampled_from([[1, 2], {"a": 1}, 3.5, True])) if isinstance(value, (str, int)) \
                else draw(st.sampled_from(["text", 7]))
    stream = io.StringIO()
    YAML(typ="rt").dump(doc, stream)
    return stream.getvalue()


@settings(max_examples=100, derandomize=True, deadline=None)
@given(mutated_specs())
def test_mutated_spec_gets_a_positioned_diagnostic_never_a_traceback(text):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(text)
        out = Path(tmp) / "out"
        proc = CliRunner().invoke(app, ["build", str(spec), "-o", str(out)])
        assert proc.exit_code == 1, proc.output
        assert "Traceback" not in proc.output and "internal error" not in proc.output
        assert proc.exception is None or isinstance(proc.exception, SystemExit), proc.exception
        assert not out.exists()
        result = compile_path(str(spec))
        lines = text.splitlines()
        errors = [d for d in result.diagnostics if d.severity == "error"]
        assert errors
        for d in errors:
            assert 1 <= d.span.line <= max(len(lines), 1)
            assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1 if lines else True


def test_a_long_one_line_spec_shows_the_part_around_the_error():
    """A JSON spec is one long line: the snippet is cut around the spot and the caret still points at it."""
    from compiler.diagnostics import SNIPPET_WIDTH, Diagnostic, Span, format_text

    text = '{"a": "' + "x" * 5000 + '", "bad": 1, "b": "' + "y" * 5000 + '"}'
    column = text.index('"bad"') + 1
    shown = format_text([Diagnostic("H010", "unknown key 'bad'", "s.json", Span(1, column, 5))], {"s.json": text})
    _, source, caret = shown.splitlines()[:3]
    assert len(source) <= len("    1 | ") + SNIPPET_WIDTH + 2
    assert source[caret.index("^"):].startswith('"bad"') and caret.count("^") == 5


SYNTAX_ERRORS = {
    # A bad indent once printed only '22:15: error[H001]: ... mapping values are not allowed here'.
    "bad indent": ("    address: 192.168.16.59\n", "    address: 192.168.16.59\n      bad: x: y\n", "must be quoted"),
    "tab": ("  target: debian13\n", "\ttarget: debian13\n", "indent with spaces"),
    "misaligned key": ("    interface: eth0\n", "   interface: eth0\n", "same column"),
    "unclosed quote": ("  name: ha-controller\n", "  name: 'ha-controller\n", "never closed"),
}


@pytest.mark.parametrize("case", sorted(SYNTAX_ERRORS))
def test_syntax_errors_show_the_line_a_caret_and_a_hint(case, tmp_path):
    old, new, words = SYNTAX_ERRORS[case]
    text = (EXAMPLES / "seed.yaml").read_text()
    assert old in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(old, new, 1))
    for argv in (["validate", str(path)], ["build", str(path), "-o", str(tmp_path / "out")]):
        proc = CliRunner().invoke(app, argv)
        assert proc.exit_code == 1
        lines = proc.output.splitlines()
        head = next(i for i, l in enumerate(lines) if "error[H001]" in l)
        line_no = int(lines[head].split(":")[1])
        assert lines[head + 1].lstrip().startswith(f"{line_no} | ")
        assert lines[head + 2].strip().startswith("|") and "^" in lines[head + 2]
        assert lines[head + 3].startswith("  hint: ") and words in lines[head + 3]


@pytest.mark.parametrize("path", CORPUS + sorted((ROOT / "tests" / "hostile").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_diagnostic_has_an_excerpt_a_caret_and_a_hint(path):
    result = compile_path(str(path))
    proc = CliRunner().invoke(app, ["validate", str(path)])
    out = proc.output
    assert all(d.hint for d in result.diagnostics), [d.message for d in result.diagnostics if not d.hint]
    assert out.count("\n  hint: ") == len(result.diagnostics)
    positioned = [d for d in result.diagnostics if d.span.line]
    assert sum(1 for line in out.splitlines() if line.strip().startswith("|") and "^" in line) == len(positioned)


def test_a_service_port_on_an_exporters_port_is_reported_at_the_service():
    """The exporters' ports are fixed: a collision points at the service's port, which the spec can move."""
    text = (EXAMPLES / "seed.yaml").read_text().replace("public_port: 5000", "public_port: 9100", 1)
    result = compile_text(text, "seed.yaml")
    (found,) = [d for d in result.diagnostics if d.code == "H040"]
    assert found.message == "keystone public_port (9100) collides with node exporter port (9100) on node controller1"
    assert text.splitlines()[found.span.line - 1].strip() == "public_port: 9100"
