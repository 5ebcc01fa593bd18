"""Secrets: which ones a spec needs, generating them, loading and judging a secrets file.

Values never reach a diagnostic, a log line or a reviewable bundle: a review
build gets a visible placeholder per name instead.
"""

from __future__ import annotations

import base64
import os
import re
import secrets as _random
import stat
from dataclasses import dataclass

from . import pki
from .diagnostics import Diagnostic, Span, SpecError, did_you_mean
from .model import Topology

# name -> what it is for. Fencing passwords are added per spec (nodes[].fencing.password_secret).
FIXED_SECRETS: dict[str, str] = {
    "hacluster_password": "password of the hacluster user, for pcs host auth",
    "galera_root_password": "MariaDB root password (root also keeps unix_socket login)",
    "galera_sst_password": "MariaDB user 'mariabackup' used by mariabackup state transfers",
    "galera_clustercheck_password": "MariaDB user 'clustercheck' used by the health check",
    "rabbitmq_password": "RabbitMQ user 'openstack'",
    "rabbitmq_erlang_cookie": "Erlang cookie shared by every RabbitMQ node",
    "keystone_db_password": "MariaDB user 'keystone'",
    "keystone_admin_password": "Keystone 'admin' user (keystone-manage bootstrap)",
    "keystone_fernet_key_0": "Fernet staged key (32 random bytes, url-safe base64; the next primary)",
    "keystone_fernet_key_1": "Fernet secondary key (the primary before the last rotation: validates only)",
    "keystone_fernet_key_2": "Fernet primary key (signs new tokens)",
    "keystone_credential_key_0": "credential encryption staged key",
    "keystone_credential_key_1": "credential encryption primary key",
}
KEY_SECRETS = {n for n in FIXED_SECRETS if "_key_" in n}
WELL_KNOWN = {"password", "admin", "secret", "changeme", "change_me", "123456", "12345678", "qwerty",
              "letmein", "root", "openstack", "guest", "hacluster", "keystone", "rabbitmq", "default",
              "passw0rd", "password123", "keystonetest"}
MIN_LENGTH = 16
# IPMI 2.0 carries a user's password in a 20-byte field: ipmitool (what fence_ipmilan runs) refuses
# a longer one ("lanplus: password is longer than 20 bytes"), as the lab's first fenced run found.
IPMI_PASSWORD_MAX_BYTES = 20
# Heat uses the first 32 characters of its auth_encryption_key (an AES-256 key) and pads a shorter
# one: a key of another length is either cut or weakened, so only 32 is accepted.
ENCRYPTION_KEY_LENGTH = 32
PLACEHOLDER = "__SECRET_{}__"
# A certificate is public, but a review build has no secrets file to take it from.
CERTIFICATE_PLACEHOLDER = "__CERTIFICATE_{}__"


def required_secrets(topo: Topology) -> dict[str, str]:
    from .catalog import ceph_key_secret, endpoints  # the catalog reads SecretValues: import it late

    needed = dict(FIXED_SECRETS)
    for ep in endpoints(topo):
        if ep.service.keystone_user:  # Keystone's own are fixed above
            db, user = ep.service.database, ep.service.keystone_user
            needed[db.password_secret] = f"MariaDB user '{db.user}'"
            needed[user.password_secret] = f"Keystone service user '{user.name}' ({ep.service.name}'s auth_token)"
        needed.update(ep.service.own_secrets)
        storage = topo.api(ep.service.name).storage if ep.service.keystone_user else None
        if storage and storage.kind == "rbd":
            needed[ceph_key_secret(ep.service.name)] = f"{CEPH_KEY}client.{storage.user} ('ceph auth get-key client.{storage.user}')"
    for node in topo.nodes:
        # Only cluster members are fenced; a Keystone-only node's BMC is not Pacemaker's.
        if node.fencing and topo.fencing_waiver is None and topo.cluster_of(node):
            needed.setdefault(node.fencing.password_secret, f"{BMC_PASSWORD}{node.name}")
    needed.update(pki.required(topo))
    return dict(sorted(needed.items()))


def operator_supplied(topo: Topology) -> set[str]:
    """Secrets hagen cannot make up: the BMC passwords are the BMCs' own, set by whoever runs them,
    and a Ceph client's key is the Ceph cluster's. 'hagen secrets init' leaves them empty, and a
    deploy build refuses until they are filled in."""
    return {name for name, why in required_secrets(topo).items() if why.startswith((BMC_PASSWORD, CEPH_KEY))}


BMC_PASSWORD = "BMC password of "
CEPH_KEY = "Ceph key of "


# Keystone's key repository as Keystone's own rotation leaves it with max_active_keys = 3: 0 staged
# (on every node before it signs anything), the highest index primary, the one between the
# primary before the last rotation. Fixed indices keep the bundle's file list the same across
# rotations; the values move.
FERNET_STAGED, FERNET_SECONDARY, FERNET_PRIMARY = (f"keystone_fernet_key_{i}" for i in range(3))
# Keystone's [token] expiration (its default, said explicitly): the shortest safe rotation interval.
TOKEN_LIFETIME_S = 3600


def rotated_fernet_keys(values: dict[str, str]) -> dict[str, str]:
    """Keystone's rotation, on the secrets file: the staged key becomes the primary, the primary
    the secondary, a new random key is staged, and the old secondary is dropped. Rolled out one
    node after another this is safe: every node already holds the new primary (it was staged
    everywhere), and the nodes not yet updated still sign with a key the updated ones keep. A token
    signed with the dropped key stops validating, so rotate no more often than tokens live."""
    return {**values, FERNET_STAGED: generate_value(FERNET_STAGED), FERNET_SECONDARY: values[FERNET_PRIMARY],
            FERNET_PRIMARY: values[FERNET_STAGED]}


def carried_over(name: str, kept: dict[str, str]) -> str | None:
    """A missing secret whose value must come from one the file holds, not from chance: a file
    from before the third Fernet key keeps its primary as the primary (index 1 to 2), so a
    rolling update never signs with a key the other nodes lack."""
    if name == FERNET_PRIMARY and FERNET_SECONDARY in kept:
        return kept[FERNET_SECONDARY]
    return None


def generate_value(name: str) -> str:
    if name in KEY_SECRETS:
        return base64.urlsafe_b64encode(_random.token_bytes(32)).decode()
    if name.endswith("_secret_key"):  # Django's check --deploy wants 50 characters or more
        return _random.token_urlsafe(48)
    if name == "rabbitmq_erlang_cookie":
        return _random.token_hex(32).upper()
    if name.endswith("_encryption_key"):  # Heat's auth_encryption_key: 32 characters exactly
        return _random.token_hex(ENCRYPTION_KEY_LENGTH // 2)
    return _random.token_urlsafe(24)


def generate_bmc_password() -> str:
    """A password a BMC takes (for tests and the lab's simulated BMCs: a real one is its owner's):
    15 random bytes are 20 url-safe characters, IPMI's most."""
    return _random.token_urlsafe(IPMI_PASSWORD_MAX_BYTES * 3 // 4)


def generate_values(topo: Topology, names) -> dict[str, str]:
    """New values for these secrets of a spec: the private CA and its certificates together (each
    certificate is signed by the CA), every other one on its own."""
    names = set(names)
    pem = pki.generate(topo) if names & set(pki.required(topo)) else {}
    bmc = {n for n, why in required_secrets(topo).items() if why.startswith(BMC_PASSWORD)}
    return {name: pem[name] if name in pem else generate_bmc_password() if name in bmc else generate_value(name)
            for name in sorted(names)}


def secrets_file_text(values: dict[str, str], why: dict[str, str], left_empty=frozenset()) -> str:
    """A secrets file: one 'name: value  # what it is' a line, a PEM block as a YAML block scalar,
    and an empty value with a FILL IN note for each name in left_empty."""
    lines = ["# hagen secrets: keep this file out of git (mode 0600).\n"]
    for name in sorted(why):
        if name in left_empty:  # left empty on purpose: a random value would only fail at first use
            lines.append(f"{name}: ''  # FILL IN: {why[name]} (its owner's real value; hagen cannot generate it)\n")
        elif "\n" in values[name].strip():
            lines.append(f"{name}: |  # {why[name]}\n" + "".join(f"  {line}\n" for line in values[name].splitlines()))
        else:
            lines.append(f"{name}: '{values[name]}'  # {why[name]}\n")
    return "".join(lines)


@dataclass(frozen=True)
class SecretValues:
    """The values a build fills in: real ones (deploy) or placeholders (review)."""

    values: dict[str, str] | None = None  # None: review build

    @property
    def review(self) -> bool:
        return self.values is None

    def get(self, name: str) -> str:
        if self.values is None:
            return (CERTIFICATE_PLACEHOLDER if pki.is_certificate(name) else PLACEHOLDER).format(name)
        return self.values[name]

    def all_values(self) -> list[str]:
        """Every value a reviewer must not see: all but the certificates, which are public."""
        return sorted(v for k, v in self.values.items() if not pki.is_certificate(k)) if self.values else []


def ceph_key_weakness(value: str) -> str:
    """A Ceph key as 'ceph auth get-key' prints it: base64 of its type (1, AES), creation time,
    length (16) and the 16 key bytes."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return "is not base64 (a Ceph key, as 'ceph auth get-key' prints it)"
    if len(raw) != 28 or raw[:2] != b"\x01\x00" or raw[10:12] != b"\x10\x00":
        return "is not a Ceph AES key (28 bytes: type 1, creation time, length 16, the key)"
    return ""


def weakness(name: str, value: object) -> str:
    """Why a value is unacceptable, without quoting it; '' when fine."""
    if not isinstance(value, str):
        return "is not a string"
    if pki.is_pem(name):  # several lines, by nature
        return pki.pem_weakness(name, value)
    if any(c in value for c in "\x00\n\r"):
        return "contains a line break or NUL byte"
    if value != value.strip():
        return "starts or ends with whitespace (tools strip it)"
    if name in KEY_SECRETS:
        try:
            raw = base64.urlsafe_b64decode(value.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return "is not url-safe base64"
        return "" if len(raw) == 32 else "must decode to 32 bytes (a Fernet key)"
    if name.endswith("_ceph_key"):
        return ceph_key_weakness(value)
    if name.endswith("_encryption_key") and len(value) != ENCRYPTION_KEY_LENGTH:
        return f"must be exactly {ENCRYPTION_KEY_LENGTH} characters (Heat's auth_encryption_key)"
    if name == "rabbitmq_erlang_cookie" and not re.fullmatch(r"[A-Za-z0-9]{20,255}", value):
        return "must be 20-255 letters and digits"
    if value.strip().lower() in WELL_KNOWN:
        return "is a well-known default password"
    if len(value) < MIN_LENGTH:
        return f"is too short (min {MIN_LENGTH} characters)"
    if len(set(value)) < 5:
        return "has too few distinct characters"
    return ""


def load_secrets_file(path: str, needed: dict[str, str], supplied_by_operator: set[str] = frozenset()
                      ) -> tuple[dict[str, str], list[Diagnostic]]:
    """Read a secrets file (YAML mapping name -> value) and judge it. Values never appear in messages.
    supplied_by_operator: names whose value only the operator knows (an empty one is reported)."""
    from .spec import load_spec_text, read_spec_file  # the same hardened YAML loader as specs

    diagnostics: list[Diagnostic] = []
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise SpecError([Diagnostic("H003", f"cannot read secrets file '{path}': no such file", path,
                                    hint=f"create one with 'hagen secrets init {path} --spec SPEC'")])
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        diagnostics.append(Diagnostic("H082", f"secrets file '{path}' is readable by group or others "
                                      f"(mode {stat.S_IMODE(mode):04o})", path, Span(0, 0),
                                      hint=f"chmod 600 {path}"))
    shown, text = read_spec_file(path)
    try:
        doc = load_spec_text(text, shown)
    except SpecError as err:
        # YAML errors may quote the offending line; a secrets file line holds a value.
        raise SpecError([Diagnostic(d.code, d.message.split(":")[0], d.file, d.span,
                                    "the value is not shown to keep it secret") for d in err.diagnostics])
    data = doc.data
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("H012", "a secrets file must be a mapping of name: value", shown, Span(1, 1))])
    values: dict[str, str] = {}
    for name in sorted(needed):
        if name not in data:
            diagnostics.append(Diagnostic("H080", f"secret '{name}' ({needed[name]}) is missing", shown, Span(1, 1),
                                          hint=f"'hagen secrets add {path} --spec SPEC' makes the missing "
                                          "ones and keeps the rest"))
            continue
        if name in supplied_by_operator and data[name] in ("", None):
            diagnostics.append(Diagnostic("H084", f"secret '{name}' ({needed[name]}) is not filled in", shown,
                                          doc.span((name,)), hint="set it to the real value: hagen cannot generate it "
                                          "(a BMC's password is the BMC's, a Ceph key the Ceph cluster's)"))
            continue
        problem = weakness(name, data[name])
        if problem:
            diagnostics.append(Diagnostic("H081", f"secret '{name}' {problem}", shown, doc.span((name,)),
                                          hint="generate a strong one with 'hagen secrets init'"))
            continue
        if needed[name].startswith(BMC_PASSWORD) and len(data[name].encode("utf-8")) > IPMI_PASSWORD_MAX_BYTES:
            diagnostics.append(Diagnostic(
                "H081", f"secret '{name}' is longer than IPMI's {IPMI_PASSWORD_MAX_BYTES} bytes", shown,
                doc.span((name,)), hint=f"fence_ipmilan's ipmitool (lanplus) refuses a longer password, so fencing "
                f"would fail: give the BMC a password of {MIN_LENGTH} to {IPMI_PASSWORD_MAX_BYTES} characters"))
            continue
        values[name] = data[name]
    for name in sorted(set(data) - set(needed)):
        diagnostics.append(Diagnostic("H083", f"secret '{name}' is not used by this spec", shown,
                                      doc.span((name,), key=True), hint=did_you_mean(name, needed)))
    return values, diagnostics

