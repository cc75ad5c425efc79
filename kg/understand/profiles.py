"""User profiles (画像) from behaviour and reviews, written onto the graph.

A profile holds only non-personal facts: what the user favours (brands, categories,
materials, with lift against the whole population), the price band they buy in, how
active they are and when they were last seen, the average sentiment of their reviews,
their segment, and interest tags ``(:User)-[:INTERESTED_IN {score, lift, source}]->(:Tag)``.
Nothing is read from or written to a property the schema marks personal; ``write_profiles``
refuses to. The same graph always gives the same profiles and tags (sorted, no sampling).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kg.errors import NotFoundError, SchemaError
from kg.store.base import GraphStore

# What one interaction says about taste: a weight times a per-edge amount (Cypher over
# the edge `r`); a rating under 3 stars says nothing in favour, so it counts zero.
INTERACTION_WEIGHTS: dict[str, tuple[float, str]] = {
    "PURCHASED": (3.0, "coalesce(r.count, 1)"),
    "RATED": (2.0, "CASE WHEN r.rating >= 3 THEN 1 ELSE 0 END"),
    "VIEWED": (1.0, "coalesce(r.count, 1)"),
}
# Attribute kind -> (relationship from the item, attribute label).
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "brand": ("HAS_BRAND", "Brand"),
    "category": ("IN_CATEGORY", "Category"),
    "material": ("MADE_OF", "Material"),
}
MIN_LIFT = 1.2  # an attribute is favoured when the user's share beats the population's by this
MIN_SHARE = 0.08  # ... and it holds at least this share of the user's weighted activity
TOP_PER_KIND = 3
PRICE_BANDS = ((0.85, "budget"), (1.15, "mid"), (float("inf"), "premium"))
POSITIVE_OPINION = 0.05
PROFILE_PROPERTIES = (
    "profile_price_band",
    "profile_activity",
    "profile_last_active",
    "profile_sentiment",
    "profile_segment",
    "profile_favourites",
)


@dataclass
class Profile:
    user: str
    favourites: pd.DataFrame  # kind, key, name, share, lift
    tags: pd.DataFrame  # tag, name, kind, score, lift, source
    price_band: str | None = None
    activity: int = 0
    last_active: int | None = None
    sentiment: float | None = None
    segment: str | None = None
    reviews: int = 0


@dataclass
class ProfileRun:
    profiles: dict[str, Profile] = field(default_factory=dict)
    tags_written: int = 0


def _interactions(store: GraphStore) -> pd.DataFrame:
    """user, item, weight, timestamp over every interaction type the schema has."""
    frames = []
    for rel, (weight, amount) in INTERACTION_WEIGHTS.items():
        if rel not in store.schema.rels:
            continue
        frame = store.query(
            f"MATCH (u:User)-[r:{rel}]->(i:Item) RETURN u.id AS user, i.id AS item, "
            f"{amount} AS amount, r.timestamp AS ts, i.price AS price"
        )
        frame["weight"] = weight * pd.to_numeric(frame["amount"], errors="coerce").fillna(1.0)
        frames.append(frame.drop(columns="amount"))
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return events.astype({"user": str, "item": str}) if not events.empty else events


def _review_facts(store: GraphStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per review: author, item, sentiment; and the author's positive aspect opinions."""
    reviews = store.query(
        "MATCH (u:User)-[:WROTE]->(d:Document)-[:REVIEWS]->(i:Item) "
        "RETURN u.id AS user, i.id AS item, d.sentiment AS sentiment"
    )
    opinions = []
    for kind, (_, label) in ATTRIBUTES.items():
        frame = store.query(
            f"MATCH (u:User)-[:WROTE]->(:Document)-[o:OPINION]->(a:{label}) "
            "RETURN u.id AS user, a.id AS key, a.name AS name, o.polarity AS polarity"
        )
        frame["kind"] = kind
        opinions.append(frame)
    return reviews, pd.concat(opinions, ignore_index=True)


def _item_attributes(store: GraphStore) -> pd.DataFrame:
    frames = []
    for kind, (rel, label) in ATTRIBUTES.items():
        frame = store.query(
            f"MATCH (i:Item)-[:{rel}]->(a:{label}) RETURN i.id AS item, a.id AS key, a.name AS name"
        )
        frame["kind"] = kind
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).astype({"item": str, "key": str})


def _favourites(events: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """Per user and attribute: the user's share of weighted activity and its lift."""
    joined = events[["user", "item", "weight"]].merge(attributes, on="item")
    per_user = joined.groupby(["user", "kind", "key", "name"], as_index=False)["weight"].sum()
    user_total = joined.groupby(["user", "kind"])["weight"].sum().rename("user_total")
    population = joined.groupby(["kind", "key"])["weight"].sum() / joined.groupby("kind")["weight"].sum()
    per_user = per_user.join(user_total, on=["user", "kind"]).join(
        population.rename("population"), on=["kind", "key"]
    )
    per_user["share"] = per_user["weight"] / per_user["user_total"]
    per_user["lift"] = per_user["share"] / per_user["population"]
    favoured = per_user[(per_user["lift"] >= MIN_LIFT) & (per_user["share"] >= MIN_SHARE)]
    favoured = favoured.sort_values(["user", "kind", "share", "key"], ascending=[True, True, False, True])
    return favoured.groupby(["user", "kind"]).head(TOP_PER_KIND)[
        ["user", "kind", "key", "name", "share", "lift"]
    ]


def _price_bands(events: pd.DataFrame, attributes: pd.DataFrame) -> pd.Series:
    """budget / mid / premium: the user's prices against their categories' medians."""
    categories = attributes[attributes["kind"] == "category"][["item", "key"]].drop_duplicates("item")
    priced = events[events["price"].notna()].merge(categories, on="item")
    if priced.empty:
        return pd.Series(dtype=object)
    median = priced.drop_duplicates("item").groupby("key")["price"].median()
    priced["ratio"] = priced["price"].astype(float) / priced["key"].map(median).astype(float)
    ratio = priced.groupby("user").apply(
        lambda g: np.average(g["ratio"], weights=g["weight"]), include_groups=False
    )
    return ratio.map(lambda r: next(band for limit, band in PRICE_BANDS if r < limit))


def _tags(user: str, favourites: pd.DataFrame, opinions: pd.DataFrame, band: str | None) -> pd.DataFrame:
    """Interest tags: favoured attributes (score = share), praised aspects of the user's
    reviews (score = polarity) and the price band; one row per tag, best source kept."""
    rows = [
        (f"{r.kind}:{r.key}", r.name, r.kind, float(r.share), float(r.lift), "behaviour")
        for r in favourites.itertuples()
    ]
    mine = opinions[(opinions["user"] == user) & (opinions["polarity"] >= POSITIVE_OPINION)]
    praised = mine.groupby(["kind", "key", "name"], as_index=False)["polarity"].mean()
    rows += [
        (f"{r.kind}:{r.key}", r.name, r.kind, float(r.polarity), float("nan"), "review")
        for r in praised.itertuples()
    ]
    if band is not None:
        rows.append((f"price:{band}", f"{band} prices", "price", 1.0, float("nan"), "behaviour"))
    tags = pd.DataFrame(rows, columns=["tag", "name", "kind", "score", "lift", "source"])
    if tags.empty:
        return tags
    tags["source"] = tags.groupby("tag")["source"].transform(lambda s: "+".join(sorted(set(s))))
    tags["lift"] = tags.groupby("tag")["lift"].transform("max")
    tags = tags.sort_values(["tag", "score"], ascending=[True, False]).drop_duplicates("tag")
    tags["score"] = tags["score"].clip(0.0, 1.0).round(4)
    return tags.sort_values(["score", "tag"], ascending=[False, True]).reset_index(drop=True)


def build_profiles(store: GraphStore, users: list[str] | None = None) -> dict[str, Profile]:
    """Profiles of ``users`` (every user with activity when ``None``), against the
    whole population."""
    events = _interactions(store)
    if events.empty:
        raise NotFoundError(
            "No interactions in the graph to profile; ingest purchases, views or ratings first."
        )
    attributes = _item_attributes(store)
    reviews, opinions = _review_facts(store)
    wanted = sorted(set(events["user"])) if users is None else users
    unknown = [u for u in wanted if u not in set(events["user"])]
    if unknown and users is not None:
        missing = store.missing_node_ids("User", unknown)
        if missing:
            raise NotFoundError(
                f"No user {sorted(missing)[0]!r} in the graph; list users with `kg query top-customers`."
            )
    favourites = _favourites(events, attributes)
    bands = _price_bands(events, attributes)
    activity = events.groupby("user")["weight"].size()
    last = pd.to_numeric(events["ts"], errors="coerce").groupby(events["user"]).max()
    sentiment = pd.to_numeric(reviews["sentiment"], errors="coerce").groupby(reviews["user"].astype(str))
    segments = store.query("MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) RETURN u.id AS user, s.name AS segment")
    segment_of = dict(zip(segments["user"].astype(str), segments["segment"], strict=True))
    mean_sentiment, review_count = sentiment.mean(), sentiment.size()
    profiles = {}
    for user in wanted:
        band = bands.get(user)
        mine = favourites[favourites["user"] == user]
        profiles[user] = Profile(
            user=user,
            favourites=mine.drop(columns="user").reset_index(drop=True),
            tags=_tags(user, mine, opinions, band),
            price_band=band,
            activity=int(activity.get(user, 0)),
            last_active=None if pd.isna(last.get(user, np.nan)) else int(last[user]),
            sentiment=None
            if pd.isna(mean_sentiment.get(user, np.nan))
            else round(float(mean_sentiment[user]), 4),
            segment=segment_of.get(user),
            reviews=int(review_count.get(user, 0)),
        )
    return profiles


def _check_not_personal(store: GraphStore) -> None:
    personal = store.schema.node("User").personal & set(PROFILE_PROPERTIES)
    if personal:
        raise SchemaError(
            f"Profile properties {sorted(personal)} are marked personal in the schema; refusing to write."
        )


def write_profiles(store: GraphStore, profiles: dict[str, Profile]) -> int:
    """Profile properties on the users and their INTERESTED_IN tags (replacing earlier ones);
    returns the number of tag links written."""
    _check_not_personal(store)
    if not profiles:
        return 0
    rows = pd.DataFrame(
        {
            "id": list(profiles),
            "profile_price_band": [p.price_band or "" for p in profiles.values()],
            "profile_activity": [p.activity for p in profiles.values()],
            "profile_last_active": pd.array([p.last_active for p in profiles.values()], dtype="Int64"),
            "profile_sentiment": pd.array([p.sentiment for p in profiles.values()], dtype="Float64"),
            "profile_segment": [p.segment or "" for p in profiles.values()],
            "profile_favourites": [
                [f"{f.kind}:{f.name} (lift {f.lift:.2f})" for f in p.favourites.itertuples()]
                for p in profiles.values()
            ],
        }
    )
    store.set_node_properties("User", rows)
    store.query(
        "MATCH (u:User)-[r:INTERESTED_IN]->(:Tag) WHERE u.id IN $users DELETE r",
        {"users": list(profiles)},
        write=True,
    )
    tags = pd.concat(
        [p.tags.assign(user=p.user) for p in profiles.values() if not p.tags.empty], ignore_index=True
    )
    if tags.empty:
        return 0
    store.upsert_nodes(
        "Tag", tags.drop_duplicates("tag")[["tag", "name", "kind"]].rename(columns={"tag": "id"})
    )
    store.upsert_relationships(
        "INTERESTED_IN",
        "User",
        "Tag",
        pd.DataFrame(
            {
                "from_id": tags["user"],
                "to_id": tags["tag"],
                "score": tags["score"],
                "lift": tags["lift"].round(4),
                "source": tags["source"],
            }
        ),
    )
    return len(tags)
