"""Shared-attribute paths: User->Item->(brand, category, genre, material)<-Item.

A user's profile counts how many of their items reach each attribute node (over paths
of one or more hops, e.g. an item's category and that category's parent); an item scores
the profile weighted by how rare each attribute is (IDF), so "you bought 4 Northpeak
items" counts more than "you bought things in the biggest category". New items with no
interactions still score through their attributes (cold start).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense, row_scaled


class SharedAttributes(Scorer):
    name = "attributes"
    description = "shared brand/category/genre/material paths, IDF-weighted"
    grid: ClassVar[Grid] = {"idf_power": (1.0, 0.0, 2.0), "item_norm": (0.5, 0.0, 1.0)}

    def unavailable(self, graph: InteractionGraph) -> str | None:
        return None if graph.item_attributes.shape[1] else "no item attribute paths in the graph"

    def fit(self, graph: InteractionGraph) -> None:
        attributes = graph.item_attributes
        items_with = np.asarray(attributes.sum(axis=0)).ravel()
        self.idf = np.log1p(graph.n_items / np.maximum(items_with, 1.0)).astype(np.float32)
        per_item = np.maximum(np.asarray(attributes.sum(axis=1)).ravel(), 1.0)
        scaled = sp.diags((per_item ** -float(self.params["item_norm"])).astype(np.float32)) @ attributes
        self.item_weights = (scaled @ sp.diags(self.idf ** float(self.params["idf_power"]))).T.tocsr()
        self.attributes = attributes.tocsr()

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        lengths = np.maximum(np.asarray(history.sum(axis=1)).ravel(), 1.0)
        profile = row_scaled(1.0 / lengths, history @ self.attributes)
        return as_dense(profile @ self.item_weights)

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        counts = as_dense((history > 0).astype(np.float32) @ self.attributes).ravel()
        shared = self.attributes[item].indices
        if not len(shared):
            return None
        strength = counts[shared] * self.idf[shared]
        best = int(np.argmax(strength))
        if strength[best] <= 0:
            return None
        seed = int(history.indices[0]) if user is None and history.nnz else None
        return PathEvidence(
            "shared_attribute",
            self.name,
            item,
            via_item=seed,
            attribute=int(shared[best]),
            count=int(counts[shared[best]]),
        )
