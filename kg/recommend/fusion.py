"""Fusion: one score from many signals, with weights learned on a validation split.

Each signal's scores are standardised per user (z-scores over the catalogue), so a
weight means the same thing for a user with 3 purchases and one with 300. The weights
are then found by coordinate ascent on validation nDCG@K (Metzler & Croft's linear
feature-based ranking): the best single signal is the anchor at weight 1 (a ranking does
not change when every weight is scaled, so one weight can stay fixed), and each other
weight in turn takes the value from ``WEIGHT_STEPS`` that ranks the held-out interactions
best, until a round changes nothing. Fixing the anchor matters: when every weight is
free they drift up together to the largest step, where the grid can no longer express
"half as much as the anchor". Nothing is hand-set; a signal that does not help ends at
weight 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from kg.recommend.ranking_metrics import ndcg_at_k, top_k

WEIGHT_STEPS = (0.0, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)
MAX_ROUNDS = 8


def standardize(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores; a constant row (a signal with nothing to say) becomes zeros.

    Works in place on one float32 copy: for a chunk of users against a large catalogue
    this runs on every signal, and temporaries made it most of the batch scoring time."""
    z = np.array(scores, dtype=np.float32)
    if z.size == 0:
        return z
    z -= z.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    std = np.sqrt(np.einsum("ij,ij->i", z, z) / z.shape[1])[:, None]
    informative = std > 1e-12
    np.divide(z, std, out=z, where=informative)
    z[~informative[:, 0]] = 0.0
    return z


def fuse(standardized: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of standardised signal scores (signals without weight are ignored)."""
    used = [(name, w) for name, w in weights.items() if w and name in standardized]
    if not used:
        first = next(iter(standardized.values()))
        return np.zeros_like(first)
    total = np.zeros_like(standardized[used[0][0]])
    for name, weight in used:
        total += np.float32(weight) * standardized[name]
    return total


def learn_weights(
    standardized: Mapping[str, np.ndarray], exclude: sp.csr_matrix, relevant: sp.csr_matrix, k: int
) -> tuple[dict[str, float], float]:
    """Weights maximising nDCG@k of ``relevant`` (rows align with the score rows); the
    validation nDCG they reach."""
    names = list(standardized)
    if not names:
        return {}, 0.0
    penalty = np.zeros_like(standardized[names[0]])
    if exclude.nnz:
        rows, cols = exclude.nonzero()
        penalty[rows, cols] = -np.inf

    def quality(total: np.ndarray) -> float:
        return ndcg_at_k(top_k(total + penalty, k), relevant)

    single = {name: quality(standardized[name]) for name in names}
    weights = dict.fromkeys(names, 0.0)
    best_name = max(single, key=lambda n: single[n])
    weights[best_name] = 1.0
    best = single[best_name]
    total = standardized[best_name].copy()
    for _ in range(MAX_ROUNDS):
        improved = False
        for name in names:
            if name == best_name:
                continue
            current = weights[name]
            for step in WEIGHT_STEPS:
                if step == current:
                    continue
                candidate = total + np.float32(step - current) * standardized[name]
                value = quality(candidate)
                if value > best + 1e-6:
                    best, total, weights[name], current, improved = value, candidate, step, step, True
        if not improved:
            break
    return {name: round(w, 4) for name, w in weights.items()}, best
