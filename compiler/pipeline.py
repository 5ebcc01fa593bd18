"""The stages in order: load -> validate -> check -> model -> emit. Writing is the CLI's call."""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import check_semantics
from .diagnostics import Diagnostic, SpecError, has_errors, promote_warnings
from .emit import emit_bundle
from .emit.base import BundleFile
from .lower import lower
from .model import Topology
from .schema import validate_shape
from .secrets import SecretValues, load_secrets_file, operator_supplied, required_secrets
from .spec import SourceDoc, load_spec, load_spec_text


@dataclass
class Result:
    doc: SourceDoc | None = None
    topology: Topology | None = None
    files: list[BundleFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # the spec's text, for excerpts in messages

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def analyse(doc: SourceDoc, werror: bool = False) -> Result:
    """Validate and model a loaded spec; stops at the first stage that found errors."""
    shape = validate_shape(doc)
    if has_errors(shape):
        return Result(doc, diagnostics=_finish(shape, werror))
    semantic = check_semantics(doc)
    result = Result(doc, diagnostics=_finish(semantic, werror))
    if result.ok:
        result.topology = lower(doc.data)
    return result


def _finish(diagnostics: list[Diagnostic], werror: bool) -> list[Diagnostic]:
    return promote_warnings(diagnostics) if werror else diagnostics


def compile_doc(doc: SourceDoc, secrets_path: str | None = None, werror: bool = False) -> Result:
    result = analyse(doc, werror)
    if not result.ok:
        return result
    secrets = SecretValues()
    if secrets_path is not None:
        try:
            values, problems = load_secrets_file(secrets_path, required_secrets(result.topology),
                                                 operator_supplied(result.topology))
        except SpecError as err:
            result.diagnostics += err.diagnostics
            return result
        result.diagnostics += _finish(problems, werror)
        if not result.ok:
            return result
        secrets = SecretValues(values)
    # By code and text, not position: the bundle must not depend on the order of the spec.
    warnings = sorted((d for d in result.diagnostics if d.file == doc.file), key=lambda d: (d.code, d.message))
    result.files = emit_bundle(result.topology, secrets, warnings)
    return result


def compile_path(path: str, secrets_path: str | None = None, werror: bool = False) -> Result:
    try:
        doc = load_spec(path)
    except SpecError as err:
        return Result(diagnostics=err.diagnostics, sources=err.sources)
    return compile_doc(doc, secrets_path, werror)


def compile_text(text: str, name: str = "spec.yaml", secrets_path: str | None = None) -> Result:
    try:
        doc = load_spec_text(text, name)
    except SpecError as err:
        return Result(diagnostics=err.diagnostics, sources=err.sources)
    return compile_doc(doc, secrets_path)
