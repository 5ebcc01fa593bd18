"""Stage 5, emit: Topology -> the list of bundle files. Pure: nothing is written here."""

from __future__ import annotations

import hashlib

from ..diagnostics import Diagnostic
from ..model import Topology
from ..secrets import PLACEHOLDER, SecretValues
from . import (bootstrap, cloudinit, etcd, galera, haproxy, host, keystone, memcached, monitoring, openstack, ovn,
               pacemaker, rabbitmq, readme, review)
from .base import BundleFile

NODE_LIB = bootstrap.NODE_LIB.lstrip("/")
MARKER = ".hagen-bundle"
# The marker says which kind of bundle a folder holds, so that a build never silently swaps a
# deploy bundle (secrets filled in) for a review bundle (placeholders), or the other way round,
# and so that 'hagen diff' knows which side may carry secret values.
KIND_REVIEW, KIND_DEPLOY = "review", "deploy"


def marker_text(target: str, kind: str) -> str:
    return ("This folder is a bundle written by hagen; 'hagen build' may replace it.\n"
            f"target: {target}\nkind: {kind}\n")


class InternalError(Exception):
    """A bug in hagen: an emitter broke one of the bundle's invariants."""


def node_bundle(topo: Topology, node, secrets: SecretValues, cluster_files, bootstrap_files):
    """Files laid on one node (paths relative to its root), its setup script, and the files of the
    node's services that Pacemaker runs, per clone (setup.sh leaves those running when their
    files change: a changed bundle's plan restarts them on the node, `hagen diff --plan`)."""
    laid: list[BundleFile] = []
    laid += host.emit(topo, node, secrets)
    under_pacemaker: dict[str, list[str]] = {}
    for clone, files, applied in ((pacemaker.HAPROXY_CLONE, haproxy.emit(topo, node, secrets), None),
                                  (pacemaker.GALERA_CLONE, galera.emit(topo, node, secrets), galera.read_at_start(topo)),
                                  (pacemaker.RABBITMQ_CLONE, rabbitmq.emit(topo, node, secrets), None)):
        laid += files
        if files and topo.cluster_of(node) is not None:
            under_pacemaker[clone] = sorted(f.path for f in files if applied is None or f.path in applied)
    laid += keystone.emit(topo, node, secrets)
    laid += openstack.emit(topo, node, secrets)
    laid += memcached.emit(topo, node)
    laid += ovn.emit(topo, node)
    laid += etcd.emit(topo, node)
    laid += monitoring.emit(topo, node)
    laid += pacemaker.node_files(topo, node, secrets)
    cluster = topo.cluster_of(node)
    if cluster is not None and node == cluster.first:
        laid += [BundleFile(f"{NODE_LIB}/{f.path}", f.content, f.mode) for f in cluster_files
                 if f.path.startswith(f"cluster/{cluster.name}/") and f.path.endswith(".sh")]
    runs_here = {script for script, where, _ in bootstrap.steps(topo) if where == node.name}
    laid += [BundleFile(f"{NODE_LIB}/{f.path}", f.content, f.mode) for f in bootstrap_files
             if f.path.rsplit("/", 1)[-1] in runs_here]
    return laid, host.setup_script(topo, node, laid), under_pacemaker


def emit_bundle(topo: Topology, secrets: SecretValues, warnings: list[Diagnostic]) -> list[BundleFile]:
    cluster_files = pacemaker.emit(topo, secrets)
    bootstrap_files = bootstrap.emit(topo)
    files: list[BundleFile] = [*cluster_files, *bootstrap_files, *monitoring.emit_prometheus(topo)]
    size_rows, carriers, under_pacemaker = [], [], {}
    for node in topo.nodes:
        laid, setup, under_pacemaker[node.name] = node_bundle(topo, node, secrets, cluster_files, bootstrap_files)
        delivered = [*laid, setup]
        delivery, sizes = cloudinit.emit(topo, node, delivered)
        prefix = f"nodes/{node.name}/"
        files += [BundleFile(prefix + f.path, f.content, f.mode, owner=f.owner, group=f.group)
                  for f in [*delivered, *delivery]]
        if any(_holds_secret(f, secrets) for f in delivered):
            # user-data, its gzip copy and the installer hook carry every file, encoded.
            carriers += [prefix + f.path for f in delivery]
        size_rows += [{"node": node.name, "file": name, **report} for name, report in sizes.items()]
    secret_files = sorted({f.path for f in files if _holds_secret(f, secrets)} | set(carriers))
    _check_invariants(files, secrets, carriers)
    files.append(readme.emit(topo, warnings, secret_files, size_rows, secrets.review))
    files.append(review.emit(topo, secret_files, under_pacemaker))
    files.append(BundleFile(MARKER, marker_text(topo.target.name, KIND_REVIEW if secrets.review else KIND_DEPLOY),
                            0o644))
    files.append(file_modes(files))
    files.sort(key=lambda f: f.path)
    files.append(sha256sums(files))
    return files


MODES_FILE = "FILE-MODES"


def file_modes(files: list[BundleFile]) -> BundleFile:
    """The mode every file must have where it is installed. Git keeps only the executable bit,
    so a committed bundle's own file modes are lost; this list is what checks and reviewers read."""
    lines = [f"{f.mode:04o}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)]
    return BundleFile(MODES_FILE, "".join(lines), 0o644)


def read_file_modes(text: str) -> dict[str, int]:
    modes = {}
    for line in text.splitlines():
        mode, _, path = line.partition("  ")
        modes[path] = int(mode, 8)
    return modes


def _content_bytes(f: BundleFile) -> bytes:
    return f.content if isinstance(f.content, bytes) else f.content.encode("utf-8")


def _holds_secret(f: BundleFile, secrets: SecretValues) -> bool:
    data = _content_bytes(f)
    if f.path.endswith(".gz"):
        import gzip
        data = gzip.decompress(data)
    if secrets.review:
        return PLACEHOLDER.split("{")[0].encode() in data
    return any(v.encode() in data for v in secrets.all_values())


def _check_invariants(files: list[BundleFile], secrets: SecretValues, carriers: list[str]) -> None:
    seen = set()
    for f in files:
        if f.path in seen:
            raise InternalError(f"two emitters wrote {f.path}")
        seen.add(f.path)
        if (_holds_secret(f, secrets) or f.path in carriers) and f.mode & 0o077:
            raise InternalError(f"{f.path} holds a secret but has mode {f.mode:04o}")


def sha256sums(files: list[BundleFile]) -> BundleFile:
    lines = [f"{hashlib.sha256(_content_bytes(f)).hexdigest()}  {f.path}\n" for f in files]
    return BundleFile("SHA256SUMS", "".join(lines), 0o644)
