"""Top-K ranking metrics with binary relevance, averaged over users with held-out items.

Definitions (K = cut-off, R_u = held-out items of user u, rel_k = 1 if rank k is in R_u):

* Precision@K = hits / K;  Recall@K = hits / |R_u|;  HitRate@K = 1 if hits > 0.
* nDCG@K = sum_k rel_k / log2(k + 1), divided by the same sum for an ideal list of
  min(|R_u|, K) hits.
* MAP@K = sum_k Precision@k * rel_k / min(|R_u|, K) (the usual truncated AP; Microsoft
  Recommenders divides by |R_u| instead, which gives smaller numbers).
* Coverage = distinct recommended items / catalogue size.
* Novelty = mean self-information -log2(p_i) of recommended items, p_i = share of users
  who interacted with item i in the training data (smoothed: (n_i + 1) / (n_users + 1)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    coverage: float
    novelty: float
    users: int

    def as_dict(self, k: int) -> dict[str, float]:
        named = asdict(self)
        return {
            f"P@{k}": named["precision"],
            f"R@{k}": named["recall"],
            f"nDCG@{k}": named["ndcg"],
            f"MAP@{k}": named["map"],
            f"HR@{k}": named["hit_rate"],
            "coverage": named["coverage"],
            "novelty": named["novelty"],
        }


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` best items per row, best first; ``exclude`` entries never appear.

    ``exclude`` has the same rows as ``scores``. Rows with fewer than ``k`` allowed items
    still return ``k`` columns; excluded ones sort last with score -inf.
    """
    scores = np.asarray(scores)
    scores = scores.astype(np.result_type(scores.dtype, np.float32), copy=True)  # float32 stays float32
    if exclude is not None and exclude.nnz:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    if k <= 0 or not scores.shape[0]:
        return np.zeros((scores.shape[0], max(k, 0)), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def hits_matrix(recommended: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean (users x K): is the k-th recommendation in the user's relevant set."""
    relevant = sp.csr_matrix(relevant)
    if not recommended.size:  # no users, or nothing to rank: scipy returns a 1x0 matrix
        return np.zeros(recommended.shape, dtype=bool)
    rows = np.repeat(np.arange(recommended.shape[0]), recommended.shape[1])
    return np.asarray(relevant[rows, recommended.ravel()]).reshape(recommended.shape) > 0


def ndcg_at_k(recommended: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Mean nDCG over rows with at least one relevant item (the tuning objective); NaN
    when no row has one (nothing to measure is not a score of zero)."""
    return _mean(_per_user(recommended, relevant)["ndcg"])


def ranking_metrics(
    recommended: np.ndarray,
    relevant: sp.csr_matrix,
    *,
    n_items: int,
    train_popularity: np.ndarray,
    n_train_users: int,
) -> RankingMetrics:
    """All metrics for one recommender; rows of ``recommended`` and ``relevant`` align."""
    per_user = _per_user(recommended, relevant)
    kept = recommended[per_user["kept"]]
    probability = (train_popularity[kept] + 1.0) / (n_train_users + 1.0)
    return RankingMetrics(
        precision=_mean(per_user["precision"]),
        recall=_mean(per_user["recall"]),
        ndcg=_mean(per_user["ndcg"]),
        map=_mean(per_user["ap"]),
        hit_rate=_mean(per_user["hit"]),
        coverage=len(np.unique(kept)) / n_items if n_items else 0.0,
        novelty=float(-np.log2(probability).mean()) if kept.size else 0.0,
        users=int(per_user["kept"].sum()),
    )


def _mean(values: np.ndarray) -> float:
    """The mean, or NaN without numpy's empty-slice warning when there are no users."""
    return float(values.mean()) if values.size else float("nan")


def _per_user(recommended: np.ndarray, relevant: sp.csr_matrix) -> dict[str, np.ndarray]:
    relevant = sp.csr_matrix(relevant)
    n_relevant = np.diff(relevant.indptr)
    kept = n_relevant > 0
    hits = hits_matrix(recommended, relevant)[kept].astype(np.float64)
    n_rel = n_relevant[kept].astype(np.float64)
    k = recommended.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(n_rel, k).astype(np.int64) - 1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "kept": kept,
        "precision": hits.sum(axis=1) / k,
        "recall": hits.sum(axis=1) / n_rel,
        "ndcg": (hits * discount).sum(axis=1) / ideal,
        "ap": (precision_at * hits).sum(axis=1) / np.minimum(n_rel, k),
        "hit": (hits.sum(axis=1) > 0).astype(np.float64),
    }
