"""Segments of the real MovieLens-100k users: readable groups, none made of a few outliers."""

from __future__ import annotations

import numpy as np

from kg.config import RecommendSettings
from kg.ingest import ingest_path
from kg.recommend.interactions import export_interactions
from kg.recommend.segments import segment_table, segment_users
from kg.store import GraphStore
from tests.helpers import MOVIELENS, require


def test_movielens_segments_are_taste_groups_not_power_raters(store: GraphStore) -> None:
    """MovieLens has users with 400-700 ratings; with their activity-sized embeddings
    three of them used to be segments of one user each."""
    ingest_path(store, require(MOVIELENS), fmt="movielens")
    graph = export_interactions(store, RecommendSettings())
    segmentation = segment_users(graph, 8, seed=42)
    sizes = np.bincount(segmentation.labels, minlength=8)
    assert sizes.sum() == graph.n_users and sizes.min() >= 0.01 * graph.n_users, sizes
    table = segment_table(segmentation)
    assert table["name"].is_unique and table["over-indexes on"].str.contains("genre").all()
    assert table["typical"].str.contains("%").all()  # age group, gender, occupation shares
