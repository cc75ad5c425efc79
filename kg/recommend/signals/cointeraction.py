"""Co-interaction signals: "users who bought/rated this also bought/rated that".

All three score a user as ``history @ W`` with an item x item matrix ``W`` built from the
user-item adjacency ``X``, i.e. from the paths User->Item<-User->Item:

* ``item_knn``: cosine similarity of item columns, top neighbours per item (the classic
  item-based top-N recommender; also the item-kNN baseline);
* ``rp3beta``: three-step random-walk probabilities with a popularity penalty
  (Paudel et al. 2017), top neighbours per item;
* ``user_knn``: items of the users whose histories overlap most with this one;
* ``ease``: the closed-form linear item-item model of Steck (2019): a ridge regression of
  each item on all others, ``B = I - P / diag(P)`` with ``P = (X'X + lambda I)^-1``.

Large catalogues are processed in row blocks and keep only the top neighbours, so ``W``
stays sparse; EASE needs a dense inverse and is skipped above ``dense_item_limit`` items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense

BLOCK_FLOATS = 2**25  # ~128 MB of float32 per dense block of item rows

Transform = Callable[[np.ndarray, slice], np.ndarray]


def item_item_weights(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    transform: Transform,
    *,
    neighbours: int | None,
    dense_limit: int,
) -> np.ndarray | sp.csr_matrix:
    """``transform(left @ right)`` with a zero diagonal and the top ``neighbours`` per row.

    Dense when every neighbour is kept (catalogues up to ``dense_limit`` items), else
    computed in row blocks and kept sparse."""
    n = left.shape[0]
    if n <= dense_limit and neighbours is None:
        weights = transform(as_dense(left @ right), slice(0, n))
        np.fill_diagonal(weights, 0.0)
        return weights.astype(np.float32, copy=False)
    keep = min(neighbours or n, n - 1) if n > 1 else 0
    block = max(1, BLOCK_FLOATS // max(n, 1))
    pieces = []
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        values = transform(as_dense(left[rows] @ right), rows)
        local = np.arange(rows.stop - rows.start)
        values[local, local + start] = 0.0
        pieces.append(_top_per_row(values, keep))
    return sp.vstack(pieces, format="csr", dtype=np.float32)


def _top_per_row(values: np.ndarray, keep: int) -> sp.csr_matrix:
    if keep <= 0:
        return sp.csr_matrix(values.shape, dtype=np.float32)
    cols = np.argpartition(-values, keep - 1, axis=1)[:, :keep]
    data = np.take_along_axis(values, cols, axis=1)
    rows = np.repeat(np.arange(values.shape[0]), keep)
    matrix = sp.csr_matrix((data.ravel(), (rows, cols.ravel())), shape=values.shape, dtype=np.float32)
    matrix.eliminate_zeros()
    return matrix


class ItemItemScorer(Scorer):
    """Scores ``history @ W``; explains with the history item that contributes most."""

    weights: np.ndarray | sp.csr_matrix

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return as_dense(history @ self.weights)

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        seen = history.indices
        if not len(seen):
            return None
        weight = self._column(item)[seen]
        co_users = co_interaction_counts(graph, item)[seen]
        contribution = np.where((co_users > 0) & (weight > 0), history.data * weight, -np.inf)
        best = int(np.argmax(contribution))
        if not np.isfinite(contribution[best]):
            return None
        return PathEvidence(
            "co_interaction", self.name, item, via_item=int(seen[best]), count=int(co_users[best])
        )

    def _column(self, item: int) -> np.ndarray:
        """``W[:, item]`` as a dense vector: how much each history item adds to ``item``."""
        if isinstance(self.weights, np.ndarray):
            return self.weights[:, item]
        if getattr(self, "_by_item", None) is None:
            self._by_item = self.weights.tocsc()
        start, end = self._by_item.indptr[item], self._by_item.indptr[item + 1]
        column = np.zeros(self.weights.shape[0], dtype=np.float32)
        column[self._by_item.indices[start:end]] = self._by_item.data[start:end]
        return column


def column_norms(matrix: sp.spmatrix) -> np.ndarray:
    """Euclidean norm of each column: the cosine denominators, right for weighted
    interactions too (for 0/1 ones it is the square root of the count)."""
    return np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()).astype(np.float32)


def co_interaction_counts(graph: InteractionGraph, item: int) -> np.ndarray:
    """For every item, how many users interacted with both it and ``item``."""
    columns = graph.columns
    users = columns.indices[columns.indptr[item] : columns.indptr[item + 1]]
    return np.bincount(graph.matrix[users].indices, minlength=graph.n_items)


class ItemKNN(ItemItemScorer):
    name = "item_knn"
    description = "co-interaction: cosine item-item neighbours (item-based top-N)"
    grid: ClassVar[Grid] = {"neighbours": (50, 10, 25, 100, 200, 400), "shrink": (0.0, 10.0)}

    def fit(self, graph: InteractionGraph) -> None:
        x = graph.matrix
        norms = column_norms(x)
        shrink = float(self.params["shrink"])

        def cosine(block: np.ndarray, rows: slice) -> np.ndarray:
            return block / (norms[rows, None] * norms[None, :] + shrink + 1e-9)

        self.weights = item_item_weights(
            x.T.tocsr(),
            x,
            cosine,
            neighbours=self.params["neighbours"],
            dense_limit=self.context.dense_item_limit,
        )


class RP3Beta(ItemItemScorer):
    name = "rp3beta"
    description = "co-interaction: 3-step random walks User->Item->User->Item, popularity-penalised"
    grid: ClassVar[Grid] = {"alpha": (1.0, 0.5), "beta": (0.3, 0.0, 0.5), "neighbours": (100, 30, 300)}

    def fit(self, graph: InteractionGraph) -> None:
        x = graph.matrix
        user_degree = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
        item_degree = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
        alpha, beta = float(self.params["alpha"]), float(self.params["beta"])
        user_to_item = sp.diags(1.0 / user_degree) @ x
        item_to_user = sp.diags(1.0 / item_degree) @ x.T
        penalty = (item_degree**-beta).astype(np.float32)

        def penalise(block: np.ndarray, rows: slice) -> np.ndarray:
            return block * penalty[None, :]

        self.weights = item_item_weights(
            item_to_user.power(alpha).tocsr(),
            user_to_item.power(alpha).tocsr(),
            penalise,
            neighbours=self.params["neighbours"],
            dense_limit=self.context.dense_item_limit,
        )


class EASE(ItemItemScorer):
    name = "ease"
    description = "co-interaction: EASE linear item-item model on the co-occurrence counts"
    grid: ClassVar[Grid] = {"l2": (300.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)}

    def unavailable(self, graph: InteractionGraph) -> str | None:
        if graph.n_items > self.context.dense_item_limit:
            return f"{graph.n_items:,} items is above dense_item_limit ({self.context.dense_item_limit:,}): EASE needs a dense inverse"
        return None

    def fit(self, graph: InteractionGraph) -> None:
        gram = as_dense(graph.matrix.T @ graph.matrix).astype(np.float64)
        gram[np.diag_indices_from(gram)] += float(self.params["l2"])
        precision = np.linalg.inv(gram)
        weights = -precision / np.diag(precision)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights = weights.astype(np.float32)


class UserKNN(Scorer):
    """Items of the users whose histories overlap most with this one (User->Item<-User->Item)."""

    name = "user_knn"
    description = "co-interaction: items of the most similar users (cosine on shared items)"
    grid: ClassVar[Grid] = {"neighbours": (50, 20, 100, 200), "shrink": (0.0, 10.0)}

    def fit(self, graph: InteractionGraph) -> None:
        self.matrix = graph.matrix
        self.by_item = graph.matrix.T.tocsr()
        self.norms = column_norms(graph.matrix.T)

    def similarities(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Cosine similarity of each history to every known user, self excluded."""
        overlap = as_dense(history @ self.by_item)
        own = column_norms(history.T)
        sims = overlap / (own[:, None] * self.norms[None, :] + float(self.params["shrink"]) + 1e-9)
        known = users >= 0
        sims[np.flatnonzero(known), users[known]] = 0.0
        return sims

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        sims = self.similarities(users, history)
        keep = min(int(self.params["neighbours"]), sims.shape[1])
        if keep < sims.shape[1]:
            cut = np.partition(sims, sims.shape[1] - keep, axis=1)[:, sims.shape[1] - keep][:, None]
            sims = np.where(sims >= cut, sims, 0.0)
        return as_dense(sp.csr_matrix(sims) @ self.matrix)

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        if user is None:
            return None  # a seed item's neighbours are its co-interaction path
        users = np.array([user])
        sims = self.similarities(users, history)[0]
        overlap = as_dense(history @ self.by_item).ravel()
        keep = min(int(self.params["neighbours"]), len(sims))
        neighbours = np.argpartition(-sims, keep - 1)[:keep]
        raters = neighbours[(sims[neighbours] > 0) & (as_dense(self.matrix[neighbours, item]).ravel() > 0)]
        if not len(raters):
            return None
        least_shared = int(overlap[raters].min())
        others = np.flatnonzero(overlap >= least_shared)
        others = others[others != user]
        count = int(as_dense(self.matrix[others, item]).sum())
        return PathEvidence("similar_users", self.name, item, count=count, total=least_shared)
