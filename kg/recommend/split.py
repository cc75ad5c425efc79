"""Per-user hold-out splits: seeded random (the protocol of Microsoft Recommenders'
stratified split), or by time (each user's most recent interactions, or everything after
a cut-off date), which is how a recommender meets the future.

Each user keeps ``1 - fraction`` of their interactions for training and holds out the
rest, chosen at random with a fixed seed, so every user appears in both parts and two runs
with the same seed hold out the same interactions. Users with a single interaction keep it
for training; users with two or more hold out at least one (leave-one-out at the low
end), because in shop data most customers have bought only two or three things and a
quarter of two rounds to nothing: such a shop would have no user to tune or evaluate on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import scipy.sparse as sp

from kg.errors import InputError

PROTOCOLS = ("random", "temporal")


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


def split_recent(
    matrix: sp.csr_matrix, times: sp.csr_matrix, fraction: float, recent: int | None = None
) -> Split:
    """Hold out each user's most recent interactions: ``recent`` of them, or
    ``round(fraction * n)`` (at least one, at most ``n - 1``) when ``recent`` is None.

    Interactions tied in time with the oldest held-out one are held out too (so every
    training interaction is strictly older than every held-out one of the same user),
    unless that would leave the user nothing to train on: then the tie stays in training."""
    matrix, times = _aligned(matrix, times)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    stamp = times.data
    order = np.lexsort((-stamp, rows))  # by user, newest first
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    wanted = np.round(counts * fraction) if recent is None else np.full(len(counts), recent)
    held_per_user = np.where(counts >= 2, np.clip(wanted, 1, counts - 1), 0).astype(np.int64)
    boundary = np.full(len(counts), np.inf)  # time of each user's oldest held-out interaction
    is_boundary = rank == np.repeat(held_per_user - 1, counts)
    boundary[rows[is_boundary]] = stamp[is_boundary]
    user_boundary = np.repeat(boundary, counts)
    held = stamp >= user_boundary
    everything = np.bincount(rows[held], minlength=len(counts)) == counts
    held &= ~np.repeat(everything, counts) | (stamp > user_boundary)
    return Split(train=_subset(matrix, ~held), held_out=_subset(matrix, held))


def split_at(matrix: sp.csr_matrix, times: sp.csr_matrix, cutoff: float) -> Split:
    """Hold out every interaction at or after ``cutoff`` (epoch seconds): the future."""
    matrix, times = _aligned(matrix, times)
    held = times.data >= cutoff
    return Split(train=_subset(matrix, ~held), held_out=_subset(matrix, held))


def _aligned(matrix: sp.csr_matrix, times: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The interaction matrix and a times matrix with exactly its entries (0: no time)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    stamps = np.asarray(sp.csr_matrix(times, dtype=np.float64)[rows, matrix.indices]).ravel()
    aligned = sp.csr_matrix((stamps, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)
    return matrix, aligned


@dataclass(frozen=True)
class Protocol:
    """How ``kg evaluate`` holds data out: ``random`` (seeded, per user) or ``temporal``
    (each user's ``recent`` newest interactions -- ``test_fraction`` of them when None --
    or, with ``cutoff``, everything from that moment on). Validation inside the training
    part follows the same protocol, per user, so tuning never looks at a later moment
    than the one it is tuned for."""

    kind: Literal["random", "temporal"] = "random"
    recent: int | None = None
    cutoff: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in PROTOCOLS:
            raise InputError(f"Unknown protocol {self.kind!r}; choose from {', '.join(PROTOCOLS)}.")
        if self.kind == "random" and (self.recent is not None or self.cutoff is not None):
            raise InputError("--holdout and --cutoff belong to --protocol temporal.")
        if self.recent is not None and self.recent < 1:
            raise InputError("--holdout must hold out at least one interaction per user.")

    def split(self, matrix: sp.csr_matrix, times: sp.csr_matrix, fraction: float, seed: int) -> Split:
        if self.kind == "random":
            return split_per_user(matrix, fraction, seed)
        if not sp.csr_matrix(times).nnz:
            raise InputError(
                "--protocol temporal needs interaction times, and no interaction in the graph has a "
                "'timestamp' property; ingest the timestamps or use --protocol random."
            )
        if self.cutoff is not None:
            cutoff = self.cutoff if self.cutoff.tzinfo else self.cutoff.replace(tzinfo=UTC)
            return split_at(matrix, times, cutoff.timestamp())
        return split_recent(matrix, times, fraction, self.recent)

    @property
    def inner(self) -> Protocol:
        """The protocol of the validation split inside the training part (no cut-off: the
        training part ends before it, so each user's newest training interactions stand in)."""
        return Protocol(self.kind, self.recent)

    def describe(self) -> str:
        if self.kind == "random":
            return "random: a seeded random share of each user's interactions held out"
        if self.cutoff is not None:
            return f"temporal: every interaction from {self.cutoff:%Y-%m-%d %H:%M} on held out"
        if self.recent is not None:
            return f"temporal: {self.recent} of each user's most recent interactions held out"
        return "temporal: each user's most recent interactions (test_fraction of them) held out"
