"""What every scorer is: a function from users and their histories to a score per item.

A scorer is fitted on an :class:`InteractionGraph` (the training interactions only, when
evaluating) and then scores any batch of users at once. ``history`` rows are the users'
positive interactions with their strengths (items as columns; 1 each when weighting is
binary; dislikes are apart, in ``InteractionGraph.negatives``); ``users`` are row
indices into the graph the scorer was fitted on, or -1 for a history that belongs to no
user (``kg similar``, a new visitor). Scores are higher-is-better and only compared within one row.

Hyper-parameters are data: ``grid`` lists the values tuned on a validation split.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel

from kg.config import EmbeddingSettings, RecommendSettings, Settings
from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.store.base import GraphStore

NO_USER = -1
Grid = dict[str, tuple[Any, ...]]  # parameter name -> values to try (the first is the default)


def _default(model: type[BaseModel], field: str) -> Any:
    return model.model_fields[field].default


@dataclass(frozen=True)
class ScorerContext:
    """The few settings scorers need (never the whole Settings: no secrets in model files)."""

    # defaults live in one place: the settings' own
    seed: int = _default(RecommendSettings, "seed")
    dense_item_limit: int = _default(RecommendSettings, "dense_item_limit")
    kge_model: str = _default(RecommendSettings, "kge_model")
    kge_epochs: int = _default(RecommendSettings, "kge_epochs")
    kge_dim: int = _default(RecommendSettings, "kge_dim")
    kge_fits: int = _default(RecommendSettings, "kge_fits")
    kge_regularizer_weight: float = _default(RecommendSettings, "kge_regularizer_weight")
    text_model: str = _default(EmbeddingSettings, "text_model")

    @classmethod
    def from_settings(cls, settings: Settings) -> ScorerContext:
        return cls(
            seed=settings.recommend.seed,
            dense_item_limit=settings.recommend.dense_item_limit,
            kge_model=settings.recommend.kge_model,
            kge_epochs=settings.recommend.kge_epochs,
            kge_dim=settings.recommend.kge_dim,
            kge_fits=settings.recommend.kge_fits,
            kge_regularizer_weight=settings.recommend.kge_regularizer_weight,
            text_model=settings.embeddings.text_model,
        )


class Scorer(ABC):
    """Base class of signals and baselines."""

    name: ClassVar[str]
    description: ClassVar[str]
    grid: ClassVar[Grid] = {}
    max_trials: ClassVar[int] = 12  # settings tried when the grid is larger (seeded sample)
    uses_history: ClassVar[bool] = True  # False: scores users with no interactions (cold start)

    def __init__(self, context: ScorerContext, **params: Any) -> None:
        unknown = set(params) - set(self.grid)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.context = context
        self.params = {name: values[0] for name, values in self.grid.items()} | params

    def unavailable(self, graph: InteractionGraph) -> str | None:
        """Why this scorer cannot run on ``graph`` (None when it can)."""
        return None

    def restore(self, store: GraphStore, settings: Settings) -> bool:
        """After a saved recommender is loaded: re-attach what was not saved with it
        (a model kept elsewhere). False when that is gone or changed, so the saved fit is
        stale and the recommender is fitted again. Most scorers keep everything: True."""
        return True

    @abstractmethod
    def fit(self, graph: InteractionGraph) -> None:
        """Learn from ``graph`` (its interactions are the training data)."""

    @abstractmethod
    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Dense (len(users) x n_items) float32 scores."""

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        """The path of this signal that contributes most to ``item`` (None: not path-based)."""
        return None

    def describe_params(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


def as_dense(scores: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Scores as a dense float32 array, whatever the product produced."""
    if sp.issparse(scores):
        return scores.toarray().astype(np.float32, copy=False)
    return np.asarray(scores, dtype=np.float32)


def row_scaled(scale: np.ndarray, matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``sp.diags(scale) @ matrix``, bit for bit, without the sparse product's per-call
    overhead (it builds, converts and checks four matrices: a tenth of one user's scoring
    time). The same products, zeros dropped, and each row's entries in the order the
    product leaves them (reversed), so that sums over them later run in the same order."""
    matrix = matrix.tocsr()
    dtype = np.result_type(scale.dtype, matrix.dtype)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    reversed_at = matrix.indptr[rows + 1] - 1 - (np.arange(matrix.nnz) - matrix.indptr[rows])
    data = np.empty(matrix.nnz, dtype)
    indices = np.empty_like(matrix.indices)
    data[reversed_at] = scale.astype(dtype, copy=False)[rows] * matrix.data.astype(dtype, copy=False)
    indices[reversed_at] = matrix.indices
    kept = data != 0  # a row keeps its entries in place, so ``rows`` still names each one's row
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[kept], minlength=matrix.shape[0]))])
    return sp.csr_matrix((data[kept], indices[kept], indptr), shape=matrix.shape)


def known_rows(matrix: sp.csr_matrix, users: np.ndarray) -> sp.csr_matrix:
    """Each user's row of a per-user ``matrix``, and an empty row for ``NO_USER`` (a
    visitor has no cohort, no dislikes, nothing seen)."""
    known = np.where(users == NO_USER, 0, users)
    return row_scaled((users != NO_USER).astype(np.float32), matrix[known])
