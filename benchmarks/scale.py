"""Scale run: a synthetic shop of about 10 million relationships, end to end.

Stages, each in a fresh process (so each peak resident memory is that stage's own, not
the store's cache or an earlier stage's leftovers), each timed:
  1. generate + ingest: users are generated in chunks and written through the store's
     batched upserts, so the shop is never held in memory as Python objects;
  2. export: every relationship streamed out of the store as triples into a Parquet file;
  3. train: one epoch of TransE on the exported triples through ``kg train``'s code path
     (``embeddings.triples.split_triples`` + ``embeddings.train.train_on_splits``) with a
     1,000-triple test split and no validation. sLCWA with sampled negatives: the recipe's
     1-N scoring would score every row against ~600k entities, out of reach on two cores;
  4a. fit the recommender the way ``kg recommend`` does (``load_recommender``: matrix
     export, each signal tuned on a validation split, fusion weights, refit on all
     interactions) with the signals that scale to 100k items (``SCALE_SIGNALS``);
  4b. top-10 recommendations with explanations for 1,000 users, one call per user.

Usage: python benchmarks/scale.py [--users 500000] [--items 100000] [--workdir DIR]
       [--dim 64] [--negatives 4] [--batch 16384] [--threads 2]
The defaults give ~10M relationships; pass smaller numbers for a quick check.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import Measurement, measure
from kg.config import RecommendSettings, Settings, load_settings
from kg.store import GraphStore, open_store

RECOMMEND_USERS = 1_000
TEST_TRIPLES = 1_000
TRIPLES_FILE = "triples.parquet"


@dataclass(frozen=True)
class ShopScale:
    users: int = 500_000
    items: int = 100_000
    brands: int = 2_000
    categories: int = 500
    materials: int = 60
    purchases_per_user: float = 6.4
    views_per_user: float = 14.0
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
    users: np.ndarray,
    per_user: float,
    items_by_category: list[np.ndarray],
    popularity: list[np.ndarray],
    rng: np.random.Generator,
    categories: int,
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
    store.upsert_nodes(
        "Brand",
        pd.DataFrame(
            {
                "id": [f"B{i}" for i in range(scale.brands)],
                "name": [f"Brand {i}" for i in range(scale.brands)],
            }
        ),
    )
    store.upsert_nodes(
        "Category",
        pd.DataFrame(
            {
                "id": [f"C{i}" for i in range(scale.categories)],
                "name": [f"Category {i}" for i in range(scale.categories)],
            }
        ),
    )
    store.upsert_nodes(
        "Material",
        pd.DataFrame(
            {
                "id": [f"M{i}" for i in range(scale.materials)],
                "name": [f"Material {i}" for i in range(scale.materials)],
            }
        ),
    )
    store.upsert_nodes(
        "Item", catalogue[["id", "price"]].assign(kind="product", name="Product " + catalogue["id"])
    )
    written = 0
    links = (
        ("HAS_BRAND", "Brand", "brand", "B"),
        ("IN_CATEGORY", "Category", "category", "C"),
        ("MADE_OF", "Material", "material", "M"),
    )
    for rel_type, target, column, prefix in links:
        frame = pd.DataFrame({"from_id": catalogue["id"], "to_id": prefix + catalogue[column].astype(str)})
        written += store.upsert_relationships(rel_type, "Item", target, frame).created

    items_by_category = [
        np.flatnonzero(catalogue["category"].to_numpy() == c) for c in range(scale.categories)
    ]
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
        print(
            f"  ... {min(scale.users, start + scale.user_chunk):,} users, {written:,} relationships",
            flush=True,
        )
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


# The signals that scale to 100k items. Left out: ease (a dense items x items inverse;
# the recommender skips it above dense_item_limit anyway), item_knn (the cost of rp3beta
# per tuning trial again, for the same co-interaction paths), user_knn, text (MiniLM over
# every item's text) and kge (needs a registered `kg train` model).
SCALE_SIGNALS = ["rp3beta", "spectral", "attributes", "popularity"]


def scale_settings(workdir: Path) -> Settings:
    return load_settings(
        store=str(workdir / "graph"),
        data_dir=workdir / "kg-data",
        recommend=RecommendSettings(signals=SCALE_SIGNALS),
    )


@dataclass
class StageResult:
    amount: str
    measurement: Measurement
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainOptions:
    """One sLCWA epoch of TransE, sized for ~10M triples on two CPU cores."""

    embedding_dim: int = 64
    num_negs_per_pos: int = 4
    batch_size: int = 16_384
    threads: int = os.cpu_count() or 1

    def describe(self) -> str:
        return (
            f"TransE (L2), sLCWA, dim {self.embedding_dim}, {self.num_negs_per_pos} negatives per triple, "
            f"batch {self.batch_size:,}, Adam, {self.threads} torch thread(s)"
        )


def ingest_stage(workdir: Path, scale: ShopScale) -> StageResult:
    with open_store(scale_settings(workdir)) as store, measure() as m:
        relationships = generate_and_ingest(store, scale)
    return StageResult(f"{relationships:,} relationships", m)


def export_stage(workdir: Path) -> StageResult:
    with open_store(scale_settings(workdir), read_only=True, ensure_schema=False) as store, measure() as m:
        triples = export_triples(store, workdir / TRIPLES_FILE)
    return StageResult(f"{triples:,} triples", m)


def train_stage(workdir: Path, options: TrainOptions) -> StageResult:
    """Read the exported triples, hold out a small test split, train one epoch, evaluate."""
    from embeddings.device import quiet_libraries
    from embeddings.train import train_on_splits
    from embeddings.triples import split_triples

    with measure() as m, quiet_libraries():  # PyKEEN warns that the validation split is empty
        triples = pd.read_parquet(workdir / TRIPLES_FILE)
        share = TEST_TRIPLES / len(triples)
        splits = split_triples(triples, (1.0 - share, 0.0, share))
        del triples
        trained = train_on_splits(
            splits,
            "transe",
            threads=options.threads,
            training_loop="slcwa",
            num_epochs=1,
            embedding_dim=options.embedding_dim,
            num_negs_per_pos=options.num_negs_per_pos,
            batch_size=options.batch_size,
            create_inverse_triples=False,
        )
    metrics, train = trained.metrics, len(splits.train)
    epoch = metrics["seconds_per_epoch"]
    notes = [
        options.describe(),
        f"{len(trained.entity_to_id):,} entities, {len(trained.relation_to_id)} relations, "
        f"{train:,} training / {len(splits.test):,} test triples",
        f"the epoch itself {epoch:.1f} s ({train / max(epoch, 1e-9):,.0f} triples/s); the rest is reading, "
        "splitting, id mapping and the filtered test evaluation",
        f"test MRR {metrics['mrr']:.4f}, Hits@10 {metrics['hits_at_10']:.4f} (filtered, both sides; one epoch)",
    ]
    return StageResult(f"{train:,} triples, 1 epoch", m, notes)


def fit_recommender_stage(workdir: Path) -> StageResult:
    from kg.recommend.service import load_recommender

    settings = scale_settings(workdir)
    with open_store(settings, read_only=True, ensure_schema=False) as store, measure() as m:
        recommender = load_recommender(store, settings, refit=True)
    graph = recommender.graph
    notes = [
        f"{graph.n_users:,} users x {graph.n_items:,} items, {graph.item_attributes.shape[1]:,} attribute nodes; "
        f"signals {', '.join(SCALE_SIGNALS)}",
        *(f"{r.name:<10} tuned in {r.seconds:6.1f} s: {_settings(r.params)}" for r in recommender.signals),
        "fusion weights: " + ", ".join(f"{n} {w:.2f}" for n, w in recommender.weights.items() if w),
        f"validation nDCG@10 {recommender.validation_ndcg:.4f}",
        *recommender.notes,
    ]
    return StageResult(f"{graph.matrix.nnz:,} interactions", m, notes)


def _settings(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "no settings"


def recommend_stage(workdir: Path, users: int) -> StageResult:
    """Top-10 with explanations for seeded random users, one call each; the fitted
    recommender is loaded from disk first, outside the measurement."""
    from kg.recommend.service import load_recommender

    settings = scale_settings(workdir)
    with open_store(settings, read_only=True, ensure_schema=False) as store:
        recommender = load_recommender(store, settings)
    ids = recommender.graph.user_ids
    chosen = ids[np.random.default_rng(7).choice(len(ids), size=min(users, len(ids)), replace=False)]
    samples = []
    with measure() as m:
        for user in chosen:
            started = time.perf_counter()
            recommender.recommend(str(user), 10, explain=True)
            samples.append(time.perf_counter() - started)
    ms = np.array(samples) * 1000
    notes = [
        f"per user: p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, mean {ms.mean():.1f} ms"
    ]
    return StageResult(f"{len(chosen):,} users, top-10", m, notes)


def in_fresh_process(task: Callable[..., StageResult], *args: Any) -> StageResult:
    """Run one stage in a new process: its peak RSS is then that stage's alone."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(task, *args).result()


def machine() -> str:
    memory_kib = next(
        int(row.split()[1])
        for row in Path("/proc/meminfo").read_text().splitlines()
        if row.startswith("MemTotal:")
    )
    return f"{os.cpu_count()} CPU cores, {memory_kib / 2**20:.1f} GiB memory"


def line(stage: str, result: StageResult) -> None:
    m = result.measurement
    print(
        f"{stage:<28} {result.amount:>30} {m.seconds:>8.1f} s wall {m.cpu_seconds:>8.1f} s cpu  "
        f"peak RSS {m.peak_mib:>7,.0f} MiB",
        flush=True,
    )
    for note in result.notes:
        print(f"    {note}", flush=True)


def markdown_table(rows: list[tuple[str, StageResult]]) -> str:
    lines = ["| stage | amount | wall s | cpu s | peak RSS MiB |", "|---|---|---:|---:|---:|"]
    for stage, r in rows:
        m = r.measurement
        lines.append(
            f"| {stage} | {r.amount} | {m.seconds:,.1f} | {m.cpu_seconds:,.1f} | {m.peak_mib:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=ShopScale.users)
    parser.add_argument("--items", type=int, default=ShopScale.items)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Keep the store here (default: a temp folder)."
    )
    parser.add_argument("--dim", type=int, default=TrainOptions.embedding_dim)
    parser.add_argument("--negatives", type=int, default=TrainOptions.num_negs_per_pos)
    parser.add_argument("--batch", type=int, default=TrainOptions.batch_size)
    parser.add_argument("--threads", type=int, default=TrainOptions.threads)
    args = parser.parse_args()
    scale = ShopScale(users=args.users, items=args.items)
    options = TrainOptions(args.dim, args.negatives, args.batch, args.threads)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kg-scale-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        stages: list[tuple[str, Callable[..., StageResult], tuple[Any, ...]]] = [
            ("1. generate + ingest", ingest_stage, (workdir, scale)),
            ("2. export triples", export_stage, (workdir,)),
            ("3. TransE, one epoch", train_stage, (workdir, options)),
            ("4a. fit recommender", fit_recommender_stage, (workdir,)),
            (f"4b. recommend ({RECOMMEND_USERS:,} users)", recommend_stage, (workdir, RECOMMEND_USERS)),
        ]
        rows = []
        for stage, task, task_args in stages:
            result = in_fresh_process(task, *task_args)
            line(stage, result)
            rows.append((stage, result))
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
