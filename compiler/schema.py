"""Stage 2, validate the shape: JSON Schema errors -> positioned diagnostics."""

from __future__ import annotations

import re

import jsonschema

from .diagnostics import Diagnostic, did_you_mean
from .resources import topology_schema
from .spec import SourceDoc

_TYPE_NAMES = {
    bool: "a boolean", int: "an integer", float: "a number", str: "a string",
    list: "a list", dict: "a mapping", type(None): "empty",
}
_JSON_TYPES = {"string": "a string", "integer": "an integer", "object": "a mapping",
               "array": "a list", "number": "a number", "boolean": "a boolean"}


def dotted(path) -> str:
    """('nodes', 0, 'address') -> 'nodes[0].address'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the spec"


def validate_shape(doc: SourceDoc) -> list[Diagnostic]:
    validator = jsonschema.Draft202012Validator(topology_schema())
    found: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data):
        found.extend(_to_diagnostics(doc, error))
    unique = {(d.span, d.code, d.message): d for d in found}
    return sorted(unique.values(), key=lambda d: d.sort_key)


def _to_diagnostics(doc: SourceDoc, error: jsonschema.ValidationError) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    where = dotted(path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        return [
            Diagnostic("H010", f"unknown key '{key}' in {where}", doc.file, doc.span(path + (key,), key=True),
                       hint=did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}")
            for key in extra
        ]
    if kind == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return [Diagnostic("H011", f"missing required key '{name}' in {where}", doc.file,
                           doc.span(path, key=bool(path)),
                           hint=_describe(_property_schema(schema, name)))]
    if kind == "type":
        want = schema.get("type")
        wanted = [want] if isinstance(want, str) else want
        want_text = " or ".join(_JSON_TYPES.get(t, t) for t in wanted)
        got = _TYPE_NAMES.get(type(error.instance), type(error.instance).__name__)
        return [Diagnostic("H012", f"{where} must be {want_text}, not {got}", doc.file, doc.span(path),
                           hint=ROOT_HINT if not path else _TYPE_HINTS.get(wanted[0], _rule(schema)))]
    if kind == "enum":
        choices = [str(c) for c in schema.get("enum", [])]
        return [Diagnostic("H013", f"{where} must be one of: {', '.join(choices)} (got {_show(error.instance)})",
                           doc.file, doc.span(path), hint=did_you_mean(str(error.instance), choices))]
    if kind == "const":
        return [Diagnostic("H013", f"{where} must be {schema.get('const')!r} (got {_show(error.instance)})",
                           doc.file, doc.span(path), hint=_describe(schema) or "this hagen reads no other value")]
    if kind == "pattern":
        return [Diagnostic("H013", f"{where} {_show(error.instance)} is not valid here", doc.file, doc.span(path),
                           hint=_rule(schema))]
    if kind in ("minimum", "maximum"):
        return [Diagnostic("H013", f"{where} {_show(error.instance)} is out of range "
                           f"({schema.get('minimum', '-inf')}..{schema.get('maximum', 'inf')})",
                           doc.file, doc.span(path),
                           hint=f"use a value from {schema.get('minimum', '-inf')} to {schema.get('maximum', 'inf')}"
                                + (f" ({_describe(schema)})" if _describe(schema) else ""))]
    if kind in ("minLength", "maxLength") and isinstance(error.instance, str):
        limit = schema.get(kind)
        bound = "at most" if kind == "maxLength" else "at least"
        return [Diagnostic("H013", f"{where} is {len(error.instance)} characters long; {bound} {limit} are allowed",
                           doc.file, doc.span(path), hint=_rule(schema))]
    return [Diagnostic("H013", f"{where}: {error.message}", doc.file, doc.span(path), hint=_rule(schema))]


ROOT_HINT = "a spec is a mapping of version, cluster, networks, nodes, vips and services; 'hagen init' prints one"
_TYPE_HINTS = {"integer": "write a whole number without quotes", "array": "write a list: '- item' lines or [a, b]",
               "object": "write 'key: value' lines indented under the key",
               "string": "write text; quote it if it looks like a number or a boolean",
               "boolean": "write true or false"}


def _show(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _property_schema(schema: dict, name: str) -> dict:
    """A required key's own schema; for a conditional requirement (an 'if'/'then' such as rbd's
    monitors) the object whose 'then' this is holds it."""
    if name in schema.get("properties", {}):
        return schema["properties"][name]
    owner = next((d for d in topology_schema()["$defs"].values() if isinstance(d, dict) and d.get("then") == schema), {})
    return owner.get("properties", {}).get(name, {})


def _rule(schema: dict) -> str:
    """What a valid value looks like: the schema's 'x-rule' (the rule, with its limits and why),
    else the first sentence of the description."""
    rule = schema.get("x-rule")
    if not rule and "$ref" in schema:
        rule = topology_schema()["$defs"].get(schema["$ref"].rsplit("/", 1)[-1], {}).get("x-rule")
    return f"expected {rule}" if rule else _describe(schema)


def _describe(schema: dict) -> str:
    desc = schema.get("description", "")
    if not desc and "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        desc = topology_schema()["$defs"].get(ref, {}).get("description", "")
    return desc.split(". ")[0].rstrip(".") if desc else ""
