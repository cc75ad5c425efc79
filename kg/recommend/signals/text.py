"""Text similarity: items whose descriptions read like what the user already chose.

Each item's text (name, description, and the names of its attribute nodes) is embedded
with the sentence-transformer of ``[embeddings] text_model`` (MiniLM, offline); a user
is the mean of their items' vectors. Items nobody has touched yet score like any other,
which is what makes new products recommendable (cold start).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Scorer, as_dense


def item_texts(graph: InteractionGraph) -> list[str]:
    """Per item (``graph.item_ids`` order) the ``node_text`` that ``kg enrich`` wrote, else
    ``name. description. attribute names``."""
    names = graph.items.get("name", pd.Series([None] * graph.n_items)).fillna("").astype(str)
    descriptions = graph.items.get("description", pd.Series([None] * graph.n_items)).fillna("").astype(str)
    enriched = graph.items.get("node_text", pd.Series([None] * graph.n_items)).fillna("").astype(str)
    attribute_names = (
        graph.attributes["name"].astype(str).to_numpy() if len(graph.attributes) else np.array([])
    )
    attributes = graph.item_attributes.tocsr()
    texts = []
    for index in range(graph.n_items):
        linked = attribute_names[attributes.indices[attributes.indptr[index] : attributes.indptr[index + 1]]]
        parts = [names.iat[index], descriptions.iat[index], ", ".join(dict.fromkeys(linked))]
        texts.append(enriched.iat[index] or ". ".join(p for p in parts if p) or str(graph.item_ids[index]))
    return texts


@lru_cache(maxsize=4)
def _encode(texts: tuple[str, ...], model: str, digest: str) -> np.ndarray:
    from embeddings.text import encode_texts

    return encode_texts(list(texts), model=model)


def item_vectors(graph: InteractionGraph, model: str) -> np.ndarray:
    """The ``text_embedding`` that ``kg enrich`` stored, where all items have one of the
    same size; else the items' texts encoded now (once per process per catalogue)."""
    stored = graph.items.get("text_embedding")
    if stored is not None and stored.map(_is_vector).all() and stored.map(len).nunique() == 1:
        vectors = np.vstack(stored.map(lambda v: np.asarray(v, np.float32)).to_list())
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    texts = item_texts(graph)
    digest = hashlib.sha256("\x1f".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
    return _encode(tuple(texts), model, digest)


def _is_vector(value: object) -> bool:
    return isinstance(value, (list, np.ndarray)) and len(value) > 0


class TextSimilarity(Scorer):
    name = "text"
    description = "text similarity of item descriptions to the user's items (MiniLM)"

    def fit(self, graph: InteractionGraph) -> None:
        self.vectors = item_vectors(graph, self.context.text_model)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        profile = as_dense(history @ self.vectors)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        return (profile / np.maximum(norms, 1e-9)) @ self.vectors.T

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        seen = history.indices
        if not len(seen):
            return None
        similarity = self.vectors[seen] @ self.vectors[item]
        best = int(np.argmax(similarity))
        return PathEvidence(
            "text", self.name, item, via_item=int(seen[best]), similarity=float(similarity[best])
        )
