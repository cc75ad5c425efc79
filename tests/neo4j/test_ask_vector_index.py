"""`kg ask` on Neo4j ranks with the vector index over the items' text embeddings
(db.index.vector.queryNodes) and gives the answers the embedded store computes in memory
from the same vectors. Needs the live server (tests/neo4j_server.py); skipped without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.text import encode_texts
from kg.ask import similarity as similarity_module
from kg.ask.search import Catalogue, ask
from kg.ask.similarity import InMemorySimilarity, VectorIndexSimilarity
from kg.config import Settings, load_settings
from kg.store import GraphStore, open_store
from tests.helpers import invoke, one_line
from tests.neo4j_server import neo4j_env, neo4j_settings, wipe

pytestmark = pytest.mark.neo4j

ITEMS = pd.DataFrame(
    {
        "id": [f"P{i}" for i in range(10)],
        "name": [
            "Alpine Down Jacket", "Storm Shell Jacket", "City Rain Jacket", "Trail Running Shoe",
            "Leather Office Shoe", "Canvas Sneaker", "Brass Desk Lamp", "Paper Floor Lamp",
            "Wool Winter Scarf", "Cotton Summer Shirt",
        ],
        "description": [
            "A warm goose-down jacket for winter cold.", "A waterproof shell jacket for storms.",
            "A light jacket that keeps the rain off in town.", "Grippy shoes for running trails.",
            "Polished leather shoes for the office.", "Casual canvas sneakers.",
            "A brass lamp for the desk.", "A paper lamp that lights a room.",
            "A thick wool scarf for cold days.", "A breathable cotton shirt for hot days.",
        ],
        "price": [220.0, 140.0, 90.0, 110.0, 160.0, 60.0, 45.0, 35.0, 30.0, 25.0],
    }
)  # fmt: skip
CATEGORY = ["jackets"] * 3 + ["shoes"] * 3 + ["lamps"] * 2 + ["accessories", "shirts"]


def _write_catalogue(store: GraphStore, settings: Settings) -> None:
    store.upsert_nodes("Category", pd.DataFrame({"id": sorted(set(CATEGORY)), "name": sorted(set(CATEGORY))}))
    store.upsert_nodes("Item", ITEMS)
    store.upsert_relationships(
        "IN_CATEGORY", "Item", "Category", pd.DataFrame({"from_id": ITEMS["id"], "to_id": CATEGORY})
    )
    texts = (ITEMS["name"] + ". " + ITEMS["description"]).tolist()
    vectors = encode_texts(texts, model=settings.embeddings.text_model)
    store.set_node_properties(
        "Item", pd.DataFrame({"id": ITEMS["id"], "text_embedding": [list(map(float, v)) for v in vectors]})
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings]:
    """The same catalogue with the same stored vectors on Neo4j and in an embedded store."""
    neo4j = neo4j_settings()
    with open_store(neo4j) as dirty:
        wipe(dirty)
    embedded = load_settings(store=str(tmp_path_factory.mktemp("ask-embedded") / "graph"))
    for settings in (neo4j, embedded):
        with open_store(settings) as store:
            _write_catalogue(store, settings)
    return neo4j, embedded


def _answers(settings: Settings, question: str, k: int) -> tuple[pd.DataFrame, str, type]:
    with open_store(settings, read_only=True) as store:
        catalogue = Catalogue.from_store(store, settings)
        result = ask(catalogue, question, k)
        return result.answers, result.ranked_by, type(catalogue.similarity)


@pytest.mark.parametrize(
    ("question", "k"),
    [("warm jacket for winter", 3), ("something to read by at night", 4), ("shoes under 150", 2)],
)
def test_neo4j_ranks_with_the_vector_index_like_the_embedded_store(
    stores: tuple[Settings, Settings], question: str, k: int
) -> None:
    neo4j, embedded = stores
    indexed, how, kind = _answers(neo4j, question, k)
    in_memory, how_embedded, kind_embedded = _answers(embedded, question, k)
    assert kind is VectorIndexSimilarity and "Neo4j vector index item_text_embedding" in how
    assert kind_embedded is InMemorySimilarity and how_embedded == "cosine similarity computed in memory"
    assert list(indexed["item"]) == list(in_memory["item"]) and len(indexed) == k
    np.testing.assert_allclose(indexed["score"], in_memory["score"], atol=2e-3)


def test_too_few_nearest_items_pass_the_filters_so_the_index_is_asked_for_more(
    stores: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lamps are far from a question about winter: the first two nearest items are
    jackets, and the filter wants lamps, so the index is asked again for more."""
    neo4j, embedded = stores
    monkeypatch.setattr(similarity_module, "FIRST_CANDIDATES", 2)
    indexed, _, _ = _answers(neo4j, "lamp for cold winter evenings", 2)
    in_memory, _, _ = _answers(embedded, "lamp for cold winter evenings", 2)
    assert list(indexed["item"]) == list(in_memory["item"]) and set(indexed["item"]) == {"P6", "P7"}


def test_kg_ask_says_it_ranked_with_the_index(stores: tuple[Settings, Settings]) -> None:
    result = invoke("ask", "--search", "waterproof jacket under 150", env=neo4j_env())
    assert result.exit_code == 0, result.output
    output = one_line(result.output)
    assert "Ranked by Neo4j vector index item_text_embedding (db.index.vector.queryNodes)." in output
    assert "Storm Shell Jacket" in output and "Alpine Down Jacket" not in output  # 220 is over 150


def test_without_an_index_neo4j_ranks_in_memory(tmp_path: Path) -> None:
    settings = neo4j_settings()
    with open_store(settings) as dirty:
        wipe(dirty)
    with open_store(settings) as store:
        store.upsert_nodes("Item", ITEMS)
    _, how, kind = _answers(settings, "warm jacket", 2)
    assert kind is InMemorySimilarity and how == "cosine similarity computed in memory"
