"""Store -> triples: export, fingerprint, stratified split with coverage, interaction holdout."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from embeddings.triples import (
    DERIVED_RELATIONS,
    export_triples,
    holdout_interactions,
    split_triples,
    triples_fingerprint,
)
from kg.config import load_settings
from kg.datasets.synthetic_shop import generate_shop
from kg.errors import InputError, SchemaError
from kg.ingest import ingest_path
from kg.store import GraphStore, open_store
from tests.shop_graph import SMALL_SHOP


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStore, pd.DataFrame]]:
    """The generated shop, ingested, with recommendations and segment memberships written
    back as the recommend stage does (model output the export must leave out); built once,
    every test here only reads it. Returns the store and the purchases file."""
    root = tmp_path_factory.mktemp("export-shop")
    with open_store(load_settings(store=str(root / "graph"), data_dir=root / "kg-data")) as store:
        for data, mapping in generate_shop(root / "shop", SMALL_SHOP, seed=11):
            ingest_path(store, data, mapping=mapping)
        purchases = pd.read_csv(root / "shop" / "purchases.csv", dtype={"user_id": str, "sku": str})
        users, items = sorted(set(purchases["user_id"]))[:5], sorted(set(purchases["sku"]))[:5]
        store.upsert_nodes("Segment", pd.DataFrame({"id": ["seg-0"], "name": ["Explorers"]}))
        store.upsert_relationships(
            "IN_SEGMENT",
            "User",
            "Segment",
            pd.DataFrame({"from_id": users, "to_id": "seg-0", "distance": 0.1}),
        )
        recommended = pd.DataFrame({"from_id": users, "to_id": items, "score": 0.9, "rank": 1})
        store.upsert_relationships("RECOMMENDED", "User", "Item", recommended)
        yield store, purchases


def _triples(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["head", "relation", "tail"])


def test_export_holds_every_fact_once_and_skips_model_output(
    shop_store: tuple[GraphStore, pd.DataFrame],
) -> None:
    store, purchases = shop_store
    triples = export_triples(store)
    purchased = triples[triples["relation"] == "PURCHASED"]
    expected = set("User:" + purchases["user_id"] + "|Item:" + purchases["sku"])
    assert set(purchased["head"] + "|" + purchased["tail"]) == expected
    assert not triples.duplicated().any()
    assert not set(triples["relation"]) & DERIVED_RELATIONS  # RECOMMENDED and IN_SEGMENT exist in the shop
    assert {"RECOMMENDED", "IN_SEGMENT"} <= {r for r, n in store.counts().relationships.items() if n}
    # sorted, so any store gives the same order and the same fingerprint
    assert triples.equals(triples.sort_values(["relation", "head", "tail"]).reset_index(drop=True))


def test_export_of_chosen_relations_and_unknown_ones(shop_store: tuple[GraphStore, pd.DataFrame]) -> None:
    store, _ = shop_store
    triples = export_triples(store, ["HAS_BRAND", "IN_CATEGORY"])
    assert set(triples["relation"]) == {"HAS_BRAND", "IN_CATEGORY"}
    with pytest.raises(SchemaError):
        export_triples(store, ["NOT_A_TYPE"])


def test_export_of_an_empty_graph_says_what_to_do(store: GraphStore) -> None:
    with pytest.raises(InputError, match="kg ingest"):
        export_triples(store)


def test_fingerprint_depends_on_facts_not_order() -> None:
    rows = [("User:1", "RATED", "Item:1"), ("User:2", "RATED", "Item:1")]
    assert triples_fingerprint(_triples(rows)) == triples_fingerprint(_triples(rows[::-1]))
    assert triples_fingerprint(_triples(rows)) != triples_fingerprint(_triples(rows[:1]))


def test_split_is_stratified_seeded_and_keeps_entities_in_training(
    shop_store: tuple[GraphStore, pd.DataFrame],
) -> None:
    store, _ = shop_store
    triples = export_triples(store)
    splits = split_triples(triples, (0.8, 0.1, 0.1), seed=3)
    parts = [splits.train, splits.validation, splits.test]
    assert sum(len(p) for p in parts) == len(triples)
    assert pd.concat(parts).drop_duplicates().shape[0] == len(triples)
    seen = set(splits.train["head"]) | set(splits.train["tail"])
    for part in (splits.validation, splits.test):
        assert set(part["head"]) <= seen and set(part["tail"]) <= seen
    big = triples["relation"].value_counts()
    for relation in big[big >= 200].index:  # every large relation type is in every split
        share = (splits.test["relation"] == relation).sum() / big[relation]
        assert 0.03 < share < 0.12
    again = split_triples(triples, (0.8, 0.1, 0.1), seed=3)
    assert again.test.equals(splits.test)
    assert not split_triples(triples, (0.8, 0.1, 0.1), seed=4).test.equals(splits.test)


def test_split_ratios_are_checked() -> None:
    with pytest.raises(InputError):
        split_triples(_triples([("a:1", "R", "b:1")] * 3), (0.5, 0.6, 0.1))


def test_leave_one_out_holds_one_per_user_and_no_item_entirely(
    shop_store: tuple[GraphStore, pd.DataFrame],
) -> None:
    store, _ = shop_store
    triples = export_triples(store)
    remaining, held = holdout_interactions(triples, "PURCHASED", seed=5)
    assert len(remaining) + len(held) == len(triples)
    assert set(held["relation"]) == {"PURCHASED"}
    assert held["head"].is_unique
    per_user = triples[triples["relation"] == "PURCHASED"].groupby("head").size()
    assert set(held["head"]) <= set(per_user[per_user >= 2].index)
    left_items = set(remaining.loc[remaining["relation"] == "PURCHASED", "tail"])
    assert set(held["tail"]) <= left_items


def test_ratio_holdout_takes_a_share_per_user(shop_store: tuple[GraphStore, pd.DataFrame]) -> None:
    store, _ = shop_store
    triples = export_triples(store)
    _, held = holdout_interactions(triples, "VIEWED", mode="ratio", ratio=0.3, seed=5)
    per_user = triples[triples["relation"] == "VIEWED"].groupby("head").size()
    taken = held.groupby("head").size()
    assert (taken <= (per_user[taken.index] * 0.3).round().clip(lower=1)).all()
    assert len(held) > len(per_user)  # more than one per user on average
    with pytest.raises(InputError):
        holdout_interactions(triples, "RATED")
