"""How strongly each interaction says "I like this": its rating, its review's sentiment
and its age (``[recommend.strength]``).

An interaction with no stated opinion (a view, a purchase) is the plain positive of
implicit feedback, strength 1, as in a binary matrix. A stated opinion moves it from
there, and age fades it::

    strength = max(MIN_STRENGTH, (1 + rating_weight * r + sentiment_weight * s) * fade)
    r    = the rating's place on its scale: -1 at rating_min, 0 in the middle, +1 at rating_max
    s    = the polarity of the user's review of the item, -1..1 (`kg sentiment score`)
    fade = (1 - recency_weight) + recency_weight * 0.5 ** (age_days / half_life_days)

``r`` and ``s`` are 0 when the interaction has no rating or review, so evidence that is
absent neither helps nor hurts. Age counts from the newest interaction in the graph, not
from today: an old dataset does not fade to nothing, and the same graph always gives the
same strengths. An additive opinion around 1 (rather than a product) keeps each weight
readable on its own: a 5-star rating adds ``rating_weight``, a glowing review
``sentiment_weight``.

A *dislike* is an interaction whose rating is at or below ``negative_rating`` or whose
review is at or below ``negative_sentiment``. Giving it a small positive weight would
still tell every co-interaction model "people who took X also like Y"; with
``negatives`` on (the default) it leaves the positive history altogether and becomes
negative evidence of its own (the ``dislikes`` signal), while it still counts as seen
(never recommended again) and still belongs to the same evaluation split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.config import InteractionStrengthSettings, RecommendSettings
from kg.store.base import FROM_ID, TO_ID, GraphStore

MIN_STRENGTH = 0.05  # a weak positive still has to be stored (a sparse zero is no interaction)
SECONDS_PER_DAY = 86_400.0
RATING = "rating"
# Review polarity per (author, item); labels and types are the schema's own, no value is pasted in.
REVIEW_SENTIMENT = (
    "MATCH (u:User)-[:WROTE]->(d:Document)-[:REVIEWS]->(i:Item) WHERE d.sentiment IS NOT NULL "
    "RETURN u.id AS user, i.id AS item, d.sentiment AS sentiment"
)


@dataclass(frozen=True)
class Opinions:
    """Per interaction of the ``seen`` matrix (in its stored order): the rating and the
    review polarity, NaN where there is none (several ratings or reviews: their mean)."""

    rating: np.ndarray
    sentiment: np.ndarray

    @classmethod
    def none(cls, n: int) -> Opinions:
        return cls(np.full(n, np.nan), np.full(n, np.nan))

    @property
    def any(self) -> bool:
        return bool(np.isfinite(self.rating).any() or np.isfinite(self.sentiment).any())


def read_opinions(
    store: GraphStore,
    settings: RecommendSettings,
    seen: sp.csr_matrix,
    user_pos: pd.Index,
    item_pos: pd.Index,
) -> Opinions:
    """Ratings on the interaction relationships that declare one, and the sentiment of
    reviews their authors wrote about items they interacted with (a review of an item
    the user never took changes no strength: it is not one of their interactions)."""
    ratings = []
    for rel_type in settings.interaction_relations:
        if rel_type in store.schema.rels and RATING in store.schema.rel(rel_type).properties:
            for batch in store.iter_relationships(rel_type, properties=[RATING]):
                batch = batch[(batch["from_label"] == "User") & (batch["to_label"] == "Item")]
                ratings.append(batch.rename(columns={FROM_ID: "user", TO_ID: "item", RATING: "value"}))
    reviews = store.query(REVIEW_SENTIMENT) if _has_review_sentiment(store) else pd.DataFrame()
    return Opinions(
        _aligned(seen, _frame(ratings), user_pos, item_pos),
        _aligned(seen, reviews.rename(columns={"sentiment": "value"}), user_pos, item_pos),
    )


def _has_review_sentiment(store: GraphStore) -> bool:
    schema = store.schema
    return (
        {"WROTE", "REVIEWS"} <= set(schema.rels)
        and "Document" in schema.nodes
        and "sentiment" in schema.node("Document").properties
    )


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["user", "item", "value"])


def _aligned(seen: sp.csr_matrix, values: pd.DataFrame, user_pos: pd.Index, item_pos: pd.Index) -> np.ndarray:
    """``values`` (user, item, value rows) as one number per stored entry of ``seen``:
    the mean of a pair's values, NaN for entries with none."""
    out = np.full(seen.nnz, np.nan)
    if values.empty:
        return out
    value = pd.to_numeric(values["value"], errors="coerce").to_numpy(np.float64)
    rows = user_pos.get_indexer(values["user"].astype(str))
    cols = item_pos.get_indexer(values["item"].astype(str))
    keep = (rows >= 0) & (cols >= 0) & np.isfinite(value)
    if not keep.any():
        return out
    position = sp.csr_matrix(
        (np.arange(1, seen.nnz + 1, dtype=np.float64), seen.indices, seen.indptr), shape=seen.shape
    )
    slot = np.asarray(position[rows[keep], cols[keep]]).ravel().astype(np.int64) - 1
    inside = slot >= 0
    sums = np.bincount(slot[inside], weights=value[keep][inside], minlength=seen.nnz)
    counts = np.bincount(slot[inside], minlength=seen.nnz)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def disliked(opinions: Opinions, settings: InteractionStrengthSettings) -> np.ndarray:
    """Which interactions are dislikes: a rating or a review clearly on the negative side."""
    with np.errstate(invalid="ignore"):
        return (opinions.rating <= settings.negative_rating) | (
            opinions.sentiment <= settings.negative_sentiment
        )


def strengths(opinions: Opinions, times: np.ndarray, settings: InteractionStrengthSettings) -> np.ndarray:
    """The strength of each interaction (aligned with ``opinions``; ``times`` in epoch
    seconds, 0 where unknown: an undated interaction does not fade)."""
    middle = (settings.rating_min + settings.rating_max) / 2.0
    half_range = (settings.rating_max - settings.rating_min) / 2.0
    rating = np.clip((opinions.rating - middle) / half_range, -1.0, 1.0)
    sentiment = np.clip(opinions.sentiment, -1.0, 1.0)
    opinion = (
        1.0
        + settings.rating_weight * np.nan_to_num(rating, nan=0.0)
        + settings.sentiment_weight * np.nan_to_num(sentiment, nan=0.0)
    )
    dated = times > 0
    fade = np.ones(len(times))
    if settings.recency_weight > 0 and dated.any():
        age_days = (times[dated].max() - times[dated]) / SECONDS_PER_DAY
        decay = 0.5 ** (age_days / settings.half_life_days)
        fade[dated] = (1.0 - settings.recency_weight) + settings.recency_weight * decay
    return np.maximum(MIN_STRENGTH, opinion * fade)


def describe(settings: InteractionStrengthSettings, dislikes: int, used_as_negatives: bool) -> str:
    """One line for a report: how interactions were weighted, and what dislikes did."""
    if settings.weighting == "binary":
        how = "interactions binary"
    else:
        how = (
            f"interactions weighted by strength (rating {settings.rating_weight:g}, sentiment "
            f"{settings.sentiment_weight:g}, recency {settings.recency_weight:g} with a "
            f"{settings.half_life_days:g}-day half-life)"
        )
    if not dislikes:
        return f"{how}; no dislikes (low ratings or negative reviews)"
    kept = "kept as positives" if settings.weighting == "binary" else "kept as weak positives"
    what = (
        "kept out of the positive history (the dislikes signal penalises items like them)"
        if used_as_negatives
        else f"{kept} (recommend.strength.negatives = false)"
    )
    return f"{how}; {dislikes:,} dislikes {what}"
