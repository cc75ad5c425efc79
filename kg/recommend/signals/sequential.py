"""Sequential: what users take *next* after the items in this user's recent history.

From every user's time-ordered history the signal counts, for each item i, the items
taken within the next ``window`` interactions after it (a step d later counts 1/d), and
normalises the counts by the two items' popularity (``pop_i^-0.5 * pop_j^-beta``, so a
blockbuster that follows everything does not win by default). A user scores
``recency_weighted(history) @ T``: the newest items' successors count most. This is the
first-order Markov-chain view of sequential recommendation (Rendle et al. 2010's FPMC
without the factorisation), which the order-blind co-interaction signals cannot see.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense
from kg.recommend.signals.cointeraction import co_interaction_counts
from kg.recommend.signals.recency import recency_weighted


def transitions(graph: InteractionGraph, window: int) -> sp.csr_matrix:
    """Item x item counts of "taken within ``window`` steps after", weighted 1/step."""
    times = graph.interaction_times
    counts = np.diff(times.indptr)
    rows = np.repeat(np.arange(times.shape[0]), counts)
    order = np.lexsort((times.indices, times.data, rows))  # by user, oldest first
    user, item = rows[order], times.indices[order]
    n = graph.n_items
    heads, tails, weights = [], [], []
    for step in range(1, window + 1):
        same = user[step:] == user[:-step]
        heads.append(item[:-step][same])
        tails.append(item[step:][same])
        weights.append(np.full(int(same.sum()), 1.0 / step, np.float32))
    if not heads:
        return sp.csr_matrix((n, n), dtype=np.float32)
    matrix = sp.csr_matrix(
        (np.concatenate(weights), (np.concatenate(heads), np.concatenate(tails))), shape=(n, n)
    )
    matrix.sum_duplicates()
    return matrix


class Sequential(Scorer):
    name = "sequential"
    description = "time: what users take next after the items in this user's recent history"
    grid: ClassVar[Grid] = {
        "window": (5, 1, 3, 10, 20),
        "half_life": (3.0, 1.0, 10.0, 30.0),
        "beta": (0.5, 0.0, 1.0),
    }

    def unavailable(self, graph: InteractionGraph) -> str | None:
        if not graph.has_times:
            return "no interaction has a timestamp"
        return None

    def fit(self, graph: InteractionGraph) -> None:
        popularity = np.maximum(graph.item_popularity, 1.0)
        counts = transitions(graph, int(self.params["window"]))
        self.weights = (
            sp.diags((popularity**-0.5).astype(np.float32))
            @ counts
            @ sp.diags((popularity ** -float(self.params["beta"])).astype(np.float32))
        ).tocsr()
        self.times = graph.interaction_times

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        weighted = recency_weighted(self.times, users, history, float(self.params["half_life"]))
        return as_dense(weighted @ self.weights)

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        seen = history.indices
        if not len(seen):
            return None
        column = as_dense(self.weights[seen, item]).ravel()
        best = int(np.argmax(column))
        if column[best] <= 0:
            return None
        shared = int(co_interaction_counts(graph, item)[seen[best]])
        return PathEvidence("co_interaction", self.name, item, via_item=int(seen[best]), count=shared)
