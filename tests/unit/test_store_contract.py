"""The contract of ``GraphStore``: every adapter must pass the same tests.

The embedded store always runs; Neo4j runs when ``KG_NEO4J_URI`` names a server (see
``tests/neo4j_server.py``; the database is emptied before each test) and is skipped with
the reason otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg.errors import InputError, KGError, SchemaError, StoreError
from kg.store import GraphStore, open_store
from tests.neo4j_server import empty_store_settings

HOSTILE_LABEL = "User`) DETACH DELETE n //"


@pytest.fixture(params=["ladybug", "neo4j"])
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty store of each kind, with three users and three items."""
    settings = empty_store_settings(request.param, tmp_path)
    with open_store(settings) as store:
        store.upsert_nodes(
            "User",
            pd.DataFrame({"id": ["u1", "u2", "u3"], "name": ["Ann", "Bob", "Cy"], "age": [30, 40, 50]}),
        )
        store.upsert_nodes(
            "Item",
            pd.DataFrame(
                {"id": ["i1", "i2", "i3"], "name": ["Tent", "Lamp", "Boot"], "price": [100.0, 20.0, 80.0]}
            ),
        )
        yield store


def _node(store: GraphStore, label: str, key: str) -> dict:
    frame = pd.concat(list(store.iter_nodes(label)), ignore_index=True)
    return frame.set_index("id").loc[key].to_dict()


def _rels(store: GraphStore, rel_type: str) -> pd.DataFrame:
    frames = list(store.iter_relationships(rel_type))
    if not frames:
        return pd.DataFrame(columns=["from_label", "from_id", "to_label", "to_id"])
    return pd.concat(frames, ignore_index=True).sort_values(["from_id", "to_id"]).reset_index(drop=True)


def _purchases(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["from_id", "to_id", "count", "amount"])


# ---------------------------------------------------------------------- schema and counts
def test_ensure_schema_is_idempotent_and_counts_every_declared_name(graph: GraphStore) -> None:
    graph.ensure_schema()
    graph.ensure_schema()
    counts = graph.counts()
    assert set(counts.nodes) == set(graph.schema.nodes)
    assert set(counts.relationships) == set(graph.schema.rels)
    assert counts.nodes["User"] == 3 and counts.nodes["Item"] == 3 and counts.nodes["Brand"] == 0
    assert counts.total_relationships == 0


# ---------------------------------------------------------------------- node upserts
def test_node_upsert_is_idempotent(graph: GraphStore) -> None:
    again = graph.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2", "u4"], "name": ["Ann", "Bob", "Di"]}))
    assert (again.created, again.updated, again.unchanged) == (1, 0, 2)
    same = graph.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2", "u4"], "name": ["Ann", "Bob", "Di"]}))
    assert (same.created, same.updated, same.unchanged) == (0, 0, 3)
    assert graph.counts().nodes["User"] == 4


def test_last_write_wins_and_missing_values_never_erase(graph: GraphStore) -> None:
    graph.upsert_nodes("Item", pd.DataFrame({"id": ["i1"], "name": ["Tent XL"], "price": [np.nan]}))
    graph.upsert_nodes("User", pd.DataFrame({"id": ["u1"], "name": [None], "age": [31]}))
    item, user = _node(graph, "Item", "i1"), _node(graph, "User", "u1")
    assert item["name"] == "Tent XL" and item["price"] == pytest.approx(100.0)
    assert user["name"] == "Ann" and user["age"] == 31


def test_duplicate_keys_in_one_batch_keep_the_last_row(graph: GraphStore) -> None:
    result = graph.upsert_nodes(
        "Brand",
        pd.DataFrame({"id": ["b1", "b1"], "name": ["First", "Second"], "aliases": [["a"], ["x", "y"]]}),
    )
    assert result.created == 1
    brand = _node(graph, "Brand", "b1")
    assert brand["name"] == "Second" and list(brand["aliases"]) == ["x", "y"]


def test_existing_node_ids(graph: GraphStore) -> None:
    assert graph.existing_node_ids("User", ["u1", "u3", "nope"]) == {"u1", "u3"}
    assert graph.existing_node_ids("User", []) == set()


# ---------------------------------------------------------------------- relationship upserts
def test_relationship_upsert_is_idempotent_last_write_wins_and_nan_keeps(graph: GraphStore) -> None:
    first = graph.upsert_relationships(
        "PURCHASED", "User", "Item", _purchases([("u1", "i1", 1, 100.0), ("u2", "i2", 2, 40.0)])
    )
    assert (first.created, first.updated) == (2, 0)
    second = graph.upsert_relationships(
        "PURCHASED", "User", "Item", _purchases([("u1", "i1", 3, np.nan), ("u3", "i3", 1, 80.0)])
    )
    assert (second.created, second.updated) == (1, 1)
    rels = _rels(graph, "PURCHASED")
    assert rels[["from_id", "to_id"]].values.tolist() == [["u1", "i1"], ["u2", "i2"], ["u3", "i3"]]
    assert rels.loc[0, "count"] == 3 and rels.loc[0, "amount"] == pytest.approx(100.0)
    assert graph.counts().relationships["PURCHASED"] == 3


def test_relationship_update_keeps_properties_the_batch_does_not_name(graph: GraphStore) -> None:
    graph.upsert_relationships(
        "PURCHASED", "User", "Item", _purchases([("u1", "i1", 1, 100.0), ("u2", "i2", 2, 40.0)])
    )
    only_count = pd.DataFrame({"from_id": ["u1", "u2"], "to_id": ["i1", "i2"], "count": [5, 2]})
    result = graph.upsert_relationships("PURCHASED", "User", "Item", only_count)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)  # u2 kept its count
    rels = _rels(graph, "PURCHASED")
    assert rels["count"].tolist() == [5, 2]
    assert rels["amount"].tolist() == pytest.approx([100.0, 40.0])
    assert graph.counts().relationships["PURCHASED"] == 2


def test_dangling_endpoint_is_refused_and_nothing_is_written(graph: GraphStore) -> None:
    with pytest.raises(InputError):
        graph.upsert_relationships(
            "PURCHASED", "User", "Item", _purchases([("u1", "i1", 1, 1.0), ("u1", "missing", 1, 1.0)])
        )
    with pytest.raises(InputError):
        graph.upsert_relationships("PURCHASED", "User", "Item", _purchases([("ghost", "i1", 1, 1.0)]))
    assert graph.counts().relationships["PURCHASED"] == 0


def test_undeclared_endpoints_and_properties_are_refused(graph: GraphStore) -> None:
    with pytest.raises(SchemaError):
        graph.upsert_relationships("PURCHASED", "Item", "User", _purchases([("i1", "u1", 1, 1.0)]))
    with pytest.raises(SchemaError):
        graph.upsert_nodes("User", pd.DataFrame({"id": ["u1"], "undeclared": [1]}))


# ---------------------------------------------------------------------- write-back
def test_set_node_properties_scalars_and_float_lists(graph: GraphStore) -> None:
    vectors = [np.array([0.1, 0.2, 0.3], dtype=np.float32), [1.0, 0.0, -1.0]]
    written = graph.set_node_properties(
        "Item",
        pd.DataFrame(
            {
                "id": ["i1", "i2", "nope"],
                "score_pop": [0.5, 0.25, 1.0],
                "embedding_test": [*vectors, [0.0, 0.0, 0.0]],
            }
        ),
    )
    assert written == 2
    assert graph.schema.nodes["Item"].properties["embedding_test"] == "DOUBLE[]"
    assert graph.schema.nodes["Item"].properties["score_pop"] == "DOUBLE"
    item = _node(graph, "Item", "i1")
    assert item["score_pop"] == pytest.approx(0.5)
    assert list(item["embedding_test"]) == pytest.approx([0.1, 0.2, 0.3], abs=1e-6)
    assert item["name"] == "Tent"  # untouched columns stay
    with pytest.raises(SchemaError):
        graph.set_node_properties("Item", pd.DataFrame({"id": ["i1"], "embedding_test": ["text"]}))


# ---------------------------------------------------------------------- replace and delete
def test_replace_relationships_swaps_only_the_given_sources(graph: GraphStore) -> None:
    recs = pd.DataFrame(
        {
            "from_id": ["u1", "u1", "u2"],
            "to_id": ["i1", "i2", "i3"],
            "score": [0.9, 0.8, 0.7],
            "rank": [1, 2, 1],
        }
    )
    assert graph.replace_relationships("RECOMMENDED", "User", "Item", recs) == 3
    fresh = pd.DataFrame({"from_id": ["u1"], "to_id": ["i3"], "score": [0.95], "rank": [1]})
    graph.replace_relationships("RECOMMENDED", "User", "Item", fresh)
    rels = _rels(graph, "RECOMMENDED")
    assert rels[["from_id", "to_id"]].values.tolist() == [["u1", "i3"], ["u2", "i3"]]
    assert rels.loc[0, "score"] == pytest.approx(0.95)


def test_replace_relationships_is_atomic(graph: GraphStore) -> None:
    recs = pd.DataFrame({"from_id": ["u1", "u2"], "to_id": ["i1", "i2"], "rank": [1, 1]})
    graph.replace_relationships("RECOMMENDED", "User", "Item", recs)
    broken = pd.DataFrame({"from_id": ["u1", "u1"], "to_id": ["i3", "missing"], "rank": [1, 2]})
    with pytest.raises(InputError):
        graph.replace_relationships("RECOMMENDED", "User", "Item", broken)
    assert _rels(graph, "RECOMMENDED")[["from_id", "to_id"]].values.tolist() == [["u1", "i1"], ["u2", "i2"]]


def test_delete_relationships_removes_one_type(graph: GraphStore) -> None:
    graph.upsert_relationships(
        "PURCHASED", "User", "Item", _purchases([("u1", "i1", 1, 1.0), ("u2", "i1", 1, 1.0)])
    )
    graph.upsert_relationships("VIEWED", "User", "Item", pd.DataFrame({"from_id": ["u1"], "to_id": ["i2"]}))
    assert graph.delete_relationships("PURCHASED") == 2
    counts = graph.counts().relationships
    assert counts["PURCHASED"] == 0 and counts["VIEWED"] == 1


# ---------------------------------------------------------------------- reads
def test_iteration_is_complete_deterministic_and_batched(graph: GraphStore) -> None:
    graph.upsert_nodes("User", pd.DataFrame({"id": [f"x{i:02d}" for i in range(20)]}))
    graph.upsert_relationships(
        "VIEWED",
        "User",
        "Item",
        pd.DataFrame({"from_id": [f"x{i:02d}" for i in range(20)], "to_id": ["i1"] * 20}),
    )
    batches = list(graph.iter_nodes("User", properties=["name"], batch_size=7))
    assert len(batches) >= 3 and all(len(b) <= 7 for b in batches)
    first = pd.concat(batches, ignore_index=True)
    second = pd.concat(list(graph.iter_nodes("User", properties=["name"], batch_size=7)), ignore_index=True)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["id", "name"] and sorted(first["id"]) == sorted(
        ["u1", "u2", "u3"] + [f"x{i:02d}" for i in range(20)]
    )

    rels = _rels(graph, "VIEWED")
    assert list(rels.columns[:4]) == ["from_label", "from_id", "to_label", "to_id"] and len(rels) == 20
    triples = pd.concat(list(graph.iter_triples(["VIEWED"])), ignore_index=True)
    again = pd.concat(list(graph.iter_triples(["VIEWED"])), ignore_index=True)
    pd.testing.assert_frame_equal(triples, again)
    assert set(triples["head"]) == {f"User:x{i:02d}" for i in range(20)}
    assert set(triples["relation"]) == {"VIEWED"} and set(triples["tail"]) == {"Item:i1"}


def test_query_is_read_only_unless_asked(graph: GraphStore) -> None:
    with pytest.raises(StoreError, match="read-only"):
        graph.query("CREATE (:User {id: 'intruder'})")
    assert graph.counts().nodes["User"] == 3
    graph.query("MATCH (u:User {id: $id}) SET u.name = $name", {"id": "u1", "name": "Annie"}, write=True)
    assert _node(graph, "User", "u1")["name"] == "Annie"


def test_values_travel_as_parameters(graph: GraphStore) -> None:
    hostile = "x'}) DETACH DELETE n //"
    graph.upsert_nodes("User", pd.DataFrame({"id": [hostile], "name": [hostile]}))
    found = graph.query("MATCH (u:User) WHERE u.id = $id RETURN u.name AS name", {"id": hostile})
    assert found["name"].tolist() == [hostile]
    assert graph.counts().nodes["User"] == 4


@pytest.mark.parametrize(
    "attempt",
    [
        lambda s: s.upsert_nodes(HOSTILE_LABEL, pd.DataFrame({"id": ["a"]})),
        lambda s: s.upsert_nodes("User", pd.DataFrame({"id": ["a"], "name`) DETACH DELETE n //": [1]})),
        lambda s: s.set_node_properties(
            "User", pd.DataFrame({"id": ["u1"], "x` = 1 DETACH DELETE n //": [1.0]})
        ),
        lambda s: s.upsert_relationships("PURCHASED`]->() DELETE r //", "User", "Item", _purchases([])),
        lambda s: list(s.iter_nodes(HOSTILE_LABEL)),
        lambda s: s.delete_relationships("PURCHASED]->() DETACH DELETE n //"),
    ],
    ids=["label", "property", "write-back property", "relationship type", "iter label", "delete type"],
)
def test_hostile_identifiers_are_refused_before_reaching_the_store(graph: GraphStore, attempt) -> None:
    with pytest.raises(KGError):
        attempt(graph)
    assert graph.counts().nodes["User"] == 3 and graph.counts().nodes["Item"] == 3


def test_an_upsert_tells_created_changed_and_unchanged_rows(graph: GraphStore) -> None:
    """A re-ingest of the same rows changes nothing and says so (issue 11: it reported
    "updated 100,000" when nothing changed)."""
    same = graph.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2"], "name": ["Ann", "Bob"]}))
    assert (same.created, same.updated, same.unchanged) == (0, 0, 2)
    mixed = graph.upsert_nodes(
        "User", pd.DataFrame({"id": ["u1", "u2", "u9"], "name": ["Ann", "Robert", None]})
    )
    assert (mixed.created, mixed.updated, mixed.unchanged) == (1, 1, 1)
    rows = pd.DataFrame({"from_id": ["u1", "u2"], "to_id": ["i1", "i2"], "count": [1, 2]})
    first = graph.upsert_relationships("PURCHASED", "User", "Item", rows)
    again = graph.upsert_relationships("PURCHASED", "User", "Item", rows)
    changed = graph.upsert_relationships("PURCHASED", "User", "Item", rows.assign(count=[1, 5]))
    assert (first.created, again.unchanged, again.updated) == (2, 2, 0)
    assert (changed.updated, changed.unchanged) == (1, 1)
