"""The defects found by reading the Neo4j adapter against 5.26 (issue 12, item 5), each
confirmed or refuted against the live server that `make test` starts (``neo4j-local/``).

The number in each test's name is the item's number in the issue."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from kg.export.neo4j_admin import AdminExport
from kg.store import open_store
from kg.store.neo4j import Neo4jStore, _whole_groups
from tests.neo4j_server import neo4j_env, neo4j_settings, wipe

runner = CliRunner()


@pytest.fixture
def store() -> Iterator[Neo4jStore]:
    settings = neo4j_settings()
    with open_store(settings) as dirty:
        wipe(dirty)
    with open_store(settings) as opened:
        assert isinstance(opened, Neo4jStore)
        opened.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2", "u3"]}))
        opened.upsert_nodes(
            "Item", pd.DataFrame({"id": ["i1", "i2", "i3"], "name": ["Tent", "Lamp", "Boot"]})
        )
        yield opened


def test_01_the_database_name_follows_full_in_the_import_command(tmp_path: Path) -> None:
    export = AdminExport(tmp_path, ";")
    export.nodes["User"] = (tmp_path / "User.nodes.csv", 3)
    command = export.import_command(database="neo4j")
    assert command.startswith("neo4j-admin database import full neo4j ")
    assert command.rstrip().endswith("User.nodes.csv"), "nothing after the last file"


def test_04_sessions_share_the_bookmarks_of_execute_query(store: Neo4jStore) -> None:
    manager = store.driver.execute_query_bookmark_manager
    before = set(manager.get_bookmarks())
    # a write through a session only (scalar write-back sends no execute_query)
    store.set_node_properties("User", pd.DataFrame({"id": ["u1"], "note": ["x"]}))
    assert set(manager.get_bookmarks()) != before, "the session's commit moved the shared bookmarks"
    assert store.query("MATCH (u:User {id: 'u1'}) RETURN u.note AS note")["note"][0] == "x"


def test_05_replace_runs_in_bounded_transactions_that_keep_each_user_whole(
    store: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Community cannot lower the transaction memory cap at run time (dbms.setConfigValue
    is Enterprise-only), so this checks the chunking itself: bounded chunks, a user never
    split across two, and the same edges as one big replace would leave."""
    users = [f"u{n}" for n in range(3000)]
    items = [f"i{n}" for n in range(40)]
    store.upsert_nodes("User", pd.DataFrame({"id": users}))
    store.upsert_nodes("Item", pd.DataFrame({"id": items}))
    rows = pd.DataFrame(
        [
            (u, items[(n + j) % 40], f"because of a long reason {n}-{j} " * 4)
            for n, u in enumerate(users)
            for j in range(10)
        ],
        columns=["from_id", "to_id", "reason"],
    )
    seen: set[str] = set()
    for ids, chunk in _whole_groups(rows, "from_id", 1000):
        assert set(chunk["from_id"]) == set(ids) and not seen & set(ids), (
            "a user never spans two transactions"
        )
        seen |= set(ids)
    monkeypatch.setattr("kg.store.neo4j.WRITE_CHUNK", 1000)
    store.replace_relationships("RECOMMENDED", "User", "Item", rows)  # 30,000 rows in 30 transactions
    store.replace_relationships("RECOMMENDED", "User", "Item", rows.iloc[::2])  # replace again, fewer
    counts = store.query("MATCH (u:User)-[r:RECOMMENDED]->() RETURN u.id AS id, count(r) AS n")
    expected = rows.iloc[::2].groupby("from_id").size()
    assert dict(zip(counts["id"], counts["n"], strict=True)) == expected.to_dict()


def test_06_values_arrive_as_their_declared_types(store: Neo4jStore) -> None:
    store.upsert_nodes(
        "User", pd.DataFrame({"id": ["u1", "u2"], "age": [31, np.nan]})
    )  # INT64 with a gap: float64
    store.upsert_nodes("Item", pd.DataFrame({"id": ["i1"], "price": [100]}))  # DOUBLE holding a whole number
    types = store.query(
        "MATCH (u:User {id: 'u1'}), (i:Item {id: 'i1'}) RETURN valueType(u.age) AS age, valueType(i.price) AS price"
    )
    assert types.to_dict("records") == [{"age": "INTEGER NOT NULL", "price": "FLOAT NOT NULL"}]


def test_07_server_notifications_do_not_reach_the_log(
    store: Neo4jStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="neo4j"):
        store.query("MATCH (n:NoSuchLabel) WHERE n.no_such_property = 1 RETURN n")
    assert not [
        r
        for r in caplog.records
        if "notification" in r.getMessage().lower() or "NoSuchLabel" in r.getMessage()
    ]


def test_10_query_parameters_are_typed_on_neo4j(store: Neo4jStore) -> None:
    store.upsert_nodes("Item", pd.DataFrame({"id": ["i1", "i2", "i3"], "year": [1975, 1990, 2001]}))
    result = runner.invoke(
        app,
        [
            "query",
            "MATCH (i:Item) WHERE i.year < $y RETURN i.id AS id ORDER BY id LIMIT $k",
            "-p",
            "y=1995",
            "-p",
            "k=5",
        ],
        env=neo4j_env(COLUMNS="200"),
    )
    assert result.exit_code == 0, result.output
    assert "i1" in result.output and "i2" in result.output and "i3" not in result.output


def test_11_written_back_scalars_are_rediscovered_on_reopen(store: Neo4jStore) -> None:
    store.set_node_properties(
        "Item", pd.DataFrame({"id": ["i1", "i2"], "model_run": ["run-7", "run-7"], "score_x": [0.5, 1.5]})
    )
    with open_store(neo4j_settings(), read_only=True) as reopened:
        properties = reopened.schema.nodes["Item"].all_properties()
        assert properties["model_run"] == "STRING" and properties["score_x"] == "DOUBLE"
        exported = pd.concat(reopened.iter_nodes("Item"))
    assert exported.set_index("id").loc["i2", "model_run"] == "run-7"


def test_12_an_equivalent_vector_index_under_another_name_is_used(store: Neo4jStore) -> None:
    store.query(
        "CREATE VECTOR INDEX analysts_index IF NOT EXISTS FOR (n:Item) ON n.embedding_demo "
        "OPTIONS {indexConfig: {`vector.dimensions`: 3, `vector.similarity_function`: 'cosine'}}",
        write=True,
    )
    vectors = pd.DataFrame(
        {"id": ["i1", "i2", "i3"], "embedding_demo": [[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1.0]]}
    )
    assert store.set_node_properties("Item", vectors) == 3
    nearest = store.query(
        "MATCH (i:Item {id: 'i1'}) CALL db.index.vector.queryNodes('analysts_index', 2, i.embedding_demo) "
        "YIELD node RETURN node.id AS id"
    )
    assert nearest["id"].tolist() == ["i1", "i2"]


def test_13_no_marker_property_key_is_left_behind(store: Neo4jStore) -> None:
    created = store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u9"]}))
    assert (created.created, created.updated, created.unchanged) == (1, 0, 1)
    rel = store.upsert_relationships(
        "PURCHASED", "User", "Item", pd.DataFrame({"from_id": ["u1", "u1"], "to_id": ["i1", "i2"]})
    )
    again = store.upsert_relationships(
        "PURCHASED", "User", "Item", pd.DataFrame({"from_id": ["u1"], "to_id": ["i1"]})
    )
    assert (rel.created, again.created, again.updated, again.unchanged) == (2, 0, 0, 1)
    assert (
        "_created"
        not in store.query("CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey")[
            "propertyKey"
        ].tolist()
    )


def test_14_call_in_transactions_runs_with_write(store: Neo4jStore) -> None:
    result = runner.invoke(
        app,
        ["query", "--write", "MATCH (u:User) CALL (u) { SET u.flag = true } IN TRANSACTIONS OF 2 ROWS"],
        env=neo4j_env(COLUMNS="200"),
    )
    assert result.exit_code == 0, result.output
    assert store.query("MATCH (u:User) WHERE u.flag RETURN count(*) AS n")["n"][0] == 3


def test_15_existing_constraints_are_not_created_again(
    store: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    original = Neo4jStore._execute

    def recording(self: Neo4jStore, cypher: str, params: dict | None = None, *, read: bool = False):  # type: ignore[no-untyped-def]
        sent.append(cypher)
        return original(self, cypher, params, read=read)

    monkeypatch.setattr(Neo4jStore, "_execute", recording)
    with open_store(neo4j_settings()) as reopened:
        reopened.upsert_nodes("User", pd.DataFrame({"id": ["u4"]}))
    assert not [s for s in sent if s.startswith("CREATE CONSTRAINT")], sent


def test_read_only_query_refuses_files_on_the_live_server(store: Neo4jStore) -> None:
    result = runner.invoke(
        app, ["query", "LOAD CSV FROM 'file:///etc/hostname' AS row RETURN row"], env=neo4j_env()
    )
    assert result.exit_code == 1 and "reaches outside the graph" in result.output
    writes = runner.invoke(app, ["query", "CREATE (:User {id: 'intruder'})"], env=neo4j_env())
    assert writes.exit_code == 1 and "read-only unless you pass --write" in " ".join(writes.output.split())
    assert store.query("MATCH (u:User {id: 'intruder'}) RETURN count(*) AS n")["n"][0] == 0


def test_wrong_password_missing_database_and_unreachable_server() -> None:
    wrong = runner.invoke(app, ["stats"], env=neo4j_env(KG_NEO4J_PASSWORD="definitely-wrong"))
    assert (
        wrong.exit_code == 1
        and "refused the credentials" in wrong.output
        and "definitely-wrong" not in wrong.output
    )
    missing = runner.invoke(app, ["stats"], env=neo4j_env(KG_NEO4J_DATABASE="nosuchdb"))
    assert missing.exit_code == 1 and "has no database 'nosuchdb'" in missing.output
    dead = runner.invoke(app, ["stats"], env=neo4j_env(KG_STORE="bolt://127.0.0.1:9"))
    assert dead.exit_code == 1 and "Cannot reach Neo4j at bolt://127.0.0.1:9" in dead.output
