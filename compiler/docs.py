"""Generated documentation: the table of diagnostic codes (docs/diagnostics.md)."""

from __future__ import annotations

from .diagnostics import CODES


def diagnostics_table() -> str:
    lines = [
        "# Diagnostic codes",
        "",
        "Every problem hagen reports has a stable code. Errors stop the build (exit 1); warnings do not,",
        "unless `--werror` is given. `--format json` prints file, line, column, code, severity, message",
        "and hint for editors and CI annotations. This page is generated from `compiler/diagnostics.py`",
        "(`python -m compiler.docs > docs/diagnostics.md`); a test keeps the two equal.",
        "",
        "| code | severity | what | example message |",
        "|---|---|---|---|",
    ]
    lines += [f"| {code} | {severity} | {title} | `{example}` |" for code, (severity, title, example) in sorted(CODES.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(diagnostics_table(), end="")
