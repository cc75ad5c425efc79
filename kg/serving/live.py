"""The model a server answers with: the fitted recommender plus the events received since
it was fitted, folded into each user's history so the very next request reflects them.

The recommender and what belongs to it (segment members, filter masks) sit in one
immutable :class:`Snapshot`; a request reads the snapshot reference once and uses only
that, so a refit swaps the whole model in with one assignment and no request ever sees
half of each. Folded events are keyed by user and item *id* (not row index), so they
survive a swap to a model whose rows differ; the ones the new model was fitted on are
dropped at the swap.

A served model is some 10^5 long-lived Python objects, and a full pass of the cyclic
garbage collector over them took ~100 ms: one such pass every few hundred requests set
the p99 latency. So the objects alive when a model comes in are frozen out of the
collector's reach (``gc.freeze``), and reused answers are kept as rendered JSON bytes,
which the collector does not track, rather than as lists of dicts, which it does.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import NotFoundError
from kg.recommend.audience import audience, resolve_target
from kg.recommend.explain import Explanation
from kg.recommend.filters import ItemFilter
from kg.recommend.model import Recommender
from kg.recommend.signals.base import NO_USER
from kg.recommend.threads import single_threaded
from kg.store.base import FROM_ID, TO_ID, GraphStore

MASK_CACHE_SIZE = 256  # distinct filter combinations kept per model
ANSWER_CACHE_SIZE = 100_000  # recommendation answers kept per model (then the cache starts over)
AnswerKey = tuple[str, int, ItemFilter | None, bool]  # user, k, filter, explain
Record = dict[str, Any]  # one row of an answer, as plain Python values
# turns an answer into the response body the server sends (and reuses)
Render = Callable[["Snapshot", "UserHistory", list[Record]], bytes]


@dataclass
class Snapshot:
    """One fitted model and what was read with it; replaced whole, never changed."""

    recommender: Recommender
    segments: dict[str, frozenset[str]]  # segment id and name (casefolded) -> user ids
    refused: set[str] = field(default_factory=set)  # users who refused marketing: never in an audience
    loaded_at: float = field(default_factory=time.time)
    _masks: dict[ItemFilter, np.ndarray] = field(default_factory=dict)
    # an answer is a function of the model and the user's history: its rendered body is
    # kept with the version of the user's folded events it was computed from, and valid
    # while that is current
    _answers: dict[AnswerKey, tuple[int, bytes]] = field(default_factory=dict)

    @cached_property
    def model_name(self) -> str:
        """The served model's name: a hash, computed once per model rather than per answer."""
        return self.recommender.name

    def allowed(self, item_filter: ItemFilter | None) -> np.ndarray | None:
        """The filter's item mask, computed once per model (it costs more than scoring)."""
        if item_filter is None or not item_filter.active:
            return None
        mask = self._masks.get(item_filter)
        if mask is None:
            mask = item_filter.allowed(self.recommender.graph)
            if len(self._masks) >= MASK_CACHE_SIZE:
                self._masks.clear()
            self._masks[item_filter] = mask
        return mask


@dataclass(frozen=True)
class UserHistory:
    """A user's row for scoring: graph row (or ``NO_USER``) and the history with events."""

    user_id: str
    row: int
    history: sp.csr_matrix
    folded: int

    @property
    def known(self) -> bool:
        return self.row != NO_USER

    @property
    def cold(self) -> bool:
        return self.history.nnz == 0


def read_segments(store: GraphStore) -> dict[str, frozenset[str]]:
    """Members of each Segment (``kg segment``), by segment id and by name, casefolded."""
    if "IN_SEGMENT" not in store.schema.rels:
        return {}
    members: dict[str, set[str]] = {}
    for batch in store.iter_relationships("IN_SEGMENT", properties=[]):
        for user, segment in zip(batch[FROM_ID].astype(str), batch[TO_ID].astype(str), strict=True):
            members.setdefault(segment, set()).add(user)
    names = {}
    for batch in store.iter_nodes("Segment", properties=["name"]):
        names.update(zip(batch["id"].astype(str), batch["name"], strict=True))
    found: dict[str, frozenset[str]] = {}
    for segment, users in members.items():
        frozen = frozenset(users)
        found[segment.casefold()] = frozen
        if isinstance(names.get(segment), str):
            found.setdefault(names[segment].casefold(), frozen)
    return found


def records(frame: pd.DataFrame) -> list[Record]:
    """Rows as dicts of plain Python values (``tolist`` per column: far quicker than
    ``DataFrame.to_dict``, which showed up as most of a cached answer's time)."""
    return rows_of({column: frame[column].tolist() for column in frame.columns})


def rows_of(columns: dict[str, list[Any]]) -> list[Record]:
    """Rows as dicts, from columns of equal length."""
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def freeze_heap(*, collect: bool) -> None:
    """Leave every object alive now out of the cyclic collector's passes (see the module
    docstring); reference counting still frees them. Called when a model comes in: at
    start after one full collection (so no garbage is frozen), at a swap without one (it
    would stall every request for as long)."""
    if collect:
        gc.collect()
    gc.freeze()


def _answer_key(user_id: str, k: int, item_filter: ItemFilter | None, explain: bool) -> AnswerKey:
    return (user_id, k, item_filter if item_filter is not None and item_filter.active else None, explain)


class LiveModel:
    """The current snapshot and the events folded in since it was fitted."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._recent: dict[str, dict[str, int]] = {}  # user id -> item id -> sequence number
        self._versions: dict[str, int] = {}  # user id -> sequence number of their last event
        self._sequence = 0
        self.cache_hits = 0
        self.cache_misses = 0
        freeze_heap(collect=True)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def age_s(self) -> float:
        """Seconds since the served model was fitted."""
        created = self._snapshot.recommender.created_at
        fitted = datetime.fromisoformat(created).timestamp() if created else self._snapshot.loaded_at
        return max(0.0, time.time() - fitted)

    @property
    def folded(self) -> int:
        return sum(len(items) for items in self._recent.values())

    # ------------------------------------------------------------------ events
    def check_items(self, item_ids: Iterable[str]) -> None:
        """NotFoundError naming the first item the served catalogue does not have."""
        graph = self._snapshot.recommender.graph
        for item_id in item_ids:
            graph.item_index(item_id)

    def fold(self, interactions: Iterable[tuple[str, str]]) -> int:
        """Add (user, item) pairs to the users' histories now; the sequence number of the last."""
        with self._lock:
            for user_id, item_id in interactions:
                self._sequence += 1
                self._recent.setdefault(user_id, {})[item_id] = self._sequence
                self._versions[user_id] = self._sequence
            return self._sequence

    def swap(self, snapshot: Snapshot, fitted_through: int) -> None:
        """Serve ``snapshot`` from now on; events up to ``fitted_through`` are in its graph."""
        with self._lock:
            kept = {
                user: {item: seq for item, seq in items.items() if seq > fitted_through}
                for user, items in self._recent.items()
            }
            self._recent = {user: items for user, items in kept.items() if items}
            self._snapshot = snapshot
        freeze_heap(collect=False)

    def history(self, snapshot: Snapshot, user_id: str) -> UserHistory:
        graph = snapshot.recommender.graph
        row = graph.user_index(user_id) if graph.has_user(user_id) else NO_USER
        base = graph.matrix[row] if row != NO_USER else sp.csr_matrix((1, graph.n_items), dtype=np.float32)
        recent = [graph.item_index(i) for i in self._recent.get(user_id, {}).copy() if graph.has_item(i)]
        if not recent:
            return UserHistory(user_id, row, base, 0)
        # the fitted history and the events, every entry 1: built from the sorted union of
        # their items (under half the time of adding two sparse rows)
        items = np.union1d(base.indices, np.asarray(recent, dtype=base.indices.dtype))
        history = sp.csr_matrix(
            (np.ones(len(items), np.result_type(base.dtype, np.float32)), items, [0, len(items)]),
            shape=base.shape,
        )
        return UserHistory(user_id, row, history, len(recent))

    # ------------------------------------------------------------------ questions
    def cached_answer(
        self, user_id: str, k: int, item_filter: ItemFilter | None, *, explain: bool
    ) -> bytes | None:
        """The body rendered before for the same model, question and history (a page view
        after a page view), or None; a dictionary look-up, run on the event loop."""
        cached = self._snapshot._answers.get(_answer_key(user_id, k, item_filter, explain))
        if cached is None or cached[0] != self._versions.get(user_id, 0):
            return None
        self.cache_hits += 1
        return cached[1]

    def recommend(
        self, user_id: str, k: int, item_filter: ItemFilter | None, *, explain: bool, render: Render
    ) -> bytes:
        """Top-k for the user's history with the events folded in, rendered by ``render``
        (and kept for reuse)."""
        snapshot = self._snapshot
        version = self._versions.get(user_id, 0)  # read first: an event arriving meanwhile makes it stale
        self.cache_misses += 1
        user = self.history(snapshot, user_id)
        columns = snapshot.recommender.recommend_history(
            user.row, user.history, k, snapshot.allowed(item_filter), explain=explain
        )
        body = render(snapshot, user, rows_of(columns))
        if len(snapshot._answers) >= ANSWER_CACHE_SIZE:
            snapshot._answers.clear()
        snapshot._answers[_answer_key(user_id, k, item_filter, explain)] = (version, body)
        return body

    def similar(
        self, item_id: str, k: int, item_filter: ItemFilter | None, *, explain: bool
    ) -> tuple[Snapshot, pd.DataFrame]:
        snapshot = self._snapshot
        return snapshot, snapshot.recommender.similar_items(item_id, k, item_filter, explain=explain)

    def explain(self, user_id: str, item_id: str) -> tuple[Snapshot, UserHistory, Explanation]:
        snapshot = self._snapshot
        recommender = snapshot.recommender
        item = recommender.graph.item_index(item_id)
        user = self.history(snapshot, user_id)
        with single_threaded():
            _, signals, is_cold = recommender.fused_scores(np.array([user.row]), user.history)
            weights = recommender.cold_weights if is_cold[0] else recommender.weights
            row = user.row if user.known else None
            return snapshot, user, recommender.explain_item(row, user.history[0], item, signals, weights)

    def audience(
        self, target: str, segment: str | None, k: int, *, explain: bool
    ) -> tuple[Snapshot, str, pd.DataFrame]:
        """The users to target for an item or attribute; within one segment when given
        (audiences read the histories the model was fitted on)."""
        snapshot = self._snapshot
        recommender = snapshot.recommender
        description = resolve_target(recommender.graph, target).description
        if segment is None:
            frame = audience(recommender, target, k, explain=explain, exclude=snapshot.refused)
            return snapshot, description, frame
        members = snapshot.segments.get(segment.casefold())
        if members is None:
            known = ", ".join(sorted(snapshot.segments)[:10]) or "none: run `kg segment` first"
            raise NotFoundError(f"No segment {segment!r}; known segments: {known}.")
        everyone = audience(
            recommender, target, recommender.graph.n_users, explain=False, exclude=snapshot.refused
        )
        frame = everyone[everyone["user"].astype(str).isin(members)].head(k).reset_index(drop=True)
        frame["rank"] = np.arange(1, len(frame) + 1)
        if explain:
            graph = recommender.graph
            frame["reason"] = [
                recommender.explain(graph.user_index(u), graph.item_index(i)).reason
                for u, i in zip(frame["user"], frame["item"], strict=True)
            ]
        return snapshot, f"{description} in segment {segment}", frame
