"""Seeded per-user hold-out splits (the protocol of Microsoft Recommenders' stratified split).

Each user keeps ``1 - fraction`` of their interactions for training and holds out the
rest, chosen at random with a fixed seed, so every user appears in both parts and two runs
with the same seed hold out the same interactions. Users with a single interaction keep it
for training; users with two or more hold out at least one (leave-one-out at the low
end), because in shop data most customers have bought only two or three things and a
quarter of two rounds to nothing: such a shop would have no user to tune or evaluate on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Split:
    """Train and held-out interactions (same shape as the full matrix)."""

    train: sp.csr_matrix
    held_out: sp.csr_matrix

    @property
    def users(self) -> np.ndarray:
        """Users with at least one held-out interaction: the ones a metric averages over."""
        return np.flatnonzero(np.diff(self.held_out.indptr))


def split_per_user(matrix: sp.csr_matrix, fraction: float, seed: int) -> Split:
    """Hold out ``round(fraction * n)`` random interactions, at least one and at most
    ``n - 1``, of every user with n >= 2."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be between 0 and 1")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    keys = np.random.default_rng(seed).random(matrix.nnz)
    order = np.lexsort((keys, rows))  # by user, random inside a user
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    held_per_user = np.where(counts >= 2, np.clip(np.round(counts * fraction), 1, counts - 1), 0).astype(
        np.int64
    )
    held = rank < np.repeat(held_per_user, counts)
    return Split(train=_subset(matrix, ~held), held_out=_subset(matrix, held))


def _subset(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    coo = matrix.tocoo()
    return sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=np.float32
    )
