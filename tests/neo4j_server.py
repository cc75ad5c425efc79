"""Access to a real Neo4j server for tests.

``make test`` starts the local server (``neo4j-local/``, ``make neo4j``) and runs the
suite with its ``.neo4j-local.env`` exported and ``KG_REQUIRE_NEO4J=1``: then a Neo4j
test that cannot reach the server fails instead of skipping. By hand, set
``KG_NEO4J_URI`` (plus ``KG_NEO4J_PASSWORD``, and ``KG_NEO4J_USER`` /
``KG_NEO4J_DATABASE`` if not ``neo4j``). The tests EMPTY that database before each test:
point them at a throwaway one, never at data you keep.

The connection settings are read here, once, at import: ``conftest.py`` then removes
every ``KG_*`` variable from the environment, so tests of the embedded store, of a
missing password and of the CLI's own defaults never see them by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kg.config import Settings, load_settings
from kg.store import GraphStore, open_store

NEO4J_URI = os.environ.get("KG_NEO4J_URI")
NEO4J_USER = os.environ.get("KG_NEO4J_USER", "neo4j")
NEO4J_PASSWORD = os.environ.get("KG_NEO4J_PASSWORD")
NEO4J_DATABASE = os.environ.get("KG_NEO4J_DATABASE", "neo4j")
NEO4J_HTTP = os.environ.get("KG_NEO4J_HTTP")
REQUIRED = os.environ.get("KG_REQUIRE_NEO4J") == "1"
SKIP_REASON = (
    "needs a Neo4j 5 server: run `make neo4j` and `set -a; . ./.neo4j-local.env`, or set KG_NEO4J_URI "
    "(and KG_NEO4J_PASSWORD) to a throwaway database"
)


def require_neo4j() -> str:
    """The test server's Bolt URI; skips without one, fails when ``make test`` demands one."""
    if not NEO4J_URI:
        if REQUIRED:
            pytest.fail(
                "KG_REQUIRE_NEO4J=1 but KG_NEO4J_URI is not set: `make test` should have started Neo4j"
            )
        pytest.skip(SKIP_REASON)
    return NEO4J_URI


def neo4j_settings(uri: str | None = None, **overrides: object) -> Settings:
    """Settings for the test server (skips the test when none is configured)."""
    server = require_neo4j()
    connection = {
        "neo4j_user": NEO4J_USER,
        "neo4j_password": NEO4J_PASSWORD,
        "neo4j_database": NEO4J_DATABASE,
    }
    return load_settings(store=uri or server, **(connection | overrides))


def neo4j_env(**extra: str) -> dict[str, str]:
    """Environment variables that point a `kg` process (or CliRunner) at the test server."""
    server = require_neo4j()
    env = {"KG_STORE": server, "KG_NEO4J_USER": NEO4J_USER, "KG_NEO4J_DATABASE": NEO4J_DATABASE}
    return env | ({"KG_NEO4J_PASSWORD": NEO4J_PASSWORD} if NEO4J_PASSWORD else {}) | extra


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
