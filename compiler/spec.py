"""Stage 1, load: YAML text -> plain data plus the position of every key and value.

The rest of the compiler works on plain dicts/lists/scalars; positions are kept
aside in `SourceDoc.positions` so any stage can point at the spot it complains
about. Loading never raises: bad input becomes diagnostics.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .diagnostics import Diagnostic, Span, SpecError

# A spec for 1000 nodes is about 150 KiB; anything far larger is a mistake or an attack.
MAX_SPEC_BYTES = 1024 * 1024
# Real specs nest about five levels deep.
MAX_DEPTH = 32
NESTING_HINT = "a spec nests about five levels (services.galera.nodes); flatten what is nested here"

# The tags plain YAML resolves to by itself; an explicit other tag (!!python/..., !custom) is refused.
_PLAIN_TAGS = {None, "", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:str",
               "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float", "tag:yaml.org,2002:null"}

Path_ = tuple  # a path into the document: keys (str) and list indexes (int)


@dataclass(frozen=True)
class SourceDoc:
    file: str
    text: str
    data: object
    # path -> (span of the key, span of the value); the root is ().
    positions: dict = field(default_factory=dict)

    def span(self, path: Path_, key: bool = False) -> Span:
        """Position of the value at path (or of its key); falls back to the nearest parent."""
        path = tuple(path)
        while path not in self.positions and path:
            path = path[:-1]
        key_span, value_span = self.positions.get(path, (Span(1, 1), Span(1, 1)))
        return key_span if key else value_span


def read_spec_file(path: str) -> tuple[str, str]:
    """Return (display name, text); raises SpecError(H003) when unreadable."""
    shown = path
    p = Path(path)
    try:
        if p.is_dir():
            raise SpecError([Diagnostic("H003", f"'{shown}' is a directory, not a spec file", shown)])
        raw = p.read_bytes()[: MAX_SPEC_BYTES + 1]
    except FileNotFoundError:
        raise SpecError([Diagnostic("H003", f"cannot read '{shown}': no such file", shown,
                                    hint="check the path; 'hagen init > spec.yaml' writes a starter spec")])
    except OSError as exc:
        raise SpecError([Diagnostic("H003", f"cannot read '{shown}': {exc.strerror}", shown)])
    return shown, decode_spec_bytes(raw, shown)


def decode_spec_bytes(raw: bytes, shown: str) -> str:
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Diagnostic("H004", f"spec is larger than {MAX_SPEC_BYTES // 1024} KiB", shown,
                                    hint="a spec of 1000 nodes is about 150 KiB; split or trim it")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        err = SpecError([Diagnostic("H004", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8", shown,
                                    Span(line, col), hint="save the spec as UTF-8")])
        err.sources = {shown: raw.decode("utf-8", errors="replace")}  # the excerpt shows U+FFFD there
        raise err
    return text


def load_spec_text(text: str, shown: str = "<spec>") -> SourceDoc:
    """Parse YAML text into a SourceDoc; raises SpecError on anything unusable, carrying the text
    so that even a syntax error is shown with its line and a caret."""
    text = text.replace("\r\n", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return _parse(text, shown)
    except SpecError as err:
        err.sources = {shown: text}
        raise


def _parse(text: str, shown: str) -> SourceDoc:
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise SpecError([Diagnostic("H004", "the spec contains a NUL byte", shown, Span(line, col),
                                    hint="save the spec as plain UTF-8 text")])
    deep = _bracket_depth_exceeded(text)
    if deep:
        raise SpecError([Diagnostic("H004", f"the spec is nested more than {MAX_DEPTH} levels deep", shown,
                                    Span(*deep), hint=NESTING_HINT)])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        raise SpecError([_yaml_error(exc, shown, text)])
    except YAMLError as exc:
        raise SpecError([Diagnostic("H001", f"YAML error: {exc}", shown, Span(1, 1))])
    except RecursionError:
        raise SpecError([Diagnostic("H004", "the spec is nested too deeply", shown, Span(1, 1))])
    positions: dict = {(): (Span(1, 1), Span(1, 1))}
    problems: list[Diagnostic] = []
    data = _plain(tree, (), positions, set(), problems, shown, 0)
    if problems:
        raise SpecError(problems[:20])
    return SourceDoc(shown, text, data, positions)


def _bracket_depth_exceeded(text: str) -> tuple[int, int] | None:
    """Position where flow brackets nest deeper than MAX_DEPTH, found in one linear pass.

    The YAML parser needs seconds and deep recursion to refuse '[[[[...' on its own;
    no honest spec nests brackets that deep, even inside strings or comments."""
    depth = 0
    line, column = 1, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, column
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return None


def load_spec(path: str) -> SourceDoc:
    shown, text = read_spec_file(path)
    return load_spec_text(text, shown)


def _first_definition(text: str, key: str, mark) -> int:
    """Line of the first 'key:' at the duplicate's indentation (ruamel only marks the mapping's start)."""
    pattern = re.compile(r"^[ -]{%d}%s\s*:" % (mark.column, re.escape(key)))
    for number, line in enumerate(text.splitlines()[: mark.line], 1):
        if pattern.match(line):
            return number
    return 0


def _yaml_error(exc: MarkedYAMLError, shown: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if mark and exc.context_mark and mark.line >= len(text.splitlines()):
        mark = exc.context_mark  # 'end of stream': point where the unclosed quote or bracket opened
    span = Span(mark.line + 1, mark.column + 1) if mark else Span(1, 1)
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if "duplicate key" in problem or "found duplicate key" in str(exc):
        key = _quoted_key(str(exc))
        first = _first_definition(text, key.strip("'"), mark) if mark else 0
        return Diagnostic("H002", f"duplicate key {key}".rstrip() + (f" (first defined at line {first})" if first else ""),
                          shown, span, hint="each key may appear once per mapping; merge the two entries")
    return Diagnostic("H001", f"YAML syntax error: {problem}", shown, span, hint=_syntax_hint(problem))


# What usually causes each of the parser's complaints, in the operator's terms.
_SYNTAX_HINTS = (
    ("mapping values are not allowed", "a value that contains ': ' must be quoted, or this line is indented "
                                       "deeper than the key above it expects"),
    ("'\\t'", "YAML does not allow tabs for indentation: indent with spaces"),
    ("could not find expected ':'", "a key needs ': ' after it; a value running over lines needs quotes"),
    ("expected <block end>", "items of one mapping or list must start in the same column"),
    ("did not find expected key", "items of one mapping or list must start in the same column"),
    ("did not find expected '-'", "items of a list must all start with '- ' in the same column"),
    ("found unexpected end of stream", "a quote or bracket opened here is never closed"),
    ("found unknown escape character", "inside double quotes a backslash starts an escape: use single quotes"),
)


def _syntax_hint(problem: str) -> str:
    for needle, hint in _SYNTAX_HINTS:
        if needle in problem:
            return hint
    return "check the indentation and quoting of this line and the one before it"


def _quoted_key(message: str) -> str:
    # ruamel says: found duplicate key "nodes" with value ...
    start = message.find('duplicate key "')
    if start < 0:
        return ""
    start += len('duplicate key "')
    end = message.find('"', start)
    return f"'{message[start:end]}'" if end > start else ""


def _span_of(node, key=None, index=None) -> tuple[Span, Span]:
    """ruamel keeps 0-based (line, col) for keys, values and sequence items."""
    try:
        if key is not None:
            kl, kc = node.lc.key(key)
            vl, vc = node.lc.value(key)
            return Span(kl + 1, kc + 1, len(str(key))), Span(vl + 1, vc + 1, _len_of(node[key]))
        if index is not None:
            il, ic = node.lc.item(index)
            s = Span(il + 1, ic + 1, _len_of(node[index]))
            return s, s
    except (AttributeError, KeyError, IndexError, TypeError):
        pass
    return Span(1, 1), Span(1, 1)


def _len_of(value) -> int:
    if isinstance(value, (CommentedMap, CommentedSeq)):
        return 1
    return max(1, len(str(value)))


def _plain(node, path, positions, seen, problems, shown, depth):
    """Copy the ruamel tree into plain Python values, recording positions.

    Aliases are refused: they are never needed in a topology and make a
    'billion laughs' document cheap to write and exponential to walk.
    """
    if depth > MAX_DEPTH:
        problems.append(Diagnostic("H004", f"the spec is nested more than {MAX_DEPTH} levels deep",
                                   shown, positions.get(path, (Span(1, 1),) * 2)[1], hint=NESTING_HINT))
        return None
    tag = getattr(node, "tag", None)
    tag_value = getattr(tag, "value", tag) if tag is not None else None
    if isinstance(node, TaggedScalar) or (isinstance(tag_value, str) and tag_value not in _PLAIN_TAGS):
        shown_tag = str(tag_value).replace("tag:yaml.org,2002:", "!!")
        problems.append(Diagnostic("H004", f"YAML tag '{shown_tag}' is not allowed in a spec", shown,
                                   positions.get(path, (Span(1, 1),) * 2)[1],
                                   hint="remove the tag; specs hold plain maps, lists, strings and numbers"))
        return None
    if isinstance(node, (CommentedMap, CommentedSeq)):
        if id(node) in seen:
            if any("aliases" in p.message for p in problems):
                return None  # one report is enough; a 'billion laughs' file has millions
            problems.append(Diagnostic("H004", "YAML aliases (*name) are not allowed in a spec", shown,
                                       positions.get(path, (Span(1, 1),) * 2)[1],
                                       hint="write the values out; a spec is short enough"))
            return None
        seen.add(id(node))
    if isinstance(node, CommentedMap):
        out = {}
        for k in node:
            if not isinstance(k, (str, int, float, bool)) or k is None:
                problems.append(Diagnostic("H012", "mapping keys must be plain strings", shown,
                                           positions.get(path, (Span(1, 1),) * 2)[1]))
                continue
            child = path + (str(k),)
            positions[child] = _span_of(node, key=k)
            out[str(k)] = _plain(node[k], child, positions, seen, problems, shown, depth + 1)
        return out
    if isinstance(node, CommentedSeq):
        out_list = []
        for i, item in enumerate(node):
            child = path + (i,)
            positions[child] = _span_of(node, index=i)
            out_list.append(_plain(item, child, positions, seen, problems, shown, depth + 1))
        return out_list
    if isinstance(node, (dict, list, set, tuple)):
        problems.append(Diagnostic("H004", "unsupported YAML construct", shown,
                                   positions.get(path, (Span(1, 1),) * 2)[1]))
        return None
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar subclasses (quoting style, anchors)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    # Timestamps, binary and other typed scalars have no place in a spec.
    problems.append(Diagnostic("H012", f"unsupported value of type {type(node).__name__}", shown,
                               positions.get(path, (Span(1, 1),) * 2)[1],
                               hint="quote the value to make it a string"))
    return None


def retarget(spec_text: str, target: str) -> str:
    """The same topology on another target, without the catalog services that target lacks (a
    spec that kept them would be refused with H062). For tests and the benchmark, which judge one
    spec on every target; comments are kept."""
    import io

    from ruamel.yaml import YAML

    from .catalog import CATALOG
    from .targets import TARGETS

    yaml = YAML()
    data = yaml.load(spec_text)
    data["cluster"]["target"] = target
    removed = [data["services"].pop(s.name) for s in CATALOG
               if target not in s.targets and s.name in data["services"]]
    if not TARGETS[target].monitoring:  # no exporters compiled there (H062 too)
        data.pop("monitoring", None)
    # Nodes that only a removed service placed (separate-hosts' network nodes, Neutron's) go too.
    from .checks import placement

    def listed(settings) -> set[str]:
        return {n for v in (settings or {}).values() if isinstance(v, list) for n in v if isinstance(n, str)}
    still_placed = {name for service in data["services"] for name, _ in placement(data, service)}
    still_placed |= set().union(*(listed(v) for v in data["services"].values()))
    orphans = set().union(*(listed(r) for r in removed)) - still_placed
    if orphans:
        data["nodes"] = [n for n in data["nodes"] if n["name"] not in orphans]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
