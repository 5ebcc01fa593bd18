"""hagen diff: what changes between two specs or bundles, in operator terms first.

Either side may be a spec (compiled in memory as a review bundle) or a bundle folder. The
summary compares the two topology.json files; the file-level unified diff follows.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import RECORD
from .emit import KIND_REVIEW, MARKER
from .emit.bootstrap import NODE_LIB
from .emit.pacemaker import APPLY_ON_NODE
from .emit.cloudinit import STAGING
from .emit.review import TOPOLOGY_JSON, node_relative


class DiffInputError(Exception):
    """One side is neither a spec that compiles nor a hagen bundle; carries diagnostics if any."""

    def __init__(self, message: str, diagnostics=()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


@dataclass
class Side:
    """One side of a diff: its files, and what of it may hold secret values."""

    files: dict[str, bytes]
    holds_secrets: bool = False  # a deploy bundle (or one whose kind is unknown)
    secret_paths: set[str] = field(default_factory=set)  # per-node paths, as topology.json lists them
    private_files: set[str] = field(default_factory=set)  # mode 0600/0400 on disk

    def secret(self, path: str) -> bool:
        return self.holds_secrets and (node_relative(path) in self.secret_paths or path in self.private_files)


def bundle_kind(folder: Path) -> str:
    """'review', 'deploy', or '' when the marker predates the kind line."""
    marker = folder / MARKER
    found = re.search(r"^kind: (\S+)$", marker.read_text(errors="replace"), flags=re.M) if marker.is_file() else None
    return found.group(1) if found else ""


def load_side(path: str) -> Side:
    p = Path(path)
    if p.is_dir():
        if not (p / "SHA256SUMS").is_file():
            raise DiffInputError(f"{path} is a folder but not a hagen bundle (no SHA256SUMS)")
        files, private = {}, set()
        for f in sorted(p.rglob("*")):
            if f.is_file() and f.name != RECORD:
                rel = str(f.relative_to(p))
                files[rel] = f.read_bytes()
                if not os.lstat(f).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    private.add(rel)
        try:
            listed = set(json.loads(files.get(TOPOLOGY_JSON, b"{}")).get("secret_files", []))
        except ValueError:
            listed = set()
        return Side(files, bundle_kind(p) != KIND_REVIEW, listed, private)
    from .pipeline import compile_path

    result = compile_path(path)
    if not result.ok:
        raise DiffInputError(f"{path} does not compile", result.diagnostics)
    return Side({f.path: f.content if isinstance(f.content, bytes) else f.content.encode("utf-8")
                 for f in result.files})


def _names(text: str) -> list[str]:
    return [n for n in text.removeprefix("gcomm://").split(",") if n]


def summarize(old: dict, new: dict) -> list[str]:
    """Differences of two topology summaries, in the words an operator uses."""
    out: list[str] = []

    def keyed(section: str):
        a, b = old.get(section, {}), new.get(section, {})
        return a, b, sorted(set(a) | set(b))

    if old.get("target") != new.get("target"):
        out.append(f"target changes from {old.get('target')} to {new.get('target')}")
    if old.get("fencing") != new.get("fencing"):
        out.append(f"fencing: {old.get('fencing')} -> {new.get('fencing')}")
    a, b, names = keyed("nodes")
    for name in names:
        if name not in a:
            out.append(f"node {name} ({b[name]['address']}) added with roles {', '.join(b[name]['roles'])}")
        elif name not in b:
            out.append(f"node {name} removed")
        else:
            for key in ("address", "cluster"):
                if a[name][key] != b[name][key]:
                    out.append(f"node {name} {key} {a[name][key]} -> {b[name][key]}")
            gained = [r for r in b[name]["roles"] if r not in a[name]["roles"]]
            lost = [r for r in a[name]["roles"] if r not in b[name]["roles"]]
            if gained:
                out.append(f"node {name} gains {', '.join(gained)}")
            if lost:
                out.append(f"node {name} loses {', '.join(lost)}")
    a, b, names = keyed("vips")
    for name in names:
        if name not in a:
            out.append(f"vip {name} added at {b[name]['address']}")
        elif name not in b:
            out.append(f"vip {name} removed")
        else:
            if a[name]["address"] != b[name]["address"]:
                out.append(f"{name} moves from {a[name]['address']} to {b[name]['address']}")
            if a[name]["hostname"] != b[name]["hostname"]:
                out.append(f"{name} hostname {a[name]['hostname']} -> {b[name]['hostname']}")
    a, b, names = keyed("frontends")
    for name in names:
        if name not in a:
            out.append(f"frontend {name} added on {b[name]['vip']}:{b[name]['port']}")
            continue
        if name not in b:
            out.append(f"frontend {name} removed")
            continue
        fa, fb = a[name], b[name]
        where = fb["vip"]
        if fa["vip"] != fb["vip"]:
            out.append(f"frontend {name} moves from {fa['vip']} to {fb['vip']}")
        if fa["port"] != fb["port"]:
            out.append(f"frontend {name} on {where}: port {fa['port']} -> {fb['port']}")
        for server in sorted(set(fa["backends"]) | set(fb["backends"])):
            sa, sb = fa["backends"].get(server), fb["backends"].get(server)
            if sa is None:
                out.append(f"backend {server} added to {where} ({sb['role']}, port {sb['port']})")
            elif sb is None:
                out.append(f"backend {server} removed from {where}")
            elif sa != sb:
                changes = ", ".join(f"{k} {sa[k]} -> {sb[k]}" for k in ("address", "port", "role") if sa[k] != sb[k])
                out.append(f"backend {server} of {where}: {changes}")
    ga, gb = old.get("galera", {}), new.get("galera", {})
    if ga.get("wsrep_cluster_address") != gb.get("wsrep_cluster_address"):
        before, after = _names(ga.get("wsrep_cluster_address", "")), _names(gb.get("wsrep_cluster_address", ""))
        gained = [n for n in after if n not in before]
        lost = [n for n in before if n not in after]
        words = (["gains " + ", ".join(gained)] if gained else []) + (["loses " + ", ".join(lost)] if lost else [])
        out.append("galera wsrep_cluster_address " + " and ".join(words or ["changes order"]))
    oa, ob = old.get("ovn"), new.get("ovn")
    if oa and ob and oa["members"] != ob["members"]:
        # A running RAFT cluster changes members one at a time (ovs-appctl cluster/kick, a new
        # member's join): a founder change would make a second, empty cluster.
        gained = [n for n in ob["members"] if n not in oa["members"]]
        lost = [n for n in oa["members"] if n not in ob["members"]]
        words = (["gains " + ", ".join(gained)] if gained else []) + (["loses " + ", ".join(lost)] if lost else [])
        out.append("OVN central RAFT members " + " and ".join(words or ["change order"])
                   + (f"; founder {oa['founder']} -> {ob['founder']}" if oa["founder"] != ob["founder"] else ""))
    for section in ("galera", "rabbitmq", "keystone"):
        sa, sb = old.get(section, {}), new.get(section, {})
        for key in sorted(set(sa) | set(sb)):
            if key in ("wsrep_cluster_address", "nodes") or sa.get(key) == sb.get(key):
                continue
            out.append(f"{section} {key} {sa.get(key)} -> {sb.get(key)}")
    a, b, names = keyed("services")  # the catalog's services, from topology.json
    for name in names:
        if name not in a:
            out.append(f"service {name} added: {b[name]['url']} on {', '.join(b[name]['nodes'])}")
        elif name not in b:
            out.append(f"service {name} removed")
        else:
            for key in ("url", "health_path", "database"):
                if a[name].get(key) != b[name].get(key):
                    out.append(f"service {name} {key} {a[name].get(key)} -> {b[name].get(key)}")
    a, b, names = keyed("clusters")
    for name in names:
        if name not in a:
            out.append(f"pcs: new cluster {name} on {', '.join(b[name]['nodes'])}")
            continue
        if name not in b:
            # Its nodes, if it runs, refuse to join another (setup.sh): hagen never renames a cluster.
            out.append(f"pcs: cluster {name} removed (its running nodes refuse to join another cluster)")
            continue
        ca, cb = a[name], b[name]
        # pcs-setup.sh refuses a running cluster's new membership: scale-out and -in are not built.
        out += _changes(ca["nodes"], cb["nodes"], f"pcs: cluster {name} gains node {{}} (refused while it runs)",
                        f"pcs: cluster {name} loses node {{}} (refused while it runs)")
        ra, rb = _settings(ca["resources"]), _settings(cb["resources"])
        out += _changes(list(ra), list(rb), f"pcs: new resource {{}} in cluster {name}",
                        f"pcs: resource {{}} removed from cluster {name} (a rerun stops and removes it)")
        everywhere = set(cb.get("restarts_everywhere", ()))
        for resource, after in rb.items():
            before = ra.get(resource)
            if before is not None and after is not None and before != after:
                was, now = before.split(" "), after.split(" ")
                gone, added = [w for w in was if w not in now], [w for w in now if w not in was]
                out.append(f"pcs: resource {resource} in cluster {name}: {' '.join(gone) or '-'} -> "
                           f"{' '.join(added) or '-'} ({_rerun_effect(was, now, resource in everywhere)})")
        out += _changes(ca["constraints"], cb["constraints"], f"pcs: new constraint in {name}: {{}}",
                        f"pcs: constraint removed from {name}: {{}}")
    return out


def _restarts(was: list[str], now: list[str]) -> bool:
    """Whether a changed resource restarts when a rerun applies it. Its agent and instance
    attributes come before 'op' and 'meta' on the pcs line: a change there makes Pacemaker restart
    the resource (no agent hagen uses reloads); one in operations or meta attributes is taken without
    a restart. pcs-resources.sh's refusal compares the same instance attributes."""
    def attributes(words: list[str]) -> list[str]:
        cut = [words.index(w) for w in ("op", "meta") if w in words]
        return words[:min(cut)] if cut else words

    return attributes(was) != attributes(now)


def _rerun_effect(was: list[str], now: list[str], restarts_everywhere: bool) -> str:
    """What a rerun of pcs-resources.sh does to a running cluster for one changed resource."""
    if not _restarts(was, now):
        return "a rerun applies it online; nothing restarts"
    if restarts_everywhere:
        return "a rerun refuses it unless --allow-full-restart: Pacemaker would restart it on every node at once"
    return "a rerun applies it; Pacemaker restarts it where it runs"


def _settings(resources) -> dict:
    """{resource id: its pcs settings}; a bundle built before hagen recorded them lists ids only."""
    return resources if isinstance(resources, dict) else {r: None for r in resources}


def _changes(before: list, after: list, added: str, removed: str) -> list[str]:
    """Items that appear (in after's order), then items that disappear (in before's order)."""
    return [added.format(x) for x in after if x not in before] + [removed.format(x) for x in before if x not in after]


def _node_changes(old: Side, new: Side, node: str) -> list[str]:
    """The node-relative paths of a node's files that differ, leaving out the delivery files at the
    node folder's top (user-data and the installer hooks carry every other file)."""
    prefix = f"nodes/{node}/"
    paths = {p[len(prefix):] for side in (old, new) for p in side.files if p.startswith(prefix)}
    return sorted(p for p in paths if ("/" in p or p == "setup.sh")
                  and old.files.get(prefix + p) != new.files.get(prefix + p))


def plan(old: Side, new: Side) -> list[str]:
    """The steps that bring a running control plane from the old bundle to the new one, in order:
    a node at a time, so that every service keeps a majority up; or, when the running cluster
    refuses the change, why, and no step."""
    a = json.loads(old.files.get(TOPOLOGY_JSON, b"{}"))
    b = json.loads(new.files.get(TOPOLOGY_JSON, b"{}"))
    refused = []
    for name, cluster in a.get("clusters", {}).items():
        now = b.get("clusters", {}).get(name)
        if now is None:
            refused.append(f"cluster {name} is renamed or removed: its running nodes refuse to join another cluster")
        elif now["nodes"] != cluster["nodes"]:
            refused.append(f"cluster {name}'s nodes change ({', '.join(cluster['nodes'])} -> {', '.join(now['nodes'])}):"
                           " hagen does not yet add or remove a running cluster's nodes")
    if refused:
        return [f"refused by setup.sh and pcs-setup.sh, which change nothing: {why}" for why in refused]
    steps = ["hagen secrets check SECRETS --spec NEW names any secret the new spec needs; "
             "hagen secrets add SECRETS --spec NEW makes only those, keeping every value"]
    nodes = b.get("nodes", {})
    for node, info in nodes.items():
        if node not in a.get("nodes", {}):
            steps.append(f"{node} is new: boot it with nodes/{node}/user-data (or its installer hook)")
            continue
        changed = _node_changes(old, new, node)
        if not changed:
            continue
        step = (f"on {node}: copy nodes/{node}/ to {STAGING}/ and run {STAGING}/setup.sh as root "
                f"({len(changed)} file{'s' if len(changed) != 1 else ''} change; it restarts the node's changed services")
        restarts = [clone for clone, paths in sorted(info.get("pacemaker_files", {}).items()) if set(paths) & set(changed)]
        step += "".join(f", then {APPLY_ON_NODE[clone].format(node=node)}" for clone in restarts)
        if info.get("cluster"):
            step += f"); wait until pcs status shows {node} online with every resource started before the next node"
        else:
            step += ")"
        steps.append(step)
    for name, cluster in b.get("clusters", {}).items():
        script = f"cluster/{name}/pcs-resources.sh"
        if name not in a.get("clusters", {}):
            steps.append(f"on {cluster['nodes'][0]}: {NODE_LIB}/cluster/{name}/pcs-setup.sh (creates cluster {name} "
                         "and its resources)")
        elif old.files.get(script) != new.files.get(script):
            refuse = set(cluster.get("restarts_everywhere", ()))
            before = _settings(a["clusters"][name]["resources"])
            restarted = [r for r, s in _settings(cluster["resources"]).items()
                         if r in refuse and before.get(r) is not None and s is not None
                         and _restarts(before[r].split(" "), s.split(" "))]
            flag = " --allow-full-restart" if restarted else ""
            steps.append(f"on {cluster['nodes'][0]}: {NODE_LIB}/{script}{flag} (reconciles the CIB with the bundle in "
                         "one push" + (f"; {', '.join(restarted)} restarts on every node at once: plan the outage"
                                       if restarted else "") + ")")
    for step in b.get("deploy_steps", []):
        script = "bootstrap/" + step["run"].rsplit("/", 1)[-1]
        if script in new.files and old.files.get(script) != new.files[script]:
            steps.append(f"on {step['node']}: {step['run']} ({step['what']})")
    for node in a.get("nodes", {}):
        if node not in nodes:
            steps.append(f"{node} leaves: power it off once the steps above removed it from every list")
    return steps


def file_diff(old: Side, new: Side, old_label: str, new_label: str) -> str:
    """Unified diff of two sides; a file that holds secrets on a deploy side is named, never shown:
    diffs end up in scrollback and CI logs."""
    chunks = []
    for path in sorted(set(old.files) | set(new.files)):
        a, b = old.files.get(path), new.files.get(path)
        if a == b:
            continue
        if old.secret(path) or new.secret(path):
            chunks.append(f"Files {old_label}/{path} and {new_label}/{path} differ "
                          "(it holds secret values: not shown)\n")
            continue
        try:
            a_lines = a.decode("utf-8").splitlines(keepends=True) if a is not None else []
            b_lines = b.decode("utf-8").splitlines(keepends=True) if b is not None else []
        except UnicodeDecodeError:
            chunks.append(f"Binary files {old_label}/{path} and {new_label}/{path} differ\n")
            continue
        chunks.extend(difflib.unified_diff(a_lines, b_lines,
                                           fromfile=f"{old_label}/{path}" if a is not None else "/dev/null",
                                           tofile=f"{new_label}/{path}" if b is not None else "/dev/null"))
        if chunks and not chunks[-1].endswith("\n"):
            chunks[-1] += "\n\\ No newline at end of file\n"
    return "".join(chunks)


def diff(old_path: str, new_path: str) -> tuple[list[str], str, list[str]]:
    """(operator summary, unified diff, the steps that apply it); all empty when the two sides are
    equal."""
    old, new = load_side(old_path), load_side(new_path)
    if old.files == new.files:
        return [], "", []
    summary = summarize(json.loads(old.files.get(TOPOLOGY_JSON, b"{}")), json.loads(new.files.get(TOPOLOGY_JSON, b"{}")))
    if old.holds_secrets or new.holds_secrets:
        summary.append("a side is a deploy bundle: files that hold secret values are named, not shown")
    return summary, file_diff(old, new, "a", "b"), plan(old, new)
