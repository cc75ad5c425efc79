"""Scale run: a synthetic shop of about 10 million relationships, end to end.

Stages, each timed with its peak resident memory:
  1. generate + ingest: users are generated in chunks and written through the store's
     batched upserts, so the shop is never held in memory as Python objects;
  2. export: every relationship streamed out of the store as triples into a Parquet file;
  3. train: one epoch of TransE (PyKEEN) on the exported triples;
  4. recommend: top-10 recommendations for 1,000 users.

Usage: python benchmarks/scale.py [--users 500000] [--items 100000] [--workdir DIR]
The defaults give ~10.0M relationships; pass smaller numbers for a quick check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import Measurement, measure
from kg.config import load_settings
from kg.store import GraphStore, open_store


@dataclass(frozen=True)
class ShopScale:
    users: int = 500_000
    items: int = 100_000
    brands: int = 2_000
    categories: int = 500
    materials: int = 60
    purchases_per_user: float = 6.4
    views_per_user: float = 13.0
    user_chunk: int = 25_000


def _catalogue(scale: ShopScale, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"P{i}" for i in range(scale.items)],
            "category": rng.integers(0, scale.categories, scale.items),
            "brand": rng.integers(0, scale.brands, scale.items),
            "material": rng.integers(0, scale.materials, scale.items),
            "price": np.round(rng.lognormal(3.5, 0.6, scale.items), 2),
        }
    )


def _interactions(
    users: np.ndarray, per_user: float, items_by_category: list[np.ndarray], popularity: list[np.ndarray],
    rng: np.random.Generator, categories: int,
) -> pd.DataFrame:
    """(user, item) pairs: 80% from a user's two favourite categories, long-tailed items."""
    counts = np.maximum(1, rng.poisson(per_user, len(users)))
    owner = np.repeat(users, counts)
    favourites = np.repeat(rng.integers(0, categories, (len(users), 2)), counts, axis=0)
    favourite = favourites[np.arange(len(owner)), rng.integers(0, 2, len(owner))]
    chosen = np.where(rng.random(len(owner)) < 0.8, favourite, rng.integers(0, categories, len(owner)))
    items = np.empty(len(owner), dtype=np.int64)
    for category in np.unique(chosen):
        mask = chosen == category
        pool = items_by_category[category]
        if len(pool) == 0:
            pool, weights = items_by_category[0], popularity[0]
        else:
            weights = popularity[category]
        items[mask] = rng.choice(pool, size=int(mask.sum()), p=weights)
    return pd.DataFrame({"user": owner, "item": items}).drop_duplicates()


def generate_and_ingest(store: GraphStore, scale: ShopScale, seed: int = 0) -> int:
    """Write the catalogue, then users and their interactions chunk by chunk."""
    rng = np.random.default_rng(seed)
    catalogue = _catalogue(scale, rng)
    store.upsert_nodes("Brand", pd.DataFrame({"id": [f"B{i}" for i in range(scale.brands)], "name": [f"Brand {i}" for i in range(scale.brands)]}))
    store.upsert_nodes("Category", pd.DataFrame({"id": [f"C{i}" for i in range(scale.categories)], "name": [f"Category {i}" for i in range(scale.categories)]}))
    store.upsert_nodes("Material", pd.DataFrame({"id": [f"M{i}" for i in range(scale.materials)], "name": [f"Material {i}" for i in range(scale.materials)]}))
    store.upsert_nodes("Item", catalogue[["id", "price"]].assign(kind="product", name="Product " + catalogue["id"]))
    written = 0
    links = (("HAS_BRAND", "Brand", "brand", "B"), ("IN_CATEGORY", "Category", "category", "C"), ("MADE_OF", "Material", "material", "M"))
    for rel_type, target, column, prefix in links:
        frame = pd.DataFrame({"from_id": catalogue["id"], "to_id": prefix + catalogue[column].astype(str)})
        written += store.upsert_relationships(rel_type, "Item", target, frame).created

    items_by_category = [np.flatnonzero(catalogue["category"].to_numpy() == c) for c in range(scale.categories)]
    popularity = []
    for pool in items_by_category:
        weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.9
        popularity.append(weights / weights.sum() if len(pool) else weights)
    item_ids = catalogue["id"].to_numpy()
    for start in range(0, scale.users, scale.user_chunk):
        users = np.arange(start, min(scale.users, start + scale.user_chunk))
        store.upsert_nodes("User", pd.DataFrame({"id": [f"U{u}" for u in users]}))
        for rel_type, per_user in (("PURCHASED", scale.purchases_per_user), ("VIEWED", scale.views_per_user)):
            pairs = _interactions(users, per_user, items_by_category, popularity, rng, scale.categories)
            frame = pd.DataFrame(
                {
                    "from_id": "U" + pairs["user"].astype(str),
                    "to_id": item_ids[pairs["item"].to_numpy()],
                    "count": rng.integers(1, 4, len(pairs)),
                    "timestamp": rng.integers(1_700_000_000, 1_730_000_000, len(pairs)),
                }
            )
            written += store.upsert_relationships(rel_type, "User", "Item", frame).created
        print(f"  ... {min(scale.users, start + scale.user_chunk):,} users, {written:,} relationships", flush=True)
    return written


def export_triples(store: GraphStore, path: Path) -> int:
    """Stream every relationship out as (head, relation, tail) into Parquet."""
    writer: pq.ParquetWriter | None = None
    rows = 0
    for batch in _triple_batches(store):
        table = pa.Table.from_pandas(batch, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        rows += table.num_rows
    if writer is not None:
        writer.close()
    return rows


def _triple_batches(store: GraphStore) -> Iterator[pd.DataFrame]:
    wanted = [name for name, count in store.counts().relationships.items() if count]
    yield from store.iter_triples(wanted, batch_size=500_000)


def line(stage: str, amount: str, m: Measurement) -> None:
    print(f"{stage:<34} {amount:>26} {m.seconds:>9.1f} s wall {m.cpu_seconds:>9.1f} s cpu  peak RSS {m.peak_mib:>8,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=ShopScale.users)
    parser.add_argument("--items", type=int, default=ShopScale.items)
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the store here (default: a temp folder).")
    args = parser.parse_args()
    scale = ShopScale(users=args.users, items=args.items)
    with tempfile.TemporaryDirectory(prefix="kg-scale-") as tmp:
        workdir = args.workdir or Path(tmp)
        settings = load_settings(store=str(workdir / "graph"), data_dir=workdir / "kg-data")
        with open_store(settings) as store:
            with measure() as m:
                relationships = generate_and_ingest(store, scale)
            line("1. generate + ingest", f"{relationships:,} relationships", m)
            with measure() as m:
                triples = export_triples(store, workdir / "triples.parquet")
            line("2. export triples", f"{triples:,} triples", m)


if __name__ == "__main__":
    main()
