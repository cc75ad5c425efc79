"""Precision targeting: the users most likely to convert on an item, a category or a brand.

The same fused scores as recommendations, read by column: every user is scored against
the whole catalogue (so scores are comparable across users: a z-score says how much the
item stands out among everything the user could be shown), users who already interacted
with the target are left out, and the best unseen target item decides a user's score.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import process

from kg.config import Settings
from kg.errors import NotFoundError
from kg.privacy.consent import refused_users, require_group_size
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.filters import items_with_attribute
from kg.recommend.interactions import InteractionGraph
from kg.recommend.model import Recommender, user_chunk
from kg.store import GraphStore


@dataclass(frozen=True)
class AudienceTarget:
    """What to target: one item, or every item that reaches an attribute node."""

    description: str
    items: np.ndarray


# Interest tags of `kg profile` (kind:key) whose key is an attribute node's key.
TAG_LABELS = {"brand": "Brand", "category": "Category", "material": "Material"}


def resolve_target(graph: InteractionGraph, target: str) -> AudienceTarget:
    """An item id, or an attribute (category, brand, genre...) by id or name. ``Label:value``
    picks the label: ``Item:50`` is the item with id 50 (the form `kg predict` and the
    embeddings use), ``Genre:Drama`` the genre, whatever else is called "Drama".
    ``Tag:brand:northpeak`` is an interest tag of `kg profile`: the items it names."""
    if graph.has_item(target):
        return _item_target(graph, target)
    label, _, value = target.partition(":") if ":" in target else ("", "", target)
    if label.casefold() == "tag":
        kind, _, key = value.partition(":")
        if kind not in TAG_LABELS:
            raise NotFoundError(
                f"Tag {value!r} names no items; target brand:, category: or material: tags "
                "(find users by any tag with `kg query users-by-tag`)."
            )
        found = resolve_target(graph, f"{TAG_LABELS[kind]}:{key}")
        return AudienceTarget(f"tag {value} ({found.description})", found.items)
    known_labels = list(dict.fromkeys(graph.attributes["label"].astype(str)))
    if label:
        if label.casefold() == "item":
            return _item_target(graph, value)  # NotFoundError names the item id when unknown
        matching = [known for known in known_labels if known.casefold() == label.casefold()]
        if not matching:
            choices = ", ".join(["Item", *known_labels])
            raise NotFoundError(
                f"No target label {label!r} in {target!r}; use one of {choices} (for example Item:<id>)."
            )
        labels = matching
    else:
        labels = known_labels
    for candidate in labels:
        meta = graph.attributes
        known = (meta["label"] == candidate) & (
            (meta["key"].astype(str).str.casefold() == value.casefold())
            | (meta["name"].astype(str).str.casefold() == value.casefold())
        )
        if known.any():
            items = np.flatnonzero(items_with_attribute(graph, candidate, value))
            return AudienceTarget(f"{candidate.lower()} {meta.loc[known, 'name'].iloc[0]}", items)
    what = f"{labels[0].lower()}" if label else "item, category, brand or genre"
    raise NotFoundError(f"No {what} {value!r}{_suggestion(graph, value, labels if label else None)}")


def _item_target(graph: InteractionGraph, item_id: str) -> AudienceTarget:
    index = graph.item_index(item_id)
    return AudienceTarget(f"item {graph.item_name(index)} ({item_id})", np.array([index]))


def _suggestion(graph: InteractionGraph, value: str, labels: list[str] | None = None) -> str:
    """A close target that works when passed back: an attribute name (among ``labels``
    only, when given), or an item's id for a close item name (a name is not a target)."""
    meta = graph.attributes
    chosen = meta[meta["label"].isin(labels)] if labels else meta
    candidates = {str(name): repr(str(name)) for name in chosen["name"]}
    if not labels and "name" in graph.items:
        for item_id, name in zip(graph.item_ids, graph.items["name"], strict=True):
            if isinstance(name, str) and name and name not in candidates:
                candidates[name] = f"item {str(item_id)!r} ({name})"
    close = process.extractOne(value, list(candidates)) if candidates else None
    return (
        f"; did you mean {candidates[close[0]]}?"
        if close and close[1] >= 60
        else "; pass an item id (or Item:<id>) or a category/brand/genre name"
    )


def audience(
    recommender: Recommender,
    target: str,
    k: int = 20,
    *,
    explain: bool = True,
    progress: ProgressReporter | None = None,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """The ``k`` users to target for ``target``, best first, with the item and the reason;
    users in ``exclude`` (no consent to marketing) are never among them."""
    graph = recommender.graph
    chosen = resolve_target(graph, target)
    progress = progress or SilentProgress()
    best_score = np.full(graph.n_users, -np.inf, dtype=np.float32)
    best_item = np.zeros(graph.n_users, dtype=np.int64)
    personal_rank = np.zeros(graph.n_users, dtype=np.int64)
    with progress.task(f"Scoring {graph.n_users:,} users for {chosen.description}", graph.n_users):
        step = user_chunk(graph.n_items)
        for start in range(0, graph.n_users, step):
            users = np.arange(start, min(graph.n_users, start + step))
            history = graph.matrix[users]
            total, _, _ = recommender.fused_scores(users, history)
            total[graph.seen[users].nonzero()] = -np.inf
            targets = total[:, chosen.items]
            column = np.argmax(targets, axis=1)
            best_score[users] = targets[np.arange(len(users)), column]
            best_item[users] = chosen.items[column]
            personal_rank[users] = (total > best_score[users, None]).sum(axis=1) + 1
            progress.advance(len(users))
    if exclude:
        best_score[np.isin(graph.user_ids.astype(str), list(exclude))] = -np.inf
    reachable = np.flatnonzero(np.isfinite(best_score))
    top = reachable[np.argsort(-best_score[reachable], kind="stable")[:k]]
    rows = []
    for rank, user in enumerate(top, start=1):
        item = int(best_item[user])
        row = {
            "rank": rank,
            "user": graph.user_ids[user],
            "score": round(float(best_score[user]), 4),
            "item": graph.item_ids[item],
            "name": graph.item_name(item),
            "rank_for_user": int(personal_rank[user]),
        }
        if explain:
            row["reason"] = recommender.explain(int(user), item).reason
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=["rank", "user", "score", "item", "name", "rank_for_user", *(["reason"] if explain else [])],
    )


def consented_audience(
    store: GraphStore,
    settings: Settings,
    recommender: Recommender,
    target: str,
    k: int = 20,
    *,
    explain: bool = True,
    progress: ProgressReporter | None = None,
) -> tuple[pd.DataFrame, int]:
    """``audience`` as every output to a marketer gets it: users who refused marketing
    left out (and counted), and no list shorter than ``privacy.min_group_size``."""
    refused = refused_users(store, settings)
    frame = audience(recommender, target, k, explain=explain, progress=progress, exclude=refused)
    require_group_size(len(frame), settings.privacy.min_group_size, "The audience")
    in_graph = int(np.isin(recommender.graph.user_ids.astype(str), list(refused)).sum()) if refused else 0
    return frame, in_graph
