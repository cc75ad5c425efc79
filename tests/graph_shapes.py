"""Small graphs of any shape, as plain data written through the store API, and the checks
every recommender answer on them must pass: fit, recommend (with and without filters),
similar items, audience, segments, evaluation each answer or raise a one-line ``KGError``,
and the answers are checked against the spec itself, not against the recommender's own
matrices (no seen item is ever recommended, filters hold, a list is only shorter than asked
when nothing else is eligible). The fuzz tests draw the shapes; test_recommend_shapes.py
fixes some."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from kg.config import PrivacySettings, RecommendSettings, Settings, load_settings
from kg.errors import KGError
from kg.recommend.audience import audience
from kg.recommend.evaluate import evaluate
from kg.recommend.filters import ItemFilter
from kg.recommend.interactions import export_interactions
from kg.recommend.model import Recommender
from kg.recommend.segments import segment_graph
from kg.recommend.service import load_recommender
from kg.recommend.signals.base import ScorerContext
from kg.store import GraphStore

# Every signal that needs no trained or downloaded model (kge and text are fuzzed on fixed
# graphs in test_recommend_shapes.py), and every baseline.
FUZZ_SIGNALS = ["ease", "spectral", "rp3beta", "item_knn", "user_knn", "attributes", "cohort", "popularity"]
FUZZ_BASELINES = ["popularity", "item_knn"]
RELATIONS = ("PURCHASED", "VIEWED", "RATED")

T = TypeVar("T")


@dataclass(frozen=True)
class GraphSpec:
    """A small graph as plain data: what the checks compare every answer with."""

    users: tuple[str, ...]
    items: tuple[str, ...]
    interactions: tuple[tuple[str, str, str], ...]  # (relationship type, user, item)
    category: dict[str, str] = field(default_factory=dict)  # item -> category name
    brand: dict[str, str] = field(default_factory=dict)
    price: dict[str, float] = field(default_factory=dict)
    in_stock: dict[str, bool] = field(default_factory=dict)
    gender: dict[str, str] = field(default_factory=dict)  # user -> a cohort property
    occupation: dict[str, str] = field(default_factory=dict)  # user -> Occupation node

    def seen(self, user: str) -> set[str]:
        return {item for _, u, item in self.interactions if u == user}

    def users_of(self, items: set[str]) -> set[str]:
        return {user for _, user, item in self.interactions if item in items}

    def passes(self, item: str, chosen: ItemFilter) -> bool:
        """The filter's meaning, from the spec (flat categories, so no sub-categories)."""
        if (
            chosen.category is not None
            and self.category.get(item, "").casefold() != chosen.category.casefold()
        ):
            return False
        if chosen.brand is not None and self.brand.get(item, "").casefold() != chosen.brand.casefold():
            return False
        price = self.price.get(item)
        if chosen.min_price is not None and (price is None or price < chosen.min_price):
            return False
        if chosen.max_price is not None and (price is None or price > chosen.max_price):
            return False
        return not chosen.in_stock or self.in_stock.get(item) is True


def write_graph(store: GraphStore, spec: GraphSpec) -> None:
    """The spec as nodes and relationships, the way ingest mappings write them."""
    if spec.users:
        users = pd.DataFrame({"id": list(spec.users)})
        users["gender"] = [spec.gender.get(u) for u in spec.users]
        store.upsert_nodes("User", users)
    if spec.items:
        items = pd.DataFrame({"id": list(spec.items), "name": [f"Thing {i}" for i in spec.items]})
        items["price"] = [spec.price.get(i, np.nan) for i in spec.items]
        items["in_stock"] = pd.array([spec.in_stock.get(i) for i in spec.items], dtype="boolean")
        store.upsert_nodes("Item", items)
    for rel_type in RELATIONS:
        rows = [(u, i) for r, u, i in spec.interactions if r == rel_type]
        if rows:
            store.upsert_relationships(rel_type, "User", "Item", _edges(rows))
    for label, rel_type, start, mapping in (
        ("Category", "IN_CATEGORY", "Item", spec.category),
        ("Brand", "HAS_BRAND", "Item", spec.brand),
        ("Occupation", "HAS_OCCUPATION", "User", spec.occupation),
    ):
        if mapping:
            names = sorted(set(mapping.values()))
            store.upsert_nodes(label, pd.DataFrame({"id": [n.lower() for n in names], "name": names}))
            store.upsert_relationships(
                rel_type, start, label, _edges([(a, b.lower()) for a, b in mapping.items()])
            )


def _edges(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["from_id", "to_id"]).drop_duplicates()


def fuzz_settings(root: Path, **recommend: Any) -> Settings:
    """Cheap signals and baselines (ALS and BPR grids take seconds even on tiny graphs;
    they run on the fixed shapes of test_recommend_shapes.py). These tests are about
    shapes, so groups of any size are allowed (test_privacy.py checks the minimum)."""
    config = RecommendSettings(signals=FUZZ_SIGNALS, baselines=FUZZ_BASELINES, **recommend)
    return load_settings(
        store=str(root / "graph"),
        data_dir=root / "data",
        recommend=config,
        privacy=PrivacySettings(min_group_size=1),
    )


def check_graph(
    store: GraphStore, config: Settings, spec: GraphSpec, chosen: ItemFilter, k: int, segments: int = 2
) -> None:
    """Every question, on one graph; the answers checked against ``spec``."""
    recommender = answer(lambda: load_recommender(store, config), "fit")
    if not spec.interactions:
        assert isinstance(recommender, KGError) and "no user-item interactions" in str(recommender)
    else:
        assert isinstance(recommender, Recommender), f"fit failed on a graph with interactions: {recommender}"
        for user in spec.users[:4]:
            check_recommend(recommender, spec, user, k, ItemFilter())
            check_recommend(recommender, spec, user, k, chosen)
        for item in spec.items[:3]:
            check_similar(recommender, spec, item, k, chosen)
            check_audience(recommender, spec, f"Item:{item}", {item}, k)
        for name in sorted(set(spec.category.values()))[:1]:
            # an item id comes first (documented); Category:<name> picks the category
            members = {item for item, category in spec.category.items() if category == name}
            check_audience(recommender, spec, name, {name} if name in spec.items else members, k)
            check_audience(recommender, spec, f"Category:{name}", members, k)
    check_segments(store, config, spec, segments)
    check_evaluation(store, config, spec)


def answer(call: Callable[[], T], what: str) -> T | KGError:
    """The call's result, or the KGError it raised (one line); any other exception fails."""
    try:
        return call()
    except KGError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"{what}: the error is not one line: {message!r}"
        return exc


def check_recommend(recommender: Recommender, spec: GraphSpec, user: str, k: int, chosen: ItemFilter) -> None:
    eligible = {item for item in spec.items if spec.passes(item, chosen)}
    frame = answer(lambda: recommender.recommend(user, k, chosen, explain=True), f"recommend {user}")
    if not eligible:
        assert isinstance(frame, KGError), f"a filter that matches no item gave {frame}"
        return
    assert isinstance(frame, pd.DataFrame), f"recommend {user} with {chosen}: {frame}"
    shown = list(frame["item"])
    assert not set(shown) & spec.seen(user), f"recommended a seen item to {user}: {shown}"
    assert set(shown) <= eligible, f"recommended items outside {chosen}: {shown}"
    assert len(shown) == len(set(shown)) == min(k, len(eligible - spec.seen(user))), (user, shown)
    assert list(frame["rank"]) == list(range(1, len(shown) + 1))
    assert frame["score"].map(np.isfinite).all() and frame["reason"].map(bool).all()


def check_similar(recommender: Recommender, spec: GraphSpec, item: str, k: int, chosen: ItemFilter) -> None:
    eligible = {other for other in spec.items if spec.passes(other, chosen)}
    frame = answer(lambda: recommender.similar_items(item, k, chosen), f"similar {item}")
    if not eligible:
        assert isinstance(frame, KGError)
        return
    assert isinstance(frame, pd.DataFrame), f"similar {item}: {frame}"
    shown = list(frame["item"])
    assert item not in shown and set(shown) <= eligible, (item, shown)
    assert len(shown) == len(set(shown)) == min(k, len(eligible - {item})), (item, shown)


def check_audience(recommender: Recommender, spec: GraphSpec, target: str, items: set[str], k: int) -> None:
    frame = answer(lambda: audience(recommender, target, k), f"audience {target}")
    assert isinstance(frame, pd.DataFrame), f"audience {target!r}: {frame}"
    users = list(frame["user"])
    reachable = {u for u in spec.users if items - spec.seen(u)}
    assert len(users) == len(set(users)) == min(k, len(reachable)), (target, users)
    for user, item in zip(frame["user"], frame["item"], strict=True):
        assert item in items and item not in spec.seen(user), (target, user, item)


def check_segments(store: GraphStore, config: Settings, spec: GraphSpec, k: int) -> None:
    found = answer(lambda: segment_graph(store, config, k, write=True), f"segment --k {k}")
    if isinstance(found, KGError):
        return
    segmentation, table, _ = found
    assert len(segmentation.labels) == len(spec.users)
    assert len(table) == k and table["size"].sum() == len(spec.users) and (table["size"] > 0).all(), table
    written = store.query("MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) RETURN u.id AS user, s.id AS segment")
    assert sorted(written["user"]) == sorted(spec.users)


def check_evaluation(store: GraphStore, config: Settings, spec: GraphSpec) -> None:
    graph = export_interactions(store, config.recommend)
    result = answer(
        lambda: evaluate(graph, config.recommend, ScorerContext.from_settings(config), k=3), "evaluate"
    )
    repeaters = [u for u in spec.users if len(spec.seen(u)) >= 2]
    if isinstance(result, KGError):
        assert not repeaters, f"evaluate refused a graph with {len(repeaters)} testable users: {result}"
        return
    assert result.users == len(repeaters) and result.k == min(3, len(spec.items))
    assert result.table[f"nDCG@{result.k}"].between(0, 1).all(), result.table
