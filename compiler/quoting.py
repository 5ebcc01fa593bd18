"""Encoders for every syntax a value is placed into. One helper per syntax, used everywhere.

Secret placeholders (__SECRET_name__) contain only [A-Za-z0-9_], so every
encoder leaves them unchanged: the review and the deploy bundle differ only in
the values themselves.
"""

from __future__ import annotations

import urllib.parse


def shell_quote(value: object) -> str:
    """A single bash word that reads back as exactly `value`; nothing in it is expanded."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL byte cannot be passed to a shell")
    return "'" + text.replace("'", "'\\''") + "'"


def url_quote(value: str) -> str:
    """For user:password@host in URLs (oslo.db, transport_url): percent-encode everything."""
    return urllib.parse.quote(value, safe="")


def oslo_value(value: str) -> str:
    """oslo.config interpolates $name; a literal $ must be written $$."""
    if "\n" in value or "\r" in value:
        raise ValueError("oslo.config values cannot span lines")
    return value.replace("$", "$$")


def sql_string(value: str) -> str:
    """A MariaDB string literal (with the default sql_mode, backslash escapes are active)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\\0") + "'"


def option_file_value(value: str) -> str:
    """A value in a MariaDB option file ([client] password=...), double-quoted with escapes."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def python_literal(value: object) -> str:
    """A Python literal (Horizon's local_settings.py) that evaluates to exactly `value`: repr
    of str, int, bool, None and lists or tuples of them; nothing in it is executed."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if value is None or isinstance(value, (str, int, bool)):
        return repr(value)
    raise TypeError(f"no Python literal for {type(value).__name__}")


def rabbitmq_conf_value(value: str) -> str:
    """rabbitmq.conf (cuttlefish) string values may not contain line breaks."""
    if "\n" in value or "\r" in value:
        raise ValueError("rabbitmq.conf values cannot span lines")
    return value
