"""Identifiers placed inside Cypher text, for both stores.

Labels, relationship types and property names cannot be parameters. They reach the
stores already validated against the schema; quoting them here re-checks the pattern
anyway (defence in depth), so no caller can place a crafted name in a statement.
"""

from __future__ import annotations

import re

from kg.errors import SchemaError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _checked(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SchemaError(f"{name!r} cannot be placed in a Cypher statement.")
    return name


def q(name: str) -> str:
    """Backtick-quote an identifier (label, type, property or index name)."""
    return f"`{_checked(name)}`"


def lit(name: str) -> str:
    """An identifier as a Cypher string literal (a map key in ``row[...]``)."""
    return f"'{_checked(name)}'"
