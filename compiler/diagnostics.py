"""Diagnostics: what went wrong in a spec, where, and what to do about it.

Every stage reports problems as `Diagnostic` values instead of raising, so one
run can show all of them, sorted by position, like a compiler does.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Iterable

ERROR = "error"
WARNING = "warning"

# One table of every code: (severity, title, example message). docs/diagnostics.md
# is generated from it and a test keeps the two equal.
CODES: dict[str, tuple[str, str, str]] = {
    "H001": (ERROR, "YAML syntax error", "expected ':' after a key"),
    "H002": (ERROR, "duplicate key", "duplicate key 'nodes' (first defined at line 3)"),
    "H003": (ERROR, "file cannot be read", "cannot read 'spec.yaml': no such file"),
    "H004": (ERROR, "input not allowed", "YAML aliases are not allowed in a spec"),
    "H010": (ERROR, "unknown key", "unknown key 'adress' in nodes[0]"),
    "H011": (ERROR, "missing key", "missing required key 'vip' in services.galera"),
    "H012": (ERROR, "wrong type", "nodes[0].address must be a string, not an integer"),
    "H013": (ERROR, "invalid value", "cluster.target must be one of: debian12, debian13, el9"),
    "H020": (ERROR, "undefined name", "vip 'vip-mysql' is not defined"),
    "H021": (ERROR, "duplicate name", "node name 'controller1' is used twice"),
    "H022": (ERROR, "node outside its service", "memcached node 'db1' does not run keystone"),
    "H023": (ERROR, "reserved name", "node name 'localhost' is reserved for the loopback"),
    "H024": (ERROR, "derived name too long", "Pacemaker cluster name 'ha-loadbalancer' is 37 characters long"),
    "H030": (ERROR, "invalid address", "'192.168.16.300' is not an IPv4 address"),
    "H031": (ERROR, "duplicate address", "address 192.168.16.58 is used by controller1 and vip-db"),
    "H032": (ERROR, "address outside every network", "192.168.20.5 is in no declared network"),
    "H033": (ERROR, "service spans networks", "vip-db and galera node db1 are on different networks"),
    "H034": (ERROR, "reserved address", "node c1 address 127.0.0.2 is reserved: 127.0.0.0/8 is loopback"),
    "H035": (ERROR, "gateway loses its own link", "gateway node c1 would attach its management interface eth0 "
                                                    "to bridge br-ex"),
    "H040": (ERROR, "port collision", "port 4567 of galera collides with rabbitmq on controller1"),
    "H050": (ERROR, "too few nodes for quorum", "galera needs 1 or at least 3 nodes, not 2"),
    "H051": (WARNING, "even node count", "galera has 4 nodes: an even count can split in half"),
    "H052": (WARNING, "quorum queues on too few nodes", "quorum queues need 3 nodes to survive a loss"),
    "H053": (ERROR, "VIP without a load balancer", "vip-db is not served by any load-balancer node"),
    "H054": (ERROR, "node runs no service", "node spare1 runs no service"),
    "H055": (WARNING, "Pacemaker cluster too large", "the Pacemaker cluster of loadbalancer has 40 nodes"),
    "H056": (ERROR, "store not shared by the service's nodes", "glance's file store is a local directory on "
                                                                   "each of its 3 nodes"),
    "H057": (ERROR, "service without the services it calls", "nova needs placement, which the spec does not place"),
    "H058": (ERROR, "too few OVN members for quorum", "OVN central has 1 member(s)"),
    "H059": (WARNING, "OVN quorum waived", "OVN quorum is waived: lab"),
    "H060": (ERROR, "feature removed on target", "classic mirrored queues were removed in RabbitMQ 4"),
    "H061": (WARNING, "feature deprecated on target", "classic mirrored queues are deprecated"),
    "H062": (ERROR, "service not available on target", "placement is not available on debian12: Debian 12 ships "
                                                          "OpenStack Zed (2022.2)"),
    "H063": (ERROR, "volume HA the backend cannot do", "cinder-volume cannot run active/active on an nfs backend"),
    "H064": (ERROR, "active/passive service outside one cluster", "cinder-volume runs active/passive under "
             "Pacemaker, but cinder's nodes are not all in one Pacemaker cluster"),
    "H065": (ERROR, "two Ceph clusters on one node", "glance and cinder both run on node c1 with different Ceph "
                                                     "clusters"),
    "H070": (ERROR, "fencing missing", "node controller1 has no fencing device"),
    "H071": (WARNING, "fencing waived", "fencing is waived: lab"),
    "H072": (WARNING, "TLS waived", "TLS is waived: lab without a CA"),
    "H080": (ERROR, "secret missing", "secret 'keystone_db_password' is missing"),
    "H081": (ERROR, "secret weak", "secret 'hacluster_password' is too short (min 16)"),
    "H082": (ERROR, "secrets file readable by others", "secrets.yaml is readable by group/others"),
    "H083": (WARNING, "secret unused", "secret 'old_password' is not used by this spec"),
    "H084": (ERROR, "secret not filled in", "secret 'ipmi_controller1' (BMC password of controller1) is not filled in"),
    "H090": (ERROR, "output directory refused", "out/ is not empty and is not a hagen bundle"),
    "H091": (ERROR, "bundle kind would change", "output 'deploy' holds a deploy bundle; this review build would "
             "replace it"),
}


@dataclass(frozen=True, order=True)
class Span:
    """A 1-based position in a source file; line 0 means 'the whole file'."""

    line: int = 0
    column: int = 0
    length: int = 1


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    file: str = ""
    span: Span = field(default_factory=Span)
    hint: str = ""
    severity: str = ""

    def __post_init__(self) -> None:
        if not self.severity:
            object.__setattr__(self, "severity", CODES[self.code][0])

    @property
    def sort_key(self) -> tuple:
        return (self.file, self.span.line, self.span.column, self.code, self.message)

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.span.line,
            "column": self.span.column,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


class SpecError(Exception):
    """Raised to stop a stage that cannot go on; carries everything found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: d.sort_key)
        self.sources: dict[str, str] = {}  # file -> text, for excerpts (set by the spec loader only)
        super().__init__(f"{len(self.diagnostics)} diagnostic(s)")


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """The hint for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


def promote_warnings(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """--werror: every warning becomes an error, nothing else changes."""
    return [
        Diagnostic(d.code, d.message, d.file, d.span, d.hint, ERROR) for d in diagnostics
    ]


SNIPPET_WIDTH = 100


def format_text(diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    """Compiler-style text: location, severity, code, message, the source line, a caret."""
    sources = sources or {}
    out: list[str] = []
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        where = d.file or "<input>"
        if d.span.line:
            where += f":{d.span.line}:{d.span.column}"
        out.append(f"{where}: {d.severity}[{d.code}]: {d.message}")
        lines = sources.get(d.file, "").splitlines()
        if d.span.line and d.span.line <= len(lines):
            text = lines[d.span.line - 1]
            gutter = f"{d.span.line:>5} | "
            caret_at = max(d.span.column - 1, 0)
            if len(text) > SNIPPET_WIDTH:  # a one-line (JSON) spec: show the part around the spot
                start = max(0, min(caret_at - SNIPPET_WIDTH // 3, len(text) - SNIPPET_WIDTH))
                text = ("…" if start else "") + text[start:start + SNIPPET_WIDTH] + (
                    "…" if start + SNIPPET_WIDTH < len(text) else "")
                caret_at -= start - (1 if start else 0)
            out.append(gutter + text)
            width = max(1, min(d.span.length, max(len(text) - caret_at, 1)))
            out.append(" " * (len(gutter) - 2) + "| " + " " * caret_at + "^" * width)
        if d.hint:
            out.append(f"  hint: {d.hint}")
    return "\n".join(out) + ("\n" if out else "")


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    items = [d.as_dict() for d in sorted(diagnostics, key=lambda d: d.sort_key)]
    return json.dumps(items, indent=2, sort_keys=True) + "\n"


def summary(diagnostics: Iterable[Diagnostic]) -> str:
    ds = list(diagnostics)
    errors = sum(d.severity == ERROR for d in ds)
    warnings = len(ds) - errors
    return f"{errors} error(s), {warnings} warning(s)"


__all__ = [
    "CODES",
    "Diagnostic",
    "ERROR",
    "Span",
    "SpecError",
    "WARNING",
    "did_you_mean",
    "format_json",
    "format_text",
    "has_errors",
    "promote_warnings",
    "summary",
]
