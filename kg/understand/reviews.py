"""Sentiment of stored reviews, overall and per aspect, written onto the graph.

A review is a ``Document`` that ``REVIEWS`` an item. Its aspects are the brands,
categories and materials the extraction linked it to (``MENTIONS`` with a character
span); an aspect's polarity is the polarity of the clause holding the mention, so "great
battery; the fabric feels cheap" can praise one thing and fault another. Results:
``Document.sentiment`` / ``sentiment_label`` / ``sentiment_model`` / ``aspects`` and
``(:Document)-[:OPINION {polarity}]->(:Brand|:Category|:Material)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kg.store.base import GraphStore
from kg.understand.sentiment import SentimentModel, label_of

ASPECT_LABELS = ("Brand", "Category", "Material")
REVIEW_DOCUMENTS = "MATCH (d:Document)-[:REVIEWS]->(:Item) RETURN DISTINCT d.id AS id, d.text AS text"
_CLAUSE_END = re.compile(r"[.!?;:]+(?:\s+|$)|\s+(?:but|though|although|however)\s+", re.IGNORECASE)


@dataclass
class SentimentReport:
    reviews: int = 0
    opinions: dict[str, int] = field(default_factory=dict)
    by_label: dict[str, int] = field(default_factory=dict)
    model: str = ""


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause: split at sentence ends, semicolons, colons and
    contrast words."""
    spans, start = [], 0
    for match in _CLAUSE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


def _mentions(store: GraphStore, review_ids: set[str]) -> pd.DataFrame:
    """Review -> Brand/Category/Material mentions with their span."""
    frames = [
        frame[frame["from_id"].isin(review_ids) & frame["to_label"].isin(ASPECT_LABELS)]
        for frame in store.iter_relationships("MENTIONS", ["start"])
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["from_id", "to_label", "to_id", "start"])
    return pd.concat(frames, ignore_index=True)


def _names(store: GraphStore, label: str, ids: set[str]) -> dict[str, str]:
    rows = store.query(
        f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, n.name AS name", {"ids": list(ids)}
    )
    return {str(r.id): str(r.name or r.id) for r in rows.itertuples()}


def score_reviews(store: GraphStore, model: SentimentModel) -> SentimentReport:
    """Score every review and each aspect it mentions; idempotent (same input, same graph)."""
    reviews = store.query(REVIEW_DOCUMENTS)
    reviews = reviews[reviews["text"].notna()]
    report = SentimentReport(model=model.name)
    if reviews.empty:
        return report
    texts = dict(zip(reviews["id"].astype(str), reviews["text"].astype(str), strict=True))
    overall = dict(zip(texts, model.polarity(list(texts.values())), strict=True))
    mentions = _mentions(store, set(texts))
    clause_of: dict[tuple[str, int], str] = {}
    for doc_id, text in texts.items():
        for start, end in clauses(text):
            clause_of.update({(doc_id, i): text[start:end] for i in range(start, end)})
    mentions["clause"] = [
        clause_of.get((str(d), int(s)), texts[str(d)])
        for d, s in zip(mentions["from_id"], mentions["start"], strict=True)
    ]
    unique_clauses = list(dict.fromkeys(mentions["clause"]))
    clause_polarity = (
        dict(zip(unique_clauses, model.polarity(unique_clauses), strict=True)) if unique_clauses else {}
    )
    mentions["polarity"] = [float(clause_polarity[c]) for c in mentions["clause"]]
    opinions = mentions.groupby(["from_id", "to_label", "to_id"], as_index=False)["polarity"].mean()
    aspects: dict[str, list[str]] = {doc_id: [] for doc_id in texts}
    for label in ASPECT_LABELS:
        rows = opinions[opinions["to_label"] == label]
        report.opinions[label] = len(rows)
        if rows.empty:
            continue
        names = _names(store, label, set(rows["to_id"].astype(str)))
        for row in rows.itertuples():
            aspects[str(row.from_id)].append(
                f"{label}:{names.get(str(row.to_id), row.to_id)}={row.polarity:+.2f}"
            )
        store.upsert_relationships(
            "OPINION",
            "Document",
            label,
            pd.DataFrame(
                {
                    "from_id": rows["from_id"].astype(str),
                    "to_id": rows["to_id"].astype(str),
                    "polarity": rows["polarity"].round(4),
                    "model": model.name,
                }
            ),
        )
    polarity = np.array([overall[d] for d in texts], dtype=float)
    labels = [label_of(p) for p in polarity]
    store.set_node_properties(
        "Document",
        pd.DataFrame(
            {
                "id": list(texts),
                "sentiment": polarity.round(4),
                "sentiment_label": labels,
                "sentiment_model": model.name,
                "aspects": [sorted(aspects[d]) for d in texts],
            }
        ),
    )
    report.reviews = len(texts)
    report.by_label = pd.Series(labels).value_counts().to_dict()
    return report
