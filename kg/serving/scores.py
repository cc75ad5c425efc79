"""The served model's scores of every known user, computed once in batches.

A user's scores are a function of the model and the user's history alone; filters, ``k``
and the items to exclude only choose among them. Scoring one user on their own costs
some 5-10 ms of small sparse products (each signal, each z-score, the fusion), most of
it per-call overhead; scoring all users in batches costs well under a millisecond each.
So when a model comes in, the fused scores and the signals behind them are computed for
every user with a history, and a request for a user whose history is still the one the
model was fitted on reads its row instead of scoring again. A user with events folded in
since the fit has a different history, and is scored afresh (events still change the
very next answer). The table is kept only while it fits in a memory budget
(``KG_SERVE_SCORE_TABLE_MB``): for a large catalogue every request scores afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import scipy.sparse as sp

from kg.recommend.model import Recommender, user_chunk
from kg.recommend.signals.base import NO_USER

Scored = tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]  # what fused_scores returns


@dataclass
class ScoreTable:
    """Fused scores and standardised signals of the users with a history (row ``slot[u]``)."""

    slot: np.ndarray  # graph user row -> table row, -1 for a user without a history
    total: np.ndarray  # float32, table rows x items
    signals: dict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        return self.total.nbytes + sum(s.nbytes for s in self.signals.values())


def table_bytes(recommender: Recommender) -> int:
    """What the table of ``recommender`` would take: float32 scores of every user with a
    history, for the fusion and each warm signal."""
    graph = recommender.graph
    warm = int((np.diff(graph.matrix.indptr) > 0).sum())
    signals = sum(
        1 for name, weight in recommender.weights.items() if weight > 0 and name in recommender.scorers
    )
    return warm * graph.n_items * (1 + signals) * 4


def score_table(recommender: Recommender) -> ScoreTable:
    """Score every user with a history, in batches (the products ``fused_scores`` runs
    for one user, run for many at once)."""
    matrix = recommender.graph.matrix
    warm = np.flatnonzero(np.diff(matrix.indptr) > 0)
    slot = np.full(recommender.graph.n_users, -1, dtype=np.int64)
    slot[warm] = np.arange(len(warm))
    totals, parts = [], []
    step = user_chunk(recommender.graph.n_items)
    for start in range(0, len(warm), step):
        chunk = warm[start : start + step]
        total, signals, _ = Recommender.fused_scores(recommender, chunk, matrix[chunk])
        totals.append(total.astype(np.float32, copy=False))
        parts.append(signals)
    names = list(parts[0]) if parts else []
    return ScoreTable(
        slot,
        np.concatenate(totals) if totals else np.zeros((0, recommender.graph.n_items), np.float32),
        {name: np.concatenate([part[name] for part in parts]) for name in names},
    )


@dataclass
class ServedRecommender(Recommender):
    """The fitted recommender, reading a known user's scores from the table while their
    history is the fitted one; everything else is the recommender's own."""

    table: ScoreTable | None = field(default=None, repr=False)

    def fused_scores(self, users: np.ndarray, history: sp.csr_matrix, **options: Any) -> Scored:
        found = None if options else self._from_table(users, history)
        return found if found is not None else super().fused_scores(users, history, **options)

    def _from_table(self, users: np.ndarray, history: sp.csr_matrix) -> Scored | None:
        if self.table is None or len(users) != 1 or users[0] == NO_USER:
            return None
        user = int(users[0])
        row = int(self.table.slot[user])
        matrix = self.graph.matrix
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        if row < 0 or history.nnz != end - start:
            return None
        history = history.tocsr()
        if not (
            np.array_equal(history.indices, matrix.indices[start:end])
            and np.array_equal(history.data, matrix.data[start:end])
        ):
            return None  # events folded in since the fit: score this history afresh
        signals = {name: scores[row : row + 1] for name, scores in self.table.signals.items()}
        # a copy: callers mask filtered-out items in place
        return self.table.total[row : row + 1].copy(), signals, np.zeros(1, dtype=bool)


def served(recommender: Recommender, budget_bytes: int) -> Recommender:
    """``recommender`` with its score table when the table fits in ``budget_bytes``."""
    if table_bytes(recommender) > budget_bytes or recommender.graph.n_users == 0:
        return recommender
    values = {f.name: getattr(recommender, f.name) for f in fields(recommender)}
    return ServedRecommender(**values, table=score_table(recommender))
