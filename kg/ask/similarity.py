"""How `kg ask` finds the items nearest to a question: in memory, or with Neo4j's vector
index.

The embedded store has no vector index, so every item vector is read once and the
cosine computed in memory (a matrix-vector product). On Neo4j, where `kg enrich` wrote
``text_embedding`` and the store made a cosine vector index over it, the index answers
(``db.index.vector.queryNodes``): no vector leaves the server, which matters for large
catalogues. The index returns the ``n`` nearest items overall, before any filter, so
when too few of them pass the question's filters, ``n`` grows (x4) until ``k`` pass or
the whole catalogue was asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from kg.store.base import GraphStore

EMBEDDING = "text_embedding"
FIRST_CANDIDATES = 200  # nearest items asked of the index first
# Static Cypher (Neo4j only); the index name and vector travel as parameters.
ITEM_VECTOR_INDEXES = (
    "SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, state "
    "WHERE labelsOrTypes = ['Item'] AND properties = ['text_embedding'] AND state = 'ONLINE' "
    "RETURN name"
)
ITEMS_WITHOUT_VECTOR = "MATCH (i:Item) WHERE i.text_embedding IS NULL RETURN count(i) AS n"
NEAREST = "CALL db.index.vector.queryNodes($index, $n, $vector) YIELD node, score RETURN node.id AS id, score"


class Similarity(Protocol):
    """Cosine similarity of the question to items, one value per item (-inf: not ranked)."""

    description: str

    def scores(self, question: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray: ...


@dataclass
class InMemorySimilarity:
    """Every item's (unit-length) vector against the question's."""

    vectors: np.ndarray
    description: str = "cosine similarity computed in memory"

    def scores(self, question: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        return self.vectors @ question


@dataclass
class VectorIndexSimilarity:
    """Neo4j's cosine vector index on ``Item.text_embedding``; items it did not return
    score -inf."""

    store: GraphStore
    index: str
    item_ids: pd.Index

    @property
    def description(self) -> str:
        return f"Neo4j vector index {self.index} (db.index.vector.queryNodes)"

    def scores(self, question: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        total = len(self.item_ids)
        n = min(total, max(FIRST_CANDIDATES, k))
        while True:
            found = self.store.query(NEAREST, {"index": self.index, "n": n, "vector": question.tolist()})
            scores = np.full(total, -np.inf)
            positions = self.item_ids.get_indexer(found["id"].astype(str))
            known = positions >= 0
            # Neo4j reports cosine as (1 + cos) / 2; back to the cosine the in-memory path gives.
            scores[positions[known]] = 2.0 * found["score"].to_numpy(np.float64)[known] - 1.0
            if n >= total or int((np.isfinite(scores) & allowed).sum()) >= k:
                return scores
            n = min(total, n * 4)


def item_vector_index(store: GraphStore, uses_neo4j: bool) -> str | None:
    """The online vector index over every item's ``text_embedding`` on Neo4j; None on the
    embedded store, without such an index, or when some item has no vector (the index
    would never return it)."""
    if not uses_neo4j or EMBEDDING not in store.schema.node("Item").properties:
        return None
    names = store.query(ITEM_VECTOR_INDEXES)
    if names.empty or int(store.query(ITEMS_WITHOUT_VECTOR)["n"].iloc[0]):
        return None
    return str(names["name"].iloc[0])
