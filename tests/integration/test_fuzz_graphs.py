"""Graph-shape fuzzing of the recommender: random small graphs in a real embedded store.

Each generated graph (degenerate shapes included: no interactions, one item, one
interaction per user, items nobody touched, users without attributes, odd ids) is written
through the store API, then every question the CLI asks is put to the library: fit,
recommend (with and without filters), similar items, audience, segments, evaluation.
Every call must answer or raise a ``KGError`` with a one-line message -- never any other
exception -- and the answers are checked against the generated graph itself, not against
the recommender's own matrices: no seen item is ever recommended, filters hold, and a
list is only shorter than asked when nothing else is eligible (the checks live in
tests/graph_shapes.py, shared with the fixed shapes of test_recommend_shapes.py).

Bounded: hypothesis runs a fixed (derandomised) set of examples, about a minute in all.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kg.config import PrivacySettings, RecommendSettings, load_settings
from kg.errors import KGError
from kg.recommend.filters import ItemFilter
from kg.recommend.model import Recommender
from kg.recommend.service import load_recommender
from kg.store import open_store
from tests.graph_shapes import (
    FUZZ_BASELINES,
    FUZZ_SIGNALS,
    RELATIONS,
    GraphSpec,
    answer,
    check_graph,
    check_recommend,
    fuzz_settings,
    write_graph,
)

# Ids that have tripped id handling elsewhere: numbers, a Label:id look-alike, spaces,
# a name that is also a category, non-ASCII.
ODD_IDS = ("1", "50", "Item:7", "a b", "Shoes", "ü-1", "0")
CATEGORIES = ("Shoes", "Tents", "Books")
BRANDS = ("Northpeak", "Bluefin")

T = TypeVar("T")


# ---------------------------------------------------------------------- generated shapes
@st.composite
def graph_specs(draw: st.DrawFn) -> GraphSpec:
    n_users = draw(st.integers(0, 9))
    n_items = draw(st.integers(0, 7))
    odd = draw(st.booleans())
    users = tuple(f"U{i}" for i in range(n_users))
    items = tuple(ODD_IDS[i] if odd and i < len(ODD_IDS) else f"I{i}" for i in range(n_items))
    pairs = [(u, i) for u in users for i in items]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=30, unique=True)) if pairs else []
    interactions = tuple((draw(st.sampled_from(RELATIONS)), u, i) for u, i in chosen)

    def some(keys: tuple[str, ...], values: st.SearchStrategy[T]) -> dict[str, T]:
        picked = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
        return {key: draw(values) for key in picked}

    return GraphSpec(
        users,
        items,
        interactions,
        category=some(items, st.sampled_from(CATEGORIES)),
        brand=some(items, st.sampled_from(BRANDS)),
        price=some(items, st.sampled_from([5.0, 19.99, 120.0])),
        in_stock=some(items, st.booleans()),
        gender=some(users, st.sampled_from(["F", "M"])),
        occupation=some(users, st.sampled_from(["Nurse", "Writer"])),
    )


filters = st.builds(
    ItemFilter,
    category=st.none() | st.sampled_from([*CATEGORIES, "Nope"]),
    brand=st.none() | st.sampled_from(BRANDS),
    max_price=st.none() | st.sampled_from([1.0, 20.0, 500.0]),
    min_price=st.none() | st.sampled_from([10.0]),
    in_stock=st.booleans(),
)

NO_INTERACTIONS = GraphSpec(("U0", "U1"), ("I0", "I1"), ())
SINGLE_ITEM = GraphSpec(("U0", "U1", "U2"), ("I0",), (("PURCHASED", "U0", "I0"), ("VIEWED", "U1", "I0")))
ONE_EACH = GraphSpec(
    tuple(f"U{u}" for u in range(8)),
    tuple(f"I{i}" for i in range(4)),
    tuple(("PURCHASED", f"U{u}", f"I{u % 4}") for u in range(8)),
    category={"I0": "Shoes", "I1": "Shoes", "I2": "Tents"},
)
UNTOUCHED_ITEMS = GraphSpec(
    ("U0", "U1", "U2"),
    ("I0", "I1", "I2", "I3", "I4"),
    (("PURCHASED", "U0", "I0"), ("PURCHASED", "U0", "I1"), ("PURCHASED", "U1", "I1"), ("RATED", "U2", "I0")),
    price={"I3": 5.0, "I4": 120.0},
    in_stock={"I3": True},
)
NO_USERS = GraphSpec((), ("I0", "I1"), (), category={"I0": "Shoes"})
ONE_USER = GraphSpec(("U0",), ("I0", "I1", "I2"), (("PURCHASED", "U0", "I0"), ("PURCHASED", "U0", "I1")))


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=graph_specs(), chosen=filters, k=st.integers(1, 4), segments=st.sampled_from([2, 3]))
@example(spec=NO_INTERACTIONS, chosen=ItemFilter(), k=3, segments=2)
@example(spec=SINGLE_ITEM, chosen=ItemFilter(), k=3, segments=2)
@example(spec=ONE_EACH, chosen=ItemFilter(category="Shoes"), k=4, segments=3)
@example(spec=UNTOUCHED_ITEMS, chosen=ItemFilter(max_price=10.0, in_stock=True), k=2, segments=3)
@example(spec=NO_USERS, chosen=ItemFilter(), k=2, segments=2)
@example(spec=ONE_USER, chosen=ItemFilter(), k=2, segments=2)
def test_every_command_answers_or_says_why_on_any_graph_shape(
    spec: GraphSpec, chosen: ItemFilter, k: int, segments: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="kg-fuzz-") as folder:
        root = Path(folder)
        config = fuzz_settings(root, k=k)
        with open_store(config) as store:
            write_graph(store, spec)
            check_graph(store, config, spec, chosen, k, segments)


@pytest.mark.parametrize("k", [1, 3])
def test_the_checks_catch_a_recommender_that_shows_seen_items(tmp_path: Path, k: int) -> None:
    """The fuzz oracle itself: a recommender that leaks a seen item must fail the check."""
    spec = UNTOUCHED_ITEMS
    config = fuzz_settings(tmp_path)
    with open_store(config) as store:
        write_graph(store, spec)
        recommender = load_recommender(store, config)
    leaky = LeakyRecommender(recommender)
    with pytest.raises(AssertionError, match="seen item"):
        check_recommend(leaky, spec, "U0", k, ItemFilter())  # type: ignore[arg-type]


class LeakyRecommender:
    """Puts the user's first seen item on top: what the checks must catch."""

    def __init__(self, inner: Recommender) -> None:
        self.inner = inner

    def recommend(self, user: str, k: int, chosen: ItemFilter, *, explain: bool) -> pd.DataFrame:
        frame = self.inner.recommend(user, k, chosen, explain=explain)
        seen = self.inner.graph.item_ids[
            self.inner.graph.matrix[self.inner.graph.user_index(user)].indices[0]
        ]
        return pd.concat([frame.head(0), pd.DataFrame({"item": [seen]}), frame], ignore_index=True)


# ---------------------------------------------------------------------- with a trained KGE model
SPARSE_WITH_ATTRIBUTES = GraphSpec(
    tuple(f"U{u}" for u in range(12)),
    tuple(f"I{i}" for i in range(6)),
    (*(("PURCHASED", f"U{u}", f"I{u % 6}") for u in range(12)), ("VIEWED", "U0", "I1")),
    category={f"I{i}": "Shoes" for i in range(3)},
    occupation={f"U{u}": "Nurse" for u in range(4)},
)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(ONE_EACH, id="one-interaction-each"),
        pytest.param(SPARSE_WITH_ATTRIBUTES, id="sparse-with-attributes"),
        pytest.param(UNTOUCHED_ITEMS, id="too-few-facts-to-train"),
    ],
)
def test_training_and_the_kge_and_text_signals_on_degenerate_graphs(tmp_path: Path, spec: GraphSpec) -> None:
    """`kg train` (a few epochs, tiny vectors) either registers a model or refuses in one
    line; the recommender then runs with every signal -- the trained model's, the in-memory
    KGE fits of tuning and evaluation, MiniLM text -- or leaves one out with a note."""
    from embeddings.workflow import train_from_store

    config = load_settings(
        store=str(tmp_path / "graph"),
        data_dir=tmp_path / "data",
        recommend=RecommendSettings(
            signals=[*FUZZ_SIGNALS, "kge", "text"], baselines=FUZZ_BASELINES, kge_epochs=3, kge_dim=8
        ),
        privacy=PrivacySettings(min_group_size=1),  # shapes, not privacy
    )
    with open_store(config) as store:
        write_graph(store, spec)
        trained = answer(lambda: train_from_store(config, store, num_epochs=3, embedding_dim=8), "kg train")
        if isinstance(trained, KGError):
            assert "too few to train" in str(trained)
        check_graph(store, config, spec, ItemFilter(category="Shoes"), 3)
        recommender = load_recommender(store, config)
    tuned = {signal.name for signal in recommender.signals}
    assert "text" in tuned
    assert "kge" in tuned or any("kge" in note for note in recommender.notes), recommender.notes
