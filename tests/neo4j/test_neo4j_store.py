"""Neo4j-specific behaviour: URIs, errors a user can act on, vector indexes, and the
library on a live server. Connection errors run everywhere (the real driver against a
closed port); the rest needs ``KG_NEO4J_URI`` (see ``tests/neo4j_server.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cypher import list_queries
from kg.config import load_settings
from kg.errors import StoreError
from kg.store import GraphStore, open_store
from kg.store.neo4j_cypher import vector_index_name
from tests.library_answers import EXPECTED, assert_answer_matches
from tests.neo4j_server import NEO4J_URI, neo4j_settings, wipe
from tests.shop_graph import ShopGraph, build_shop_graph

CLOSED_PORT = "127.0.0.1:1"


@pytest.mark.parametrize("scheme", ["bolt", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"])
def test_every_neo4j_scheme_opens_the_neo4j_adapter_and_a_dead_server_is_one_clear_error(scheme: str) -> None:
    settings = load_settings(store=f"{scheme}://{CLOSED_PORT}", neo4j_password="not-a-real-password")
    assert settings.uses_neo4j
    with pytest.raises(StoreError, match="Cannot reach Neo4j"):
        open_store(settings)


def test_missing_password_and_bad_uri_say_what_to_fix() -> None:
    with pytest.raises(StoreError, match="KG_NEO4J_PASSWORD"):
        open_store(load_settings(store=f"bolt://{CLOSED_PORT}"))
    with pytest.raises(StoreError, match="Invalid Neo4j URI"):
        open_store(load_settings(store="neo4j://localhost:7687/?bad", neo4j_password="x"))


# ---------------------------------------------------------------------- live server
@pytest.fixture(scope="module")
def live_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStore, ShopGraph]]:
    settings = neo4j_settings()
    with open_store(settings) as dirty:
        wipe(dirty)
    with open_store(settings) as store:
        yield store, build_shop_graph(store, tmp_path_factory.mktemp("neo4j-shop"))


def test_routing_uri_and_database_name(live_shop: tuple[GraphStore, ShopGraph]) -> None:
    assert NEO4J_URI is not None
    host = NEO4J_URI.split("://", 1)[1]
    with open_store(neo4j_settings(f"neo4j://{host}"), read_only=True) as routed:
        assert routed.counts().nodes["User"] == len(live_shop[1].users)
    with pytest.raises(StoreError, match="KG_NEO4J_DATABASE"):
        open_store(neo4j_settings(neo4j_database="nosuchdb"))


def test_constraints_exist_for_every_label(live_shop: tuple[GraphStore, ShopGraph]) -> None:
    store, _ = live_shop
    found = store.query("SHOW CONSTRAINTS YIELD labelsOrTypes, type RETURN labelsOrTypes, type")
    unique = {
        labels[0]
        for labels, kind in zip(found["labelsOrTypes"], found["type"], strict=True)
        if "UNIQUE" in kind
    }
    assert set(store.schema.nodes) <= unique


def test_embedding_write_back_creates_a_vector_index_queryable_by_name(
    live_shop: tuple[GraphStore, ShopGraph],
) -> None:
    store, graph = live_shop
    ids = graph.items["id"].tolist()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(ids), 8))
    vectors[1] = vectors[0] + 0.01  # a near twin of the first item
    store.set_node_properties("Item", pd.DataFrame({"id": ids, "embedding_contract": list(vectors)}))
    name = vector_index_name("Item", "embedding_contract")
    indexes = store.query("SHOW VECTOR INDEXES YIELD name, options RETURN name, options")
    config = dict(zip(indexes["name"], indexes["options"], strict=True))[name]["indexConfig"]
    assert config["vector.dimensions"] == 8 and config["vector.similarity_function"].lower() == "cosine"
    near = store.query(
        "MATCH (i:Item {id: $id}) CALL db.index.vector.queryNodes($index, 2, i.embedding_contract) YIELD node "
        "WITH node WHERE node.id <> $id RETURN node.id AS id",
        {"id": ids[0], "index": name},
    )
    assert near["id"].tolist() == [ids[1]]
    # a retrained model with another dimension rebuilds the index
    store.set_node_properties(
        "Item", pd.DataFrame({"id": ids, "embedding_contract": list(rng.normal(size=(len(ids), 4)))})
    )
    indexes = store.query("SHOW VECTOR INDEXES YIELD name, options RETURN name, options")
    assert (
        dict(zip(indexes["name"], indexes["options"], strict=True))[name]["indexConfig"]["vector.dimensions"]
        == 4
    )


def test_every_library_query_runs_on_neo4j_and_portable_ones_match(
    live_shop: tuple[GraphStore, ShopGraph],
) -> None:
    store, graph = live_shop
    # its own vectors and index: the test once relied on an index an earlier test made
    vectors = [[float(i % 5), 1.0, float(i % 3), 0.5] for i in range(len(graph.items))]
    store.set_node_properties("Item", pd.DataFrame({"id": graph.items["id"], "embedding_contract": vectors}))
    for query in list_queries():
        given = {"k": "100000"} if "k" in query.params else {}
        if query.name == "similar-items":
            given |= {
                "index": vector_index_name("Item", "embedding_contract"),
                "property": "embedding_contract",
            }
        params = query.bind(given)
        actual = store.query(query.text, params)
        if query.name in EXPECTED:
            assert_answer_matches(query.name, actual, graph, params)


def test_export_from_neo4j_streams_every_row(live_shop: tuple[GraphStore, ShopGraph], tmp_path: Path) -> None:
    from kg.export import export_neo4j_admin

    store, _ = live_shop
    export = export_neo4j_admin(store, tmp_path / "admin", batch_size=50)
    counts = store.counts()
    assert {label: rows for label, (_, rows) in export.nodes.items()} == {
        k: v for k, v in counts.nodes.items() if v
    }
