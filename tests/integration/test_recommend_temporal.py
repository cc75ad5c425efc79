"""Time in the recommender: interaction timestamps read from the store, the temporal
protocol of `kg evaluate` (nothing from the test moment leaks into training or tuning),
the recency and sequential signals, and the ablation table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from kg.config import RecommendSettings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.errors import InputError
from kg.ingest import ingest_path
from kg.recommend.ablation import ablation_table
from kg.recommend.evaluate import evaluate
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.registry import make_scorer
from kg.recommend.signals.base import NO_USER, ScorerContext
from kg.recommend.signals.kge import RECENT_RELATION, LinkPrediction, graph_triples
from kg.recommend.signals.recency import recency_weighted
from kg.recommend.split import Protocol, Split
from kg.recommend.tuning import validation_set
from kg.store import open_store
from tests.chain_graphs import SIGNALS, chain_graph
from tests.helpers import assert_clean_error, kg


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[InteractionGraph, list[str]]:
    """The synthetic shop (purchases and views carry timestamps) in the embedded store:
    its exported graph, and the global options that point `kg` at it."""
    root = tmp_path_factory.mktemp("temporal-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "data", recommend=RecommendSettings())
    with open_store(settings) as store:
        for data, mapping in generate_shop(root / "files", ShopSize(users=120, items=40, reviews=0), seed=3):
            ingest_path(store, data, mapping=mapping)
        graph = export_interactions(store, settings.recommend)
    config = root / "kg.toml"
    config.write_text(
        f'data_dir = "{root / "data"}"\n[recommend]\nsignals = ["ease", "recency", "sequential", "popularity"]\n'
        'baselines = ["popularity", "item_knn"]\n'
    )
    return graph, ["--store", str(root / "graph"), "--config", str(config)]


def _times(matrix: sp.csr_matrix, times: sp.csr_matrix, user: int) -> np.ndarray:
    row = matrix[user]
    return np.asarray(times[user, row.indices].todense()).ravel() if row.nnz else np.array([])


def _assert_past_before_future(past: sp.csr_matrix, future: sp.csr_matrix, times: sp.csr_matrix) -> int:
    """Every user's past interactions are strictly older than their future ones; returns
    how many users had both."""
    checked = 0
    for user in range(past.shape[0]):
        before, after = _times(past, times, user), _times(future, times, user)
        if len(before) and len(after):
            assert before.max() < after.min(), (user, before, after)
            checked += 1
    return checked


def test_export_reads_every_interaction_timestamp(shop: tuple[InteractionGraph, list[str]]) -> None:
    graph, _ = shop
    times = graph.interaction_times
    assert graph.has_times
    assert times.nnz == graph.matrix.nnz  # every purchase and view of the shop is stamped
    assert (times.data > datetime(2000, 1, 1, tzinfo=UTC).timestamp()).all()


@pytest.mark.parametrize("holdout", [None, 2])
def test_temporal_split_never_lets_the_test_moment_into_training_or_tuning(
    shop: tuple[InteractionGraph, list[str]], holdout: int | None
) -> None:
    graph, _ = shop
    times = graph.interaction_times
    protocol = Protocol("temporal", holdout)
    split = protocol.split(graph.matrix, times, 0.25, seed=1)
    assert (split.train + split.held_out != graph.matrix).nnz == 0
    assert split.train.multiply(split.held_out).nnz == 0
    assert _assert_past_before_future(split.train, split.held_out, times) >= 100
    if holdout is not None:  # ties at the boundary may add to it, never take away
        counts = np.diff(graph.matrix.indptr)
        held = np.diff(split.held_out.indptr)
        assert (held[counts > holdout] >= holdout).all()
    train = graph.with_interactions(split.train)
    validation = validation_set(train, 0.25, seed=2, max_users=1000, protocol=protocol)
    tuned_on = validation.fit_graph.matrix
    held = validation.held_out.tocoo()
    tuned_against = sp.csr_matrix(
        (held.data, (validation.users[held.row], held.col)), shape=graph.matrix.shape, dtype=np.float32
    )
    for part in (tuned_on, tuned_against):  # tuning sees training interactions only
        assert part.multiply(split.held_out).nnz == 0
        assert (part - part.multiply(split.train)).nnz == 0
    assert _assert_past_before_future(tuned_on, tuned_against, times) >= 50


def test_a_cutoff_holds_out_everything_from_that_moment(shop: tuple[InteractionGraph, list[str]]) -> None:
    graph, _ = shop
    times = graph.interaction_times
    cutoff = datetime.fromtimestamp(float(np.median(times.data)), UTC)
    split = Protocol("temporal", cutoff=cutoff).split(graph.matrix, times, 0.25, seed=1)
    held = split.held_out.multiply(times).data
    kept = split.train.multiply(times).data
    assert held.min() >= cutoff.timestamp() > kept.max()
    assert split.held_out.nnz + split.train.nnz == graph.matrix.nnz


def test_the_temporal_protocol_needs_timestamps_and_random_takes_no_temporal_options() -> None:
    matrix = sp.csr_matrix(np.ones((3, 4), np.float32))
    with pytest.raises(InputError, match="needs interaction times"):
        Protocol("temporal").split(matrix, sp.csr_matrix(matrix.shape), 0.25, seed=0)
    with pytest.raises(InputError, match="belong to --protocol temporal"):
        Protocol("random", recent=2)
    with pytest.raises(InputError, match="Unknown protocol"):
        Protocol("sideways")  # type: ignore[arg-type]


def test_sequential_recommends_what_comes_next_after_the_newest_items() -> None:
    graph = chain_graph()
    scorer = make_scorer("sequential", ScorerContext(), window=1, half_life=1.0)
    scorer.fit(graph)
    visitor = sp.csr_matrix((np.ones(1, np.float32), ([0], [10])), shape=(1, graph.n_items))
    assert int(np.argmax(scorer.score(np.array([NO_USER]), visitor)[0])) == 11
    user = 0  # a known user: their newest item's successor comes first
    history = graph.matrix[[user]]
    newest = int(history.indices.max())
    if newest + 1 < graph.n_items:
        scores = scorer.score(np.array([user]), history)[0]
        scores[history.indices] = -np.inf
        assert int(np.argmax(scores)) == newest + 1


def test_recency_weights_the_newest_item_one_and_halves_per_half_life() -> None:
    graph = chain_graph(n_users=3, run=4)
    history = graph.matrix[[1]]
    weights = recency_weighted(graph.interaction_times, np.array([1]), history, half_life=1.0)
    by_time = weights.data[np.argsort(graph.interaction_times[1].data)]  # oldest first
    assert by_time.tolist() == pytest.approx([0.125, 0.25, 0.5, 1.0])
    unknown = recency_weighted(graph.interaction_times, np.array([NO_USER]), history, half_life=1.0)
    assert unknown.data.tolist() == [1.0] * 4  # a visitor's items are all "now"


def test_evaluate_temporal_reports_time_signals_baselines_and_the_ablation() -> None:
    graph = chain_graph(n_users=120, n_items=40)
    settings = RecommendSettings(signals=SIGNALS, baselines=["popularity", "item_knn"], seed=3)
    evaluation = evaluate(graph, settings, ScorerContext(seed=3), k=5, protocol=Protocol("temporal", 1))
    table = evaluation.table.set_index("model")
    assert "temporal" in evaluation.protocol
    assert {"fused", "recency", "sequential", "ease", "item_knn", "popularity"} <= set(table.index)
    # on a pure "what comes next" catalogue the sequential signal beats order-blind EASE
    assert table.loc["sequential", "nDCG@5"] > table.loc["ease", "nDCG@5"]
    assert evaluation.weights["sequential"] > 0
    ablation = evaluation.ablation.set_index("without")
    assert set(ablation.index) == set(evaluation.weights)
    assert ablation.loc["sequential", "change"] < 0  # removing it costs
    full = table.loc["fused", "nDCG@5"]
    for name, weight in evaluation.weights.items():
        if weight == 0:
            assert ablation.loc[name, "nDCG@5"] == full


def test_the_ablation_refits_the_fusion_without_each_weighted_signal() -> None:
    graph = chain_graph(n_users=100, n_items=30, seed=1, taste=4)
    settings = RecommendSettings(signals=SIGNALS, seed=1)
    context = ScorerContext(seed=1)
    split: Split = Protocol().split(graph.matrix, graph.interaction_times, 0.25, seed=1)
    train = graph.with_interactions(split.train)
    validation = validation_set(train, 0.25, 2, 1000)
    recommender = fit_recommender(train, settings, context, validation=validation, keep_all=True)
    seen: list[dict[str, float]] = []

    def test_ndcg(model: Recommender) -> float:
        seen.append(dict(model.weights))
        return 0.1 * len(seen)

    table = ablation_table(recommender, validation, test_ndcg, full_ndcg=1.0, k=5)
    weighted = [n for n, w in recommender.weights.items() if w > 0]
    assert len(seen) == len(weighted) >= 2
    for weights in seen:  # each refit leaves exactly one weighted signal out
        left_out = [n for n in weighted if weights.get(n, 0) == 0]
        assert len(left_out) == 1 and any(w > 0 for w in weights.values())
    rows = table.set_index("without")
    for name in recommender.weights:
        if name not in weighted:
            assert rows.loc[name, "nDCG@5"] == 1.0 and rows.loc[name, "change"] == 0.0
    assert sorted(rows.loc[weighted, "nDCG@5"]) == pytest.approx(
        [0.1 * (i + 1) for i in range(len(weighted))]
    )


def test_kg_evaluate_temporal_on_the_store(shop: tuple[InteractionGraph, list[str]]) -> None:
    _, options = shop
    result = kg(*options, "evaluate", "--k", "5", "--protocol", "temporal", "--holdout", "2")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for text in ("temporal: 2 of each user's most recent", "recency", "sequential", "Ablation", "item_knn"):
        assert text in out, text
    assert_clean_error(
        kg(*options, "evaluate", "--protocol", "random", "--holdout", "2"), "belong to --protocol temporal"
    )


def test_the_recommender_still_answers_without_timestamps(tmp_path: Path) -> None:
    """A graph without times skips the time signals with a note and fits the others."""
    graph = chain_graph()
    graph.times = None
    recommender = fit_recommender(graph, RecommendSettings(signals=SIGNALS), ScorerContext())
    assert "recency" not in recommender.scorers and "sequential" not in recommender.scorers
    assert any("recency skipped: no interaction has a timestamp" in n for n in recommender.notes)
    assert len(recommender.recommend("u1", 5, explain=False)) == 5


def test_link_prediction_learns_each_users_newest_items_and_nothing_held_out() -> None:
    """The in-memory KGE fit adds a relation of each user's newest training interactions
    (never a held-out one) and scores with it; a graph without times adds none."""
    graph = chain_graph(taste=4)
    split = Protocol("temporal").split(graph.matrix, graph.interaction_times, 0.25, seed=1)
    train = graph.with_interactions(split.train)
    triples = graph_triples(train, recent=2)
    recent = triples[triples["relation"] == RECENT_RELATION]
    users = {f"User:{u}": row for row, u in enumerate(train.user_ids)}
    items = {f"Item:{i}": col for col, i in enumerate(train.item_ids)}
    pairs = [(users[h], items[t]) for h, t in zip(recent["head"], recent["tail"], strict=True)]
    assert len(pairs) == 2 * graph.n_users  # every user kept at least two training items
    assert all(split.train[u, i] > 0 and split.held_out[u, i] == 0 for u, i in pairs)
    for user in range(graph.n_users):  # exactly the two newest of the training part
        taken = split.train[user].indices
        stamps = np.asarray(train.interaction_times[user, taken].todense()).ravel()
        newest = set(taken[np.argsort(-stamps)[:2]])
        assert {i for u, i in pairs if u == user} == newest
    assert RECENT_RELATION not in set(graph_triples(train, recent=0)["relation"])
    timeless = chain_graph(taste=4)
    timeless.times = None
    assert RECENT_RELATION not in set(graph_triples(timeless, recent=2)["relation"])

    kge = LinkPrediction(ScorerContext(kge_model="complex", kge_epochs=30, kge_dim=16), recent=2)
    kge.fit(train)
    assert kge.relation == RECENT_RELATION
    scores = kge.score(np.arange(train.n_users), train.matrix)
    newest_scores = [scores[u, i] for u, i in pairs]
    assert np.isfinite(scores).all() and np.mean(newest_scores) > scores.mean()
