"""Pseudonymised ingest: people's ids and identifier properties become keyed hashes.

``KG_PSEUDONYM_KEY`` (from the environment only, never a config file) keys an HMAC-SHA256,
so the same id under the same key is always the same pseudonym -- re-ingesting a file
changes nothing -- and nobody without the key can compute or test one. The originals are
kept, encrypted with a key derived from the same secret (Fernet), in a vault under the
data directory: only ``kg lookup --reveal`` with the key maps a pseudonym back, and
``kg forget`` deletes the person's vault entry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken

from kg.config import Settings
from kg.errors import ConfigError, NotFoundError
from kg.ingest.batches import Batch, NodeBatch
from kg.schema import Schema
from kg.store.base import FROM_ID, TO_ID

KEY_VARIABLE = "KG_PSEUDONYM_KEY"
PREFIX = "p_"
MIN_KEY_CHARS = 16


def key_from_environment() -> bytes:
    """The pseudonym key; a clear error when it is missing or too short to be secret."""
    value = os.environ.get(KEY_VARIABLE, "")
    if not value:
        raise ConfigError(
            f"Pseudonyms need a secret key: set {KEY_VARIABLE} in the environment (it is never read from "
            "a config file). Keep it: the same key gives the same pseudonyms on every run."
        )
    if len(value) < MIN_KEY_CHARS:
        raise ConfigError(f"{KEY_VARIABLE} is too short: use at least {MIN_KEY_CHARS} random characters.")
    return value.encode("utf-8")


class Pseudonymiser:
    """Replaces personal ids and identifier properties in ingest batches; records each
    original, encrypted, in the vault."""

    def __init__(self, schema: Schema, key: bytes, vault: PseudonymVault) -> None:
        self.schema = schema
        self._key = key
        self.vault = vault

    def pseudonym(self, label: str, prop: str, value: str) -> str:
        """``p_`` + 24 hex digits of HMAC-SHA256(key, label.property + value)."""
        message = f"{label}.{prop}\x1f{value}".encode()
        return PREFIX + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]

    def batches(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for batch in batches:
            yield self.apply(batch)

    def apply(self, batch: Batch) -> Batch:
        rows = batch.rows.copy()
        if isinstance(batch, NodeBatch):
            node = self.schema.node(batch.label)
            columns = [c for c in rows.columns if c in node.identifier]
            if node.personal_key and node.key in rows.columns:
                columns.append(node.key)
            for column in columns:
                rows[column] = self._replace(batch.label, column, rows[column])
            return replace(batch, rows=rows)
        for column, label in ((FROM_ID, batch.from_label), (TO_ID, batch.to_label)):
            node = self.schema.node(label)
            if node.personal_key and column in rows.columns:
                rows[column] = self._replace(label, node.key, rows[column])
        return replace(batch, rows=rows)

    def _replace(self, label: str, prop: str, values: pd.Series) -> pd.Series:
        present = values.notna()
        originals = values[present].astype(str)
        mapping = {v: self.pseudonym(label, prop, v) for v in originals.unique()}
        self.vault.remember({p: v for v, p in mapping.items()})
        out = values.astype(object).copy()
        out[present] = originals.map(mapping)
        return out


class PseudonymVault:
    """Encrypted originals by pseudonym, in one SQLite file."""

    def __init__(self, path: Path, key: bytes | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fernet = (
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"kg-vault\x1f" + key).digest())) if key else None
        )
        self._db = sqlite3.connect(path)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS pseudonyms (pseudonym TEXT PRIMARY KEY, original BLOB)"
            )

    def remember(self, originals: dict[str, str]) -> None:
        """Store each pseudonym's original, encrypted (existing entries are kept)."""
        if self._fernet is None or not originals:
            return
        rows = [(p, self._fernet.encrypt(o.encode())) for p, o in originals.items()]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO pseudonyms VALUES (?, ?)", rows)

    def reveal(self, pseudonym: str) -> str:
        """The original behind a pseudonym; needs the key it was made with."""
        if self._fernet is None:
            raise ConfigError(f"Revealing a pseudonym needs the key: set {KEY_VARIABLE}.")
        found = self._db.execute(
            "SELECT original FROM pseudonyms WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        if found is None:
            raise NotFoundError(f"{pseudonym!r} is not a pseudonym of this data directory.")
        try:
            return self._fernet.decrypt(found[0]).decode()
        except InvalidToken:
            raise ConfigError(f"{KEY_VARIABLE} is not the key these pseudonyms were made with.") from None

    def forget(self, pseudonyms: Iterable[str]) -> int:
        """Delete the entries (``kg forget``) and rewrite the file without their bytes."""
        with self._db:
            removed = self._db.executemany(
                "DELETE FROM pseudonyms WHERE pseudonym = ?", [(p,) for p in pseudonyms]
            ).rowcount
        self._db.execute("VACUUM")
        return removed

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PseudonymVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def vault_path(data_dir: Path) -> Path:
    return data_dir / "privacy" / "pseudonyms.sqlite"


def pseudonymiser(settings: Settings, schema: Schema) -> tuple[Pseudonymiser, PseudonymVault]:
    """The pseudonymiser for ``kg ingest --pseudonymise`` and the vault it fills (close it)."""
    key = key_from_environment()
    vault = PseudonymVault(vault_path(settings.data_dir), key)
    return Pseudonymiser(schema, key, vault), vault


def lookup_pseudonym(settings: Settings, label: str, prop: str | None, value: str) -> str:
    """The pseudonym ``value`` gets under the key (a support desk finds a customer by it)."""
    schema = Schema.default(settings.schema_extension)
    node = schema.node(label)
    prop = prop or node.key
    if prop != node.key and prop not in node.identifier:
        raise ConfigError(f"{label}.{prop} is not pseudonymised (not marked identifier in the schema).")
    with PseudonymVault(vault_path(settings.data_dir), None) as vault:
        return Pseudonymiser(schema, key_from_environment(), vault).pseudonym(label, prop, value)


def reveal_pseudonym(settings: Settings, pseudonym: str) -> str:
    """The original behind ``pseudonym`` (``kg lookup --reveal``)."""
    with PseudonymVault(vault_path(settings.data_dir), key_from_environment()) as vault:
        return vault.reveal(pseudonym)
