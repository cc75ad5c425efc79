"""Answering a question: filter the catalogue by what was understood, rank the rest by
semantic similarity to the question, optionally re-rank by the asker's interest tags,
and explain every answer with the graph facts that put it there.

Item vectors are the stored ``text_embedding`` of `kg enrich` when every item has one
(computed in memory from name and description otherwise), with the question encoded by
the same MiniLM. On Neo4j with a vector index over those embeddings the index ranks;
otherwise the similarity is computed in memory (``kg.ask.similarity``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from embeddings.text import encode_texts, node_text_embeddings
from kg.ask.intent import Intent, Vocabulary, parse_question, unknown_words
from kg.ask.similarity import InMemorySimilarity, Similarity, VectorIndexSimilarity, item_vector_index
from kg.config import Settings
from kg.errors import NotFoundError
from kg.store.base import GraphStore

# Filter label -> (relationship from the item, interest-tag kind).
MEMBERSHIPS: dict[str, tuple[str, str]] = {
    "Brand": ("HAS_BRAND", "brand"),
    "Category": ("IN_CATEGORY", "category"),
    "Material": ("MADE_OF", "material"),
}
USER_WEIGHT = 0.5  # how much a full interest (score 1) adds to a similarity in [-1, 1]
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass
class Catalogue:
    """The items with their text, facts and memberships, read once, and how to rank them."""

    items: pd.DataFrame  # id, name, description, price, color (index = position)
    members: pd.DataFrame  # item, label, key, name (categories include their ancestors)
    similarity: Similarity
    vocabulary: Vocabulary
    words: set[str]
    text_model: str

    @classmethod
    def from_store(cls, store: GraphStore, settings: Settings) -> Catalogue:
        items = store.query(
            "MATCH (i:Item) RETURN i.id AS id, i.name AS name, i.description AS description, "
            "i.price AS price, i.color AS color ORDER BY id"
        )
        if items.empty:
            raise NotFoundError("No items in the graph to search; ingest a catalogue first.")
        frames = []
        for label, (rel, _) in MEMBERSHIPS.items():
            frame = store.query(
                f"MATCH (i:Item)-[:{rel}]->(a:{label}) RETURN i.id AS item, a.id AS key, a.name AS name"
            )
            frames.append(frame.assign(label=label))
        parents = store.query(
            "MATCH (c:Category)-[:SUBCATEGORY_OF]->(p:Category) RETURN c.id AS key, p.id AS parent, p.name AS pname"
        )
        members = pd.concat(frames, ignore_index=True)
        ancestors = members[members["label"] == "Category"]
        while not ancestors.empty:  # a taxonomy of any depth
            ancestors = ancestors.merge(parents, on="key")[["item", "parent", "pname", "label"]]
            ancestors = ancestors.rename(columns={"parent": "key", "pname": "name"})
            members = pd.concat([members, ancestors], ignore_index=True)
        text = (items["name"].fillna("") + ". " + items["description"].fillna("")).tolist()
        words = {w for t in text for w in _WORDS.findall(t.lower())}
        model = settings.embeddings.text_model
        index = item_vector_index(store, settings.uses_neo4j)
        similarity: Similarity = (
            VectorIndexSimilarity(store, index, pd.Index(items["id"].astype(str)))
            if index
            else InMemorySimilarity(_item_vectors(store, items, text, model))
        )
        return cls(
            items,
            members.drop_duplicates(),
            similarity,
            Vocabulary.from_store(store),
            words,
            model,
        )


def _item_vectors(store: GraphStore, items: pd.DataFrame, text: list[str], model: str) -> np.ndarray:
    stored = node_text_embeddings(store, "Item")
    keys = [f"Item:{i}" for i in items["id"]]
    if stored and all(k in stored for k in keys) and len({len(stored[k]) for k in keys}) == 1:
        matrix = np.vstack([stored[k] for k in keys])
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return encode_texts(text, model=model)


@dataclass
class AskResult:
    intent: Intent
    answers: pd.DataFrame  # rank, item, name, price, score, why, path
    unknown: list[str] = field(default_factory=list)
    candidates: int = 0
    ranked_by: str = ""


def user_interests(store: GraphStore, user: str) -> dict[str, float]:
    """The user's interest tags (stored by `kg profile`, else computed without writing)."""
    if store.missing_node_ids("User", [user]):
        raise NotFoundError(f"No user {user!r} in the graph; list users with `kg query top-customers`.")
    stored = store.query(
        "MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(t:Tag) RETURN t.id AS tag, r.score AS score",
        {"user": user},
    )
    if not stored.empty:
        return dict(zip(stored["tag"].astype(str), stored["score"].astype(float), strict=True))
    from kg.understand.profiles import build_profiles

    tags = build_profiles(store, [user])[user].tags
    return dict(zip(tags["tag"], tags["score"].astype(float), strict=True))


def _allowed(catalogue: Catalogue, intent: Intent) -> np.ndarray:
    items = catalogue.items
    keep = np.ones(len(items), dtype=bool)
    for label, found in intent.filters.items():
        members = catalogue.members[
            (catalogue.members["label"] == label) & catalogue.members["key"].isin([i for i, _ in found])
        ]
        keep &= items["id"].isin(set(members["item"])).to_numpy()
    price = pd.to_numeric(items["price"], errors="coerce")
    if intent.min_price is not None:
        keep &= (price >= intent.min_price).to_numpy()
    if intent.max_price is not None:
        keep &= (price <= intent.max_price).to_numpy()
    if intent.colors:
        keep &= items["color"].astype(str).str.lower().isin(intent.colors).to_numpy()
    return keep


def ask(
    catalogue: Catalogue, question: str, k: int = 5, interests: dict[str, float] | None = None
) -> AskResult:
    """The ``k`` best items for ``question`` that meet every filter it states."""
    intent = parse_question(question, catalogue.vocabulary)
    keep = _allowed(catalogue, intent)
    query = encode_texts([question], model=catalogue.text_model)[0]
    similarity = catalogue.similarity.scores(query, keep, k)
    personal = np.zeros(len(catalogue.items))
    item_tags = catalogue.members.assign(
        tag=catalogue.members["label"].map(lambda label: MEMBERSHIPS[label][1])
        + ":"
        + catalogue.members["key"]
    )
    if interests:
        hits = item_tags[item_tags["tag"].isin(interests)]
        gained = hits.groupby("item")["tag"].agg(lambda t: min(1.0, sum(interests[x] for x in set(t))))
        personal = catalogue.items["id"].map(gained).fillna(0.0).to_numpy()
    score = np.where(keep, similarity + USER_WEIGHT * personal, -np.inf)
    order = [i for i in np.argsort(-score, kind="stable")[:k] if np.isfinite(score[i])]
    rows = [_explain(catalogue, intent, i, float(similarity[i]), item_tags, interests or {}) for i in order]
    answers = pd.DataFrame(rows, columns=["item", "name", "price", "why", "path"])
    answers.insert(0, "rank", range(1, len(answers) + 1))
    answers.insert(4, "score", [round(float(score[i]), 4) for i in order])
    unknown = unknown_words(intent.free_words, catalogue.words)
    return AskResult(intent, answers, unknown, int(keep.sum()), catalogue.similarity.description)


def _explain(
    catalogue: Catalogue,
    intent: Intent,
    index: int,
    similarity: float,
    item_tags: pd.DataFrame,
    interests: dict[str, float],
) -> tuple[str, str, float, str, str]:
    item = catalogue.items.iloc[index]
    mine = item_tags[item_tags["item"] == item["id"]]
    reasons, path = [], []
    for label, found in intent.filters.items():
        wanted = {i for i, _ in found}
        matched = mine[(mine["label"] == label) & mine["key"].isin(wanted)]
        for row in matched.itertuples():
            reasons.append(f"{label.lower()} {row.name}")
            path.append(
                f"(:Item {{id: '{item['id']}'}})-[:{MEMBERSHIPS[label][0]}]->(:{label} {{name: '{row.name}'}})"
            )
    if intent.colors:
        reasons.append(f"colour {item['color']}")
    if intent.min_price is not None or intent.max_price is not None:
        reasons.append(f"price {float(item['price']):.2f} in range")
    reasons.append(f"similarity {similarity:.2f}")
    liked = [f"{t} {interests[t]:.2f}" for t in sorted(set(mine["tag"]) & set(interests))]
    if liked:
        reasons.append("your interests: " + ", ".join(liked))
    price = float(item["price"]) if pd.notna(item["price"]) else float("nan")
    return str(item["id"]), str(item["name"]), price, "; ".join(reasons), " ".join(path)
