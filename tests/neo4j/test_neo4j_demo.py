"""`kg demo` end to end with ``KG_STORE=bolt://...``: every stage runs against the live
server, and what it leaves behind is a graph an analyst can use (stats, recommendations,
segments, vector indexes that `similar-items` reads)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cli import app
from cypher import load_query
from kg.store import open_store
from tests.neo4j_server import empty_store_settings, neo4j_env

USERS, ITEMS = 60, 40


def test_demo_runs_end_to_end_on_neo4j(tmp_path: Path) -> None:
    settings = empty_store_settings("neo4j", tmp_path)
    env = neo4j_env(KG_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--users", str(USERS), "--items", str(ITEMS)], env=env)
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert f"Ingest into the neo4j store at {settings.store}" in out
    for stage in (
        "3. Ask the graph",
        "4. Extract facts",
        "5. Describe nodes",
        "6. Recommend",
        "Demo finished",
    ):
        assert stage in out, stage
    assert "Fusion weights learned on a validation split" in out and "kge" in out
    assert f"Wrote {10 * USERS:,} RECOMMENDED edges" in out
    assert "Customer segments (kmeans-k8-kge:" in out

    with open_store(settings, read_only=True) as store:
        counts = store.counts()
        assert counts.nodes["User"] == USERS and counts.nodes["Item"] == ITEMS
        assert counts.nodes["Document"] > ITEMS and counts.relationships["MENTIONS"] > 0
        assert counts.relationships["RECOMMENDED"] == 10 * USERS
        assert counts.relationships["IN_SEGMENT"] == USERS
        assert 1 <= counts.nodes["Segment"] <= 8  # segments under privacy.min_group_size are merged
        sizes = store.query("MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) RETURN s.id AS s, count(u) AS n")
        assert sizes["n"].min() >= 10
        per_user = store.query("MATCH (u:User)-[r:RECOMMENDED]->() RETURN u.id AS user, count(r) AS n")
        assert len(per_user) == USERS and set(per_user["n"]) == {10}
        indexes = store.query("SHOW VECTOR INDEXES YIELD name, state RETURN name, state")
        assert {"item_text_embedding", "item_embedding_distmult", "user_embedding_distmult"} <= set(
            indexes["name"]
        )
        assert set(indexes["state"]) == {"ONLINE"}
        vectors = store.query("MATCH (i:Item) RETURN i.id AS id, i.text_embedding AS v ORDER BY id")

    stats = runner.invoke(app, ["stats"], env=env)
    assert stats.exit_code == 0, stats.output
    shown = " ".join(stats.output.split())
    for label, n in (("User", USERS), ("Item", ITEMS), ("RECOMMENDED", 10 * USERS)):
        assert re.search(rf"\b{label} │ {n:,} │", shown), (label, shown)

    # the query library's similar-items reads the text index the demo wrote, with its defaults
    similar = runner.invoke(app, ["query", "similar-items", "--param", "k=3"], env=env)
    assert similar.exit_code == 0, similar.output
    item = load_query("similar-items").params["item"].default
    unit = np.array(vectors["v"].tolist())
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    similarity = np.round(
        (1 + unit @ unit[vectors["id"].tolist().index(item)]) / 2, 4
    )  # Neo4j's cosine score
    ranked = sorted(zip(-similarity, vectors["id"], strict=True))
    nearest = [other for _, other in ranked if other != item][:3]
    assert re.findall(r"│ (P\d{5}) │", similar.output) == nearest
