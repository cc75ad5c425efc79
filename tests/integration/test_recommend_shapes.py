"""The recommender on the graph shapes real shops have, and on what users type at it.

Sparse shops (most customers bought one or two things), tiny catalogues, empty filters,
a display count in the config, ``Label:id`` targets: each answered, or refused in one
line that says why. The random shapes are in test_fuzz_graphs.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from embeddings.live import registry_state
from kg.config import RecommendSettings
from kg.errors import NotFoundError
from kg.recommend import model as model_module
from kg.recommend.audience import resolve_target
from kg.recommend.filters import ItemFilter
from kg.recommend.interactions import LIST_USERS_QUERY, export_interactions
from kg.recommend.model import fit_recommender
from kg.recommend.service import load_recommender, recommender_fingerprint
from kg.recommend.signals.base import ScorerContext
from kg.recommend.tables import recommendations_table
from kg.recommend.tuning import TUNING_K
from kg.store import GraphStore, open_store
from tests.graph_shapes import FUZZ_SIGNALS, GraphSpec, check_graph, fuzz_settings, write_graph
from tests.helpers import assert_clean_error, kg


def sparse_shop(n_users: int, n_items: int, seed: int = 0) -> GraphSpec:
    """Every customer bought one or two things: the most common shape of shop data."""
    rng = np.random.default_rng(seed)
    users = tuple(f"U{u:03d}" for u in range(n_users))
    items = tuple(f"I{i:02d}" for i in range(n_items))
    interactions = tuple(
        ("PURCHASED", user, items[i])
        for user in users
        for i in rng.choice(n_items, size=min(n_items, int(rng.integers(1, 3))), replace=False)
    )
    categories = {item: ("Shoes", "Tents", "Books")[i % 3] for i, item in enumerate(items)}
    prices = {item: float(10 + 7 * i) for i, item in enumerate(items)}
    return GraphSpec(users, items, interactions, category=categories, price=prices)


@pytest.fixture(scope="module")
def sparse_cli(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The issue's shop: 300 customers, 30 items, one or two purchases each, as `kg` sees it."""
    root = tmp_path_factory.mktemp("sparse-shop")
    with open_store(fuzz_settings(root)) as store:
        write_graph(store, sparse_shop(300, 30))
    config = root / "kg.toml"
    config.write_text(
        f'data_dir = "{root / "data"}"\n[recommend]\nsignals = {FUZZ_SIGNALS!r}\n'.replace("'", '"')
        + "[privacy]\nmin_group_size = 1\n"  # shapes, not privacy (test_privacy.py checks it)
    )
    return ["--store", str(root / "graph"), "--config", str(config)]


def test_sparse_shop_recommend_similar_audience_segment_evaluate(sparse_cli: list[str]) -> None:
    """Used to fail in tuning with "cannot reshape array of size 1 into shape (0,10)"."""
    for args, expected in (
        (("recommend", "U001", "--k", "5"), "Recommendations for user U001"),
        (("similar", "I03", "--k", "4"), "Similar to Thing I03"),
        (("audience", "I03", "--k", "5"), "Audience for item Thing I03"),
        (("segment", "--k", "3", "--no-write"), "3 segments"),
        (("evaluate", "--k", "5"), "Offline evaluation, K=5"),
    ):
        result = kg(*sparse_cli, *args)
        assert result.returncode == 0, f"kg {' '.join(args)}: {result.stderr}"
        assert expected in " ".join(result.stdout.split()), result.stdout


def test_a_twenty_user_three_item_shop_is_tuned_and_answers(tmp_path: Path) -> None:
    spec = sparse_shop(20, 3, seed=1)
    settings = fuzz_settings(tmp_path, k=3)
    with open_store(settings) as store:
        write_graph(store, spec)
        check_graph(store, settings, spec, ItemFilter(), 3)
        recommender = load_recommender(store, settings)
    assert np.isfinite(recommender.validation_ndcg)  # users with two purchases hold one out


def test_every_user_with_one_interaction_fuses_untuned_and_says_so(tmp_path: Path) -> None:
    users = tuple(f"U{u}" for u in range(12))
    items = tuple(f"I{i}" for i in range(5))
    spec = GraphSpec(users, items, tuple(("PURCHASED", u, items[n % 5]) for n, u in enumerate(users)))
    settings = fuzz_settings(tmp_path, k=2)
    with open_store(settings) as store:
        write_graph(store, spec)
        check_graph(store, settings, spec, ItemFilter(), 2)
        recommender = load_recommender(store, settings)
    assert any("nothing could be held out to tune on" in note for note in recommender.notes)
    assert set(recommender.weights.values()) == {1.0} and recommender.cold_weights
    frame = recommender.recommend("U0", 4)
    assert len(frame) == 4 and "I0" not in set(frame["item"])


def test_evaluate_refuses_a_shop_where_nobody_came_back(tmp_path: Path) -> None:
    spec = GraphSpec(("U0", "U1"), ("I0", "I1"), (("PURCHASED", "U0", "I0"), ("PURCHASED", "U1", "I0")))
    settings = fuzz_settings(tmp_path)
    with open_store(settings) as store:
        write_graph(store, spec)
    config = tmp_path / "kg.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    result = kg("--store", str(tmp_path / "graph"), "--config", str(config), "evaluate")
    assert_clean_error(result, "Cannot evaluate: no user has two or more interactions")


def test_a_user_who_has_seen_everything_gets_a_reason_not_a_blank_line(tmp_path: Path) -> None:
    spec = GraphSpec(("U0", "U1"), ("I0", "I1"), (("PURCHASED", "U0", "I0"), ("PURCHASED", "U0", "I1")))
    settings = fuzz_settings(tmp_path)
    with open_store(settings) as store:
        write_graph(store, spec)
        frame = load_recommender(store, settings).recommend("U0", 5)
    assert frame.empty
    console = Console(width=80, record=True)
    console.print(recommendations_table(frame, "Recommendations for user U0", empty="U0 has seen every item"))
    shown = console.export_text()
    assert "U0 has seen every item" in shown and "rank" in shown and "item" in shown


# ---------------------------------------------------------------------- filters (issue 10)
@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[GraphStore]:
    """Three users, three items in two categories, no prices or stock."""
    spec = GraphSpec(
        ("U0", "U1", "U2"),
        ("I0", "I1", "I2"),
        (("PURCHASED", "U0", "I0"), ("PURCHASED", "U1", "I1"), ("PURCHASED", "U2", "I0")),
        category={"I0": "Shoes", "I1": "Tents", "I2": "Tents"},
    )
    with open_store(fuzz_settings(tmp_path)) as store:
        write_graph(store, spec)
        yield store


def test_filters_that_match_no_item_say_which_and_why(catalogue: GraphStore, tmp_path: Path) -> None:
    graph = export_interactions(catalogue, fuzz_settings(tmp_path).recommend)
    cases = [
        (ItemFilter(max_price=10), "no item has a price property"),
        (ItemFilter(in_stock=True), "no item has an in_stock property"),
        (ItemFilter(category="Shoes", max_price=10), "no item has a price property"),
    ]
    for chosen, reason in cases:
        with pytest.raises(NotFoundError, match=re.escape(reason)):
            chosen.allowed(graph)
    catalogue.upsert_nodes(
        "Item",
        pd.DataFrame(
            {"id": ["I0", "I1", "I2"], "price": [12.5, 480.0, 30.0], "in_stock": [False, False, True]}
        ),
    )
    graph = export_interactions(catalogue, fuzz_settings(tmp_path).recommend)
    with pytest.raises(
        NotFoundError, match=re.escape("no item costs at most 10 (prices run from 12.5 to 480)")
    ):
        ItemFilter(max_price=10).allowed(graph)
    with pytest.raises(
        NotFoundError, match="category 'Shoes' \\(1 items\\), in stock \\(1 items\\) have no item in common"
    ):
        ItemFilter(category="Shoes", in_stock=True).allowed(graph)
    assert ItemFilter(category="Tents", in_stock=True).allowed(graph).tolist() == [False, False, True]


# ---------------------------------------------------------------------- display k (issue 11)
def test_the_display_count_is_not_part_of_the_fitted_model(
    catalogue: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`KG_RECOMMEND__K=3` used to refit (45 s on MovieLens) and rank differently from `--k 3`."""
    three, ten = fuzz_settings(tmp_path, k=3), fuzz_settings(tmp_path, k=10)
    state = registry_state(three)
    assert recommender_fingerprint(catalogue, three, state) == recommender_fingerprint(catalogue, ten, state)
    fitted = load_recommender(catalogue, three)
    shown_with_config = fitted.recommend("U0")

    def no_refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("changing recommend.k refitted the recommender")

    monkeypatch.setattr("kg.recommend.service.fit_recommender", no_refit)
    reused = load_recommender(catalogue, ten)
    assert reused.created_at == fitted.created_at and reused.k == 10
    assert shown_with_config.equals(reused.recommend("U0", 3)) and len(shown_with_config) == 2


def test_tuning_ranks_at_a_fixed_cut_off_whatever_k_shows(
    catalogue: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = export_interactions(catalogue, fuzz_settings(tmp_path).recommend)
    cut_offs: list[int] = []
    real_tune, real_fusion = model_module.tune, model_module.learn_fusion
    monkeypatch.setattr(
        model_module, "tune", lambda n, v, c, k, p=None: cut_offs.append(k) or real_tune(n, v, c, k, p)
    )
    monkeypatch.setattr(
        model_module, "learn_fusion", lambda t, v, k: cut_offs.append(k) or real_fusion(t, v, k)
    )
    for k in (3, 25):
        fit_recommender(graph, RecommendSettings(k=k, signals=FUZZ_SIGNALS), ScorerContext())
    assert cut_offs and set(cut_offs) == {TUNING_K}


# ---------------------------------------------------------------------- targets and hints (issue 14)
def test_item_targets_resolve_by_id_with_or_without_the_label(catalogue: GraphStore, tmp_path: Path) -> None:
    graph = export_interactions(catalogue, fuzz_settings(tmp_path).recommend)
    for target in ("I1", "Item:I1", "item:I1"):
        chosen = resolve_target(graph, target)
        assert chosen.items.tolist() == [graph.item_index("I1")] and "Thing I1" in chosen.description
    assert resolve_target(graph, "category:tents").description == "category Tents"
    with pytest.raises(NotFoundError, match="No item 'I9'"):
        resolve_target(graph, "Item:I9")
    with pytest.raises(NotFoundError, match=r"No target label 'Colour'.*Item, Category"):
        resolve_target(graph, "Colour:red")
    with pytest.raises(NotFoundError, match=re.escape("did you mean item 'I2' (Thing I2)?")):
        resolve_target(graph, "Thing I2x")  # a close item name suggests its id, which works


def test_the_unknown_user_hint_is_a_query_that_lists_users(catalogue: GraphStore, tmp_path: Path) -> None:
    graph = export_interactions(catalogue, fuzz_settings(tmp_path).recommend)
    with pytest.raises(NotFoundError) as raised:
        graph.user_index("nobody")
    assert LIST_USERS_QUERY in str(raised.value)
    listed = catalogue.query(LIST_USERS_QUERY)
    assert listed["user"].tolist() == ["U0", "U1", "U2"]
