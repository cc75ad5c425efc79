"""One exception family for everything a user can fix.

The CLI turns any ``KGError`` into a single red line and a non-zero exit code, so
messages here must say what went wrong *and* what to do about it.
"""

from __future__ import annotations


class KGError(Exception):
    """Base class for errors the user can act on."""


class ConfigError(KGError):
    """Settings or a mapping/config file are invalid."""


class SchemaError(KGError):
    """A label, relationship type or property is not allowed by the declared schema."""


class StoreError(KGError):
    """The graph store cannot be opened, reached or written."""


class StoreInUseError(StoreError):
    """Another process holds the embedded store."""


class InputError(KGError):
    """Input data (a file, a row, a query parameter) is malformed."""


class NotFoundError(KGError):
    """A user, item, model or query that was asked for does not exist."""
