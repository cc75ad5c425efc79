"""Hyper-parameters chosen on a validation split, never on the test data.

The training interactions are split once more per user; every scorer is fitted on the
inner part with each candidate setting (its ``grid``; a seeded random sample of it when
the grid is large) and the setting with the best validation nDCG@K wins. The validation
scores of the winners are what fusion learns its weights from.

K is :data:`TUNING_K`, fixed: how many items a command shows (``recommend.k``, ``--k``)
is a display choice and must not change which model is fitted. A graph where no user has
two interactions has nothing to validate on; every scorer then keeps its default setting.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.interactions import InteractionGraph
from kg.recommend.ranking_metrics import ndcg_at_k, top_k
from kg.recommend.registry import make_scorer, scorer_class
from kg.recommend.signals.base import Scorer, ScorerContext
from kg.recommend.split import Protocol


@dataclass
class ValidationSet:
    """The inner training graph, and for a sample of users their held-out interactions."""

    fit_graph: InteractionGraph
    users: np.ndarray
    held_out: sp.csr_matrix  # rows follow ``users``

    @property
    def history(self) -> sp.csr_matrix:
        return self.fit_graph.matrix[self.users]

    @property
    def seen(self) -> sp.csr_matrix:
        """What the validation users already took (dislikes too): never a candidate."""
        return self.fit_graph.seen[self.users]

    @property
    def is_empty(self) -> bool:
        """No user held anything out (every user has at most one interaction)."""
        return not len(self.users)

    def ndcg(self, scores: np.ndarray, k: int) -> float:
        return ndcg_at_k(top_k(scores, k, exclude=self.seen), self.held_out)


TUNING_K = 10  # the nDCG cut-off tuning and fusion optimise, whatever K a command shows
VALIDATION_SCORES = 2**26  # validation scores kept per signal for fusion (256 MB)


def validation_set(
    graph: InteractionGraph,
    fraction: float,
    seed: int,
    max_users: int,
    protocol: Protocol | None = None,
    relevant: str = "all",
) -> ValidationSet:
    """Split ``graph``'s interactions per user (at random, or each user's newest under the
    temporal protocol); keep at most ``max_users`` scored users (fewer for big catalogues,
    so each signal's validation scores stay in memory). With ``relevant="liked"`` a
    held-out dislike is no hit (:func:`hits`)."""
    split = (protocol or Protocol()).inner.split(graph.seen, graph.seen_times, fraction, seed)
    held_out = hits(split.held_out, graph, relevant)
    users = np.flatnonzero(np.diff(held_out.indptr))
    max_users = max(1, min(max_users, VALIDATION_SCORES // max(graph.n_items, 1)))
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
    return ValidationSet(graph.with_interactions(split.train), users, held_out[users])


def hits(held_out: sp.csr_matrix, graph: InteractionGraph, relevant: str) -> sp.csr_matrix:
    """The held-out interactions a ranking is rewarded for finding: all of them, or with
    ``"liked"`` all but the dislikes (a 1-star rating is no success to predict)."""
    if relevant == "all":
        return held_out
    kept = held_out.multiply(graph.liked).tocsr()
    kept.eliminate_zeros()
    return kept


@dataclass
class TunedScorer:
    """A scorer fitted on the inner training graph with its best setting."""

    scorer: Scorer
    validation_ndcg: float
    validation_scores: np.ndarray
    seconds: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.scorer.params


def candidate_settings(grid: dict[str, tuple[Any, ...]], seed: int, max_trials: int) -> list[dict[str, Any]]:
    """Every combination of the grid, or a seeded sample of ``max_trials`` of them that
    always includes the first (default) combination."""
    names = list(grid)
    combos = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))
    ]
    if len(combos) <= max_trials:
        return combos
    picked = np.random.default_rng(seed).choice(np.arange(1, len(combos)), size=max_trials - 1, replace=False)
    return [combos[0], *(combos[i] for i in sorted(picked))]


def tune(
    name: str,
    validation: ValidationSet,
    context: ScorerContext,
    k: int,
    progress: ProgressReporter | None = None,
) -> TunedScorer:
    """Fit ``name`` with each candidate setting on the inner graph; keep the best."""
    progress = progress or SilentProgress()
    cls = scorer_class(name)
    settings = candidate_settings(cls.grid, context.seed, cls.max_trials)
    started = time.perf_counter()
    if validation.is_empty:  # nothing to compare settings on: the default one, fitted
        scorer = make_scorer(name, context, **settings[0])
        scorer.fit(validation.fit_graph)
        progress.advance(len(settings))
        empty = np.zeros((0, validation.fit_graph.n_items), dtype=np.float32)
        return TunedScorer(scorer, float("nan"), empty, time.perf_counter() - started)
    best: TunedScorer | None = None
    trials = []
    for params in settings:
        scorer = make_scorer(name, context, **params)
        scorer.fit(validation.fit_graph)
        scores = scorer.score(validation.users, validation.history)
        value = validation.ndcg(scores, k)
        trials.append((params, value))
        if best is None or value > best.validation_ndcg:
            best = TunedScorer(scorer, value, scores, 0.0)
        progress.advance()
    assert best is not None
    best.seconds = time.perf_counter() - started
    best.trials = trials
    return best


def trial_count(name: str, context: ScorerContext) -> int:
    cls = scorer_class(name)
    return len(candidate_settings(cls.grid, context.seed, cls.max_trials))
