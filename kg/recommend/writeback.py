"""Recommendations into the graph: ``(:User)-[:RECOMMENDED {score, rank, reason, cypher,
model, created_at}]->(:Item)``, so analysts can query them next to the paths that explain them.

Each write replaces, in one transaction, every RECOMMENDED edge leaving the users written:
running it twice leaves exactly one set per user, never a mix of two runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from kg.errors import InputError
from kg.store.base import FROM_ID, TO_ID, GraphStore


def recommendation_edges(
    recommendations: pd.DataFrame, model: str, created_at: str | None = None
) -> pd.DataFrame:
    """RECOMMENDED rows from the frames ``Recommender.recommend_users`` yields."""
    missing = {"user", "item", "rank", "score"} - set(recommendations.columns)
    if missing:
        raise InputError(f"Recommendations to write need columns {sorted(missing)}.")
    edges = pd.DataFrame(
        {
            FROM_ID: recommendations["user"].astype(str),
            TO_ID: recommendations["item"].astype(str),
            "score": recommendations["score"].astype(float),
            "rank": recommendations["rank"].astype("int64"),
            "reason": recommendations.get("reason"),
            "cypher": recommendations.get("cypher"),
            "model": model,
            "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    return edges


def write_recommendations(
    store: GraphStore, recommendations: pd.DataFrame, model: str, created_at: str | None = None
) -> int:
    """Replace the RECOMMENDED edges of every user in ``recommendations``; return edges written."""
    if recommendations.empty:
        return 0
    return store.replace_relationships(
        "RECOMMENDED", "User", "Item", recommendation_edges(recommendations, model, created_at)
    )
