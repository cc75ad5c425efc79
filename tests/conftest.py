"""Shared fixtures: a real embedded store in a temporary folder, real data paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.config import Settings, load_settings
from kg.store import GraphStore, open_store
from tests import neo4j_server  # noqa: F401 -- reads the Neo4j settings before the fixture below removes them

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MOVIELENS = SHARED_DATA / "movielens-100k"
CONLL04 = SHARED_DATA / "conll04"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's kg.toml or KG_* variables by accident; the Neo4j
    test server's settings were read by ``tests.neo4j_server`` at import."""
    import os

    for name in list(os.environ):
        if name.startswith("KG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")


@pytest.fixture
def store(settings: Settings) -> Iterator[GraphStore]:
    with open_store(settings) as opened:
        yield opened


def require(path: Path) -> Path:
    """Skip (with the reason) when the shared development data is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"needs {path} (shared development data beside the checkout)")
    return path
