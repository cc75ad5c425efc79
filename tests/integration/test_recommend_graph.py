"""The recommender on a real embedded store holding a small synthetic shop.

One shop and one fitted recommender per module (fitting tunes every signal on a
validation split, encodes item text with MiniLM): the tests then ask it questions and
check the answers against the graph itself. The same shop in Neo4j checks the
write-back commands (`kg recommend --write`, `--all --write`, `kg segment --write`) there.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from kg.config import RecommendSettings, Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.errors import InputError, NotFoundError
from kg.ingest import ingest_path
from kg.recommend.audience import audience
from kg.recommend.filters import ItemFilter
from kg.recommend.fusion import standardize
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.segments import segment_table, segment_users, write_segments
from kg.recommend.service import load_recommender, write_all_recommendations
from kg.recommend.signals.base import ScorerContext
from kg.recommend.signals.kge import LinkPrediction, graph_triples
from kg.recommend.writeback import write_recommendations
from kg.store import GraphStore, open_store
from tests.neo4j_server import empty_store_settings, neo4j_env

SHOP = ShopSize(users=200, items=80, purchases_per_user=6.0, views_per_user=12.0, reviews=0)
NEW_USER, NEW_ITEM = "U-NEW", "P-NEW"


def _load_shop(store: GraphStore, folder: Path) -> None:
    """The shop, plus a customer who has only signed up and a product nobody has seen yet."""
    for data, mapping in generate_shop(folder, SHOP, seed=3):
        ingest_path(store, data, mapping=mapping)
    store.upsert_nodes(
        "User", pd.DataFrame({"id": [NEW_USER], "name": ["Nova New"], "gender": ["F"], "country": ["DE"]})
    )
    store.upsert_nodes(
        "Item",
        pd.DataFrame(
            {
                "id": [NEW_ITEM],
                "name": ["Northpeak Glacier Tent"],
                "description": ["A four-season tent by Northpeak, made of nylon, for alpine camping."],
                "price": [420.0],
                "in_stock": [True],
            }
        ),
    )
    store.upsert_relationships(
        "HAS_BRAND", "Item", "Brand", pd.DataFrame({"from_id": [NEW_ITEM], "to_id": ["northpeak"]})
    )
    store.upsert_relationships(
        "IN_CATEGORY", "Item", "Category", pd.DataFrame({"from_id": [NEW_ITEM], "to_id": ["cat-tents"]})
    )


@pytest.fixture(scope="module")
def shop_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "data", recommend=RecommendSettings())
    with open_store(settings) as store:
        _load_shop(store, root / "files")
    return settings


@pytest.fixture(scope="module")
def recommender(shop_settings: Settings) -> Recommender:
    with open_store(shop_settings) as store:
        return load_recommender(store, shop_settings)


@pytest.fixture
def shop_store(shop_settings: Settings) -> Iterator[GraphStore]:
    with open_store(shop_settings) as store:
        yield store


def test_export_reads_interactions_attribute_paths_and_cohorts(recommender: Recommender) -> None:
    graph = recommender.graph
    assert set(graph.relations) == {"PURCHASED", "VIEWED"}
    assert graph.n_users == SHOP.users + 1 and graph.n_items == SHOP.items + 1
    attributes = graph.attributes
    assert {"Brand", "Category", "Material"} <= set(attributes["label"])
    parents = attributes[attributes["path"] == "IN_CATEGORY>SUBCATEGORY_OF"]
    assert set(parents["key"]) <= {
        "cat-footwear",
        "cat-apparel",
        "cat-electronics",
        "cat-home",
        "cat-outdoor",
    }
    tent = graph.item_index(NEW_ITEM)
    reached = set(attributes.iloc[graph.item_attributes[tent].indices]["key"])
    assert reached == {"northpeak", "cat-tents", "cat-outdoor"}  # brand, category and its parent
    assert {"gender", "country"} <= set(graph.cohorts["property"])


def test_recommendations_never_include_seen_items(recommender: Recommender, shop_store: GraphStore) -> None:
    graph = recommender.graph
    frames = pd.concat(recommender.recommend_users(np.arange(graph.n_users), 10, explain=False))
    assert len(frames) == 10 * graph.n_users
    users = frames["user"].map(graph.user_index).to_numpy()
    items = frames["item"].map(graph.item_index).to_numpy()
    assert not np.asarray(graph.matrix[users, items]).any()
    # and against the store itself, for one user
    seen = shop_store.query(
        "MATCH (u:User {id: $user})-[:PURCHASED|VIEWED]->(i:Item) RETURN DISTINCT i.id AS item",
        {"user": "U00001"},
    )
    assert not set(recommender.recommend("U00001", 20, explain=False)["item"]) & set(seen["item"])


@pytest.mark.parametrize(
    "chosen",
    [
        None,
        ItemFilter(category="Footwear"),
        ItemFilter(brand="Northpeak", in_stock=True),
        ItemFilter(max_price=60.0),
    ],
    ids=["none", "category", "brand-in-stock", "price"],
)
def test_no_seen_item_for_any_user_k_or_filter(recommender: Recommender, chosen: ItemFilter | None) -> None:
    """For random users and every k up to the whole catalogue: exactly the allowed unseen
    items are candidates, each at most once, never a seen one."""
    graph = recommender.graph
    allowed = chosen.allowed(graph) if chosen else np.ones(graph.n_items, bool)
    users = np.random.default_rng(0).choice(graph.n_users, size=25, replace=False)
    for k in (1, 7, graph.n_items):
        frame = pd.concat(recommender.recommend_users(users, k, chosen, explain=False), ignore_index=True)
        for user, rows in frame.groupby("user"):
            row = graph.user_index(user)
            items = rows["item"].map(graph.item_index).to_numpy()
            seen = set(graph.matrix[row].indices)
            candidates = int((allowed & ~np.isin(np.arange(graph.n_items), list(seen))).sum())
            assert not seen & set(items) and len(set(items)) == len(items)
            assert allowed[items].all() and len(items) == min(k, candidates)
            assert list(rows["rank"]) == list(range(1, len(items) + 1))
    similar = recommender.similar_items("P00003", graph.n_items)
    assert "P00003" not in set(similar["item"]) and len(similar) == graph.n_items - 1


def test_unknown_user_and_item_are_clear_errors(recommender: Recommender) -> None:
    with pytest.raises(NotFoundError, match="No user 'nobody'"):
        recommender.recommend("nobody")
    with pytest.raises(NotFoundError, match="No item 'P99999'"):
        recommender.similar_items("P99999")
    with pytest.raises(NotFoundError, match="did you mean 'Footwear'"):
        recommender.recommend("U00001", item_filter=ItemFilter(category="Footwar"))
    with pytest.raises(NotFoundError, match="No item, category, brand or genre"):
        audience(recommender, "no-such-thing", 5)


def test_new_user_gets_popularity_and_cohort_results(recommender: Recommender) -> None:
    frame = recommender.recommend(NEW_USER, 10)
    assert len(frame) == 10
    assert set(frame["signal"]) <= {"popularity", "cohort"}
    assert recommender.cold_weights and set(recommender.cold_weights) <= {"popularity", "cohort"}
    # without a history, the ranking is the cold-start fusion: the most popular items lead
    popularity = recommender.graph.item_popularity
    top = frame["item"].map(recommender.graph.item_index)
    assert popularity[top].mean() > np.quantile(popularity, 0.75)


def test_new_item_is_reachable_through_text_and_attributes(recommender: Recommender) -> None:
    similar = recommender.similar_items(NEW_ITEM, 5)
    assert len(similar) == 5 and NEW_ITEM not in set(similar["item"])
    assert set(similar["signal"]) & {"text", "attributes"}
    graph = recommender.graph
    tent = graph.item_index(NEW_ITEM)
    outdoor_fans = np.flatnonzero(
        np.asarray(
            graph.matrix[
                :, graph.item_attributes[:, graph.item_attributes[tent].indices].sum(axis=1).nonzero()[0]
            ].sum(axis=1)
        ).ravel()
        > 3
    )
    scores, _, _ = recommender.fused_scores(outdoor_fans, graph.matrix[outdoor_fans])
    assert np.isfinite(scores[:, tent]).all() and (scores[:, tent] != 0).any()


def test_filters_restrict_recommendations(recommender: Recommender) -> None:
    graph = recommender.graph
    chosen = ItemFilter(category="Footwear", max_price=120.0, in_stock=True)
    frame = recommender.recommend("U00002", 10, chosen, explain=False)
    assert not frame.empty
    items = graph.items.set_index("id").loc[frame["item"]]
    assert (items["price"] <= 120.0).all() and items["in_stock"].all()
    allowed = chosen.allowed(graph)
    assert allowed[frame["item"].map(graph.item_index)].all()
    with pytest.raises(InputError, match="above --max-price"):
        ItemFilter(min_price=10, max_price=5).allowed(graph)


def test_explanations_name_real_paths_with_real_counts(
    recommender: Recommender, shop_store: GraphStore
) -> None:
    graph = recommender.graph
    checked = set()
    for user_id in ("U00003", "U00010", "U00042", NEW_USER):
        user = graph.user_index(user_id)
        for item_id in recommender.recommend(user_id, 5)["item"]:
            explanation = recommender.explain(user, graph.item_index(item_id))
            rows = shop_store.query(explanation.cypher, explanation.params)
            assert len(rows) == 1, explanation.cypher
            count = int(rows.iloc[0, -1])
            assert count > 0 and f"{count:,}" in explanation.reason, (explanation.reason, count)
            assert explanation.params["item"] == item_id
            assert "$" not in explanation.inline() and json.dumps(item_id) in explanation.inline()
            checked.add(explanation.signal)
    assert len(checked) >= 2  # more than one kind of path explains something


def test_write_back_twice_leaves_one_set_per_user(recommender: Recommender, shop_store: GraphStore) -> None:
    first = write_all_recommendations(shop_store, recommender, k=5)
    second = write_all_recommendations(shop_store, recommender, k=4)
    users = recommender.graph.n_users
    assert first == 5 * users and second == 4 * users
    per_user = shop_store.query(
        "MATCH (u:User)-[r:RECOMMENDED]->(:Item) RETURN u.id AS user, count(r) AS n, min(r.`rank`) AS lo, max(r.`rank`) AS hi"
    )
    assert len(per_user) == users and set(per_user["n"]) == {4}
    assert set(per_user["lo"]) == {1} and set(per_user["hi"]) == {4}
    edges = shop_store.query(
        "MATCH (:User)-[r:RECOMMENDED]->(:Item) RETURN r.score AS score, r.reason AS reason, "
        "r.cypher AS cypher, r.model AS model, r.created_at AS created_at"
    )
    assert edges.notna().all().all() and set(edges["model"]) == {recommender.name}
    assert set(edges["created_at"]) == {recommender.created_at}
    one = recommender.recommend("U00005", 3)
    write_recommendations(shop_store, one, "another-model")
    rows = shop_store.query(
        "MATCH (u:User {id: $user})-[r:RECOMMENDED]->(i:Item) RETURN i.id AS item, r.model AS model, r.reason AS reason",
        {"user": "U00005"},
    )
    assert set(rows["item"]) == set(one["item"]) and set(rows["model"]) == {"another-model"}
    assert rows["reason"].str.len().min() > 10


def test_audience_excludes_converted_users_and_favours_the_category(recommender: Recommender) -> None:
    graph = recommender.graph
    item_audience = audience(recommender, "P00007", 15)
    item = graph.item_index("P00007")
    users = item_audience["user"].map(graph.user_index).to_numpy()
    assert len(users) == 15 and graph.matrix[users][:, item].nnz == 0
    assert item_audience["score"].is_monotonic_decreasing
    assert item_audience["reason"].str.len().min() > 10

    footwear = audience(recommender, "Footwear", 20)
    in_footwear = ItemFilter(category="Footwear").allowed(graph)
    share = np.asarray(graph.matrix[:, in_footwear].sum(axis=1)).ravel() / np.maximum(
        graph.matrix.sum(axis=1).A1, 1
    )
    chosen = footwear["user"].map(graph.user_index).to_numpy()
    assert share[chosen].mean() > share.mean()
    assert in_footwear[footwear["item"].map(graph.item_index)].all()


def test_segments_are_written_once_per_user_and_replace_older_ones(
    recommender: Recommender, shop_store: GraphStore
) -> None:
    graph: InteractionGraph = export_interactions(shop_store, RecommendSettings())
    six = segment_users(graph, 6, seed=1)
    write_segments(shop_store, graph, six)
    four = segment_users(graph, 4, seed=1)
    write_segments(shop_store, graph, four)
    segments = shop_store.query(
        "MATCH (s:Segment) RETURN s.id AS id, s.size AS size, s.`profile` AS `profile` ORDER BY id"
    )
    assert list(segments["id"]) == [f"segment-{i}" for i in range(1, 5)]
    assert segments["size"].sum() == graph.n_users
    members = shop_store.query(
        "MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) RETURN u.id AS user, s.id AS segment"
    )
    assert len(members) == graph.n_users and members["user"].is_unique
    sizes = members["segment"].value_counts()
    assert all(sizes[row.id] == row.size for row in segments.itertuples())
    profile = json.loads(segments["profile"].iloc[0])
    assert profile["size"] == segments["size"].iloc[0] and "top_attributes" in profile
    table = segment_table(four)
    assert list(table["size"]) == sorted(table["size"], reverse=True)


def test_saved_recommender_is_reused_until_the_graph_changes(
    shop_settings: Settings, recommender: Recommender
) -> None:
    with open_store(shop_settings) as store:
        again = load_recommender(store, shop_settings)
        assert again.fingerprint == recommender.fingerprint and again.created_at == recommender.created_at
        store.upsert_relationships(
            "PURCHASED", "User", "Item", pd.DataFrame({"from_id": [NEW_USER], "to_id": ["P00001"]})
        )
        changed = load_recommender(store, shop_settings)
    assert changed.fingerprint != recommender.fingerprint
    assert "P00001" not in set(changed.recommend(NEW_USER, 10)["item"])
    assert any("kge" in note for note in changed.notes)  # no KGE model trained: said, not failed
    assert Path(shop_settings.data_dir / "recommender" / "recommender.joblib").is_file()


def test_link_prediction_learns_the_interactions_and_fuses(recommender: Recommender) -> None:
    """Real PyKEEN training (a few epochs of DistMult) on the graph's triples."""
    graph = recommender.graph
    triples = graph_triples(graph)
    assert set(triples["relation"]) == {"PURCHASED", "VIEWED", "HAS_BRAND", "IN_CATEGORY", "MADE_OF"}
    assert triples["tail"].str.startswith(("Item:", "Brand:", "Category:", "Material:")).all()
    context = ScorerContext(kge_model="distmult", kge_epochs=8, kge_dim=32, kge_fits=1)
    kge = LinkPrediction(context)
    kge.fit(graph)
    users = np.arange(graph.n_users)
    scores = kge.score(users, graph.matrix)
    assert scores.shape == (graph.n_users, graph.n_items) and np.isfinite(scores).all()
    seen = graph.matrix.toarray() > 0
    assert scores[seen].mean() > scores[~seen].mean()  # it learned who interacts with what
    state = pickle.loads(pickle.dumps(kge))
    assert state.models == [] and state.run_id == kge.run_id  # saved models keep the run id only
    config = RecommendSettings(signals=["ease", "kge", "popularity"])
    fused = fit_recommender(graph, config, context, pretrained={"kge": kge})
    assert set(fused.weights) == {"ease", "kge", "popularity"}
    assert len(fused.recommend("U00004", 5)) == 5


def test_the_n3_weight_reaches_only_recipes_that_regularise(recommender: Recommender) -> None:
    """`recommend.kge_regularizer_weight` tunes ComplEx's N3 penalty; DistMult has none, and
    the same setting must not turn its fit into a recipe error."""
    for model, expected in (("complex", 0.05), ("distmult", 0.0)):
        kge = LinkPrediction(
            ScorerContext(kge_model=model, kge_epochs=2, kge_dim=8, kge_regularizer_weight=0.05)
        )
        kge.fit(recommender.graph)
        assert {m.recipe.regularizer_weight for m in kge.models} == {expected}
        assert all(m.recipe.embedding_dim == 8 and m.recipe.num_epochs == 2 for m in kge.models)


def test_link_prediction_sums_the_standardised_scores_of_differently_seeded_fits(
    recommender: Recommender,
) -> None:
    """``kge_fits`` in-memory fits with seeds seed, seed+1, ...: each is a real, different
    model, and the signal is the sum of their per-user standardised scores."""
    graph = recommender.graph
    context = ScorerContext(kge_model="distmult", kge_epochs=8, kge_dim=16, kge_fits=2, seed=5)
    kge = LinkPrediction(context)
    kge.fit(graph)
    assert [m.info["seed"] for m in kge.models] == [5, 6]
    first, second = (m.entity_embeddings() for m in kge.models)
    assert first.shape == second.shape and not np.allclose(first, second)
    users = np.arange(graph.n_users)
    scores = kge.score(users, graph.matrix)
    known = np.flatnonzero(kge.user_known)
    assert len(known) > graph.n_users // 2 and kge.item_known.sum() > graph.n_items // 2
    heads = list(kge.user_entities[known])
    expected = sum(standardize(m.score_tails(heads, kge.relation, kge.item_entities)) for m in kge.models)
    assert np.allclose(scores[np.ix_(known, np.flatnonzero(kge.item_known))], expected, atol=1e-4)
    seen = graph.matrix.toarray() > 0
    assert scores[seen].mean() > scores[~seen].mean()
    alone = LinkPrediction(replace(context, kge_fits=1))
    alone.fit(graph)
    assert len(alone.models) == 1 and np.allclose(
        alone.models[0].entity_embeddings(), first
    )  # the first fit is the single fit: same seed, same model


# ---------------------------------------------------------------------- Neo4j write-back
@pytest.fixture(scope="module")
def neo4j_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """The same shop in the test Neo4j database; the settings and the environment that
    point `kg` at it, with a data folder of its own (the fitted recommender is kept there)."""
    root = tmp_path_factory.mktemp("neo4j-shop")
    settings = empty_store_settings("neo4j", root)
    with open_store(settings) as store:
        _load_shop(store, root / "files")
    env = neo4j_env(KG_DATA_DIR=str(root / "data"), COLUMNS="200")
    return settings.model_copy(update={"data_dir": root / "data"}), env


def _kg(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return " ".join(result.output.split())


@pytest.mark.neo4j
def test_recommend_write_on_neo4j_leaves_one_set_per_user(
    neo4j_shop: tuple[Settings, dict[str, str]],
) -> None:
    settings, env = neo4j_shop
    users = SHOP.users + 1
    assert "Wrote 3 RECOMMENDED edges for user U00005" in _kg(
        env, "recommend", "U00005", "--k", "3", "--write"
    )
    assert f"Wrote {5 * users:,} RECOMMENDED edges for {users:,} users" in _kg(
        env, "recommend", "--all", "--write", "--k", "5"
    )
    assert f"Wrote {4 * users:,} RECOMMENDED edges" in _kg(env, "recommend", "--all", "--write", "--k", "4")
    with open_store(settings, read_only=True) as store:
        per_user = store.query(
            "MATCH (u:User)-[r:RECOMMENDED]->(:Item) "
            "RETURN u.id AS user, count(r) AS n, min(r.`rank`) AS lo, max(r.`rank`) AS hi, "
            "count(DISTINCT r.created_at) AS runs"
        )
        assert len(per_user) == users and set(per_user["n"]) == {4}
        assert set(per_user["lo"]) == {1} and set(per_user["hi"]) == {4} and set(per_user["runs"]) == {1}
        edges = store.query(
            "MATCH (:User)-[r:RECOMMENDED]->(i:Item) RETURN r.score AS score, r.reason AS reason, "
            "r.cypher AS cypher, r.model AS model, valueType(r.score) AS score_type, "
            "valueType(r.`rank`) AS rank_type, EXISTS { (:User)-[:PURCHASED|VIEWED]->(i) } AS seen"
        )
        assert edges.notna().all().all() and edges["reason"].str.len().min() > 10
        assert set(edges["score_type"]) == {"FLOAT NOT NULL"} and set(edges["rank_type"]) == {
            "INTEGER NOT NULL"
        }
        seen = store.query(
            "MATCH (u:User)-[:RECOMMENDED]->(i:Item) WHERE (u)-[:PURCHASED|VIEWED]->(i) RETURN count(*) AS n"
        )
        assert seen["n"][0] == 0
        # the explanation's Cypher, stored on the edge, runs on Neo4j and finds its path
        one = store.query(
            "MATCH (:User {id: 'U00007'})-[r:RECOMMENDED {`rank`: 1}]->() RETURN r.cypher AS cypher"
        )
        assert len(store.query(one["cypher"][0])) == 1


@pytest.mark.neo4j
def test_segment_write_on_neo4j_replaces_older_segments(neo4j_shop: tuple[Settings, dict[str, str]]) -> None:
    settings, env = neo4j_shop
    users = SHOP.users + 1
    assert "Wrote Segment nodes and IN_SEGMENT edges" in _kg(env, "segment", "--k", "6")
    assert "Wrote Segment nodes and IN_SEGMENT edges" in _kg(env, "segment", "--k", "4", "--write")
    with open_store(settings, read_only=True) as store:
        segments = store.query(
            "MATCH (s:Segment) RETURN s.id AS id, s.size AS size, s.`profile` AS `profile`, "
            "COUNT { (s)<-[:IN_SEGMENT]-(:User) } AS members ORDER BY id"
        )
        assert list(segments["id"]) == [f"segment-{i}" for i in range(1, 5)]
        assert segments["size"].sum() == users and (segments["size"] == segments["members"]).all()
        for row in segments.itertuples():
            profile = json.loads(row.profile)
            assert profile["size"] == row.size and profile["top_attributes"]
        assert store.counts().relationships["IN_SEGMENT"] == users
        members = store.query("MATCH (u:User)-[:IN_SEGMENT]->(:Segment) RETURN u.id AS user")
        assert members["user"].is_unique
    profiles = _kg(env, "query", "segment-profiles")
    assert all(f"segment-{i}" in profiles for i in range(1, 5))
