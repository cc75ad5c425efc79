"""Recommendation latency and throughput on this machine.

Two catalogues, each in one process:

  * MovieLens-100k (943 users, 1,682 movies; needs ../shared/data/movielens-100k),
    ingested into a scratch embedded store: the fused recommender is fitted the way
    `kg recommend` fits it (tuned on a validation split), then every user is timed one by
    one (p50/p99, with and without explanations) and all users are scored in batches.
    Baseline, same process: the co-interaction candidates of one user as a Cypher query
    against the store (what a recommender without the matrix export would run per user).
  * A synthetic catalogue of 100,000 items and 50,000 users (~2M interactions, categories
    and brands as attribute paths, age/gender cohorts), built in memory as sparse
    matrices: the scalable signals (RP3beta with 100 neighbours per item, the spectral
    filter, attributes, cohorts, popularity) are fitted with their default settings and
    equal weights (tuning is not what is timed here), then the same timings.

The target is p50 under 20 ms per user on MovieLens-100k with 2 cores.

Usage: python benchmarks/recommend.py [--skip-movielens] [--skip-large] [--users 50000] [--items 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import measure, rss_mib
from kg.config import RecommendSettings, load_settings
from kg.ingest import ingest_path
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.registry import make_scorer
from kg.recommend.signals.base import ScorerContext
from kg.store import open_store

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
CO_INTERACTION_QUERY = (
    "MATCH (u:User {id: $user})-[:RATED]->(:Item)<-[:RATED]-(:User)-[:RATED]->(rec:Item) "
    "WHERE NOT (u)-[:RATED]->(rec) RETURN rec.id AS item, count(*) AS paths ORDER BY paths DESC LIMIT 10"
)
LARGE_SIGNALS = ("rp3beta", "spectral", "attributes", "cohort", "popularity")


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return (
        f"p50 {np.percentile(ms, 50):7.2f} ms  p99 {np.percentile(ms, 99):7.2f} ms  mean {ms.mean():7.2f} ms"
    )


def time_users(recommender: Recommender, users: np.ndarray, *, explain: bool) -> list[float]:
    samples = []
    for user in users:
        started = time.perf_counter()
        recommender.recommend(recommender.graph.user_ids[user], 10, explain=explain)
        samples.append(time.perf_counter() - started)
    return samples


def report_serving(recommender: Recommender, sample: np.ndarray) -> None:
    recommender.recommend(recommender.graph.user_ids[sample[0]], 10)  # warm caches
    print(
        f"  one user, top-10, no explanation   {percentiles(time_users(recommender, sample, explain=False))}"
    )
    print(
        f"  one user, top-10, with explanation {percentiles(time_users(recommender, sample, explain=True))}"
    )
    users = np.arange(recommender.graph.n_users)
    with measure() as m:
        for _ in recommender.recommend_users(users, 10, explain=False):
            pass
    print(
        f"  all {len(users):,} users in batches          {len(users) / m.seconds:10,.0f} users/s "
        f"({m.seconds:.1f}s wall, {m.cpu_seconds:.1f}s cpu, +{m.added_mib:.0f} MiB peak)"
    )


def movielens(work: Path) -> None:
    print(f"MovieLens-100k from {MOVIELENS}")
    settings = load_settings(store=str(work / "ml"), data_dir=work / "ml-data", recommend=RecommendSettings())
    config = settings.recommend.model_copy(
        update={"signals": [s for s in settings.recommend.signals if s != "kge"]}
    )
    with open_store(settings) as store:
        ingest_path(store, MOVIELENS, fmt="movielens")
        with measure() as m:
            graph = export_interactions(store, config)
        print(f"  export to sparse matrices   {m.seconds:7.2f}s  ({graph.matrix.nnz:,} interactions)")
        with measure() as m:
            recommender = fit_recommender(graph, config, ScorerContext.from_settings(settings))
        weights = ", ".join(f"{n} {w:g}" for n, w in recommender.weights.items() if w)
        print(
            f"  fit (tune + learn weights)  {m.seconds:7.2f}s wall {m.cpu_seconds:7.1f}s cpu  weights: {weights}"
        )
        print("  (kge left out: it needs a model from `kg train`; its scoring is one batched call per user)")
        report_serving(recommender, np.arange(graph.n_users))
        baseline = []
        for user in graph.user_ids[:50]:
            started = time.perf_counter()
            store.query(CO_INTERACTION_QUERY, {"user": str(user)})
            baseline.append(time.perf_counter() - started)
        print(f"  baseline: one Cypher co-interaction query per user (50 users)  {percentiles(baseline)}")


def synthetic_graph(n_users: int, n_items: int, per_user: int, seed: int = 0) -> InteractionGraph:
    """Users with two favourite categories; 70% of their interactions in them, all
    draws long-tailed by item popularity."""
    rng = np.random.default_rng(seed)
    n_categories, n_brands = 200, 2_000
    category = rng.integers(n_categories, size=n_items)
    brand = rng.integers(n_brands, size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    by_category = [np.flatnonzero(category == c) for c in range(n_categories)]
    global_p = popularity / popularity.sum()
    rows, cols = [], []
    counts = np.clip(rng.lognormal(np.log(per_user), 0.7, size=n_users).astype(int), 2, 2_000)
    favourites = rng.integers(n_categories, size=(n_users, 2))
    for user in range(n_users):
        n = counts[user]
        pool = np.concatenate([by_category[favourites[user, 0]], by_category[favourites[user, 1]]])
        p = popularity[pool] / popularity[pool].sum()
        own = rng.choice(pool, size=min(len(pool), int(n * 0.7)), replace=False, p=p)
        rest = rng.choice(n_items, size=n - len(own), p=global_p)
        items = np.unique(np.concatenate([own, rest]))
        rows.append(np.full(len(items), user))
        cols.append(items)
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_users, n_items))
    attributes = sp.hstack(
        [
            sp.csr_matrix(
                (np.ones(n_items, np.float32), (np.arange(n_items), category)), shape=(n_items, n_categories)
            ),
            sp.csr_matrix(
                (np.ones(n_items, np.float32), (np.arange(n_items), brand)), shape=(n_items, n_brands)
            ),
        ],
        format="csr",
    )
    age = rng.integers(7, size=n_users)
    gender = rng.integers(2, size=n_users)
    cohorts = sp.hstack(
        [
            sp.csr_matrix((np.ones(n_users, np.float32), (np.arange(n_users), age)), shape=(n_users, 7)),
            sp.csr_matrix((np.ones(n_users, np.float32), (np.arange(n_users), gender)), shape=(n_users, 2)),
        ],
        format="csr",
    )
    attribute_meta = pd.DataFrame(
        {
            "label": ["Category"] * n_categories + ["Brand"] * n_brands,
            "key": [f"c{i}" for i in range(n_categories)] + [f"b{i}" for i in range(n_brands)],
            "path": ["IN_CATEGORY"] * n_categories + ["HAS_BRAND"] * n_brands,
        }
    ).assign(name=lambda f: f["key"], labels=lambda f: f["label"], property="")
    cohort_meta = pd.DataFrame(
        {"label": "User", "key": [f"a{i}" for i in range(7)] + ["F", "M"], "path": "", "labels": ""}
    ).assign(name=lambda f: f["key"], property=["age_group"] * 7 + ["gender"] * 2)
    return InteractionGraph(
        user_ids=np.array([f"u{i}" for i in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
        relations={"PURCHASED": matrix},
        item_attributes=attributes,
        attributes=attribute_meta,
        user_cohorts=cohorts,
        cohorts=cohort_meta,
        items=pd.DataFrame(
            {"id": [f"i{i}" for i in range(n_items)], "name": [f"item {i}" for i in range(n_items)]}
        ),
        users=pd.DataFrame({"id": [f"u{i}" for i in range(n_users)]}),
    )


def large(n_users: int, n_items: int) -> None:
    start_mib = rss_mib()
    with measure() as m:
        graph = synthetic_graph(n_users, n_items, per_user=30)
    print(
        f"Synthetic catalogue: {n_items:,} items, {n_users:,} users, {graph.matrix.nnz:,} interactions "
        f"(built in {m.seconds:.0f}s)"
    )
    context = ScorerContext(dense_item_limit=20_000)
    scorers = {}
    for name in LARGE_SIGNALS:
        with measure() as m:
            scorer = make_scorer(name, context)
            scorer.fit(graph)
        scorers[name] = scorer
        print(f"  fit {name:<11} {m.seconds:7.1f}s wall {m.cpu_seconds:7.1f}s cpu  +{m.added_mib:6.0f} MiB")
    recommender = Recommender(
        graph=graph,
        scorers=scorers,
        weights=dict.fromkeys(LARGE_SIGNALS, 1.0),
        cold_weights={"popularity": 1.0, "cohort": 1.0},
    )
    print(
        f"  model in memory: {rss_mib() - start_mib:,.0f} MiB above the process start (graph + fitted signals)"
    )
    sample = np.random.default_rng(1).choice(n_users, size=300, replace=False)
    report_serving(recommender, sample)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-movielens", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_movielens:
            if MOVIELENS.is_dir():
                movielens(Path(tmp))
            else:
                print(f"MovieLens-100k skipped: {MOVIELENS} is not there")
        if not args.skip_large:
            large(args.users, args.items)


if __name__ == "__main__":
    main()
