"""Spectral graph filter: the smooth (low-frequency) part of the user-item graph.

The ideal low-pass filter of GF-CF (Shen et al. 2021, "How powerful is graph convolution
for recommendation?"): with the degree-normalised adjacency R = D_u^-1/2 X D_i^-1/2 and
its top-k right singular vectors V, a history h scores ``h D_i^-1/2 V V' D_i^1/2``. It
captures the global, many-hop structure that the local co-interaction paths miss, which
is why fusion gives it weight next to EASE.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense


class SpectralFilter(Scorer):
    name = "spectral"
    description = "graph filter: low-frequency singular vectors of the normalised user-item graph (GF-CF)"
    grid: ClassVar[Grid] = {"components": (64, 16, 32, 128)}

    def unavailable(self, graph: InteractionGraph) -> str | None:
        if min(graph.matrix.shape) <= 2:
            return "too few users or items for a spectral filter"
        return None

    def fit(self, graph: InteractionGraph) -> None:
        x = graph.matrix.astype(np.float64)
        user_degree = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
        item_degree = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
        normalised = sp.diags(user_degree**-0.5) @ x @ sp.diags(item_degree**-0.5)
        components = min(int(self.params["components"]), min(x.shape) - 1)
        start = np.random.default_rng(self.context.seed).random(min(x.shape))
        _, _, vt = svds(normalised, k=components, v0=start)
        self.project_in = np.ascontiguousarray(
            (vt * (item_degree**-0.5)[None, :]).T, dtype=np.float32
        )  # items x k
        self.project_out = np.ascontiguousarray(
            vt * (item_degree**0.5)[None, :], dtype=np.float32
        )  # k x items

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return as_dense(history @ self.project_in) @ self.project_out
