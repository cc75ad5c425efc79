"""The graph as the recommender sees it: sparse matrices with id maps, exported once.

Every signal is a product of these matrices, so candidates for all users at once are a
few sparse products instead of a Cypher query per user:

* ``relations``: one binary users x items matrix per interaction type (RATED, PURCHASED...);
* ``strength`` and ``disliked``: how strongly each interaction says "I like this" (rating,
  review sentiment, recency), and which ones are dislikes (``kg.recommend.strength``);
* ``item_attributes``: items x attribute nodes reached by a relationship path
  (``HAS_GENRE``; ``IN_CATEGORY>SUBCATEGORY_OF`` for the parent category);
* ``user_cohorts``: users x cohorts (an occupation node, or a property value such as an
  age group), for demographic paths.

Rows of ``items``/``users`` and of every matrix follow ``item_ids``/``user_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.config import RecommendSettings
from kg.errors import NotFoundError, SchemaError
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.strength import disliked, read_opinions, strengths
from kg.store.base import FROM_ID, TO_ID, GraphStore

PATH_SEPARATOR = ">"
TIMESTAMP = "timestamp"  # the interaction property time-aware splits and signals read
ITEM_PROPERTIES = ("name", "kind", "description", "price", "in_stock", "year", "node_text", "text_embedding")
# Portable Cypher (both stores) that the not-found hints tell a user to run with `kg query`.
LIST_USERS_QUERY = "MATCH (u:User) RETURN u.id AS user ORDER BY user LIMIT 20"
LIST_ITEMS_QUERY = "MATCH (i:Item) RETURN i.id AS item, i.name AS name ORDER BY item LIMIT 20"
USER_PROPERTIES = ("name", "age", "age_group", "gender", "occupation", "country")


@dataclass
class InteractionGraph:
    """Users, items, their interactions and their attribute/cohort paths, as matrices."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    relations: dict[str, sp.csr_matrix]
    item_attributes: sp.csr_matrix
    attributes: pd.DataFrame  # per column: label, key, name, path, labels (path node labels)
    user_cohorts: sp.csr_matrix
    cohorts: pd.DataFrame  # per column: label, key, name, path ("" for a property), property
    items: pd.DataFrame = field(default_factory=pd.DataFrame)
    users: pd.DataFrame = field(default_factory=pd.DataFrame)
    times: sp.csr_matrix | None = None  # users x items, latest interaction time (epoch s)
    strength: sp.csr_matrix | None = None  # users x items, each interaction's strength (None: binary)
    disliked: sp.csr_matrix | None = None  # users x items, 1 where the rating or review is negative
    negatives_apart: bool = False  # dislikes leave the positive history (recommend.strength.negatives)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def seen(self) -> sp.csr_matrix:
        """Any interaction, binary (float32), dislikes included: what is never recommended
        again, and what evaluation splits divide."""
        total = sp.csr_matrix((self.n_users, self.n_items), dtype=np.float32)
        for matrix in self.relations.values():
            total = total + matrix
        total.data[:] = 1.0
        total.eliminate_zeros()
        total.sort_indices()
        return total.astype(np.float32)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """What models learn from and score histories with (float32): the positive
        interactions, each weighted by its strength (1 when weighting is binary); dislikes
        are left out when they are used as negatives (:attr:`negatives`)."""
        weighted = self.seen if self.strength is None else self.strength.multiply(self.seen).tocsr()
        if self.negatives.nnz:
            weighted = (weighted - weighted.multiply(self.negatives)).tocsr()
        weighted.eliminate_zeros()
        weighted.sort_indices()
        return weighted.astype(np.float32)

    @cached_property
    def positives(self) -> sp.csr_matrix:
        """:attr:`matrix` as 0/1: who took what, for counts."""
        binary = self.matrix.copy()
        binary.data[:] = 1.0
        return binary

    @cached_property
    def negatives(self) -> sp.csr_matrix:
        """The dislikes (0/1) when they are used as negative feedback; empty otherwise."""
        if self.disliked is None or not self.negatives_apart:
            return sp.csr_matrix((self.n_users, self.n_items), dtype=np.float32)
        return sp.csr_matrix(self.disliked, dtype=np.float32)

    @cached_property
    def liked(self) -> sp.csr_matrix:
        """Every interaction that is not a dislike (0/1): the hits of ``relevant = "liked"``."""
        if self.disliked is None:
            return self.seen
        kept = (self.seen - self.seen.multiply(self.disliked)).tocsr()
        kept.eliminate_zeros()
        return kept

    @cached_property
    def interaction_times(self) -> sp.csr_matrix:
        """Epoch seconds of each interaction in :attr:`matrix` (the latest, when a user
        interacted with an item more than once; 0 where the store had no timestamp), so
        time-aware signals can order a user's history."""
        return self._times_of(self.positives)

    @cached_property
    def seen_times(self) -> sp.csr_matrix:
        """Epoch seconds of each interaction in :attr:`seen`, for time-ordered splits."""
        return self._times_of(self.seen)

    def _times_of(self, pattern: sp.csr_matrix) -> sp.csr_matrix:
        if self.times is None:
            return sp.csr_matrix(pattern.shape, dtype=np.float64)
        times = self.times.multiply(pattern).tocsr().astype(np.float64)
        times.sort_indices()
        return times

    @property
    def has_times(self) -> bool:
        return self.times is not None and self.times.nnz > 0

    @cached_property
    def columns(self) -> sp.csc_matrix:
        """The interaction matrix by item, for co-interaction counts."""
        return self.matrix.tocsc()

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Distinct users who interacted with each item (positively)."""
        return np.diff(self.columns.indptr).astype(np.float32)

    @cached_property
    def _user_positions(self) -> dict[str, int]:
        return {uid: i for i, uid in enumerate(self.user_ids)}

    @cached_property
    def _item_positions(self) -> dict[str, int]:
        return {iid: i for i, iid in enumerate(self.item_ids)}

    def user_index(self, user_id: str) -> int:
        try:
            return self._user_positions[str(user_id)]
        except KeyError:
            raise NotFoundError(
                f"No user {user_id!r} in the graph ({self.n_users:,} users); list user ids with "
                f"`kg query {LIST_USERS_QUERY!r}` or load the user first."
            ) from None

    def item_index(self, item_id: str) -> int:
        try:
            return self._item_positions[str(item_id)]
        except KeyError:
            raise NotFoundError(
                f"No item {item_id!r} in the graph ({self.n_items:,} items); list item ids with "
                f"`kg query {LIST_ITEMS_QUERY!r}` or load the item first."
            ) from None

    def has_user(self, user_id: str) -> bool:
        return str(user_id) in self._user_positions

    def has_item(self, item_id: str) -> bool:
        return str(item_id) in self._item_positions

    @cached_property
    def item_names(self) -> np.ndarray:
        """Display name per item: its name, or its id when it has none."""
        names = self.items["name"] if "name" in self.items else pd.Series([None] * self.n_items)
        named = names.notna().to_numpy() & (names.astype(str).str.len() > 0).to_numpy()
        return np.where(named, names.astype(str).to_numpy(dtype=object), self.item_ids.astype(str)).astype(
            object
        )

    def item_name(self, index: int) -> str:
        return str(self.item_names[index])

    def relation_between(self, user: int, item: int) -> str | None:
        """The first configured interaction type that links ``user`` to ``item``."""
        for rel_type, matrix in self.relations.items():
            if matrix[user, item]:
                return rel_type
        return None

    def with_interactions(self, matrix: sp.csr_matrix) -> InteractionGraph:
        """The same graph with only the interactions set in ``matrix`` (a split's part)."""
        mask = (matrix > 0).astype(np.float32)
        kept = {rel: (m.multiply(mask)).tocsr() for rel, m in self.relations.items()}
        for m in kept.values():
            m.eliminate_zeros()

        def masked(part: sp.csr_matrix | None) -> sp.csr_matrix | None:
            return None if part is None else part.multiply(mask).tocsr()

        return replace(
            self,
            relations=kept,
            times=masked(self.times),
            strength=masked(self.strength),
            disliked=masked(self.disliked),
        )


# ---------------------------------------------------------------------- export
def export_interactions(
    store: GraphStore, settings: RecommendSettings, progress: ProgressReporter | None = None
) -> InteractionGraph:
    """Read users, items, interactions, attribute paths and cohorts out of the store."""
    progress = progress or SilentProgress()
    steps = (
        2
        + len(settings.interaction_relations)
        + len(settings.item_attribute_paths)
        + len(settings.user_cohort_paths)
    )
    with progress.task("Exporting the graph for the recommender", steps):
        users = _nodes(store, "User", USER_PROPERTIES)
        progress.advance()
        items = _nodes(store, "Item", ITEM_PROPERTIES)
        progress.advance()
        user_pos = pd.Index(users["id"])
        item_pos = pd.Index(items["id"])
        relations: dict[str, sp.csr_matrix] = {}
        times: sp.csr_matrix | None = None
        for rel_type in settings.interaction_relations:
            if rel_type in store.schema.rels:
                matrix, stamped = _edge_matrix_with_times(store, rel_type, user_pos, item_pos)
                if matrix.nnz:
                    relations[rel_type] = matrix
                    times = stamped if times is None else times.maximum(stamped)
            progress.advance()
        item_attributes, attributes = _path_columns(
            store, "Item", item_pos, settings.item_attribute_paths, progress
        )
        path_cohorts, path_meta = _path_columns(store, "User", user_pos, settings.user_cohort_paths, progress)
        prop_cohorts, prop_meta = _property_columns(users, settings.user_cohort_properties)
    graph = InteractionGraph(
        user_ids=users["id"].to_numpy(dtype=object),
        item_ids=items["id"].to_numpy(dtype=object),
        relations=relations,
        item_attributes=item_attributes,
        attributes=attributes,
        user_cohorts=sp.hstack([path_cohorts, prop_cohorts], format="csr", dtype=np.float32),
        cohorts=pd.concat([path_meta, prop_meta], ignore_index=True),
        items=items.reset_index(drop=True),
        users=users.reset_index(drop=True),
        times=times if times is not None and times.nnz else None,
    )
    return _weighed(graph, store, settings, user_pos, item_pos)


def _weighed(
    graph: InteractionGraph,
    store: GraphStore,
    settings: RecommendSettings,
    user_pos: pd.Index,
    item_pos: pd.Index,
) -> InteractionGraph:
    """``graph`` with each interaction's strength and its dislikes (``kg.recommend.strength``)."""
    seen = graph.seen
    opinions = read_opinions(store, settings, seen, user_pos, item_pos)
    config = settings.strength
    if not opinions.any and (config.weighting == "binary" or config.recency_weight == 0):
        return graph  # every strength would be 1 and nothing is disliked: the binary graph

    def on_seen(values: np.ndarray) -> sp.csr_matrix:
        matrix = sp.csr_matrix(
            (values.astype(np.float32), seen.indices.copy(), seen.indptr.copy()), shape=seen.shape
        )
        matrix.eliminate_zeros()
        return matrix

    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    times = np.zeros(seen.nnz) if graph.times is None else np.asarray(graph.times[rows, seen.indices]).ravel()
    dislikes = on_seen(disliked(opinions, config).astype(np.float32))
    return replace(
        graph,
        strength=on_seen(strengths(opinions, times, config)) if config.weighting == "strength" else None,
        disliked=dislikes if dislikes.nnz else None,
        negatives_apart=config.negatives,
    )


def _nodes(store: GraphStore, label: str, wanted: Iterable[str]) -> pd.DataFrame:
    declared = store.schema.node(label).properties
    properties = [p for p in wanted if p in declared]
    frames = list(store.iter_nodes(label, properties=properties))
    nodes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", *properties])
    nodes["id"] = nodes["id"].astype(str)
    return nodes.sort_values("id", kind="stable").reset_index(drop=True)


def _edge_matrix(
    store: GraphStore, rel_type: str, from_label: str, from_pos: pd.Index, to_label: str, to_pos: pd.Index
) -> sp.csr_matrix:
    rows, cols = [], []
    for batch in store.iter_relationships(rel_type, properties=[]):
        batch = batch[(batch["from_label"] == from_label) & (batch["to_label"] == to_label)]
        r, c = from_pos.get_indexer(batch[FROM_ID].astype(str)), to_pos.get_indexer(batch[TO_ID].astype(str))
        keep = (r >= 0) & (c >= 0)
        rows.append(r[keep])
        cols.append(c[keep])
    return _binary(np.concatenate(rows or [[]]), np.concatenate(cols or [[]]), (len(from_pos), len(to_pos)))


def _edge_matrix_with_times(
    store: GraphStore, rel_type: str, user_pos: pd.Index, item_pos: pd.Index
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """User x item interactions of one type, and the latest ``timestamp`` of each (when the
    schema declares one; an empty matrix otherwise)."""
    shape = (len(user_pos), len(item_pos))
    if TIMESTAMP not in store.schema.rel(rel_type).properties:
        return _edge_matrix(store, rel_type, "User", user_pos, "Item", item_pos), sp.csr_matrix(shape)
    rows, cols, stamps = [], [], []
    for batch in store.iter_relationships(rel_type, properties=[TIMESTAMP]):
        batch = batch[(batch["from_label"] == "User") & (batch["to_label"] == "Item")]
        r, c = (
            user_pos.get_indexer(batch[FROM_ID].astype(str)),
            item_pos.get_indexer(batch[TO_ID].astype(str)),
        )
        keep = (r >= 0) & (c >= 0)
        rows.append(r[keep])
        cols.append(c[keep])
        stamps.append(pd.to_numeric(batch[TIMESTAMP], errors="coerce").fillna(0).to_numpy(np.float64)[keep])
    row, col = np.concatenate(rows or [[]]).astype(np.int64), np.concatenate(cols or [[]]).astype(np.int64)
    stamp = np.concatenate(stamps or [[]])
    order = np.lexsort((stamp, col, row))  # the latest time of a repeated pair wins
    row, col, stamp = row[order], col[order], stamp[order]
    last = np.ones(len(row), bool)
    last[:-1] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    times = sp.csr_matrix((stamp[last], (row[last], col[last])), shape=shape, dtype=np.float64)
    times.eliminate_zeros()
    return _binary(row, col, shape), times


def _binary(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows.astype(np.int64), cols.astype(np.int64))), shape=shape
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _path_columns(
    store: GraphStore, start: str, start_pos: pd.Index, paths: list[str], progress: ProgressReporter
) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Columns for every node reached from ``start`` nodes along each path."""
    blocks: list[sp.csr_matrix] = []
    metas: list[pd.DataFrame] = []
    for path in paths:
        reached = _follow_path(store, start, start_pos, path)
        progress.advance()
        if reached is None:
            continue
        matrix, label, ids = reached
        used = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel())
        if not len(used):
            continue
        names = _node_names(store, label, ids[used])
        blocks.append(matrix[:, used])
        hops = path.split(PATH_SEPARATOR)
        metas.append(
            pd.DataFrame(
                {
                    "label": label,
                    "key": ids[used],
                    "name": names,
                    "path": path,
                    "labels": _path_labels(store, start, hops),
                    "property": "",
                }
            )
        )
    if not blocks:
        return sp.csr_matrix((len(start_pos), 0), dtype=np.float32), _empty_meta()
    return sp.hstack(blocks, format="csr", dtype=np.float32), pd.concat(metas, ignore_index=True)


def _follow_path(
    store: GraphStore, start: str, start_pos: pd.Index, path: str
) -> tuple[sp.csr_matrix, str, np.ndarray] | None:
    """Boolean reachability start x end-label nodes along ``path``; None if not in schema."""
    matrix: sp.csr_matrix | None = None
    label, pos = start, start_pos
    for rel_type in path.split(PATH_SEPARATOR):
        if rel_type not in store.schema.rels:
            raise SchemaError(f"Recommender path {path!r}: unknown relationship type {rel_type!r}.")
        targets = [b for a, b in store.schema.rel(rel_type).endpoints if a == label]
        if not targets:
            return None
        target = targets[0]
        target_ids = _node_ids(store, target)
        hop = _edge_matrix(store, rel_type, label, pos, target, target_ids)
        matrix = (
            hop if matrix is None else _binary(*(matrix @ hop).nonzero(), (matrix.shape[0], hop.shape[1]))
        )
        label, pos = target, target_ids
    assert matrix is not None
    return matrix, label, pos.to_numpy(dtype=object)


def _path_labels(store: GraphStore, start: str, hops: list[str]) -> str:
    labels, label = [], start
    for rel_type in hops:
        label = next(b for a, b in store.schema.rel(rel_type).endpoints if a == label)
        labels.append(label)
    return PATH_SEPARATOR.join(labels)


def _node_ids(store: GraphStore, label: str) -> pd.Index:
    frames = list(store.iter_nodes(label, properties=[]))
    ids = pd.concat(frames, ignore_index=True)["id"].astype(str) if frames else pd.Series([], dtype=str)
    return pd.Index(ids.sort_values().to_numpy())


def _node_names(store: GraphStore, label: str, ids: np.ndarray) -> np.ndarray:
    properties = ["name"] if "name" in store.schema.node(label).properties else []
    frames = list(store.iter_nodes(label, properties=properties))
    nodes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", "name"])
    names = nodes.set_index(nodes["id"].astype(str)).get("name", pd.Series(dtype=object))
    found = names.reindex(ids.astype(str))
    return np.where(found.notna(), found.astype(object), ids).astype(object)


def _property_columns(users: pd.DataFrame, properties: list[str]) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """One column per stored value of each cohort property (``age_group``, ``gender``...)."""
    blocks, metas = [], []
    for prop in properties:
        values = _cohort_values(users, prop)
        if values is None or values.isna().all():
            continue
        codes, uniques = pd.factorize(values, sort=True)
        rows = np.flatnonzero(codes >= 0)
        blocks.append(_binary(rows, codes[rows], (len(users), len(uniques))))
        metas.append(
            pd.DataFrame(
                {
                    "label": "User",
                    "key": uniques.astype(str),
                    "name": uniques.astype(str),
                    "path": "",
                    "labels": "",
                    "property": prop,
                }
            )
        )
    if not blocks:
        return sp.csr_matrix((len(users), 0), dtype=np.float32), _empty_meta()
    return sp.hstack(blocks, format="csr", dtype=np.float32), pd.concat(metas, ignore_index=True)


def _cohort_values(users: pd.DataFrame, prop: str) -> pd.Series | None:
    if prop not in users:
        return None
    return users[prop].astype(object).where(users[prop].notna(), None)


def _empty_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object) for c in ("label", "key", "name", "path", "labels", "property")}
    )
