"""Small interaction graphs with a known order in time, shared by the temporal and the
learned-fusion tests: users take runs of consecutive items, so "what comes next" is learnable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.recommend.interactions import InteractionGraph

# The signals both test modules fit: co-interaction, the two time signals and a floor.
SIGNALS = ["ease", "recency", "sequential", "item_knn", "popularity"]


def chain_graph(
    n_users: int = 80, n_items: int = 30, run: int = 6, seed: int = 0, taste: int = 0
) -> InteractionGraph:
    """Users take runs of consecutive items in order (item i, then i+1, ...): a catalogue
    with a strong "what comes next". With ``taste``, each user first took that many items
    of their group's (odd or even items): order-blind co-interaction to learn as well."""
    rng = np.random.default_rng(seed)
    rows, cols, stamps = [], [], []
    for user in range(n_users):
        start = int(rng.integers(0, n_items - run))
        chain = list(range(start, start + run))
        pool = [i for i in range(user % 2, n_items, 2) if i not in chain]
        early = [int(i) for i in rng.choice(pool, size=taste, replace=False)] if taste else []
        for step, item in enumerate([*early, *chain]):
            rows.append(user)
            cols.append(item)
            stamps.append(1_000_000 + 1000 * user + step)
    shape = (n_users, n_items)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ("label", "key", "name", "path", "labels")})
    return InteractionGraph(
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
        relations={"PURCHASED": matrix},
        item_attributes=sp.csr_matrix((n_items, 0), dtype=np.float32),
        attributes=empty.assign(property=pd.Series(dtype=object)),
        user_cohorts=sp.csr_matrix((n_users, 0), dtype=np.float32),
        cohorts=empty.assign(property=pd.Series(dtype=object)),
        items=pd.DataFrame({"id": [f"i{i}" for i in range(n_items)]}),
        users=pd.DataFrame({"id": [f"u{u}" for u in range(n_users)]}),
        times=sp.csr_matrix((np.array(stamps, np.float64), (rows, cols)), shape=shape),
    )
