"""Shared fixtures (a real embedded store in a temporary folder) and the tiers: the folder
a test lives in gives its marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.config import Settings, load_settings
from kg.store import GraphStore, open_store
from tests import neo4j_server  # noqa: F401 -- reads the Neo4j settings before the fixture below removes them

TESTS = Path(__file__).resolve().parent


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


# The tiers: tests/unit (in-process; `make test-fast`), tests/integration (`kg` processes,
# training, whole pipelines: marked slow) and tests/neo4j (the live server: marked neo4j).
TIER_MARKERS = {"unit": (), "integration": ("slow",), "neo4j": ("neo4j",)}


def tier(item: pytest.Item) -> str:
    """The folder under tests/ the item's module lives in."""
    where = item.path.relative_to(TESTS)
    if len(where.parts) < 2 or where.parts[0] not in TIER_MARKERS:
        raise pytest.UsageError(
            f"tests/{where}: a test module lives in tests/unit, tests/integration or tests/neo4j"
        )
    return where.parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in TIER_MARKERS[tier(item)]:
            item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "neo4j" in callspec.id.split("-"):  # the live half of a store pair
            item.add_marker(pytest.mark.neo4j)
