"""Popularity: how many distinct users interacted with each item. The floor under every
other signal and the answer for a visitor the graph knows nothing about."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence, popularity_evidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Scorer


class Popularity(Scorer):
    name = "popularity"
    description = "most-interacted items (also the popularity baseline)"
    uses_history = False

    def fit(self, graph: InteractionGraph) -> None:
        self.log_counts = np.log1p(graph.item_popularity).astype(np.float32)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.log_counts, (len(users), len(self.log_counts))).copy()

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        return popularity_evidence(graph, item, self.name)
