"""Ingest throughput of the embedded store.

Prints relationships/second and peak memory for:
  * MovieLens-100K through `kg ingest --format movielens` (fresh, then re-ingest), if the
    shared data is beside the checkout;
  * a synthetic graph of 1,000,000+ PURCHASED relationships through the store API: fresh
    bulk load, re-ingest of the same rows, and re-ingest where every row changed;
  * the same synthetic rows as a CSV file through the mapping path (parsing included);
  * the baseline in the same process: row-by-row Cypher `UNWIND $rows MERGE`, which is
    what a straightforward adapter would do.

Usage: python benchmarks/ingest.py [--relationships 1000000] [--users 100000] [--items 20000]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import measure
from kg.config import load_settings
from kg.ingest import ingest_path
from kg.store import open_store
from kg.store.ladybug import LadybugStore

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
PURCHASES_MAPPING = """[edges]
rel = "PURCHASED"
from = { label = "User", column = "user" }
to = { label = "Item", column = "item" }
properties = { count = "count", timestamp = "timestamp" }
"""


def synthetic_purchases(relationships: int, users: int, items: int, seed: int = 0) -> pd.DataFrame:
    """Unique (user, item) pairs with a long-tailed item popularity."""
    rng = np.random.default_rng(seed)
    draw = int(relationships * 1.15)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.7
    user_idx = rng.integers(0, users, draw)
    item_idx = rng.choice(items, size=draw, p=popularity / popularity.sum())
    pairs = pd.DataFrame({"u": user_idx, "i": item_idx}).drop_duplicates().head(relationships)
    return pd.DataFrame(
        {
            "from_id": "U" + pairs["u"].astype(str),
            "to_id": "I" + pairs["i"].astype(str),
            "count": rng.integers(1, 4, len(pairs)),
            "timestamp": rng.integers(1_600_000_000, 1_700_000_000, len(pairs)),
        }
    )


def report(name: str, rows: int, m) -> None:  # type: ignore[no-untyped-def]
    print(
        f"{name:<52} {rows:>10,} rels {m.seconds:>7.2f} s wall {m.cpu_seconds:>7.2f} s cpu "
        f"{rows / m.seconds:>10,.0f} rels/s  peak RSS {m.peak_mib:>6,.0f} MiB"
    )


def bench_movielens(workdir: Path) -> None:
    if not MOVIELENS.is_dir():
        print(f"(skipping MovieLens: {MOVIELENS} not found)")
        return
    with open_store(load_settings(store=str(workdir / "ml"))) as store:
        for label in ("fresh load", "re-ingest (all rows exist)"):
            with measure() as m:
                result = ingest_path(store, MOVIELENS, fmt="movielens")
            report(f"MovieLens-100K kg ingest, {label}", result.relationships_written, m)


def bench_synthetic(workdir: Path, relationships: int, users: int, items: int, batch: int) -> None:
    rows = synthetic_purchases(relationships, users, items)
    with open_store(load_settings(store=str(workdir / "synthetic"))) as store:
        with measure() as m:
            for start in range(0, users, batch):
                store.upsert_nodes(
                    "User", pd.DataFrame({"id": [f"U{i}" for i in range(start, min(users, start + batch))]})
                )
            store.upsert_nodes(
                "Item", pd.DataFrame({"id": [f"I{i}" for i in range(items)], "kind": "product"})
            )
        print(
            f"{'synthetic nodes (users + items), fresh':<58} {users + items:>10,} nodes {m.seconds:>7.2f} s"
        )
        changed = rows.assign(count=rows["count"] + 1)
        for label, batch_rows in (
            ("fresh bulk load", rows),
            ("re-ingest, same values", rows),
            ("re-ingest, every row changed", changed),
        ):
            with measure() as m:
                for start in range(0, len(batch_rows), batch):
                    store.upsert_relationships(
                        "PURCHASED", "User", "Item", batch_rows.iloc[start : start + batch]
                    )
            report(f"synthetic upsert_relationships, {label}", len(batch_rows), m)
        assert store.counts().relationships["PURCHASED"] == len(rows)

        csv_path = workdir / "purchases.csv"  # the stored state, so re-ingest changes nothing
        with csv_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user", "item", "count", "timestamp"])
            writer.writerows(changed.itertuples(index=False))
    mapping = workdir / "purchases.toml"
    mapping.write_text(PURCHASES_MAPPING)
    with open_store(load_settings(store=str(workdir / "synthetic"))) as store:
        with measure() as m:
            result = ingest_path(store, csv_path, mapping=mapping, batch_size=batch)
        report("synthetic CSV via kg ingest + mapping, re-ingest, same", result.relationships_written, m)


def bench_baseline(workdir: Path, sample: int = 500) -> None:
    """Row-by-row MERGE, the straightforward approach, on a small sample."""
    rows = synthetic_purchases(sample, 1000, 1000, seed=1)
    store = LadybugStore(
        workdir / "baseline", open_store(load_settings(store=str(workdir / "unused"))).schema
    )
    store.ensure_schema()
    store.upsert_nodes("User", pd.DataFrame({"id": rows["from_id"].unique()}))
    store.upsert_nodes("Item", pd.DataFrame({"id": rows["to_id"].unique()}))
    records = rows.to_dict("records")
    with measure() as m:
        store.query(
            "UNWIND $rows AS row MATCH (a:User {id: row.from_id}), (b:Item {id: row.to_id}) "
            "MERGE (a)-[r:PURCHASED]->(b) SET r.count = row.count, r.timestamp = row.timestamp",
            {"rows": records},
            write=True,
        )
    report("baseline: UNWIND $rows MERGE (row by row), fresh", sample, m)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        workdir = Path(tmp)
        bench_movielens(workdir)
        bench_synthetic(workdir, args.relationships, args.users, args.items, args.batch)
        bench_baseline(workdir)


if __name__ == "__main__":
    main()
