"""hagen check: judge a written bundle with the programs that will consume it.

Each check is a function (bundle, artifact) -> CheckResult that runs one real
tool. Missing tools are SKIPs with the install hint. Checks run in a thread pool
(they are subprocess-bound); Pacemaker's are the slow ones (pcs costs about
0.6 s a call), so each cluster's CIB is built once and every failure scenario
is simulated from that one CIB.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

PASS, FAIL, SKIP, NA = "PASS", "FAIL", "SKIP", "N/A"  # N/A: no tool here speaks that target's dialect
SYSTEM_PYTHON = "/usr/bin/python3"  # cloud-init and pcs import only under the system Python

# tool -> how to get it on Debian 12. Every tool hagen check runs is here (a test holds the
# README's CI snippet to this list).
APT_PACKAGES = {"haproxy": "haproxy", "shellcheck": "shellcheck", "cloud-init": "cloud-init", "pcs": "pcs",
                "crm_verify": "pacemaker-cli-utils", "crm_simulate": "pacemaker-cli-utils",
                "cibadmin": "pacemaker-cli-utils", "crm_mon": "pacemaker-cli-utils", "mariadbd": "mariadb-server",
                "corosync": "corosync", "xinetd": "xinetd", "systemd-analyze": "systemd", "unshare": "util-linux",
                "escript": "rabbitmq-server", "debconf-set-selections": "debconf", "tar": "tar", "ip": "iproute2",
                "oslo-config-validator": "python3-oslo.config", "ovsdb-tool": "ovn-central", "openssl": "openssl",
                "promtool": "prometheus"}
PIP_PACKAGES = {"ksvalidator": "pykickstart"}  # not packaged for Debian 12; 'hagen[check]' brings it


def install_hint(tool: str) -> str:
    if tool in PIP_PACKAGES:
        return f"pip install {PIP_PACKAGES[tool]} (or install hagen[check])"
    return f"apt-get install {APT_PACKAGES.get(tool, tool)}"


@dataclass
class CheckResult:
    artifact: str
    tool: str
    status: str
    reason: str = ""
    details: dict = field(default_factory=dict)


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _clean_env() -> dict:
    """The consuming tools run with the system's Python, not a virtualenv's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env["LC_ALL"] = "C.UTF-8"
    return env


def run(argv: list[str], timeout: int = 120, **kw) -> subprocess.CompletedProcess:
    """A tool's run; one that does not finish in time fails its check (exit 124, as timeout(1)
    says), instead of ending the whole check with a traceback."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=kw.pop("env", _clean_env()), **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"{Path(argv[0]).name} did not finish in {timeout} s")


def _missing(artifact: str, *tools: str) -> CheckResult | None:
    for tool in tools:
        if find_tool(tool) is None:
            return CheckResult(artifact, tool, SKIP, f"{tool} not found; {install_hint(tool)}")
    return None


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


# --- per-artifact checks ------------------------------------------------------

PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def _test_certificate(folder: Path) -> Path:
    """A throwaway self-signed certificate and key (HAProxy's one-file form), for a review
    bundle, whose certificate files hold placeholders."""
    key, crt = folder / "test.key", folder / "test.crt"
    proc = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=hagen check", "-config", "/dev/null"])
    if proc.returncode != 0:
        raise RuntimeError(f"openssl could not make a test certificate: {_tail(proc.stderr)}")
    pem = folder / "test.pem"
    pem.write_text(crt.read_text() + key.read_text())
    return pem


def check_haproxy(bundle: Path, cfg: Path) -> CheckResult:
    """haproxy -c with the certificates in place: each 'crt' (and the servers' 'ca-file') path is
    the node's own file of the bundle (a deploy bundle's real certificate), or a test certificate
    where a review bundle holds a placeholder."""
    rel = str(cfg.relative_to(bundle))
    if skip := _missing(rel, "haproxy", "openssl"):
        return skip
    text, node_root = cfg.read_text(), cfg.parents[2]
    with tempfile.TemporaryDirectory(prefix="hagen-haproxy-") as tmp:
        test_pem, stand_ins = None, 0

        def in_place(match: re.Match) -> str:
            nonlocal test_pem, stand_ins
            keyword, laid = match.group(1), node_root / match.group(2).lstrip("/")
            if laid.is_file() and PEM_CERTIFICATE in laid.read_text():
                return f"{keyword} {laid}"
            test_pem, stand_ins = test_pem or _test_certificate(Path(tmp)), stand_ins + 1
            return f"{keyword} {test_pem}"

        staged = Path(tmp) / "haproxy.cfg"
        staged.write_text(re.sub(r"\b(crt|ca-file) (\S+)", in_place, text))
        proc = run([find_tool("haproxy"), "-c", "-dW", "-f", str(staged)])
    note = f"; {stand_ins} placeholder certificate(s) stood in for by a test one" if stand_ins else ""
    return CheckResult(rel, "haproxy -c -dW", PASS if proc.returncode == 0 else FAIL,
                       note.lstrip("; ") if proc.returncode == 0 else _tail(proc.stdout + proc.stderr) + note)


def _openssl_out(*args: str) -> subprocess.CompletedProcess:
    return run([find_tool("openssl"), *args])


def _sans(cert: Path) -> tuple[set[str], set[str]]:
    """(DNS names, IP addresses) of a certificate's subjectAltName, as openssl prints them."""
    out = _openssl_out("x509", "-in", str(cert), "-noout", "-ext", "subjectAltName").stdout
    names = [part.strip() for line in out.splitlines()[1:] for part in line.split(",")]
    return ({n.removeprefix("DNS:") for n in names if n.startswith("DNS:")},
            {n.removeprefix("IP Address:") for n in names if n.startswith("IP Address:")})


def _public_key(*args: str) -> str:
    return _openssl_out(*args).stdout


def check_certificates(bundle: Path, node: Path) -> list[CheckResult]:
    """A deploy bundle's TLS files on one node, judged by openssl: the CA file is a CA; each
    certificate HAProxy presents verifies against it, matches the key beside it, covers every
    name and address topology.json says clients use, and is not expired (a warning within
    EXPIRY_WARNING_DAYS). A review bundle holds placeholders: nothing to judge."""
    from .pki import EXPIRY_WARNING_DAYS

    summary = json.loads((bundle / "topology.json").read_text())
    tls = summary.get("tls")
    if not isinstance(tls, dict):
        return []
    ca = node / tls["ca_file"].lstrip("/")
    if not ca.is_file() or PEM_CERTIFICATE not in ca.read_text():
        return []
    rel = str(ca.relative_to(bundle))
    if skip := _missing(rel, "openssl"):
        return [skip]
    results = []
    ca_text = _openssl_out("x509", "-in", str(ca), "-noout", "-text").stdout
    results.append(CheckResult(rel, "openssl x509 (CA)", PASS if "CA:TRUE" in ca_text else FAIL,
                               "" if "CA:TRUE" in ca_text else "not a CA certificate (basicConstraints CA:FALSE)"))
    # A VIP's certificate is on every load balancer; a node's ('node:<name>') on that node alone.
    laid = [(name, cert, node / crt.lstrip("/"), node / key.lstrip("/"))
            for name, cert in sorted(tls["certificates"].items()) for crt, key in cert["files"]
            if not name.startswith("node:") or name == f"node:{node.name}"]
    for name, cert, pem, key in laid:
        if not pem.is_file():
            continue
        name = name.partition(":")[2]
        rel = str(pem.relative_to(bundle))
        problems, warning = [], ""
        verify = _openssl_out("verify", "-CAfile", str(ca), "-purpose", "sslserver", str(pem))
        if verify.returncode != 0:
            problems.append(f"does not verify against {tls['ca_file']}: {_tail(verify.stdout + verify.stderr, 2)}")
        if _public_key("x509", "-in", str(pem), "-noout", "-pubkey") != _public_key("pkey", "-in", str(key), "-pubout"):
            problems.append("its key is not the certificate's")
        dns, ips = _sans(pem)
        missing = sorted(set(cert["dns"]) - dns) + sorted(set(cert["ip"]) - ips)
        if missing:
            problems.append(f"its subjectAltName lacks {', '.join(missing)} (clients of {name} use them)")
        if _openssl_out("x509", "-in", str(pem), "-noout", "-checkend", "0").returncode != 0:
            problems.append("it has expired")
        elif _openssl_out("x509", "-in", str(pem), "-noout", "-checkend",
                          str(EXPIRY_WARNING_DAYS * 86400)).returncode != 0:
            warning = f"warning: it expires within {EXPIRY_WARNING_DAYS} days; renew it"
        results.append(CheckResult(rel, "openssl verify, key, SANs, expiry", FAIL if problems else PASS,
                                   "; ".join(problems) or warning))
    return results


def check_python(bundle: Path, script: Path) -> CheckResult:
    """A Python program of the node's (hagen-await-database): the release's own python3 compiles it."""
    rel = str(script.relative_to(bundle))
    if skip := _missing(rel, "python3"):
        return skip
    with tempfile.TemporaryDirectory() as tmp:
        proc = run([find_tool("python3"), "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], "
                    "cfile=sys.argv[2], doraise=True)", str(script), str(Path(tmp) / "compiled.pyc")])
    return CheckResult(rel, "python3 -m py_compile", PASS if proc.returncode == 0 else FAIL,
                       _tail(proc.stderr.replace(str(bundle) + "/", "")) if proc.returncode else "")


def is_python(script: Path) -> bool:
    with script.open("rb") as f:
        return f.readline().startswith(b"#!/usr/bin/python3")


def check_shell(bundle: Path, script: Path) -> CheckResult:
    rel = str(script.relative_to(bundle))
    if skip := _missing(rel, "shellcheck"):
        return skip
    proc = run([find_tool("shellcheck"), "-S", "warning", "-s", "bash", "-f", "gcc", str(script)])
    return CheckResult(rel, "shellcheck -S warning", PASS if proc.returncode == 0 else FAIL,
                       _tail(proc.stdout.replace(str(bundle) + "/", "")) if proc.returncode else "")


def kickstart_post_sections(text: str) -> list[tuple[str, str]]:
    """(interpreter, body) of each %post; Anaconda runs a body with /bin/sh unless told otherwise."""
    sections = []
    for header, body in re.findall(r"^%post([^\n]*)\n(.*?)^%end\s*$", text, flags=re.S | re.M):
        found = re.search(r"--interpreter[= ](\S+)", header)
        sections.append((found.group(1) if found else "/bin/sh", body))
    return sections


def check_kickstart(bundle: Path, ks: Path) -> list[CheckResult]:
    rel = str(ks.relative_to(bundle))
    results = []
    if skip := _missing(rel, "ksvalidator"):
        results.append(skip)
    else:
        proc = run([find_tool("ksvalidator"), "-v", "RHEL9", str(ks)])
        results.append(CheckResult(rel, "ksvalidator -v RHEL9", PASS if proc.returncode == 0 else FAIL,
                                   "" if proc.returncode == 0 else _tail(proc.stdout + proc.stderr)))
    if skip := _missing(rel + " %post", "shellcheck"):
        return results + [skip]
    sections = kickstart_post_sections(ks.read_text(encoding="utf-8"))
    if not sections:
        return results + [CheckResult(rel + " %post", "shellcheck", FAIL, "no %post section")]
    for interpreter, body in sections:
        # Judge the body in the dialect of the shell that will run it.
        dialect = {"/bin/bash": "bash", "/usr/bin/bash": "bash"}.get(interpreter, "sh")
        proc = run([find_tool("shellcheck"), "-S", "warning", "-s", dialect, "-f", "gcc", "-"],
                   input=f"#!{interpreter}\n" + body)
        results.append(CheckResult(rel + " %post", f"shellcheck -s {dialect} -S warning",
                                   PASS if proc.returncode == 0 else FAIL,
                                   _tail(proc.stdout) if proc.returncode else ""))
    return results


def preseed_values(text: str) -> dict[str, str]:
    """{question: value} as debconf-set-selections reads a preseed file: a line ending in a
    backslash continues on the next, joined as written."""
    values, pending = {}, ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if line.strip() and not line.lstrip().startswith("#"):
            owner_label_type, _, value = line.partition(" string ")
            values[owner_label_type.split()[1]] = value
    return values


def late_command_body(command: str) -> str | None:
    """The script of "in-target sh -c '...'", or None if the command is not of that form."""
    found = re.fullmatch(r"in-target sh -c '([^']*)'", command.strip())
    return found.group(1) if found else None


def check_preseed(bundle: Path, cfg: Path) -> list[CheckResult]:
    """debconf's own parser, the argument limit late_command runs under, the command's shell, and
    the archive it unpacks listed by the real tar against the node's folder."""
    from .emit.cloudinit import ARG_LIMIT, STAGING

    rel = str(cfg.relative_to(bundle))
    results = []
    if skip := _missing(rel, "debconf-set-selections"):
        results.append(skip)
    else:
        proc = run([find_tool("debconf-set-selections"), "--checkonly", str(cfg)])
        ok = proc.returncode == 0 and not proc.stderr.strip()
        results.append(CheckResult(rel, "debconf-set-selections --checkonly", PASS if ok else FAIL,
                                   "" if ok else _tail(proc.stdout + proc.stderr)))
    command = preseed_values(cfg.read_text(encoding="utf-8")).get("preseed/late_command", "")
    size = len(command.encode("utf-8"))
    results.append(CheckResult(rel, "size", PASS if 0 < size <= ARG_LIMIT else FAIL,
                               f"late_command is {size} bytes; one argument of sh -c may hold {ARG_LIMIT}"))
    body = late_command_body(command)
    if body is None:
        return results + [CheckResult(rel + " late_command", "shellcheck", FAIL,
                                      "late_command is not \"in-target sh -c '...'\"")]
    if skip := _missing(rel + " late_command", "shellcheck", "tar"):
        return results + [skip]
    proc = run([find_tool("shellcheck"), "-S", "warning", "-s", "sh", "-"], input="#!/bin/sh\n" + body + "\n")
    results.append(CheckResult(rel + " late_command", "shellcheck -s sh", PASS if proc.returncode == 0 else FAIL,
                               _tail(proc.stdout) if proc.returncode else ""))
    payload = re.search(r"echo ((?:[A-Za-z0-9+/=]+ ?)+)\|", body)
    if payload is None:
        return results + [CheckResult(rel + " archive", "tar", FAIL, "no base64 archive in late_command")]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "bundle.tar.gz"
        archive.write_bytes(base64.b64decode(payload.group(1).replace(" ", "")))
        proc = run([find_tool("tar"), "-tvzf", str(archive), "--numeric-owner"])
        unpacked = run([find_tool("tar"), "-xzf", str(archive), "-C", tmp, "--no-same-owner"])
        node = cfg.parent
        staging = STAGING.lstrip("/") + "/"
        delivered = [f for f in sorted(node.rglob("*"))
                     if f.is_file() and f.name not in ("user-data", "user-data.gz", cfg.name)]
        differ = []
        for f in delivered:
            copy = Path(tmp) / staging / f.relative_to(node)
            if copy.is_file() and copy.read_bytes() != f.read_bytes():
                differ.append(staging + str(f.relative_to(node)))
    if proc.returncode or unpacked.returncode:
        return results + [CheckResult(rel + " archive", "tar -xz", FAIL, _tail(proc.stderr + unpacked.stderr))]
    listed = {}
    for line in proc.stdout.splitlines():
        perms, owner, _size, _date, _time, name = line.split(None, 5)
        listed[name] = (perms, owner)
    modes = intended_modes(bundle)
    expected = {staging + str(f.relative_to(node)): (intended_perms(bundle, f, modes), "0/0") for f in delivered}
    problems = [f"{name}: {listed.get(name, 'missing')} != {want}" for name, want in sorted(expected.items())
                if listed.get(name) != want]
    problems += [f"{name}: not in the node's folder" for name in sorted(set(listed) - set(expected))
                 if not name.startswith("etc/systemd/system/")]
    problems += [f"{name}: content differs" for name in differ]
    results.append(CheckResult(rel + " archive", "tar -xz", FAIL if problems else PASS,
                               "; ".join(problems[:4]) if problems
                               else f"{len(listed)} files; contents, modes and owners as in the bundle"))
    return results


def intended_modes(bundle: Path) -> dict[str, int]:
    """The mode of each file as the bundle's FILE-MODES lists it: a checked-out bundle's own
    modes are git's (only the executable bit), not hagen's."""
    from .emit import MODES_FILE, read_file_modes

    listing = bundle / MODES_FILE
    return read_file_modes(listing.read_text(encoding="utf-8")) if listing.is_file() else {}


def intended_perms(bundle: Path, path: Path, modes: dict[str, int]) -> str:
    rel = str(path.relative_to(bundle))
    if rel in modes:
        return stat.filemode(stat.S_IFREG | modes[rel])
    return stat.filemode(path.stat().st_mode)


def check_user_data(bundle: Path, path: Path) -> list[CheckResult]:
    from .emit.cloudinit import EC2_LIMIT, OPENSTACK_LIMIT_B64

    rel = str(path.relative_to(bundle))
    raw = path.read_bytes()
    b64 = 4 * ((len(raw) + 2) // 3)
    gz = path.with_name("user-data.gz")
    deliverable = gz.read_bytes() if gz.exists() else raw
    # The bundle's hosts are booted by OpenStack (Ironic, Nova) or an installer: its limit decides.
    # EC2's 16 KiB is reported (a full controller's gzip is just over it since Nova), not required.
    size_ok = 4 * ((len(deliverable) + 2) // 3) <= OPENSTACK_LIMIT_B64
    ec2 = "fits" if len(deliverable) <= EC2_LIMIT else "over"
    results = [CheckResult(rel, "size", PASS if size_ok else FAIL,
                           f"{len(raw)} bytes ({b64} base64); delivered as {'user-data.gz' if gz.exists() else 'user-data'}"
                           f" {len(deliverable)} bytes; limits OpenStack {OPENSTACK_LIMIT_B64} base64, EC2 {EC2_LIMIT} ({ec2})")]
    if gz.exists():
        import gzip
        same = gzip.decompress(gz.read_bytes()) == raw
        results.append(CheckResult(rel + ".gz", "gzip", PASS if same else FAIL, "" if same else "differs from user-data"))
    cloud_init = find_tool("cloud-init")
    if cloud_init is None:
        return results + [CheckResult(rel, "cloud-init schema", SKIP, "cloud-init not found; " + install_hint("cloud-init"))]
    proc = run([SYSTEM_PYTHON, cloud_init, "schema", "--config-file", str(path)]) if _is_python_script(cloud_init) \
        else run([cloud_init, "schema", "--config-file", str(path)])
    results.append(CheckResult(rel, "cloud-init schema", PASS if proc.returncode == 0 else FAIL,
                               "" if proc.returncode == 0 else _tail(proc.stdout + proc.stderr)))
    return results


def _is_python_script(path: str) -> bool:
    with open(path, "rb") as handle:
        return b"python" in handle.readline()


def check_mariadb(bundle: Path, cnf: Path) -> CheckResult:
    rel = str(cnf.relative_to(bundle))
    if skip := _missing(rel, "mariadbd"):
        return skip
    with tempfile.TemporaryDirectory() as tmp:
        # The node's config plus its SST file, as the server reads them (an include dir).
        for part in sorted(cnf.parent.glob("*.cnf")):
            shutil.copy(part, Path(tmp) / part.name)
        os.chmod(tmp, 0o755)
        top = Path(tmp) / "my.cnf"
        top.write_text(f"!includedir {tmp}/\n")
        proc = run([find_tool("mariadbd"), f"--defaults-file={top}", "--user=mysql", "--help", "--verbose"])
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "[ERROR]" in line]
    ok = proc.returncode == 0 and not errors
    return CheckResult(rel, "mariadbd --help --verbose", PASS if ok else FAIL,
                       "" if ok else _tail("\n".join(errors) or proc.stderr))


def check_corosync(bundle: Path, conf: Path) -> list[CheckResult]:
    """Compare with what 'pcs cluster setup' itself writes, then let corosync parse it."""
    rel = str(conf.relative_to(bundle))
    results = []
    text = conf.read_text(encoding="utf-8")
    name = re.search(r"cluster_name: (\S+)", text).group(1)
    nodes = re.findall(r"ring0_addr: (\S+)\n\s+name: (\S+)", text)
    if (skip := _missing(rel, "pcs")) is None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "corosync.conf"
            argv = [find_tool("pcs"), "cluster", "setup", name]
            for addr, node in nodes:
                argv += [node, f"addr={addr}"]
            argv += ["transport", "knet", "--corosync_conf", str(out), "--no-cluster-uuid", "--overwrite"]
            proc = run(argv)
            theirs = out.read_text() if out.exists() else ""
        # pcs writes its log path for Debian; compare everything else exactly.
        mine = re.sub(r"^(\s+)logfile: .*$", r"\1logfile: -", text, flags=re.M).rstrip("\n")
        theirs = re.sub(r"^(\s+)logfile: .*$", r"\1logfile: -", theirs, flags=re.M).rstrip("\n")
        same = proc.returncode == 0 and mine == theirs
        # When pcs refuses the setup, its own words say why; a comparison with nothing would not.
        reason = ("" if same else f"pcs refused the setup: {_tail(proc.stdout + proc.stderr)}" if proc.returncode
                  else _first_difference(mine, theirs))
        results.append(CheckResult(rel, "pcs cluster setup --corosync_conf", PASS if same else FAIL, reason))
    else:
        results.append(skip)
    if skip := _missing(rel, "corosync", "unshare", "ip"):
        return results + [skip]
    with tempfile.TemporaryDirectory() as tmp:
        # pcs creates the authkey at setup; point the copy at a throwaway one.
        # (and the log into the scratch folder: the target's log directory need not exist here).
        copy = text.replace("totem {\n", f"totem {{\n    keyfile: {tmp}/authkey\n", 1)
        (Path(tmp) / "corosync.conf").write_text(re.sub(r"^(\s+)logfile: .*$", rf"\g<1>logfile: {tmp}/corosync.log", copy, flags=re.M))
        (Path(tmp) / "authkey").write_bytes(os.urandom(128))
        os.chmod(Path(tmp) / "authkey", 0o400)
        script = (f"ip link set lo up && ip addr add {nodes[0][0]}/32 dev lo && "
                  f"corosync -t -c {tmp}/corosync.conf")
        proc = run(["unshare", "--net", "--", "sh", "-c", script])
    results.append(CheckResult(rel, "corosync -t", PASS if proc.returncode == 0 else FAIL,
                               "" if proc.returncode == 0 else _tail(proc.stdout + proc.stderr)))
    return results


def rabbitmq_plugins_dir() -> Path | None:
    found = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins"))
    return found[-1] if found else None


# Every value of the file parsed by the type oslo.config gives its option (the validator itself
# only knows names): run by the system Python, where the service's own modules are.
OSLO_TYPES_SCRIPT = """
import configparser, sys
from importlib.metadata import entry_points
namespaces, path = sys.argv[1].split(","), sys.argv[2]
present = {e.name for e in entry_points(group="oslo.config.opts")}
missing = [n for n in namespaces if n not in present]
if missing:  # the validator would only warn, and judge the file against fewer options
    print("MISSING " + ",".join(missing))
    sys.exit(3)
from oslo_config import generator
known = {}
for _namespace, groups in generator._list_opts(namespaces):
    for group, opts in groups:
        name = getattr(group, "name", group) or "DEFAULT"
        for opt in opts:
            known[(name, opt.dest)] = opt
            known.update({(name, d.name): opt for d in opt.deprecated_opts if d.name})
parser = configparser.RawConfigParser(strict=False)
parser.optionxform = str
parser.read(path)
bad = []
for section in ["DEFAULT", *parser.sections()]:
    items = parser.defaults() if section == "DEFAULT" else {k: v for k, v in parser.items(section)
                                                            if k not in parser.defaults()}
    for key, value in items.items():
        opt = known.get((section, key))
        if opt is None or opt.type is None:
            continue
        try:
            opt.type(value)
        except Exception as err:
            bad.append(f"{section}/{key} = {value!r}: {err}")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""


# Horizon's own settings module, loaded as on a node, through Django's system checks; then the
# settings it ended with (after local_settings.d), which decide whether sessions are shared.
DJANGO_CHECK_SCRIPT = """
import json, os, sys
sys.path.insert(0, "/usr/share/openstack-dashboard")
os.environ["DJANGO_SETTINGS_MODULE"] = "openstack_dashboard.settings"
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("check", fail_level="ERROR")
cache = settings.CACHES["default"]
print(json.dumps({"SESSION_ENGINE": settings.SESSION_ENGINE, "BACKEND": cache["BACKEND"],
                  "LOCATION": cache.get("LOCATION"), "LOADED": "local.local_settings" in sys.modules,
                  "SECRET_KEY_FROM_FILE": "SECRET_KEY" not in getattr(sys.modules.get("local.local_settings"),
                                                                      "__dict__", {})}))
"""
HORIZON_SETTINGS = "/etc/openstack-dashboard/local_settings.py"  # where Debian's package reads it
HORIZON_SNIPPETS = "/etc/openstack-dashboard/local_settings.d"


def _exception_line(stderr: str) -> str:
    """The error a Python program died of, without its traceback: a traceback quotes source lines,
    and a deploy bundle's settings file holds SECRET_KEY."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "exited non-zero with no message"


def check_django_settings(bundle: Path, conf: Path, service) -> list[CheckResult]:
    """Horizon's settings as its own Django loads them on a node: hagen's file in the package's
    place, and the package's settings snippets but those setup.sh removes. Django's system checks
    must pass, and the settings Horizon ends with must keep sessions in the shared cache."""
    rel = str(conf.relative_to(bundle))
    tool = "django check (openstack_dashboard.settings)"
    if not Path(HORIZON_SETTINGS).is_file() or find_tool("unshare") is None:
        return [CheckResult(rel, tool, SKIP, f"Horizon is not installed here; apt-get install {service.python_package}")]
    with tempfile.TemporaryDirectory() as tmp:
        snippets = Path(tmp) / "local_settings.d"
        snippets.mkdir()
        unwanted = set(service.host.unwanted_files)
        for snippet in sorted(Path(HORIZON_SNIPPETS).glob("*.py")):
            if str(snippet) not in unwanted:
                shutil.copy(snippet, snippets / snippet.name)
        # Bind-mounted in a mount namespace of its own: the tools root's files stay as they are.
        script = (f"mount --bind {shlex.quote(str(conf))} {HORIZON_SETTINGS} && "
                  f"mount --bind {shlex.quote(str(snippets))} {HORIZON_SNIPPETS} && "
                  f"exec {SYSTEM_PYTHON} -c {shlex.quote(DJANGO_CHECK_SCRIPT)}")
        # Inside a tools root, / is no mount point and its namespace is private already: propagation stays.
        proc = run([find_tool("unshare"), "--mount", "--propagation", "unchanged", "sh", "-c", script], timeout=300)
    if proc.returncode != 0:
        return [CheckResult(rel, tool, FAIL, _exception_line(proc.stderr))]
    try:
        ended = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [CheckResult(rel, tool, FAIL, "no settings printed: " + _exception_line(proc.stderr))]
    if not ended["LOADED"]:  # Horizon logs an ImportError in local_settings.py and goes on without it
        return [CheckResult(rel, tool, FAIL, "Horizon did not load this file (an import in it failed)")]
    shared = (ended["SESSION_ENGINE"].endswith(".cache") and "memcached" in ended["BACKEND"]
              and not ended["SECRET_KEY_FROM_FILE"])
    why = "" if shared else (f"sessions are not shared between nodes: SESSION_ENGINE {ended['SESSION_ENGINE']}, "
                             f"cache {ended['BACKEND']}" + (", SECRET_KEY read from each node's own file"
                                                             if ended["SECRET_KEY_FROM_FILE"] else ""))
    return [CheckResult(rel, tool, PASS if shared else FAIL, why)]


def store_sections_as_groups(text: str, groups) -> tuple[str, list[str]]:
    """The config with each run-time copy of an option group (Glance's [file], [rbd] and reserved
    stores; Cinder's backends) renamed to the group it copies, so the validator and the types
    judge its options as that group's, its options registered in another group at run time moved
    there (Cinder's backend_host, a [backend] option); and the sections renamed. Everything else is
    unchanged."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    section, option = groups.listed_by
    listed = parser.get(section, option, fallback="")
    copies = set(groups.reserved) | {item.split(":", 1)[0].strip() for item in listed.split(",") if item.strip()}
    renamed = sorted(c for c in copies if parser.has_section(c))
    moved_to = dict(groups.moved)
    lines, moved, current = [], [], None
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            current = header.group(1)
            lines.append(f"[{groups.copies}]\n" if current in renamed else line)
            continue
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if current in renamed and key in moved_to:
            moved.append((moved_to[key], line))
        else:
            lines.append(line)
    for group in dict.fromkeys(g for g, _ in moved):
        lines.append(f"\n[{group}]\n" + "".join(line for g, line in moved if g == group))
    return "".join(lines), renamed


def check_oslo_config(bundle: Path, conf: Path, service) -> list[CheckResult]:
    """oslo-config-validator with the service's namespaces (unknown options, wrong sections), then
    every value through its option's oslo.config type (the validator does not check values)."""
    rel = str(conf.relative_to(bundle))
    if skip := _missing(rel, "oslo-config-validator"):
        return [skip]
    with tempfile.TemporaryDirectory() as tmp:
        generator = Path(tmp) / "generator.conf"
        generator.write_text("[DEFAULT]\n" + "".join(f"namespace = {n}\n" for n in service.config_namespaces))
        renamed = []
        if service.store_groups:
            judged, renamed = store_sections_as_groups(conf.read_text(encoding="utf-8"), service.store_groups)
            conf = Path(tmp) / conf.name
            conf.write_text(judged, encoding="utf-8")
            conf.chmod(0o600)
        proc = run([find_tool("oslo-config-validator"), "--config-file", str(generator), "--input-file", str(conf)])
        typed = run([SYSTEM_PYTHON, "-c", OSLO_TYPES_SCRIPT, ",".join(service.config_namespaces), str(conf)])
    output = proc.stdout + proc.stderr
    # (Not the validator's 'Could not load' warnings: stevedore prints those for the defaults hooks
    # a namespace does not have, too.)
    if typed.returncode == 3:
        unloaded = typed.stdout.split("MISSING ", 1)[-1].strip()
        return [CheckResult(rel, "oslo-config-validator", SKIP,
                            f"namespaces {unloaded} not installed; apt-get install {service.python_package}")]
    errors = [line.split(":", 2)[-1] for line in output.splitlines() if line.startswith("ERROR")]
    judged_as = (f"[{'], ['.join(renamed)}] judged as [{service.store_groups.copies}]" if renamed else "")
    results = [CheckResult(rel, "oslo-config-validator", FAIL if proc.returncode or errors else PASS,
                           "; ".join(errors[:5]) if errors else ("" if proc.returncode == 0 else _tail(output))
                           or judged_as)]
    results.append(CheckResult(rel, "oslo.config types", PASS if typed.returncode == 0 else FAIL,
                               "" if typed.returncode == 0 else _tail(typed.stdout + typed.stderr)))
    return results


OVN_CTL = Path("/usr/share/ovn/scripts/ovn-ctl")
OVN_SCHEMAS = {"nb": ("OVN_Northbound", Path("/usr/share/ovn/ovn-nb.ovsschema")),
               "sb": ("OVN_Southbound", Path("/usr/share/ovn/ovn-sb.ovsschema"))}


def ovn_ctl_options(text: str) -> list[str]:
    """OVN_CTL_OPTS of an /etc/default/ovn-central, split as systemd's EnvironmentFile= and the
    unit's $OVN_CTL_OPTS split it (quotes removed, then whitespace)."""
    for line in text.splitlines():
        if line.startswith("OVN_CTL_OPTS="):
            return [word for value in shlex.split(line.split("=", 1)[1]) for word in value.split()]
    return []


def check_ovn_central(bundle: Path, defaults: Path) -> list[CheckResult]:
    """The target's own ovn-ctl must document every option, and its ovsdb-tool must create (the
    founder) or join (the others) each RAFT cluster with exactly these addresses, as ovn-ctl does
    on the first start: a database file is made and read back, no server runs."""
    rel = str(defaults.relative_to(bundle))
    if skip := _missing(rel, "ovsdb-tool"):
        return [skip]
    if not OVN_CTL.is_file() or not all(schema.is_file() for _, schema in OVN_SCHEMAS.values()):
        return [CheckResult(rel, "ovn-ctl", SKIP, "OVN central is not installed; apt-get install ovn-central")]
    options = ovn_ctl_options(defaults.read_text(encoding="utf-8"))
    usage = run([str(OVN_CTL), "--help"]).stdout
    documented = set(re.findall(r"^\s+(--[a-z0-9-]+)", usage, re.M))
    unknown = sorted({o.split("=", 1)[0] for o in options} - documented)
    results = [CheckResult(rel, "ovn-ctl --help", FAIL if unknown or not options else PASS,
                           f"options ovn-ctl does not know: {', '.join(unknown)}" if unknown
                           else "" if options else "no OVN_CTL_OPTS")]
    value = {o.split("=", 1)[0]: o.split("=", 1)[1] for o in options if "=" in o}
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for db, (name, schema) in OVN_SCHEMAS.items():
            def address(end: str) -> str | None:
                if f"--db-{db}-cluster-{end}-addr" not in value:
                    return None
                return ":".join(value.get(f"--db-{db}-cluster-{end}-{k}", "") for k in ("proto", "addr", "port"))
            local, remote, file = address("local"), address("remote"), str(Path(tmp) / f"{db}.db")
            if local is None:
                problems.append(f"{name}: no cluster address (a standalone database, no RAFT)")
                continue
            if remote:
                made = run([find_tool("ovsdb-tool"), "join-cluster", file, name, local, remote])
            else:
                timer = value.get(f"--db-{db}-election-timer")
                made = run([find_tool("ovsdb-tool"), *([f"--election-timer={timer}"] if timer else []),
                            "create-cluster", file, str(schema), local])
            if made.returncode:
                problems.append(f"{name}: {_tail(made.stderr)}")
                continue
            read = run([find_tool("ovsdb-tool"), "db-local-address", file]).stdout.strip()
            if read != local:
                problems.append(f"{name}: the member's address reads back as {read!r}, not {local!r}")
    results.append(CheckResult(rel, "ovsdb-tool create-cluster/join-cluster", FAIL if problems else PASS,
                               "; ".join(problems)))
    return results


def check_rabbitmq(bundle: Path, conf: Path) -> CheckResult:
    """The broker's own cuttlefish translation of rabbitmq.conf, with every installed schema; no node
    boots. The schema wants each TLS file readable: they are read where the bundle lays them on
    the node (it must hold every one the config names)."""
    rel = str(conf.relative_to(bundle))
    plugins = rabbitmq_plugins_dir()
    if plugins is None or find_tool("escript") is None:
        return CheckResult(rel, "cuttlefish (rabbit.schema)", SKIP, "RabbitMQ not found; " + install_hint("escript"))
    schemas = sorted(str(p) for p in plugins.rglob("*.schema"))
    script = Path(__file__).parent / "tools" / "rabbitmq_conf_check.escript"
    node_root = conf.parents[2]
    text = re.sub(r"^(ssl_options\.\w+file = )(/\S+)$", lambda m: m.group(1) + str(node_root / m.group(2).lstrip("/")),
                  conf.read_text(), flags=re.M)
    with tempfile.TemporaryDirectory(prefix="hagen-rabbitmq-") as tmp:
        staged = Path(tmp) / "rabbitmq.conf"
        staged.write_text(text)
        proc = run([find_tool("escript"), str(script), str(staged), *schemas],
                   env={**_clean_env(), "ERL_LIBS": str(plugins)})
    errors = [line for line in (proc.stdout + proc.stderr).splitlines()
              if line.strip() and not line.startswith("=ERROR REPORT") and line.strip() != "ok"]
    ok = proc.returncode == 0
    return CheckResult(rel, f"cuttlefish ({plugins.parent.name} schemas)", PASS if ok else FAIL,
                       "" if ok else _tail("\n".join(errors)))


def _first_difference(mine: str, theirs: str) -> str:
    for number, (a, b) in enumerate(zip(mine.splitlines(), theirs.splitlines()), 1):
        if a != b:
            return f"line {number} differs from what pcs generates: {a.strip()!r}, pcs: {b.strip()!r}"
    return "" if mine == theirs else "length differs from what pcs generates"


def check_prometheus(bundle: Path, folder: Path) -> list[CheckResult]:
    """Prometheus's own promtool on the monitoring folder: the scrape config (with the rule file
    it names), the rules, and the rules' unit tests (each alert fires on its bad series with its
    labels and annotations, and stays quiet on the healthy ones)."""
    rel = str(folder.relative_to(bundle))
    if skip := _missing(rel, "promtool"):
        return [skip]
    promtool = find_tool("promtool")
    results = []
    for what, args in (("check config", ["check", "config", "prometheus.yml"]),
                       ("check rules", ["check", "rules", *sorted(str(p.relative_to(folder))
                                                                   for p in folder.glob("rules/*.yml"))]),
                       ("test rules", ["test", "rules", *sorted(str(p.relative_to(folder))
                                                                 for p in folder.glob("tests/*.yml"))])):
        proc = run([promtool, *args], cwd=folder)
        results.append(CheckResult(rel, f"promtool {what}", PASS if proc.returncode == 0 else FAIL,
                                   "" if proc.returncode == 0 else _tail(proc.stdout + proc.stderr, 12)))
    return results


def check_units(bundle: Path, units: list[Path]) -> CheckResult:
    rel = str(units[0].parent.relative_to(bundle))
    if skip := _missing(rel, "systemd-analyze"):
        return skip
    with tempfile.TemporaryDirectory() as tmp:
        for unit in units:
            shutil.copy(unit, Path(tmp) / unit.name)
        # The programs in /usr/local/bin live in the bundle, not on this machine: point at them.
        for unit in Path(tmp).iterdir():
            node_root = units[0].parents[3]
            unit.write_text(unit.read_text().replace("ExecStart=/usr/local/bin/",
                                                     f"ExecStart={node_root}/usr/local/bin/"))
        proc = run([find_tool("systemd-analyze"), "verify", *[str(p) for p in sorted(Path(tmp).iterdir())]])
    output = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and not output
    return CheckResult(rel, "systemd-analyze verify", PASS if ok else FAIL, "" if ok else _tail(output))


def check_xinetd(bundle: Path, conf: Path) -> CheckResult:
    """xinetd has no parse-only mode: start it for 2 s in a private network namespace with the
    node's address, logging to a file, and require its one service to be up with no ERROR."""
    rel = str(conf.relative_to(bundle))
    if skip := _missing(rel, "xinetd", "unshare"):
        return skip
    text = conf.read_text()
    address = re.search(r"bind\s*=\s*(\S+)", text).group(1)
    node_root = conf.parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        services = Path(tmp) / "xinetd.d"
        services.mkdir()
        # The server program is the bundle's copy; this machine has none at the install path.
        (services / conf.name).write_text(re.sub(r"(server\s*=\s*)/", rf"\g<1>{node_root}/", text))
        main = Path(tmp) / "xinetd.conf"
        main.write_text(f"defaults\n{{\n}}\nincludedir {services}\n")
        log = Path(tmp) / "xinetd.log"
        script = (f"ip link set lo up && ip addr add {address}/32 dev lo && "
                  f"timeout 2 xinetd -dontfork -filelog {log} -f {main} -pidfile {tmp}/pid; echo exit=$?")
        proc = run(["unshare", "--net", "--", "sh", "-c", script], timeout=30)
        output = log.read_text() if log.exists() else proc.stdout + proc.stderr
    errors = [line.split(": ", 1)[-1] for line in output.splitlines() if "ERROR" in line]
    ok = "exit=124" in proc.stdout and "Started working: 1 available service" in output and not errors
    return CheckResult(rel, "xinetd (started for 2 s)", PASS if ok else FAIL,
                       "" if ok else _tail("\n".join(errors) or output).replace(str(node_root), "<node>"))


# --- Pacemaker ---------------------------------------------------------------

def _resources_on(cib: Path, exclude=()) -> dict[str, list[str]]:
    """resource id -> nodes where it is active (promoted instances marked '*'), failed nodes left out."""
    proc = run(["crm_mon", "-1", "--output-as=xml"], env={**_clean_env(), "CIB_file": str(cib)})
    root = ET.fromstring(proc.stdout)
    placed: dict[str, list[str]] = {}
    for res in root.iter("resource"):
        if res.get("active") != "true":
            continue
        rid = res.get("id").split(":")[0]
        for node in res.iter("node"):
            if node.get("name") in exclude:
                continue
            name = node.get("name") + ("*" if res.get("role") in ("Promoted", "Master") else "")
            placed.setdefault(rid, []).append(name)
    return {k: sorted(v) for k, v in placed.items()}


def tools_suite() -> str:
    """The Debian release whose tools run here (inside a tools root: that root's)."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return ""
    found = re.search(r"^VERSION_CODENAME=(\S+)$", text, flags=re.M)
    return found.group(1).strip('"') if found else ""


def suite_mismatch(bundle: Path) -> str:
    """Why the tools here cannot judge this bundle ('' when they can). Only Debian targets name a
    release; el9 bundles get the checks that do not depend on it (and N/A for the CIB)."""
    from .targets import TARGETS

    target = TARGETS.get(bundle_target(bundle))
    if target is None or not target.debian_suite or target.debian_suite == tools_suite():
        return ""
    return (f"{target.name} bundles are judged by {target.debian_suite}'s tools, and these are "
            f"{tools_suite() or 'not Debian'}'s: run 'hagen check --tools-root DIR' with a {target.debian_suite} "
            f"root ('hagen tools-root DIR --target {target.name}' makes one)")


def check_cluster(bundle: Path, cluster_dir: Path) -> list[CheckResult]:
    rel = str(cluster_dir.relative_to(bundle))
    from .targets import TARGETS

    target = TARGETS.get(bundle_target(bundle))
    if target is None or target.debian_suite != tools_suite():
        # el9's pcs (0.11.7+) wants 'clone meta ...'; bookworm's 0.11.5 takes those options
        # positionally, and trixie's 0.12 files 'meta' after 'clone' on the primitive (it says so in a
        # deprecation warning; tried 2026-12-02). Either would judge a different cluster, and pcs is
        # not on PyPI: only a pcs of the target's own release can check it.
        return [CheckResult(rel, "pcs -f + crm_simulate", NA,
                            f"pcs {_pcs_version()} here speaks {tools_suite() or 'this machine'}'s dialect, "
                            f"not {bundle_target(bundle)}'s")]
    if skip := _missing(rel, "pcs", "crm_verify", "crm_simulate", "cibadmin", "crm_mon"):
        return [skip]
    conf = (cluster_dir / "corosync.conf").read_text()
    nodes = re.findall(r"^\s+name: (\S+)$", conf, flags=re.M)
    script = cluster_dir / "pcs-resources.sh"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cib = Path(tmp) / "cib.xml"
        cib.write_text(run(["cibadmin", "--empty"]).stdout)
        env = {**_clean_env(), "CIB_file": str(cib)}
        for i, node in enumerate(nodes, 1):
            run(["cibadmin", "--create", "-o", "nodes", "--xml-text", f'<node id="{i}" uname="{node}"/>'], env=env)
        proc = run(["bash", str(script), str(cib)], timeout=600, env={**_clean_env(), "HAGEN_PCS_FORCE": "1"})
        if proc.returncode != 0:
            return [CheckResult(rel, "pcs -f (pcs-resources.sh)", FAIL, _tail(proc.stderr))]
        # A deprecated form works today and breaks at the next pcs; this pcs says which.
        deprecated = sorted({line.strip() for line in proc.stderr.splitlines() if "Deprecation Warning" in line})
        results.append(CheckResult(rel, "pcs -f (pcs-resources.sh)", FAIL if deprecated else PASS,
                                   "; ".join(deprecated)))
        xml = cib.read_text()
        galera_nodes = []
        if 'id="galera"' in xml:
            galera_nodes = [n for n in nodes if f"loc-galera-clone-avoids-{n}" not in xml]
            for node in galera_nodes:  # what the agent reports once a node has data
                run(["crm_attribute", "--node", node, "--name", "master-galera", "--update", "100",
                     "--lifetime", "forever"], env=env)
        if 'id="haproxy"' in xml:
            results.append(_binds_match_vips(bundle, rel, xml))
        steady = Path(tmp) / "steady.xml"
        up = [arg for n in nodes for arg in ("-u", n)]
        proc = _simulate(cib, steady, ["--quorum", "true", *up])
        verify = run(["crm_verify", "-x", str(steady), "-V"])
        ok = proc.returncode == 0 and verify.returncode == 0
        results.append(CheckResult(rel, "crm_verify", PASS if ok else FAIL,
                                   "" if ok else _tail(verify.stdout + verify.stderr + proc.stderr)))
        if not ok:
            return results
        # votequorum: the survivors of one failure keep quorum with 3 or more nodes, and in a pair
        # only because corosync.conf says two_node (the split is then a fencing race, judged below).
        two_node = re.search(r"^\s*two_node:\s*1\s*$", conf, flags=re.M) is not None
        keeps_quorum = len(nodes) >= 3 or (len(nodes) == 2 and two_node)
        scenarios = [("all nodes up", steady, [], [])]
        for node in nodes:
            failed = Path(tmp) / f"fail-{node}.xml"
            simulated = _simulate(steady, failed, ["--quorum", str(keeps_quorum).lower(), "--node-fail", node])
            scenarios.append((f"{node} failed", failed, [node], fenced_nodes(simulated.stdout)))
        for title, state, down, fenced in scenarios:
            placed = _resources_on(state, exclude=down)
            problems = _placement_problems(xml, placed, nodes, galera_nodes, down)
            problems += _fencing_problems(xml, placed, down, fenced, nodes)
            results.append(CheckResult(rel, f"crm_simulate: {title}", FAIL if problems else PASS,
                                       "; ".join(problems), {"placement": placed}))
        if two_node:
            results.append(_fence_race(rel, xml, nodes))
        elif len(nodes) >= 2:
            # Only the first node survives, without quorum: it must stop everything (correct behaviour).
            lost = Path(tmp) / "quorum-lost.xml"
            down = nodes[1:]
            _simulate(steady, lost, ["--quorum", "false", *[a for n in down for a in ("--node-fail", n)]])
            placed = _resources_on(lost, exclude=down)
            stopped = not any(k for k in placed if not k.startswith("fence-"))
            results.append(CheckResult(rel, f"crm_simulate: quorum lost ({nodes[0]} alone)",
                                       PASS if stopped else FAIL,
                                       "every resource stops on the minority, as it should" if stopped
                                       else f"still running without quorum: {sorted(placed)}", {"placement": placed}))
    return results


def _fence_race(rel: str, xml: str, nodes: list[str]) -> CheckResult:
    """A pair that splits keeps quorum on both sides: each fences the other at once, and both
    can die, unless fencing one of them is delayed (statically, or randomly with pcmk_delay_max)
    or priority-fencing-delay decides."""
    title = "fence race (two_node)"
    root = ET.fromstring(xml)
    if any(nv.get("name") == "priority-fencing-delay" for nv in root.iter("nvpair")):
        return CheckResult(rel, title, PASS, "priority-fencing-delay decides")
    devices = [p for p in root.iter("primitive") if p.get("class") == "stonith"]
    if not devices:
        stonith = [nv.get("value") for nv in root.iter("nvpair") if nv.get("name") == "stonith-enabled"]
        return CheckResult(rel, title, PASS if stonith == ["false"] else FAIL,
                           "fencing is waived" if stonith == ["false"] else "no fence device")
    delays = {}
    for device in devices:
        params = {nv.get("name"): nv.get("value") for nv in device.iter("nvpair")}
        delays[device.get("id")] = (params.get("pcmk_delay_base", "0"), params.get("pcmk_delay_max", "0"))
    static = {base for base, _ in delays.values()}
    randomised = any(maximum not in ("0", "0s") for _, maximum in delays.values())
    ok = randomised or len(static) == len(delays)
    detail = ", ".join(f"{d}: pcmk_delay_base={b}" + (f" pcmk_delay_max={m}" if m != "0" else "")
                       for d, (b, m) in sorted(delays.items()))
    return CheckResult(rel, title, PASS if ok else FAIL,
                       detail if ok else f"both nodes fence each other at once after a split ({detail})")


def _binds_match_vips(bundle: Path, rel: str, xml: str) -> CheckResult:
    """Every address HAProxy binds must be a VIP this cluster creates (or the node's own, where its
    metrics frontend listens), and every VIP must be bound."""
    binds = set()
    for cfg in bundle.glob("nodes/*/etc/haproxy/haproxy.cfg"):
        node = cfg.parents[2].name
        own = set(re.findall(rf"^([\d.]+)\s.*\b{re.escape(node)}\b", (cfg.parents[2] / "etc/hosts").read_text(),
                             flags=re.M))
        binds |= set(re.findall(r"^\s*bind\s+([\d.]+):\d+", cfg.read_text(), flags=re.M)) - own
    vips = set()
    for primitive in ET.fromstring(xml).iter("primitive"):
        if primitive.get("type") == "IPaddr2":
            vips |= {nv.get("value") for nv in primitive.iter("nvpair") if nv.get("name") == "ip"}
    problems = [f"HAProxy binds {a} but no IPaddr2 resource holds it" for a in sorted(binds - vips)]
    problems += [f"VIP {a} is bound by no HAProxy frontend" for a in sorted(vips - binds)]
    return CheckResult(rel, "HAProxy binds = IPaddr2 VIPs", FAIL if problems else PASS, "; ".join(problems))


def _simulate(source: Path, dest: Path, args: list[str], rounds: int = 6) -> subprocess.CompletedProcess:
    """Run transitions until nothing is left to do (ordered promotion takes several)."""
    proc = run(["crm_simulate", "-x", str(source), *args, "-S", "-O", str(dest)])
    transcript = [proc.stdout]
    for _ in range(rounds):
        if proc.returncode != 0:
            break
        proc = run(["crm_simulate", "-x", str(dest), "-S", "-O", str(dest)])
        transcript.append(proc.stdout)
        if "Executing Cluster Transition:\n\nRevised" in proc.stdout or "Transition Summary:\n\nExecuting" in proc.stdout:
            break
    # Every round's output: the first one holds the fencing of a failed node.
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(transcript), proc.stderr)


def fenced_nodes(simulation_output: str) -> list[str]:
    """The nodes a simulated transition fenced ('* Fencing NODE (reboot)')."""
    return re.findall(r"^\s*\* Fencing (\S+) \(", simulation_output, flags=re.M)


def _fencing_problems(xml: str, placed: dict, failed: list[str], fenced: list[str], nodes: list[str]) -> list[str]:
    """After a node fails, Pacemaker must fence that node and no other; and no fence device may
    run on a node it targets (a node cannot be trusted to fence itself)."""
    problems = []
    devices = {p.get("id"): {nv.get("value") for nv in p.iter("nvpair") if nv.get("name") == "pcmk_host_list"}
               for p in ET.fromstring(xml).iter("primitive") if p.get("class") == "stonith"}
    devices = {device: {t for value in values for t in re.split(r"[ ,;]+", value or "") if t}
               for device, values in devices.items()}
    for device, targets in sorted(devices.items()):
        for where in placed.get(device, []):
            if where in targets:
                problems.append(f"{device} runs on {where}, a node it fences")
    if devices:
        covered = {t for targets in devices.values() for t in targets}
        problems += [f"no fence device targets {n}: nothing can fence it" for n in nodes if n not in covered]
    if devices and len(nodes) >= 2 and sorted(fenced) != sorted(failed):
        problems.append(f"fenced {sorted(fenced) or 'nothing'} after {', '.join(failed)} failed")
    return problems


def _placement_problems(xml: str, placed: dict, nodes: list[str], galera_nodes: list[str], down: list[str]):
    problems = []
    survivors = [n for n in nodes if n not in down]
    haproxy_nodes = {n for n in placed.get("haproxy", [])}
    vips = [p.get("id") for p in ET.fromstring(xml).iter("primitive") if p.get("type") == "IPaddr2"]
    if not vips and "IPaddr2" in xml:
        problems.append("could not find the IPaddr2 resources in the CIB")
    for vip in vips:
        where = placed.get(vip, [])
        if len(where) != 1:
            problems.append(f"{vip} is not running (placed on {where or 'nothing'})")
        elif where[0] not in haproxy_nodes:
            problems.append(f"{vip} runs on {where[0]} where HAProxy does not")
    if galera_nodes:
        promoted = {n.rstrip("*") for n in placed.get("galera", []) if n.endswith("*")}
        expected = {n for n in galera_nodes if n in survivors}
        if promoted != expected:
            problems.append(f"galera promoted on {sorted(promoted)}, expected {sorted(expected)}")
    for clone in ("haproxy", "rabbitmq"):
        if f'<primitive id="{clone}"' in xml:
            allowed = [n for n in survivors if f"loc-{clone}-clone-avoids-{n}" not in xml]
            if sorted(placed.get(clone, [])) != sorted(allowed):
                problems.append(f"{clone} runs on {placed.get(clone, [])}, expected {allowed}")
    return problems


def bundle_target(bundle: Path) -> str:
    from .emit import MARKER

    found = re.search(r"^target: (\S+)$", (bundle / MARKER).read_text(), flags=re.M) if (bundle / MARKER).exists() else None
    return found.group(1) if found else "unknown"


def _pcs_version() -> str:
    pcs = find_tool("pcs")
    return run([pcs, "--version"]).stdout.strip() if pcs else "(none)"


# --- driver --------------------------------------------------------------------

def plan(bundle: Path) -> list:
    """(function, args) for every check the bundle calls for."""
    from .catalog import CATALOG

    jobs: list = []
    for cluster_dir in sorted((bundle / "cluster").glob("*")):
        jobs.append((check_cluster, (bundle, cluster_dir)))
        jobs.append((check_corosync, (bundle, cluster_dir / "corosync.conf")))
    scripts = sorted(set(bundle.glob("cluster/*/*.sh")) | set(bundle.glob("bootstrap/*.sh"))
                     | set(bundle.glob("nodes/*/setup.sh")) | set(bundle.glob("nodes/*/usr/local/bin/*"))
                     | set(bundle.glob("nodes/*/usr/local/lib/hagen/**/*.sh")))
    jobs += [(check_python if is_python(s) else check_shell, (bundle, s)) for s in scripts]
    if (bundle / "monitoring/prometheus.yml").exists():
        jobs.append((check_prometheus, (bundle, bundle / "monitoring")))
    for node in sorted((bundle / "nodes").glob("*")):
        if (node / "etc/haproxy/haproxy.cfg").exists():
            jobs.append((check_haproxy, (bundle, node / "etc/haproxy/haproxy.cfg")))
        jobs.append((check_certificates, (bundle, node)))
        jobs.append((check_user_data, (bundle, node / "user-data")))
        if (node / "kickstart-post.ks").exists():
            jobs.append((check_kickstart, (bundle, node / "kickstart-post.ks")))
        if (node / "preseed-late.cfg").exists():
            jobs.append((check_preseed, (bundle, node / "preseed-late.cfg")))
        for cnf_dir in ("etc/mysql/mariadb.conf.d", "etc/my.cnf.d"):
            for cnf in sorted((node / cnf_dir).glob("*galera.cnf")):
                jobs.append((check_mariadb, (bundle, cnf)))
        for service in CATALOG:
            if (node / service.config_file).exists():
                judge = check_django_settings if service.config_kind == "django" else check_oslo_config
                jobs.append((judge, (bundle, node / service.config_file, service)))
        if (node / "etc/default/ovn-central").exists():
            jobs.append((check_ovn_central, (bundle, node / "etc/default/ovn-central")))
        if (node / "etc/rabbitmq/rabbitmq.conf").exists():
            jobs.append((check_rabbitmq, (bundle, node / "etc/rabbitmq/rabbitmq.conf")))
        if (node / "etc/xinetd.d/galera-clustercheck").exists():
            jobs.append((check_xinetd, (bundle, node / "etc/xinetd.d/galera-clustercheck")))
        units = sorted((node / "etc/systemd/system").glob("hagen-clustercheck*"))
        units += [node / f"etc/systemd/system/{unit}.service" for s in CATALOG if s.host for unit in s.host.units
                  if (node / f"etc/systemd/system/{unit}.service").exists()]
        if units:
            jobs.append((check_units, (bundle, units)))
    return jobs


def _timed(fn, args):
    import time
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def check_bundle(bundle: str | os.PathLike, workers: int | None = None, progress=None) -> list[CheckResult]:
    """Run every check; `progress` sees each result as it completes. Returns results in a stable order."""
    from .targets import TARGETS

    root = Path(bundle).resolve()
    target = TARGETS.get(bundle_target(root))
    results: list[CheckResult] = []
    mismatch = suite_mismatch(root)
    if mismatch:
        # A tool of another release never counts as PASS: every check is N/A, with the way out.
        for fn, args in plan(root):
            artifact = args[1][0] if isinstance(args[1], list) else args[1]
            result = CheckResult(str(Path(artifact).relative_to(root)), fn.__name__.removeprefix("check_"), NA,
                                 mismatch)
            results.append(result)
            if progress:
                progress(result)
        return sorted(results, key=lambda r: (r.artifact, r.tool))
    with ThreadPoolExecutor(max_workers=workers or max(2, os.cpu_count() or 2)) as pool:
        # plan() lists the long Pacemaker checks first, so they start first.
        futures = [pool.submit(_timed, fn, args) for fn, args in plan(root)]
        for future in as_completed(futures):
            out, seconds = future.result()
            out = out if isinstance(out, list) else [out]
            for r in out:
                r.details["seconds"] = round(seconds / len(out), 3)  # a job's time, shared by its results
                r = _not_this_release(target, r)
                results.append(r)
                if progress:
                    progress(r)
    return sorted(results, key=lambda r: (r.artifact, r.tool))


# Checks whose verdict depends on the version of the tool: the consumer on the node is that
# release's own program. shellcheck, ksvalidator, sizes, gzip and tar judge our files by fixed
# rules (a shell's grammar, RHEL 9's kickstart handler, byte limits) and count for any target.
RELEASE_BOUND = ("haproxy", "mariadbd", "cuttlefish", "corosync", "pcs", "crm_", "cloud-init", "systemd-analyze",
                 "xinetd", "oslo", "openssl", "promtool", "python3")


def _not_this_release(target, result: CheckResult) -> CheckResult:
    """A PASS from a tool of another release is N/A: el9 ships its own haproxy, MariaDB, RabbitMQ,
    corosync, pcs, cloud-init and systemd, none of which runs here. A FAIL stays a FAIL: a nearby
    version refusing the file is worth a look."""
    if target is None or target.debian_suite or result.status != PASS or not result.tool.startswith(RELEASE_BOUND):
        return result
    return CheckResult(result.artifact, result.tool, NA,
                       f"{tools_suite() or 'this machine'}'s tool accepts it, but {target.name} runs its own release "
                       "of it, which is not available here", result.details)


def record_markdown(results: list[CheckResult], digest: str) -> str:
    """CHECK-RECORD.md: what the tools said about this exact bundle (no timings, no dates, so the
    same bundle and tools give the same record)."""
    lines = ["# What hagen check proved", "",
             f"SHA256SUMS digest: `{digest}`", "",
             "| status | artifact | check | note |", "|---|---|---|---|"]
    for r in results:
        note = r.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.status} | {r.artifact} | {r.tool} | {note} |")
    lines += ["", "## Simulated placement (crm_simulate)", "", "```", placement_tables(results).strip("\n"), "```", ""]
    return "\n".join(lines)


def placement_tables(results: list[CheckResult]) -> str:
    """The simulated placement of every scenario, resource -> nodes ('*' = promoted)."""
    out = []
    for r in results:
        placement = r.details.get("placement")
        if placement is None:
            continue
        out.append(f"\n{r.artifact} - {r.tool.removeprefix('crm_simulate: ')} ({r.status})")
        width = max([len(k) for k in placement] + [8])
        out.append(f"  {'resource':<{width}}  nodes")
        out += [f"  {name:<{width}}  {', '.join(nodes)}" for name, nodes in sorted(placement.items())]
        if not placement:
            out.append("  (nothing runs)")
    return "\n".join(out) + ("\n" if out else "")
