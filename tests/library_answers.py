"""What each portable library query must answer on the shop graph, computed with pandas
from the frames ``tests.shop_graph`` wrote, without any Cypher: the library tests hold
the embedded store and Neo4j to it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from kg.ids import slugify
from tests.shop_graph import ShopGraph


def names_by_id(items: pd.DataFrame) -> dict[str, str]:
    """Id -> name of each row of ``items``."""
    return dict(zip(items["id"], items["name"], strict=True))


def with_brand_and_category(g: ShopGraph) -> pd.DataFrame:
    """The items with their brand's id and name and their category's name, as the graph links them."""
    categories = dict(zip(g.categories["id"], g.categories["name"], strict=True))
    brands = dict(zip(g.brands["id"], g.brands["name"], strict=True))
    return g.items.assign(
        brand_id=g.items["brand"].map(slugify),
        brand_name=g.items["brand"].map(slugify).map(brands),
        category_name=g.items["category_id"].map(categories),
    )


def top_customers(g: ShopGraph, p: dict) -> pd.DataFrame:
    agg = g.purchased.groupby("from_id").agg(items=("to_id", "size"), spent=("amount", "sum")).reset_index()
    agg = agg.rename(columns={"from_id": "user"}).assign(name=lambda f: f["user"].map(names_by_id(g.users)))
    agg = agg.sort_values(["items", "spent", "user"], ascending=[False, False, True])
    return agg[["user", "name", "items", "spent"]].head(p["k"])


def co_purchase_pairs(g: ShopGraph, p: dict) -> pd.DataFrame:
    pairs = g.purchased.merge(g.purchased, on="from_id")
    pairs = pairs[pairs["to_id_x"] < pairs["to_id_y"]]
    agg = pairs.groupby(["to_id_x", "to_id_y"])["from_id"].nunique().reset_index(name="customers")
    names = names_by_id(g.items)
    agg = agg.assign(item=agg["to_id_x"].map(names), also_bought=agg["to_id_y"].map(names))
    agg = agg.sort_values(["customers", "item", "also_bought"], ascending=[False, True, True])
    return agg[["item", "also_bought", "customers"]].head(p["k"])


def category_tree(g: ShopGraph, p: dict) -> pd.DataFrame:
    names = dict(zip(g.categories["id"], g.categories["name"], strict=True))
    counts = g.items["category_id"].value_counts()
    tree = pd.DataFrame(
        {
            "parent": g.categories["parent"].map(names).fillna(""),
            "category_id": g.categories["id"],
            "category": g.categories["name"],
            "items": g.categories["id"].map(counts).fillna(0).astype(int),
        }
    )
    return tree.sort_values(["parent", "category"])


def best_sellers(g: ShopGraph, p: dict) -> pd.DataFrame:
    under, frontier = {p["category"]}, {p["category"]}
    while frontier:
        frontier = set(g.categories.loc[g.categories["parent"].isin(frontier), "id"]) - under
        under |= frontier
    items = with_brand_and_category(g)
    items = items[items["category_id"].isin(under)]
    bought = g.purchased.merge(items, left_on="to_id", right_on="id")
    agg = bought.groupby(["id", "name", "category_name"]).agg(
        buyers=("from_id", "size"), units=("count", "sum")
    )
    agg = agg.reset_index().rename(columns={"id": "item", "category_name": "category"})
    agg = agg.sort_values(["buyers", "units", "item"], ascending=[False, False, True])
    return agg[["item", "name", "category", "buyers", "units"]].head(p["k"])


def customer_history(g: ShopGraph, p: dict) -> pd.DataFrame:
    items = with_brand_and_category(g).drop(columns="brand")
    rows = g.purchased[g.purchased["from_id"] == p["user"]].merge(items, left_on="to_id", right_on="id")
    rows = rows.rename(
        columns={"id": "item", "brand_name": "brand", "category_name": "category", "count": "quantity"}
    )
    rows = rows.sort_values(["timestamp", "item"], ascending=[False, True])
    return rows[["item", "name", "brand", "category", "quantity", "amount", "timestamp"]].head(p["k"])


def user_recommendations(g: ShopGraph, p: dict) -> pd.DataFrame:
    items = with_brand_and_category(g).set_index("id")
    bought = g.purchased.loc[g.purchased["from_id"] == p["user"], "to_id"]
    recs = g.recommended[g.recommended["from_id"] == p["user"]].sort_values(["rank", "to_id"]).head(p["k"])
    rows = []
    for rec in recs.itertuples():
        target = items.loc[rec.to_id]
        because = set()
        for sku in bought:
            other = items.loc[sku]
            if other["brand_id"] == target["brand_id"]:
                because.add(f"{other['name']} ({other['brand_name']})")
            if other["category_id"] == target["category_id"]:
                because.add(f"{other['name']} ({other['category_name']})")
        rows.append((rec.rank, rec.to_id, target["name"], rec.score, rec.model, rec.reason, because))
    columns = ["rank", "item", "name", "score", "model", "reason", "because_you_bought"]
    return pd.DataFrame(rows, columns=columns)


def item_audience(g: ShopGraph, p: dict) -> pd.DataFrame:
    items = with_brand_and_category(g).set_index("id")
    target = items.loc[p["item"]]
    related = items[
        (items["brand_id"] == target["brand_id"]) | (items["category_id"] == target["category_id"])
    ]
    related = set(related.index) - {p["item"]}
    buyers_of_target = set(g.purchased.loc[g.purchased["to_id"] == p["item"], "from_id"])
    rows = g.purchased[g.purchased["to_id"].isin(related) & ~g.purchased["from_id"].isin(buyers_of_target)]
    agg = (
        rows.groupby("from_id")["to_id"]
        .nunique()
        .reset_index(name="related_purchases")
        .rename(columns={"from_id": "user"})
    )
    ranks = g.recommended[g.recommended["to_id"] == p["item"]].set_index("from_id")["rank"]
    agg = agg.assign(name=agg["user"].map(names_by_id(g.users)), recommended_rank=agg["user"].map(ranks))
    agg = agg.sort_values(["related_purchases", "user"], ascending=[False, True])
    return agg[["user", "name", "related_purchases", "recommended_rank"]].head(p["k"])


def _segment_purchases(g: ShopGraph) -> pd.DataFrame:
    members = g.in_segment.rename(columns={"from_id": "user", "to_id": "segment"})[["user", "segment"]]
    return members.merge(g.purchased, left_on="user", right_on="from_id")


def segment_profiles(g: ShopGraph, p: dict) -> pd.DataFrame:
    members = g.in_segment.groupby("to_id").size().rename("members")
    bought = (
        _segment_purchases(g).groupby("segment").agg(purchases=("to_id", "size"), spend=("amount", "sum"))
    )
    seg = g.segments.set_index("id").join(members).join(bought).fillna({"purchases": 0, "spend": 0.0})
    seg = seg.assign(
        purchases_per_member=(seg["purchases"] / seg["members"]).round(2),
        spend_per_member=(seg["spend"] / seg["members"]).round(2),
    ).reset_index(names="segment")
    seg = seg.sort_values(["members", "segment"], ascending=[False, True])
    return seg[
        ["segment", "name", "members", "purchases", "purchases_per_member", "spend_per_member", "profile"]
    ]


def _affinity(g: ShopGraph, p: dict, key: str, label: str) -> pd.DataFrame:
    items = with_brand_and_category(g).set_index("id")
    purchases = g.purchased.assign(group=g.purchased["to_id"].map(items[key]))
    total = len(purchases)
    group_total = purchases.groupby("group").size()
    seg = _segment_purchases(g).assign(group=lambda f: f["to_id"].map(items[key]))
    seg_total = seg.groupby("segment").size()
    pairs = seg.groupby(["segment", "group"]).size().reset_index(name="purchases")
    pairs = pairs[pairs["purchases"] >= p["min_purchases"]]
    share = pairs["purchases"] / pairs["segment"].map(seg_total)
    lift = share / (pairs["group"].map(group_total) / total)
    out = pairs.assign(share=share.round(4), lift=lift.round(3)).rename(columns={"group": label})
    return out.sort_values(["lift", "segment", label], ascending=[False, True, True])[
        ["segment", label, "purchases", "share", "lift"]
    ].head(p["k"])


def segment_brand_affinity(g: ShopGraph, p: dict) -> pd.DataFrame:
    return _affinity(g, p, "brand_name", "brand")


def segment_category_affinity(g: ShopGraph, p: dict) -> pd.DataFrame:
    return _affinity(g, p, "category_name", "category")


def _entity_names(g: ShopGraph) -> dict[tuple[str, str], str]:
    frames = {
        "Brand": g.brands,
        "Material": pd.DataFrame(
            {"id": [slugify(m) for m in g.items["material"].dropna()], "name": g.items["material"].dropna()}
        ),
        "Organization": g.organizations,
        "Person": g.persons,
    }
    return {(label, i): n for label, f in frames.items() for i, n in zip(f["id"], f["name"], strict=True)}


def documents_mentioning(g: ShopGraph, p: dict) -> pd.DataFrame:
    names = _entity_names(g)
    m = g.mentions.assign(
        entity=[names[(lab, i)] for lab, i in zip(g.mentions["to_label"], g.mentions["to_id"], strict=True)]
    )
    m = m[(m["to_id"] == p["entity"]) | (m["entity"].str.lower() == p["entity"].lower())]
    docs = g.documents.set_index("id")
    about = g.describes.set_index("from_id")["to_id"].map(names_by_id(g.items))
    out = m.assign(
        document=m["from_id"], source=m["from_id"].map(docs["source"]), about=m["from_id"].map(about)
    )
    out = out.rename(columns={"text": "mention"}).sort_values(
        ["confidence", "document", "mention"], ascending=[False, True, True]
    )
    return out[["document", "source", "mention", "confidence", "entity", "about"]].head(p["k"])


def facts_with_source(g: ShopGraph, p: dict) -> pd.DataFrame:
    item = with_brand_and_category(g).set_index("id").loc[p["item"]]
    docs = set(g.describes.loc[g.describes["to_id"] == p["item"], "from_id"])
    m = g.mentions[g.mentions["from_id"].isin(docs)]
    brand = m[(m["to_label"] == "Brand") & (m["to_id"] == item["brand_id"])].assign(
        fact="HAS_BRAND", value=item["brand_name"]
    )
    material = m[(m["to_label"] == "Material") & (m["to_id"] == slugify(str(item["material"])))]
    material = material.assign(fact="MADE_OF", value=item["material"])
    out = pd.concat([brand, material]).rename(columns={"from_id": "document", "text": "evidence"})
    return out[["fact", "value", "document", "evidence", "confidence"]]


def duplicate_entity_candidates(g: ShopGraph, p: dict) -> pd.DataFrame:
    def norm(text: str) -> str:
        return text.strip().lower()

    rows = []
    for o in g.organizations.itertuples():
        for b in g.brands.itertuples():
            if norm(o.name) == norm(b.name) or norm(o.name) in {norm(a) for a in b.aliases}:
                rows.append(("Organization", o.id, o.name, "Brand", b.id, b.name))
    for label, frame in (("Organization", g.organizations), ("Person", g.persons)):
        for a in frame.itertuples():
            for o in frame.itertuples():
                if a.id < o.id and norm(a.name) == norm(o.name):
                    rows.append((label, o.id, o.name, label, a.id, a.name))
    return pd.DataFrame(
        rows, columns=["label", "candidate", "name", "same_as_label", "same_as", "same_as_name"]
    )


def cold_start_items(g: ShopGraph, p: dict) -> pd.DataFrame:
    active = set(g.purchased["to_id"]) | set(g.viewed["to_id"])
    cold = g.items[~g.items["id"].isin(active)]
    counts = g.recommended.groupby("to_id").size()
    out = pd.DataFrame(
        {
            "item": cold["id"],
            "name": cold["name"],
            "recommended_to": cold["id"].map(counts).fillna(0).astype(int),
        }
    )
    return out.sort_values(["recommended_to", "item"], ascending=[False, True]).head(p["k"])


def recommendation_coverage(g: ShopGraph, p: dict) -> pd.DataFrame:
    agg = g.recommended.groupby("model").agg(
        recommendations=("to_id", "size"),
        users_with_recommendations=("from_id", "nunique"),
        recommended_items=("to_id", "nunique"),
        mean_score=("score", "mean"),
    )
    agg = agg.assign(
        user_coverage=(agg["users_with_recommendations"] / len(g.users)).round(4),
        catalogue_coverage=(agg["recommended_items"] / len(g.items)).round(4),
        mean_score=agg["mean_score"].round(4),
    ).reset_index()
    return agg[
        [
            "model",
            "recommendations",
            "users_with_recommendations",
            "user_coverage",
            "recommended_items",
            "catalogue_coverage",
            "mean_score",
        ]
    ]


def view_conversion(g: ShopGraph, p: dict) -> pd.DataFrame:
    bought = set(zip(g.purchased["from_id"], g.purchased["to_id"], strict=True))
    views = g.viewed.assign(
        bought=[pair in bought for pair in zip(g.viewed["from_id"], g.viewed["to_id"], strict=True)]
    )
    agg = views.groupby("to_id").agg(viewers=("from_id", "size"), buyers=("bought", "sum")).reset_index()
    agg = agg[agg["viewers"] >= p["min_viewers"]]
    agg = agg.assign(
        item=agg["to_id"],
        name=agg["to_id"].map(names_by_id(g.items)),
        conversion=(agg["buyers"] / agg["viewers"]).round(4),
    )
    agg = agg.sort_values(["conversion", "viewers", "item"], ascending=[True, False, True])
    return agg[["item", "name", "viewers", "buyers", "conversion"]].head(p["k"])


def campaign_messages(g: ShopGraph, p: dict) -> pd.DataFrame:
    messages = g.extra["messages"]
    rows = messages[messages["campaign"] == p["campaign"]].assign(
        audience=lambda m: m["audience_id"], name=lambda m: m["item"].map(names_by_id(g.items))
    )
    rows = rows.sort_values(["arm", "audience", "item"])
    return rows[["arm", "audience", "item", "name", "checked", "issues", "text"]].head(p["k"])


def users_by_tag(g: ShopGraph, p: dict) -> pd.DataFrame:
    profiles = g.extra["profiles"]
    rows = [
        (user, tag.score, tag.source, profile.segment or "", profile.price_band or "")
        for user, profile in profiles.items()  # type: ignore[attr-defined]
        for tag in profile.tags.itertuples()
        if tag.tag == p["tag"] and tag.score >= p["min_score"]
    ]
    frame = pd.DataFrame(rows, columns=["user", "score", "source", "segment", "price_band"])
    return frame.sort_values(["score", "user"], ascending=[False, True]).head(p["k"])


# Portable query -> (pandas expectation, whether row order is defined by the query).
EXPECTED: dict[str, tuple[Callable[[ShopGraph, dict], pd.DataFrame], bool]] = {
    "top-customers": (top_customers, True),
    "co-purchase-pairs": (co_purchase_pairs, True),
    "category-tree": (category_tree, True),
    "best-sellers": (best_sellers, True),
    "customer-history": (customer_history, True),
    "user-recommendations": (user_recommendations, True),
    "item-audience": (item_audience, True),
    "segment-profiles": (segment_profiles, True),
    "segment-brand-affinity": (segment_brand_affinity, True),
    "segment-category-affinity": (segment_category_affinity, True),
    "documents-mentioning": (documents_mentioning, True),
    "facts-with-source": (facts_with_source, False),
    "duplicate-entity-candidates": (duplicate_entity_candidates, False),
    "cold-start-items": (cold_start_items, True),
    "recommendation-coverage": (recommendation_coverage, True),
    "view-conversion": (view_conversion, True),
    "campaign-messages": (campaign_messages, True),
    "users-by-tag": (users_by_tag, True),
}


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists become sorted tuples (collect() order is undefined); missing is NaN."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, (list, set, tuple, np.ndarray))).any():
            out[column] = out[column].map(lambda v: tuple(sorted(v)) if v is not None else ())
        elif out[column].dtype == object:  # Neo4j gives None where the embedded store gives NaN
            out[column] = out[column].map(lambda v: np.nan if v is None else v)
    return out


def assert_answer_matches(name: str, actual: pd.DataFrame, graph: ShopGraph, params: dict) -> None:
    """A store's answer to the portable query ``name`` (bound to ``params``) is the pandas one."""
    expected_fn, ordered = EXPECTED[name]
    expected = expected_fn(graph, params)
    assert not expected.empty, f"{name}: the shop graph should give this query something to find"
    assert list(actual.columns) == list(expected.columns), name
    actual, expected = comparable(actual), comparable(expected)
    if not ordered:
        actual = actual.sort_values(list(actual.columns)).reset_index(drop=True)
        expected = expected.sort_values(list(expected.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False, atol=1e-3)
