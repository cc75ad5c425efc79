"""The learned fusion (LightGBM lambdarank over the linear fusion's candidates): it never
recommends a seen item, it respects filters, it is kept only when it wins on validation,
and the ablation refits it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from kg.config import RecommendSettings
from kg.recommend.filters import ItemFilter
from kg.recommend.fusion import standardize
from kg.recommend.ltr import CHEAP, chosen_ranker, fit_ranker
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.signals.base import ScorerContext
from kg.recommend.tuning import validation_set
from tests.chain_graphs import SIGNALS, chain_graph


@pytest.fixture(scope="module")
def ranked() -> Recommender:
    """A recommender whose fusion is re-ranked by a ranker trained on its validation split
    (attached whether or not it wins, so the re-ranking path is what is tested)."""
    graph = chain_graph(n_users=150, n_items=40, seed=2, taste=4)
    context = ScorerContext(seed=2)
    validation = validation_set(graph, 0.25, 3, 1000)
    recommender = fit_recommender(
        graph, RecommendSettings(signals=SIGNALS, seed=2), context, validation=validation, keep_all=True
    )
    standardized = {n: standardize(t.validation_scores) for n, t in recommender.tuned.items()}
    ranker = fit_ranker(standardized, recommender.weights, validation, seed=2)
    assert ranker is not None
    return replace(recommender, ranker=ranker)


def test_the_ranker_reports_importance_over_signals_and_cheap_features(ranked: Recommender) -> None:
    assert ranked.ranker is not None
    importance = ranked.ranker.importance()
    assert set(importance) == {*ranked.ranker.names, *CHEAP}
    assert sum(importance.values()) == pytest.approx(1.0, abs=1e-3)


def test_the_learned_fusion_never_recommends_a_seen_item(ranked: Recommender) -> None:
    users = np.arange(ranked.graph.n_users)
    frames = list(ranked.recommend_users(users, 10, explain=False))
    assert sum(len(f) for f in frames) == 10 * len(users)
    for frame in frames:
        for user_id, items in frame.groupby("user")["item"]:
            seen = set(ranked.graph.item_ids[ranked.graph.matrix[ranked.graph.user_index(user_id)].indices])
            assert not seen & set(items), user_id


def test_the_learned_fusion_respects_filters_even_beyond_its_candidates(ranked: Recommender) -> None:
    """Only even items allowed: the answer holds only allowed unseen items, in order."""
    graph = ranked.graph
    allowed = np.zeros(graph.n_items, bool)
    allowed[::2] = True
    allowed[:6] = False  # fewer allowed items than a user's candidates would bring

    class EvenItems(ItemFilter):
        def allowed(self, graph: object) -> np.ndarray:  # type: ignore[override]
            return allowed

    frame = next(ranked.recommend_users(np.arange(20), 8, EvenItems(), explain=False))
    assert len(frame) == 8 * 20
    indices = [graph.item_index(i) for i in frame["item"]]
    assert allowed[indices].all()
    for user_id, rows in frame.groupby("user"):
        seen = set(graph.item_ids[graph.matrix[graph.user_index(user_id)].indices])
        assert not seen & set(rows["item"])
        assert rows["score"].is_monotonic_decreasing


def test_a_visitor_is_scored_by_the_linear_fusion_and_never_gets_its_seed(ranked: Recommender) -> None:
    frame = ranked.similar_items("i10", 5, explain=False)
    assert len(frame) == 5 and "i10" not in set(frame["item"])


def test_the_ranker_is_dropped_when_it_cannot_beat_the_linear_fusion() -> None:
    """The linear fusion already ranks every held-out item first: the ranker cannot add
    the margin on held-out validation users, so the linear fusion stays."""
    rng = np.random.default_rng(0)
    graph = chain_graph(n_users=60, n_items=30, seed=4)
    validation = validation_set(graph, 0.25, 1, 1000)
    scores = rng.random((len(validation.users), graph.n_items)).astype(np.float32)
    scores[validation.history.nonzero()] = -1.0
    best = np.argsort(-scores, axis=1)[:, :2]
    rows = np.repeat(np.arange(len(best)), 2)
    perfect = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, best.ravel())), shape=scores.shape)
    oracle = replace(validation, held_out=perfect)
    candidate = fit_ranker({"a": standardize(scores)}, {"a": 1.0}, oracle, seed=0)
    assert candidate is not None and candidate.linear_ndcg == pytest.approx(1.0)
    assert not candidate.beats_linear and chosen_ranker(candidate) is None
    assert "not kept" in candidate.describe()


def test_the_ranker_trial_never_ranks_a_disliked_item_it_would_never_recommend() -> None:
    """Dislikes leave the positive history but are still never recommended. The trial's
    linear ranking and the ranker's candidates skip them as the answer does: with them
    scored highest of all, the linear fusion still finds every held-out item first."""
    rng = np.random.default_rng(1)
    base = chain_graph(n_users=60, n_items=30, seed=4)
    first = base.seen.indices[base.seen.indptr[:-1]]  # each user's lowest item: a dislike
    disliked = sp.csr_matrix(
        (np.ones(base.n_users, np.float32), (np.arange(base.n_users), first)), shape=base.seen.shape
    )
    graph = replace(base, disliked=disliked, negatives_apart=True)
    validation = validation_set(graph, 0.25, 1, 1000)
    dislikes = validation.seen - validation.history.astype(bool).astype(np.float32)
    assert dislikes.nnz > len(validation.users) // 2  # most users keep their dislike in training
    scores = rng.random((len(validation.users), graph.n_items)).astype(np.float32)
    scores[validation.seen.nonzero()] = 10.0  # seen items, the dislikes among them, on top
    open_scores = np.where(validation.seen.toarray() > 0, -np.inf, scores)
    best = np.argsort(-open_scores, axis=1)[:, :2]
    rows = np.repeat(np.arange(len(best)), 2)
    perfect = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, best.ravel())), shape=scores.shape)
    candidate = fit_ranker(
        {"a": standardize(scores)}, {"a": 1.0}, replace(validation, held_out=perfect), seed=0
    )
    assert candidate is not None and candidate.linear_ndcg == pytest.approx(1.0)
