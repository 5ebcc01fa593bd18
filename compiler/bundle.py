"""Stage 6, write: the only code that touches the output directory.

A bundle is written into a fresh temporary folder beside the destination and
swapped into place at the end, so a failed build leaves the previous bundle
intact, and a symlink planted in an old bundle can never redirect a write.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath

from .diagnostics import Diagnostic, SpecError
from .emit import KIND_DEPLOY, KIND_REVIEW, MARKER
from .emit.base import BundleFile

# Written by 'hagen check --record', not by the compiler: kept across rebuilds only while the
# SHA256SUMS digest stamped in it still matches the bundle.
RECORD = "CHECK-RECORD.md"


def sums_digest(sha256sums: bytes) -> str:
    import hashlib

    return hashlib.sha256(sha256sums).hexdigest()


def record_digest(record_text: str) -> str:
    for line in record_text.splitlines():
        if line.startswith("SHA256SUMS digest: "):
            return line.split(": ", 1)[1].strip("` ")
    return ""


def compare_with_disk(files: list[BundleFile], out_dir: str | os.PathLike,
                      dir_mode: int | None = None) -> dict[str, list[str]]:
    """What differs between compiled files and a bundle on disk (the record file aside).

    Only bytes count by default: a committed bundle keeps no modes (git records the executable
    bit only). With dir_mode, the bundle must be as write_bundle leaves it: file modes and
    folder modes match too. A symlink, file or folder, is always stale; none is followed."""
    out = Path(out_dir)
    wanted = {f.path: f for f in files}
    stale, present = [], set()
    for root, folders, names in os.walk(out) if out.is_dir() and not out.is_symlink() else []:
        rel_root = os.path.relpath(root, out)
        if dir_mode is not None and stat.S_IMODE(os.lstat(root).st_mode) != dir_mode:
            stale.append(rel_root)
        stale += [os.path.normpath(os.path.join(rel_root, d)) for d in folders if os.path.islink(os.path.join(root, d))]
        for name in names:
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel == RECORD:
                continue
            present.add(rel)
            f, info = wanted.get(rel), os.lstat(os.path.join(root, name))
            if f is None:
                continue
            data = f.content if isinstance(f.content, bytes) else f.content.encode("utf-8")
            if (not stat.S_ISREG(info.st_mode) or info.st_size != len(data)
                    or (dir_mode is not None and stat.S_IMODE(info.st_mode) != f.mode)
                    or Path(root, name).read_bytes() != data):
                stale.append(rel)
    return {"stale": sorted(stale), "missing": sorted(set(wanted) - present), "extra": sorted(present - set(wanted))}


def _safe_relative(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts or any(part in ("", ".") for part in p.parts):
        raise ValueError(f"unsafe bundle path {path!r}")
    return p


def is_bundle(directory: Path) -> bool:
    return (directory / MARKER).is_file() and not (directory / MARKER).is_symlink()


def check_destination(out_dir: Path) -> None:
    if out_dir.is_symlink():
        raise SpecError([Diagnostic("H090", f"output '{out_dir}' is a symlink", str(out_dir),
                                    hint="give a real directory path")])
    if out_dir.exists():
        if not out_dir.is_dir():
            raise SpecError([Diagnostic("H090", f"output '{out_dir}' exists and is not a directory", str(out_dir))])
        if any(out_dir.iterdir()) and not is_bundle(out_dir):
            raise SpecError([Diagnostic("H090", f"output '{out_dir}' is not empty and is not a hagen bundle",
                                        str(out_dir), hint="choose an empty or new directory")])


def existing_kind(out: Path) -> str:
    """The kind of bundle in out: the marker's 'kind:' line; a marker from before that line was
    written is a deploy bundle when its folder is private (0700), as write_bundle makes them."""
    import re

    found = re.search(r"^kind: (\S+)$", (out / MARKER).read_text(errors="replace"), flags=re.M)
    if found:
        return found.group(1)
    return KIND_DEPLOY if not os.lstat(out).st_mode & (stat.S_IRWXG | stat.S_IRWXO) else KIND_REVIEW


def check_kind(files: list[BundleFile], out: Path, kind: str) -> None:
    """Replacing a deploy bundle by a review bundle (or back) must be asked for: a mistyped -o
    would otherwise drop the deployed secrets, or put secrets where a review bundle was."""
    if not is_bundle(out):
        return
    old = existing_kind(out)
    if old == kind:
        return
    secret_files = sum(1 for f in files if f.mode & 0o077 == 0)
    if old == KIND_DEPLOY:
        change = (f"this review build would replace it, and the secret values in its {secret_files} private "
                  "files would become placeholders")
    else:
        change = f"this deploy build would write secret values into {secret_files} files where placeholders were"
    raise SpecError([Diagnostic("H091", f"output '{out}' holds a {old} bundle; {change}", str(out),
                                hint="pass --replace-kind to replace it anyway, or choose another output folder")])


def _keep_valid_record(out: Path, staging: Path, files: list[BundleFile]) -> None:
    record = out / RECORD
    if not record.is_file() or record.is_symlink():
        return
    sums = next((f.content for f in files if f.path == "SHA256SUMS"), "")
    text = record.read_text(encoding="utf-8", errors="replace")
    if record_digest(text) == sums_digest(sums.encode() if isinstance(sums, str) else sums):
        (staging / RECORD).write_text(text, encoding="utf-8")


def write_bundle(files: list[BundleFile], out_dir: str | os.PathLike, private: bool,
                 replace_kind: bool = False) -> bool:
    """Write files into out_dir atomically. private: a deploy bundle, folders 0700.
    replace_kind: a deploy bundle may replace a review bundle, or the other way round.

    Returns False, having written nothing, when out_dir already holds exactly this bundle: a
    rebuild of an unchanged spec (a pre-commit hook, CI) then costs reads, not a rewrite."""
    out = Path(out_dir)
    check_destination(out)
    if not replace_kind:
        check_kind(files, out, KIND_DEPLOY if private else KIND_REVIEW)
    dir_mode = 0o700 if private else 0o755
    # Already exactly this bundle: the same bytes and modes, nothing extra, no symlink.
    if is_bundle(out) and not any(compare_with_disk(files, out, dir_mode).values()):
        return False
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".hagen-new-", dir=parent))
    made: set[PurePosixPath] = set()
    try:
        for f in files:
            rel = _safe_relative(f.path)
            target = staging.joinpath(*rel.parts)
            for folder in reversed(rel.parents[:-1]):
                if folder not in made:
                    (staging / folder).mkdir(mode=dir_mode, exist_ok=True)
                    made.add(folder)
            data = f.content if isinstance(f.content, bytes) else f.content.encode("utf-8")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, f.mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(target, f.mode)  # not subject to the umask
        for folder in [staging, *(staging / folder for folder in made)]:
            os.chmod(folder, dir_mode)  # mkdir's mode is subject to the umask
        _keep_valid_record(out, staging, files)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=".hagen-old-", dir=parent))
            os.rename(out, old / "bundle")
            os.rename(staging, out)
            shutil.rmtree(old)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True
