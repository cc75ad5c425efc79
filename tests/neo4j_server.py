"""Access to a real Neo4j server for tests, only when one is named.

Set ``KG_NEO4J_URI`` (plus ``KG_NEO4J_PASSWORD``, and ``KG_NEO4J_USER`` /
``KG_NEO4J_DATABASE`` if not ``neo4j``) to run the Neo4j half of the suite, e.g. against
``docker compose -f docker/compose.yml up -d``. The tests EMPTY that database before each
test: point them at a throwaway one, never at data you keep.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kg.config import Settings, load_settings
from kg.store import GraphStore, open_store

NEO4J_URI = os.environ.get("KG_NEO4J_URI")
SKIP_REASON = (
    "needs a Neo4j 5 server: set KG_NEO4J_URI (and KG_NEO4J_PASSWORD) to a throwaway database, "
    "e.g. bolt://localhost:7687 from docker/compose.yml"
)


def neo4j_settings(uri: str | None = None) -> Settings:
    """Settings for the test server (skips the test when none is configured)."""
    if not NEO4J_URI:
        pytest.skip(SKIP_REASON)
    return load_settings(store=uri or NEO4J_URI)


def wipe(store: GraphStore) -> None:
    """Empty the test database: data and the vector indexes earlier tests created.
    Reopen the store afterwards: an open store remembers the indexes it saw."""
    store.query("MATCH (n) DETACH DELETE n", write=True)
    for name in store.query("SHOW VECTOR INDEXES YIELD name RETURN name")["name"]:
        store.query(f"DROP INDEX `{name}` IF EXISTS", write=True)


def empty_store_settings(kind: str, tmp_path: Path) -> Settings:
    """Settings for an empty store of ``kind`` ("ladybug" or "neo4j"): a fresh embedded
    directory, or the test Neo4j database wiped clean (skipped without a server)."""
    if kind == "neo4j":
        settings = neo4j_settings()
        with open_store(settings) as dirty:
            wipe(dirty)
        return settings
    return load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
