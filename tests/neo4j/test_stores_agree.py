"""The same answers on both stores: one shop loaded into the embedded store and into
Neo4j gives equal counts, triples, node exports, recommendations with their explanations,
and audiences (issue 12, item 4). Either store may be the system of record, so nothing a
user sees may depend on which one it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from kg.config import Settings
from kg.recommend.audience import audience
from kg.recommend.model import Recommender
from kg.recommend.service import load_recommender
from kg.store import GraphStore, open_store
from tests.neo4j_server import empty_store_settings, neo4j_env
from tests.shop_graph import ShopGraph, build_shop_graph

KINDS = ("ladybug", "neo4j")
T = TypeVar("T")


class Loaded:
    """One store's settings with the shop in it, and the recommender fitted on it."""

    def __init__(self, kind: str, root: Path) -> None:
        settings = empty_store_settings(kind, root)
        self.settings: Settings = settings.model_copy(update={"data_dir": root / "kg-data"})
        with open_store(self.settings) as store:
            self.graph: ShopGraph = build_shop_graph(store, root / "shop")
            self.recommender: Recommender = load_recommender(store, self.settings)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Loaded]:
    return {kind: Loaded(kind, tmp_path_factory.mktemp(f"agree-{kind}")) for kind in KINDS}


def _each(both: dict[str, Loaded], read: Callable[[GraphStore], T]) -> tuple[T, T]:
    """``read`` on each store, opened read-only (the embedded one allows one writer)."""
    answers = []
    for kind in KINDS:
        with open_store(both[kind].settings, read_only=True) as store:
            answers.append(read(store))
    return answers[0], answers[1]


def _frame(batches: Iterable[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """An export as one frame in key order: stores stream in an order of their own."""
    frames = list(batches)
    if not frames:  # an empty label or type: neither store streams a batch
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(keys, ignore_index=True)


def test_stats_are_equal(both: dict[str, Loaded]) -> None:
    embedded, neo4j = _each(both, lambda store: store.counts())
    assert embedded == neo4j and embedded.total_relationships > 2000
    runner = CliRunner()
    shown = [
        runner.invoke(app, ["stats", "--all"], env=env | {"COLUMNS": "200"})
        for env in ({"KG_STORE": both["ladybug"].settings.store}, neo4j_env())
    ]
    assert [r.exit_code for r in shown] == [0, 0], [r.output for r in shown]
    assert shown[0].output == shown[1].output


def test_triple_exports_are_equal(both: dict[str, Loaded]) -> None:
    embedded, neo4j = _each(both, lambda store: _frame(store.iter_triples(), ["relation", "head", "tail"]))
    assert len(embedded) > 2000
    pd.testing.assert_frame_equal(embedded, neo4j)


def test_node_and_relationship_exports_are_equal(both: dict[str, Loaded]) -> None:
    """Every property with its value and its type: a whole-number DOUBLE or a gap in an
    INT64 column would come back different from one store."""
    embedded, neo4j = _each(
        both,
        lambda store: {
            **{label: _frame(store.iter_nodes(label), ["id"]) for label in sorted(store.schema.nodes)},
            **{
                rel: _frame(store.iter_relationships(rel), ["from_label", "from_id", "to_label", "to_id"])
                for rel in sorted(store.schema.rels)
            },
        },
    )
    assert embedded.keys() == neo4j.keys()
    for name, frame in embedded.items():
        assert _value_types(frame) == _value_types(neo4j[name]), name
        pd.testing.assert_frame_equal(_missing_as_nan(frame), _missing_as_nan(neo4j[name]), obj=name)


def _value_types(frame: pd.DataFrame) -> dict[str, set[str]]:
    """The Python types of each column's stored values (missing ones left out)."""
    return {
        str(column): {type(v.item() if hasattr(v, "item") else v).__name__ for v in frame[column].dropna()}
        for column in frame.columns
    }


def _missing_as_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing is missing: a column with no value at all, or a BOOLEAN one with gaps, is
    None-filled from Neo4j and NaN-filled (float64 where declared numeric) from the
    embedded store; every reader here tests with ``notna``."""
    out = frame.copy()
    for column in out.columns:
        if out[column].isna().all():
            out[column] = pd.Series(float("nan"), index=out.index, dtype=object)
        elif out[column].dtype == object:
            out[column] = out[column].map(lambda v: float("nan") if v is None else v)
    return out


def _sample_users(both: dict[str, Loaded]) -> list[str]:
    """Ten users across the activity range, the least active included."""
    graph = both["ladybug"].recommender.graph
    activity = pd.Series(graph.matrix.sum(axis=1).A1, index=graph.user_ids).sort_values(kind="stable")
    return list(activity.index[:: max(1, len(activity) // 10)][:10])


def test_recommendations_and_explanations_are_equal(both: dict[str, Loaded]) -> None:
    embedded, neo4j = (both[kind].recommender for kind in KINDS)
    assert embedded.weights == neo4j.weights and embedded.notes == neo4j.notes
    for user in _sample_users(both):
        mine, theirs = embedded.recommend(user, 8), neo4j.recommend(user, 8)
        assert len(mine) == 8 and mine["reason"].str.len().min() > 10
        pd.testing.assert_frame_equal(mine, theirs, obj=f"recommendations for {user}")
        for item in mine["item"].head(3):
            a = embedded.explain(embedded.graph.user_index(user), embedded.graph.item_index(item))
            b = neo4j.explain(neo4j.graph.user_index(user), neo4j.graph.item_index(item))
            assert (a.signal, a.reason, a.cypher, a.params) == (b.signal, b.reason, b.cypher, b.params)
            # and the explanation's query finds the same path, with the same count, in each store
            counts = _each(both, lambda store, e=a: store.query(e.cypher, e.params).iloc[0, -1])
            assert counts[0] == counts[1]


def test_similar_items_are_equal(both: dict[str, Loaded]) -> None:
    embedded, neo4j = (both[kind].recommender for kind in KINDS)
    for item in ("P00001", "P00017", "P90001"):
        pd.testing.assert_frame_equal(embedded.similar_items(item, 6), neo4j.similar_items(item, 6), obj=item)


def test_audiences_are_equal(both: dict[str, Loaded]) -> None:
    embedded, neo4j = (both[kind].recommender for kind in KINDS)
    for target in ("P00003", "Footwear", "Northpeak", "P90002"):
        mine, theirs = audience(embedded, target, 12), audience(neo4j, target, 12)
        assert len(mine) == 12
        pd.testing.assert_frame_equal(mine, theirs, obj=f"audience for {target}")
