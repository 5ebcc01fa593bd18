"""The command line: parse arguments, call the pipeline, print, choose the exit code. Nothing else.

Exit codes: 0 success, 1 spec or build error, 2 usage error, 3 internal error (a bug).
"""

from __future__ import annotations

import enum
import sys
import traceback
from pathlib import Path
from typing import Optional

import typer

from . import __version__

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings=HELP_OPTIONS,
                  rich_markup_mode=None,  # plain help text: importing rich costs more than hagen's own work
                  help="Compile a highly available OpenStack control plane from a topology spec.")
secrets_app = typer.Typer(no_args_is_help=True, context_settings=HELP_OPTIONS, help="Create and check secrets files.")
app.add_typer(secrets_app, name="secrets")
lab_app = typer.Typer(no_args_is_help=True, context_settings=HELP_OPTIONS,
                      help="Try a deploy bundle on booted Debian hosts, one per node (root required).")
app.add_typer(lab_app, name="lab")


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hagen {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    # main() takes --debug out of the arguments before they are parsed (it may follow any
    # command); it is declared here so that --help lists it.
    debug: bool = typer.Option(False, "--debug", help="On an internal error, print the traceback."),
) -> None:
    """hagen: a compiler for highly available OpenStack control planes."""


def _report(diagnostics, fmt: Format, sources: dict[str, str]) -> None:
    from .diagnostics import format_json, format_text, summary

    if fmt is Format.json:
        sys.stdout.write(format_json(diagnostics))
        return
    if diagnostics:
        sys.stderr.write(format_text(diagnostics, sources))
        sys.stderr.write(summary(diagnostics) + "\n")


def _sources(result) -> dict[str, str]:
    # Only the spec's own text is quoted in messages; never a secrets file.
    return {result.doc.file: result.doc.text} if result.doc else result.sources


@app.command()
def build(
    spec: Path = typer.Argument(..., help="Topology spec (YAML)."),
    output: Path = typer.Option(..., "-o", "--output", help="Bundle directory to (re)write."),
    secrets: Optional[Path] = typer.Option(None, "--secrets", help="Secrets file: fills the values in (deploy build)."),
    fmt: Format = typer.Option(Format.text, "--format", help="Diagnostics as text or json."),
    werror: bool = typer.Option(False, "--werror", help="Treat warnings as errors."),
    check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 1 and list the files if OUTPUT "
                                    "is not what SPEC compiles to (a stale committed bundle)."),
    replace_kind: bool = typer.Option(False, "--replace-kind", help="Let a review build replace a deploy bundle "
                                      "(or a deploy build a review bundle)."),
) -> None:
    """Check SPEC and compile it into a bundle in OUTPUT."""
    from .bundle import compare_with_disk, write_bundle
    from .diagnostics import SpecError
    from .pipeline import compile_path

    result = compile_path(str(spec), str(secrets) if secrets else None, werror)
    _report(result.diagnostics, fmt, _sources(result))
    if not result.ok:
        raise typer.Exit(1)
    if check_only:
        if not output.is_dir():
            typer.echo(f"hagen: {output} does not exist; run 'hagen build {spec} -o {output}'", err=True)
            raise typer.Exit(1)
        differences = compare_with_disk(result.files, output)
        for kind in ("stale", "missing", "extra"):
            for path in differences[kind]:
                typer.echo(f"{kind}: {output / path}", err=True)
        if any(differences.values()):
            typer.echo(f"hagen: {output} is not what {spec} compiles to; run 'hagen build {spec} -o {output}'",
                       err=True)
            raise typer.Exit(1)
        typer.echo(f"hagen: {output} is current", err=True)
        return
    try:
        written = write_bundle(result.files, output, private=secrets is not None, replace_kind=replace_kind)
    except SpecError as err:
        _report(err.diagnostics, fmt, {})
        raise typer.Exit(1)
    except OSError as exc:
        typer.echo(f"hagen: cannot write {output}: {exc.strerror}", err=True)
        raise typer.Exit(1)
    if fmt is Format.text:
        review = "" if secrets else " (review bundle: secrets are placeholders)"
        if written:
            typer.echo(f"hagen: wrote {len(result.files)} files to {output}{review}", err=True)
        else:
            typer.echo(f"hagen: {output} already holds this bundle ({len(result.files)} files); nothing written{review}",
                       err=True)


VALIDATE_COVERS = ("schema, names and references, addresses and networks, ports, cluster names, quorum "
                   "and fencing")


@app.command()
def validate(
    specs: list[Path] = typer.Argument(..., help="Topology specs to check."),
    fmt: Format = typer.Option(Format.text, "--format", help="Diagnostics as text or json."),
    werror: bool = typer.Option(False, "--werror", help="Treat warnings as errors."),
) -> None:
    """Check specs without writing anything."""
    from .diagnostics import SpecError, has_errors, summary
    from .pipeline import analyse
    from .spec import load_spec

    everything, sources = [], {}
    for spec in specs:
        try:
            doc = load_spec(str(spec))
        except SpecError as err:
            everything += err.diagnostics
            sources.update(err.sources)
            continue
        sources[doc.file] = doc.text
        everything += analyse(doc, werror).diagnostics
    _report(everything, fmt, sources)
    if has_errors(everything):
        raise typer.Exit(1)
    if fmt is Format.text:
        names = ", ".join(str(spec) for spec in specs)
        typer.echo(f"hagen: {names}: valid ({VALIDATE_COVERS}); {summary(everything)}", err=True)


def check_summary(counts: dict[str, int], strict: bool) -> str:
    """'53 PASS, 0 FAIL, 3 SKIP, 0 N/A', then what makes the run fail, in the same words."""
    line = ", ".join(f"{n} {s}" for s, n in counts.items())
    reasons = []
    if counts["FAIL"]:
        reasons.append(f"{counts['FAIL']} FAIL")
    if strict and counts["SKIP"]:
        reasons.append(f"{counts['SKIP']} SKIP (--strict: a skipped check is a failure)")
    return line + (f"; failing: {' and '.join(reasons)}" if reasons else "")


@app.command()
def check(
    bundle: Path = typer.Argument(..., help="A bundle written by 'hagen build'."),
    strict: bool = typer.Option(False, "--strict", help="A skipped check (tool missing) is a failure."),
    fmt: Format = typer.Option(Format.text, "--format", help="Report as text or json."),
    record: bool = typer.Option(False, "--record", help="Write CHECK-RECORD.md into the bundle: what was proved, "
                                "stamped with the SHA256SUMS digest."),
    tools_root: Optional[Path] = typer.Option(None, "--tools-root", help="Run the check inside this Debian root "
                                              "('hagen tools-root'), with its tools (root required)."),
) -> None:
    """Validate a bundle with the real tools that consume it (haproxy, pcs, crm_simulate, cloud-init, ...)."""
    import json

    if tools_root is not None:
        from .toolsroot import ToolsRootError, run_check

        if not (bundle / "SHA256SUMS").is_file():
            typer.echo(f"hagen: {bundle} is not a hagen bundle (no SHA256SUMS)", err=True)
            raise typer.Exit(1)
        args = [*(["--strict"] if strict else []), "--format", fmt.value, *(["--record"] if record else [])]
        try:
            raise typer.Exit(run_check(tools_root, bundle, args))
        except ToolsRootError as err:
            typer.echo(f"hagen: {err}", err=True)
            raise typer.Exit(1)

    from .check import FAIL, SKIP, check_bundle, placement_tables

    if not (bundle / "SHA256SUMS").is_file():
        typer.echo(f"hagen: {bundle} is not a hagen bundle (no SHA256SUMS)", err=True)
        raise typer.Exit(1)

    def progress(result) -> None:
        if fmt is Format.text:
            line = f"{result.status:<4}  {result.artifact}  [{result.tool}]"
            typer.echo(line + (f"  {result.reason}" if result.reason else ""))

    results = check_bundle(bundle, progress=progress)
    failed = [r for r in results if r.status == FAIL or (strict and r.status == SKIP)]
    if fmt is Format.json:
        sys.stdout.write(json.dumps([vars(r) for r in results], indent=2, sort_keys=True) + "\n")
    else:
        typer.echo(placement_tables(results), nl=False)
        counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP", "N/A")}
        typer.echo(check_summary(counts, strict))
    if record:
        from .bundle import RECORD, sums_digest
        from .check import record_markdown

        digest = sums_digest((bundle / "SHA256SUMS").read_bytes())
        (bundle / RECORD).write_text(record_markdown(results, digest), encoding="utf-8")
        if fmt is Format.text:
            typer.echo(f"hagen: wrote {RECORD} into the bundle", err=True)
    raise typer.Exit(1 if failed else 0)


@app.command("diff")
def diff_command(
    old: Path = typer.Argument(..., help="Spec or bundle before."),
    new: Path = typer.Argument(..., help="Spec or bundle after."),
    summary_only: bool = typer.Option(False, "--summary", help="Only the summary in operator terms."),
    steps: bool = typer.Option(False, "--plan", help="The summary, then the steps that apply the change to a "
                               "running control plane, in order (instead of the file diff)."),
) -> None:
    """Show what changes between two specs or bundles: operator terms first, then the file diff
    (or, with --plan, the ordered steps that apply it). Exit 0 when equal, 1 when different, 2 when
    a side cannot be read."""
    from .diff import DiffInputError, diff

    try:
        summary, text, plan = diff(str(old), str(new))
    except DiffInputError as err:
        _report(err.diagnostics, Format.text, {})
        typer.echo(f"hagen: {err}", err=True)
        raise typer.Exit(2)
    if not summary and not text:
        raise typer.Exit(0)
    typer.echo("Summary:")
    for line in summary or ["(no topology change; generated files differ)"]:
        typer.echo(f"  - {line}")
    if steps:
        typer.echo("\nPlan (a running control plane, in this order):")
        for i, step in enumerate(plan, 1):
            typer.echo(f"  {i}. {step}")
    elif not summary_only:
        typer.echo("")
        sys.stdout.write(text)
    raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec (draft 2020-12)."""
    from .resources import data_dir

    sys.stdout.write((data_dir("schemas") / "topology.schema.json").read_text(encoding="utf-8"))


@app.command()
def init(
    path: Optional[Path] = typer.Argument(None, help="Where to write the starter spec; without it, print it."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write (or print) a starter spec with every field commented: the article's three controllers."""
    from .resources import data_dir

    text = (data_dir("templates") / "init" / "spec.yaml").read_text(encoding="utf-8")
    if path is None:
        sys.stdout.write(text)
        return
    if (path.exists() or path.is_symlink()) and not force:
        typer.echo(f"hagen: {path} exists; use --force to replace it", err=True)
        raise typer.Exit(1)
    if path.is_dir():
        typer.echo(f"hagen: {path} is a folder; name the spec file to write", err=True)
        raise typer.Exit(1)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"hagen: wrote a starter spec to {path}; next: hagen validate {path}", err=True)


@app.command("tools-root")
def tools_root_command(
    path: Path = typer.Argument(..., help="Folder for the root (replaced if it holds another release or tool set)."),
    target: str = typer.Option("debian13", "--target", help="The target whose Debian release to install."),
) -> None:
    """Make a Debian root with the tools that judge TARGET's bundles, for 'hagen check --tools-root'
    (debootstrap; root required; about 1.2 GB)."""
    from .targets import TARGETS
    from .toolsroot import ToolsRootError, make

    if target not in TARGETS:
        typer.echo(f"hagen: unknown target {target!r}; one of: {', '.join(sorted(TARGETS))}", err=True)
        raise typer.Exit(2)
    try:
        made = make(path, target, log=lambda line: typer.echo(line, err=True))
    except ToolsRootError as err:
        typer.echo(f"hagen: {err}", err=True)
        raise typer.Exit(1)
    typer.echo(f"hagen: {path} holds {TARGETS[target].debian_suite}'s tools" + ("" if made else " (already)"), err=True)


@secrets_app.command("init")
def secrets_init(
    path: Path = typer.Argument(..., help="Secrets file to create (mode 0600)."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="Spec whose fencing passwords and OpenStack services' secrets to include too."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Generate every secret with strong random values; the BMC passwords, which only the operator
    knows, are left empty to fill in."""
    import os

    from .secrets import (FIXED_SECRETS, generate_value, generate_values, operator_supplied, required_secrets,
                          secrets_file_text)

    needed, by_operator = dict(FIXED_SECRETS), set()
    if spec is not None:
        from .pipeline import compile_path

        result = compile_path(str(spec))
        if not result.ok:
            _report(result.diagnostics, Format.text, _sources(result))
            raise typer.Exit(1)
        needed, by_operator = required_secrets(result.topology), operator_supplied(result.topology)
    if path.exists() and not force:
        typer.echo(f"hagen: {path} exists; use --force to replace it", err=True)
        raise typer.Exit(1)
    values = generate_values(result.topology, set(needed) - by_operator) if spec is not None else \
        {name: generate_value(name) for name in needed}
    text = secrets_file_text(values, needed, by_operator)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    typer.echo(f"hagen: wrote {len(needed)} secrets to {path}", err=True)
    if by_operator:
        typer.echo(f"hagen: fill in {len(by_operator)} left empty: {', '.join(sorted(by_operator))} "
                   "(BMC passwords and Ceph keys only their owners know); a deploy build refuses them empty", err=True)


def _replace_secrets_file(path: Path, text: str) -> None:
    """Written beside it and renamed over it: the file is never half-written, and never other than 0600."""
    import os
    import tempfile

    fd, scratch = tempfile.mkstemp(prefix=".hagen-secrets-", dir=path.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(scratch, path)
    except BaseException:
        os.unlink(scratch)
        raise


@secrets_app.command("rotate-fernet")
def secrets_rotate_fernet(
    path: Path = typer.Argument(..., help="Secrets file whose Fernet keys to rotate (kept at mode 0600)."),
    spec: Path = typer.Option(..., "--spec", help="The spec the secrets are for."),
) -> None:
    """Rotate Keystone's Fernet keys as keystone-manage fernet_rotate does: the staged key becomes
    the primary, the primary the secondary, a new key is staged. Then rebuild the deploy bundle and
    rerun setup.sh on each Keystone node in turn; live tokens stay valid."""
    from .diagnostics import SpecError
    from .pipeline import compile_path
    from .secrets import (TOKEN_LIFETIME_S, load_secrets_file, operator_supplied, required_secrets,
                          rotated_fernet_keys, secrets_file_text)

    result = compile_path(str(spec))
    if not result.ok:
        _report(result.diagnostics, Format.text, _sources(result))
        raise typer.Exit(1)
    needed, by_operator = required_secrets(result.topology), operator_supplied(result.topology)
    try:
        kept, problems = load_secrets_file(str(path), needed, by_operator)
    except SpecError as err:
        _report(err.diagnostics, Format.text, {})
        raise typer.Exit(1)
    # The file is rewritten whole: a missing, weak or unused value would be lost or kept wrong. An
    # unfilled BMC password stays as it is (empty, for its owner to fill in).
    blocking = [d for d in problems if d.code != "H084"]
    if blocking:
        _report(blocking, Format.text, {})
        typer.echo(f"hagen: {path} left unchanged: settle these first ('hagen secrets add' makes missing ones)",
                   err=True)
        raise typer.Exit(1)
    _replace_secrets_file(path, secrets_file_text(rotated_fernet_keys(kept), needed, by_operator - set(kept)))
    typer.echo(f"hagen: rotated the Fernet keys in {path}; rebuild the deploy bundle and rerun setup.sh on each "
               "Keystone node in turn. Tokens signed before the previous rotation stop validating: rotate no more "
               f"often than tokens live ({TOKEN_LIFETIME_S} s).", err=True)


@secrets_app.command("add")
def secrets_add(
    path: Path = typer.Argument(..., help="Existing secrets file to complete (kept at mode 0600)."),
    spec: Path = typer.Option(..., "--spec", help="The spec whose secrets the file must hold."),
) -> None:
    """Add the secrets a changed spec needs and the file lacks (a new node's certificate, a new
    service's passwords), keeping every value it holds: new certificates are signed by its CA."""
    from .diagnostics import SpecError
    from .pipeline import compile_path
    from .secrets import (carried_over, generate_value, load_secrets_file, operator_supplied, required_secrets,
                          secrets_file_text)
    from . import pki

    result = compile_path(str(spec))
    if not result.ok:
        _report(result.diagnostics, Format.text, _sources(result))
        raise typer.Exit(1)
    topo = result.topology
    needed, by_operator = required_secrets(topo), operator_supplied(topo)
    try:
        kept, problems = load_secrets_file(str(path), needed, by_operator)
    except SpecError as err:
        _report(err.diagnostics, Format.text, {})
        raise typer.Exit(1)
    # Only missing ones are made; a weak, malformed or unused value is the operator's to settle
    # (replacing or dropping it here could break what runs with it).
    blocking = [d for d in problems if d.code not in ("H080", "H084")]
    if blocking:
        _report(blocking, Format.text, {})
        typer.echo(f"hagen: {path} left unchanged: settle these first", err=True)
        raise typer.Exit(1)
    missing = sorted(set(needed) - set(kept) - by_operator)
    pem = pki.generate(topo, kept) if set(missing) & set(pki.required(topo)) else {}
    values = {**kept, **{name: pem[name] if name in pem else carried_over(name, kept) or generate_value(name)
                         for name in missing}}
    left_empty = by_operator - set(kept)
    _replace_secrets_file(path, secrets_file_text(values, needed, left_empty))
    typer.echo(f"hagen: added {len(missing)} secrets to {path}, kept {len(kept)}"
               + (f": {', '.join(missing)}" if missing else ""), err=True)


@secrets_app.command("check")
def secrets_check(
    path: Path = typer.Argument(..., help="Secrets file to check."),
    spec: Path = typer.Option(..., "--spec", help="The spec the secrets are for."),
    fmt: Format = typer.Option(Format.text, "--format", help="Diagnostics as text or json."),
) -> None:
    """Report missing, weak and unused secrets (values are never printed)."""
    from .diagnostics import SpecError, has_errors
    from .pipeline import compile_path
    from .secrets import load_secrets_file, operator_supplied, required_secrets

    result = compile_path(str(spec))
    if not result.ok:
        _report(result.diagnostics, fmt, _sources(result))
        raise typer.Exit(1)
    try:
        _, problems = load_secrets_file(str(path), required_secrets(result.topology), operator_supplied(result.topology))
    except SpecError as err:
        problems = err.diagnostics
    _report(problems, fmt, {})
    if has_errors(problems):
        raise typer.Exit(1)
    if fmt is Format.text:
        count = len(required_secrets(result.topology))
        typer.echo(f"hagen: {path} holds the {count} secrets {spec} needs: none missing, empty, weak or unused"
                   + (f" ({len(problems)} warning(s) above)" if problems else "") + "; readable by its owner only", err=True)


LAB_ROOT_HELP = "Folder for the lab's disks, logs and state."


def _lab_call(action):
    from .lab.hosts import LabError

    try:
        return action()
    except LabError as err:
        typer.echo(f"hagen lab: {err}", err=True)
        raise typer.Exit(1)


@lab_app.command("up")
def lab_up(
    bundle: Path = typer.Argument(..., help="A deploy bundle ('hagen build --secrets') of a debian13 or debian12 spec."),
    root: Path = typer.Option(Path("/var/tmp/hagen-lab"), "--root", help=LAB_ROOT_HELP),
    base: Optional[Path] = typer.Option(None, "--base", help="Keep the debootstrapped base root here and reuse "
                                        "it on later runs (default: inside --root, removed by 'down')."),
    wait: float = typer.Option(0, "--wait", metavar="SECONDS", help="If another lab holds this machine, "
                               "wait this long for it to end instead of refusing at once."),
) -> None:
    """Boot every node from its own user-data (systemd-nspawn, cloud-init NoCloud), then run the
    bundle README's cluster-wide steps. Needs root, systemd-container and debootstrap."""
    import json

    from .lab import run

    result = _lab_call(lambda: run.up(bundle, root, base, wait))
    typer.echo(json.dumps(result, indent=2))


@lab_app.command("base")
def lab_base(
    bundle: Path = typer.Argument(..., help="A bundle (review or deploy) of the spec the lab will run."),
    base: Path = typer.Option(..., "--base", help="Where to build the base root ('lab up --base' reuses it)."),
) -> None:
    """Build the Debian root every lab host shares, with every package the bundle's nodes install,
    ahead of 'lab up' (a few minutes; reused while it holds the same packages). A second build of
    the same folder waits for the first."""
    from .lab import run

    seconds = _lab_call(lambda: run.build_base(bundle, base))
    typer.echo(f"hagen: base root {base} " + (f"built in {seconds} s" if seconds else "reused"), err=True)


@lab_app.command("keys")
def lab_keys(
    secrets: Path = typer.Argument(..., help="A secrets file from 'hagen secrets init' of a lab spec."),
) -> None:
    """Fill what a lab secrets file leaves for owners outside the bundle: each BMC password with a
    random one (the lab's simulated BMCs take the bundle's), each Ceph client key with a new cephx
    key, which 'lab up' then gives the lab's own Ceph cluster (the storage team's part; needs
    ceph-common)."""
    from .lab import bmc, ceph

    for name in bmc.fill_passwords(secrets):
        typer.echo(f"hagen: filled {name}", err=True)
    missing = ceph.missing_tool()
    if missing:
        typer.echo(f"hagen: {missing}", err=True)
        raise typer.Exit(1)
    for name in ceph.fill_client_keys(secrets):
        typer.echo(f"hagen: filled {name}", err=True)


@lab_app.command("test")
def lab_test(
    bundle: Path = typer.Argument(..., help="The deploy bundle the lab is up with."),
    root: Path = typer.Option(Path("/var/tmp/hagen-lab"), "--root", help=LAB_ROOT_HELP),
    hang: list[str] = typer.Option([], "--hang", help="After the crashes, hang this node (stop every process): "
                                   "the others must fence it. Repeatable; needs a spec that fences."),
    partition: list[str] = typer.Option([], "--partition", help="After the hangs, cut this node off the lab "
                                        "network: the others must fence it, and its own Galera member must "
                                        "take no write. Repeatable; needs a spec that fences."),
) -> None:
    """Traffic through the VIPs, then crash and reboot each node in turn (then hang those --hang
    names and cut off those --partition names); print the report table and write
    ROOT/report.json. Exit 1 if a row or message was lost, a node was not fenced or did not
    rejoin, or a cut-off node's Galera member took a write."""
    from .lab import report, run

    result = _lab_call(lambda: run.test(bundle, root, hang=hang, partition=partition))
    typer.echo(report.table(result), nl=False)
    typer.echo("lab-only deviations:\n" + "".join(f"  - {d}\n" for d in result["deviations"]), nl=False)
    failures = run.problems(result)
    for line in failures:
        typer.echo(f"FAIL: {line}", err=True)
    raise typer.Exit(1 if failures else 0)


@lab_app.command("down")
def lab_down(
    root: Path = typer.Option(Path("/var/tmp/hagen-lab"), "--root", help=LAB_ROOT_HELP),
) -> None:
    """Remove every host, mount, cgroup, namespace and process the lab created (safe to rerun)."""
    from .lab import run

    for line in _lab_call(lambda: run.down(root)):
        typer.echo(f"removed {line}")


def main() -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("hagen: interrupted\n")
        sys.exit(130)
    except Exception:  # a bug: say so briefly, show the traceback only on request
        if debug:
            traceback.print_exc()
        sys.stderr.write("hagen: internal error (a bug in hagen). Please report it with the spec that caused it; "
                         "rerun with --debug for the traceback.\n")
        sys.exit(3)


if __name__ == "__main__":
    main()
