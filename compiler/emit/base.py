"""What every emitter shares: the file record and the Jinja environment."""

from __future__ import annotations

from dataclasses import dataclass
import os
from functools import lru_cache

import jinja2

from .. import __version__
from ..catalog import DATABASE_READ_TIMEOUT_S, KEYSTONE_REQUEST_TIMEOUT_S
from ..quoting import option_file_value, oslo_value, python_literal, shell_quote, sql_string, url_quote
from ..resources import data_dir


@dataclass(frozen=True)
class BundleFile:
    """One file of the bundle: its path inside the bundle, text (or bytes), and mode.

    For a node's files the path is also where setup.sh installs it ('/' + path), with `owner`/`group`.
    """

    path: str
    content: str | bytes
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates are cached per user (Jinja checks each template's checksum), which
    saves most of a build's time; without a writable cache folder hagen just compiles them."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "hagen", f"jinja-{__version__}-{jinja2.__version__}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(folder)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        # Bash uses {# (${#array[@]}), so Jinja comments get delimiters no artifact uses.
        comment_start_string="{{#",
        comment_end_string="#}}",
        # One build never sees a template change: skip the stat of its file on every render
        # (13 000 of them in a 1000-node build).
        auto_reload=False,
    )
    # What the shared oslo sections (oslo/common.j2, imported without the render's context) read.
    env.globals.update(database_read_timeout_s=DATABASE_READ_TIMEOUT_S,
                       keystone_request_timeout_s=KEYSTONE_REQUEST_TIMEOUT_S)
    env.filters.update(shell=shell_quote, url=url_quote, oslo=oslo_value, sql=sql_string,
                       optfile=option_file_value, py=python_literal, format_code=lambda s: f"`{s}`",
                       # A YAML single-quoted string: every character is itself, but a quote is doubled.
                       yaml_str=lambda s: "'" + str(s).replace("'", "''") + "'")
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
