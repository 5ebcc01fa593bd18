"""Where the schema and templates live: inside the wheel, or in the source tree."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def data_dir(name: str) -> Path:
    """`schemas` or `templates`: the wheel maps them into compiler/_data/, a
    source checkout (and an editable install) has them at the top level."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"hagen is installed without its {name}/ folder")


@lru_cache(maxsize=None)
def topology_schema() -> dict:
    return json.loads((data_dir("schemas") / "topology.schema.json").read_text(encoding="utf-8"))


def service_setting(data: dict, service: str, key: str):
    """A service's setting from the spec, or the schema's 'default': the one place defaults are written."""
    schema = topology_schema()
    prop = schema["properties"]["services"]["properties"][service]["properties"][key]
    if "default" not in prop and "$ref" in prop:  # a shared setting such as workers: $defs holds it
        prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
    return data["services"][service].get(key, prop.get("default"))
