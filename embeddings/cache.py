"""A content-addressed cache for enrichment: model answers and text vectors.

Keys are SHA-256 hashes of everything that determines a result (backend, model, prompt
version and prompt for a description; text model and text for a vector), so a cached
entry can never be stale: changed facts make a new key. One SQLite file under
``<data_dir>/cache/`` survives interrupted runs; entries are committed per batch.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def content_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class EnrichCache:
    """Descriptions (text) and vectors (float32) by content key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS texts (key TEXT PRIMARY KEY, value TEXT, created REAL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, value BLOB, created REAL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS subjects (key TEXT, subject TEXT, PRIMARY KEY (key, subject))"
            )

    def get_texts(self, keys: Sequence[str]) -> dict[str, str]:
        return self._get("texts", keys)

    def put_texts(self, items: dict[str, str]) -> None:
        self._put("texts", items)

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in self._get("vectors", keys).items()}

    def put_vectors(self, items: dict[str, np.ndarray]) -> None:
        self._put("vectors", {k: np.asarray(v, dtype=np.float32).tobytes() for k, v in items.items()})

    def tag_subjects(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record which person (``User:42``) an entry is about, so it can be forgotten."""
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO subjects VALUES (?, ?)", list(pairs))

    def forget(self, subjects: Sequence[str], needles: Sequence[str] = ()) -> int:
        """Delete the entries about ``subjects``, and any text containing one of
        ``needles`` (a person's name or email in an entry written before tagging); then
        rewrite the file so the deleted bytes are gone from it, not only unlinked."""
        removed = 0
        with self._db:
            for subject in subjects:
                keys = [
                    k for (k,) in self._db.execute("SELECT key FROM subjects WHERE subject = ?", (subject,))
                ]
                for table in ("texts", "vectors"):
                    removed += self._db.executemany(
                        f"DELETE FROM {table} WHERE key = ?", [(k,) for k in keys]
                    ).rowcount
                self._db.execute("DELETE FROM subjects WHERE subject = ?", (subject,))
            for needle in needles:
                removed += self._db.execute("DELETE FROM texts WHERE instr(value, ?) > 0", (needle,)).rowcount
        self._db.execute("VACUUM")
        return removed

    def _get(self, table: str, keys: Sequence[str]) -> dict:
        found: dict = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(f"SELECT key, value FROM {table} WHERE key IN ({marks})", chunk).fetchall()
            )
        return found

    def _put(self, table: str, items: dict) -> None:
        now = time.time()
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", [(k, v, now) for k, v in items.items()]
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EnrichCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
