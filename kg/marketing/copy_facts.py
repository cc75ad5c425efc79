"""The graph facts a piece of copy may use: the item's, and a segment's.

Nothing about an individual user is read here: the brief built from these facts names
"the customer", never a user's id, name, age or any other property of theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from kg.errors import NotFoundError
from kg.store.base import GraphStore

ITEM_FACTS_QUERY = """
MATCH (i:Item) WHERE i.id IN $items
OPTIONAL MATCH (i)-[:HAS_BRAND]->(b:Brand)
OPTIONAL MATCH (i)-[:MADE_OF]->(m:Material)
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
OPTIONAL MATCH (c)-[:SUBCATEGORY_OF]->(p:Category)
OPTIONAL MATCH (i)-[:HAS_GENRE]->(g:Genre)
RETURN i.id AS id, i.name AS name, i.price AS price, i.currency AS currency, i.material AS material_text,
       b.id AS brand_id, b.name AS brand, m.id AS material_id, m.name AS material,
       c.id AS category_id, c.name AS category, p.id AS parent_id, p.name AS parent,
       g.id AS genre_id, g.name AS genre
"""

SEGMENT_QUERY = """
MATCH (s:Segment) WHERE s.id = $segment OR s.name = $segment
RETURN s.id AS id, s.name AS name, s.size AS size, s.`profile` AS `profile`
"""


@dataclass(frozen=True)
class ItemFacts:
    """What the graph says about one item; ``*_ids`` are node keys for the fact check."""

    id: str
    name: str
    price: float | None = None
    currency: str | None = None
    brand: str | None = None
    brand_ids: frozenset[str] = field(default_factory=frozenset)
    materials: tuple[str, ...] = ()
    material_ids: frozenset[str] = field(default_factory=frozenset)
    categories: tuple[str, ...] = ()  # the item's own categories, then their parents
    category_ids: frozenset[str] = field(default_factory=frozenset)
    genres: tuple[str, ...] = ()
    genre_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class SegmentFacts:
    """A segment's name, size and the profile `kg segment` wrote (segment-level only)."""

    id: str
    name: str
    size: int
    summary: str


def item_facts(store: GraphStore, items: list[str]) -> dict[str, ItemFacts]:
    """Facts of each item in ``items``; a missing item is a ``NotFoundError``."""
    wanted = list(dict.fromkeys(str(i) for i in items))
    rows = store.query(ITEM_FACTS_QUERY, {"items": wanted}) if wanted else pd.DataFrame()
    found = (
        {str(item_id): _facts(group) for item_id, group in rows.groupby("id", sort=False)}
        if len(rows)
        else {}
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"No item {missing[0]!r} in the graph; list items with `kg query best-sellers`.")
    return found


def _facts(rows: pd.DataFrame) -> ItemFacts:
    first = rows.iloc[0]

    def names(column: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(v) for v in rows[column].dropna()))

    def ids(*columns: str) -> frozenset[str]:
        return frozenset(str(v) for c in columns for v in rows[c].dropna())

    materials = names("material") or names("material_text")
    price = first["price"]
    return ItemFacts(
        id=str(first["id"]),
        name=str(first["name"]) if pd.notna(first["name"]) else str(first["id"]),
        price=float(price) if pd.notna(price) else None,
        currency=str(first["currency"]) if pd.notna(first["currency"]) else None,
        brand=next(iter(names("brand")), None),
        brand_ids=ids("brand_id"),
        materials=materials,
        material_ids=ids("material_id"),
        categories=tuple(dict.fromkeys([*names("category"), *names("parent")])),
        category_ids=ids("category_id", "parent_id"),
        genres=names("genre"),
        genre_ids=ids("genre_id"),
    )


def segment_facts(store: GraphStore, segment: str) -> SegmentFacts:
    """A segment by id or name, with its profile in words."""
    rows = store.query(SEGMENT_QUERY, {"segment": segment})
    if rows.empty:
        raise NotFoundError(
            f"No segment {segment!r}; run `kg segment` first and list segments with `kg query segment-profiles`."
        )
    row = rows.iloc[0]
    return SegmentFacts(
        str(row["id"]), str(row["name"]), int(row["size"] or 0), profile_summary(row["profile"])
    )


def profile_summary(profile: str | None) -> str:
    """A segment profile (JSON from `kg segment`) as one line of segment-level facts."""
    try:
        data = json.loads(profile or "{}")
    except ValueError:
        return ""
    parts = []
    top = data.get("top_attributes") or []
    if top:
        parts.append(
            "over-indexes on "
            + ", ".join(f"{a['name']} ({str(a['label']).lower()}, x{a['lift']})" for a in top)
        )
    if data.get("median_interactions") is not None:
        parts.append(f"median {data['median_interactions']:g} interactions per customer")
    return "; ".join(parts)


def segment_favourite(store: GraphStore, segment: str) -> tuple[str, str]:
    """A segment's id and the audience target it over-indexes on most (``Label:name``,
    a category first), for a campaign aimed at what the segment likes."""
    rows = store.query(SEGMENT_QUERY, {"segment": segment})
    if rows.empty:
        raise NotFoundError(f"No segment {segment!r}; run `kg segment` first.")
    top = json.loads(rows.iloc[0]["profile"] or "{}").get("top_attributes") or []
    if not top:
        raise NotFoundError(f"Segment {segment!r} over-indexes on nothing; pick a --target yourself.")
    best = next((a for a in top if a["label"] == "Category"), top[0])
    return str(rows.iloc[0]["id"]), f"{best['label']}:{best['name']}"
