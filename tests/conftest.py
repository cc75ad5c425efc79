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


# The tiers (`make test-fast` runs neither): modules that train models, fit the recommender
# on real data, start `kg` processes or run whole pipelines are `slow`; every test that needs
# the live server is `neo4j` (whole modules, and the [neo4j] half of store-parametrised tests).
SLOW_MODULES = {
    "test_bad_commands", "test_cli", "test_embeddings_coldstart", "test_embeddings_evaluate",
    "test_embeddings_multi_gpu", "test_embeddings_runs", "test_embeddings_text", "test_embeddings_train",
    "test_extract_cli", "test_extract_distributed", "test_extract_eval", "test_extract_model",
    "test_extract_pipeline", "test_extract_stores", "test_fuzz_graphs", "test_fuzz_ingest", "test_fuzz_paths",
    "test_neo4j_cypher_syntax", "test_recommend_cli", "test_recommend_graph", "test_recommend_segments",
    "test_recommend_shapes", "test_security", "test_store_concurrency", "test_train_interrupted",
    "test_cypher_library", "test_ingest_movielens", "test_scorer_contract", "test_serve_http", "test_serve_fuzz",
    "test_sentiment_reviews", "test_profiles", "test_ask", "test_recommend_temporal",
    "test_recommend_learned_fusion", "test_marketing_copy", "test_recommend_restore",
}  # fmt: skip
NEO4J_MODULES = {
    "test_neo4j_live", "test_neo4j_store", "test_neo4j_browser", "test_neo4j_import", "test_neo4j_demo",
    "test_neo4j_movielens", "test_stores_agree",
}  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        callspec = getattr(item, "callspec", None)
        if module in NEO4J_MODULES or (callspec is not None and "neo4j" in callspec.id.split("-")):
            item.add_marker(pytest.mark.neo4j)
        if (
            module in SLOW_MODULES
            or "ctrl_c" in item.name
            or "kg_train" in item.name
            or "kg_predict" in item.name
        ):
            item.add_marker(pytest.mark.slow)
