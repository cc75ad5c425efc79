"""Recency-weighted co-interaction: EASE's item-item model applied to a history in which
recent interactions count more than old ones.

Tastes drift: what a user took last week says more about next week than what they took
a year ago. Each history item is weighted ``0.5 ** (newer / half_life)``, where ``newer``
counts the user's interactions strictly newer than it (so the newest weighs 1, and ties
share a weight), and the weighted history goes through the same ridge item-item model as
``ease`` (Steck 2019). A history the fitted graph has no times for (a visitor, events
folded in since the fit) counts its unknown items as the newest.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import NO_USER, Grid, as_dense
from kg.recommend.signals.cointeraction import EASE

NO_DECAY = float("inf")


def history_times(times: sp.csr_matrix, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
    """``history``'s entries carrying each interaction's time from the fitted graph (+inf
    where it has none: a visitor, or an event newer than the fit)."""
    history = sp.csr_matrix(history, dtype=np.float32)
    history.sort_indices()
    rows = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
    known = users[rows] != NO_USER
    stamps = np.full(history.nnz, np.inf)
    if known.any():
        found = np.asarray(times[users[rows[known]], history.indices[known]]).ravel()
        stamps[known] = np.where(found > 0, found, np.inf)
    return sp.csr_matrix((stamps, history.indices.copy(), history.indptr.copy()), shape=history.shape)


def newer_counts(stamped: sp.csr_matrix) -> np.ndarray:
    """Per history entry, how many entries of the same row are strictly newer."""
    counts = np.diff(stamped.indptr)
    rows = np.repeat(np.arange(stamped.shape[0]), counts)
    order = np.lexsort((-stamped.data, rows))  # by row, newest first
    sorted_rows, sorted_stamps = rows[order], stamped.data[order]
    position = np.arange(len(order))
    starts_group = np.ones(len(order), bool)
    starts_group[1:] = (sorted_rows[1:] != sorted_rows[:-1]) | (sorted_stamps[1:] != sorted_stamps[:-1])
    first_of_group = np.maximum.accumulate(np.where(starts_group, position, 0))
    newer = np.empty(len(order), dtype=np.int64)
    newer[order] = first_of_group - stamped.indptr[:-1][sorted_rows]
    return newer


def recency_weighted(
    times: sp.csr_matrix, users: np.ndarray, history: sp.csr_matrix, half_life: float
) -> sp.csr_matrix:
    """``history`` with each interaction weighted by how recent it is for its user."""
    stamped = history_times(times, users, history)
    weights = np.ones(stamped.nnz) if half_life == NO_DECAY else 0.5 ** (newer_counts(stamped) / half_life)
    return sp.csr_matrix((weights.astype(np.float32), stamped.indices, stamped.indptr), shape=stamped.shape)


class RecencyEASE(EASE):
    name = "recency"
    description = "time: EASE co-interaction over a history where recent items weigh more"
    grid: ClassVar[Grid] = {"half_life": (10.0, 3.0, 5.0, 20.0, 50.0), "l2": (300.0, 100.0, 1000.0)}

    def unavailable(self, graph: InteractionGraph) -> str | None:
        if not graph.has_times:
            return "no interaction has a timestamp"
        return super().unavailable(graph)

    def fit(self, graph: InteractionGraph) -> None:
        super().fit(graph)
        self.times = graph.interaction_times

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        weighted = recency_weighted(self.times, users, history, float(self.params["half_life"]))
        return as_dense(weighted @ self.weights)
