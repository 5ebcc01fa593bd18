"""cloud-init user-data and the kickstart %post: both deliver the node's bundle and run setup.sh."""

from __future__ import annotations

import base64
import gzip
import posixpath
import re

from ..model import Node, Topology
from .base import BundleFile, render

STAGING = "/var/lib/hagen/bundle"
OPENSTACK_LIMIT_B64 = 65535  # Nova: user_data is limited to 65535 bytes after base64
EC2_LIMIT = 16384  # EC2: 16 KB before base64


# Characters a YAML literal block cannot carry unchanged: controls (tab included, it would
# mix with indentation), C1 controls, line/paragraph separators, BOM, lone surrogates.
_NOT_LITERAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]|[ \u00a0]\n")


def _literal_safe(text: str) -> bool:
    """Can this text be a YAML literal block (|) that reads back byte for byte?"""
    if not text.endswith("\n") or text.endswith("\n\n") or text[:1] in (" ", "\t", "\n"):
        return False
    return _NOT_LITERAL.search(text) is None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _wrap76(text: str) -> str:
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def user_data(topo: Topology, node: Node, files: list[BundleFile]) -> str:
    items = [
        {"path": f.path, "mode": f.mode, "literal": _literal_safe(f.content), "content": f.content,
         "b64": _b64(f.content)}
        for f in sorted(files, key=lambda f: f.path)
    ]
    return render("cloudinit/user-data.j2", node=node, target=topo.target, staging=STAGING, files=items)


def kickstart_post(topo: Topology, node: Node, files: list[BundleFile]) -> str:
    unit = BundleFile("etc/systemd/system/hagen-setup.service",
                      render("cloudinit/hagen-setup.service.j2", node=node, staging=STAGING), 0o644)
    items = []
    for f in sorted(files, key=lambda f: f.path):
        target_path = posixpath.join(STAGING, f.path)
        items.append({"target": target_path, "dir": posixpath.dirname(target_path), "mode": f.mode,
                      "b64_lines": _wrap76(_b64(f.content))})
    items.append({"target": "/" + unit.path, "dir": posixpath.dirname("/" + unit.path), "mode": unit.mode,
                  "b64_lines": _wrap76(_b64(unit.content))})
    return render("cloudinit/kickstart-post.ks.j2", node=node, target=topo.target, staging=STAGING, files=items)


def sizes(text: str) -> dict:
    raw = len(text.encode("utf-8"))
    b64 = 4 * ((raw + 2) // 3)
    return {"raw": raw, "base64": b64, "fits_openstack": b64 <= OPENSTACK_LIMIT_B64, "fits_ec2": raw <= EC2_LIMIT}


def emit(topo: Topology, node: Node, files: list[BundleFile]) -> tuple[list[BundleFile], dict]:
    """user-data (plain, reviewable) and, when it is too large for EC2, a gzip copy."""
    text = user_data(topo, node, files)
    out = [BundleFile("user-data", text, 0o600),
           BundleFile("kickstart-post.ks", kickstart_post(topo, node, files), 0o600)]
    report = {"user-data": sizes(text)}
    if not report["user-data"]["fits_ec2"] or not report["user-data"]["fits_openstack"]:
        # mtime=0 keeps the archive byte-identical between builds.
        packed = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
        out.append(BundleFile("user-data.gz", packed, 0o600))  # type: ignore[arg-type]
        report["user-data.gz"] = {"raw": len(packed), "base64": 4 * ((len(packed) + 2) // 3),
                                  "fits_openstack": 4 * ((len(packed) + 2) // 3) <= OPENSTACK_LIMIT_B64,
                                  "fits_ec2": len(packed) <= EC2_LIMIT}
    return out, report
