"""Datasets the platform knows how to get: a synthetic shop (generated) and MovieLens."""

from __future__ import annotations

from dataclasses import dataclass

from kg.registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    url: str | None
    ingest_format: str


DATASETS: Registry[DatasetInfo] = Registry(
    "dataset",
    {
        "movielens-100k": DatasetInfo(
            "movielens-100k",
            "100,000 ratings by 943 users of 1,682 movies, with demographics and genres (GroupLens).",
            "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            "movielens",
        ),
        "synthetic-shop": DatasetInfo(
            "synthetic-shop",
            "A generated shop: users, products with brands, categories, materials and descriptions, "
            "purchases, views and reviews. No download.",
            None,
            "csv",
        ),
    },
)
