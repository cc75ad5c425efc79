"""Stable identifiers: the same input always yields the same node key."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Lower-case ASCII words joined by hyphens: ``"Children's"`` -> ``"children-s"``.

    Used as the key of nodes created from a name (brands, categories, genres), so that
    "Outdoor", "outdoor" and " OUTDOOR " land on one node.
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    if slug:
        return slug
    # Names with no ASCII letters (e.g. "東京") still need a stable, distinct key.
    return "x-" + content_hash(name)[:16]


def content_hash(text: str) -> str:
    """SHA-256 of UTF-8 text, hex: the key of a document stated by its content."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# A name that becomes one folder inside a folder the platform owns (a model run, an
# extraction model): letters, digits, '.', '_' and '-', starting with a letter or digit.
# "", ".", "..", separators and absolute paths are refused before any file operation,
# so such a name can never point outside its parent.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def is_folder_name(name: str) -> bool:
    """True when ``name`` is safe as one folder name inside a managed folder."""
    return bool(_FOLDER_NAME.fullmatch(name)) and ".." not in name
