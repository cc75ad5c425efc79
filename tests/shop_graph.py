"""A demo-like graph for store and query tests, and the frames it was built from.

The synthetic shop is generated and ingested the way ``kg demo`` does it; the stages that
later engineers own (text extraction, segmentation, recommendation) are stood in for by
plain writes through the store API, shaped the way those stages write: Document nodes
with DESCRIBES and MENTIONS edges, Segment nodes with IN_SEGMENT, RECOMMENDED edges via
``replace_relationships``. Every frame written is kept, so a test can compute what a
query should answer with pandas, independently of any store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kg.config import Settings
from kg.datasets.synthetic_shop import BRANDS, ShopSize, generate_shop, review_files
from kg.extract import Extractor, ReadOptions, extract_path
from kg.ids import slugify
from kg.ingest import ingest_path
from kg.store import GraphStore
from kg.understand.profiles import build_profiles, write_profiles

SMALL_SHOP = ShopSize(users=90, items=60, purchases_per_user=6.0, views_per_user=12.0, reviews=60)


def ingest_reviewed_shop(
    store: GraphStore, settings: Settings, folder: Path, size: ShopSize, seed: int
) -> None:
    """Generate a shop with reviews into ``folder``, ingest it and extract its reviews:
    the starting point of the profile and sentiment tests."""
    files = generate_shop(folder, size, seed=seed)
    for data, mapping in [*files, review_files(folder)]:
        ingest_path(store, data, mapping=mapping)
    extract_reviews(store, settings, folder)


def extract_reviews(store: GraphStore, settings: Settings, folder: Path) -> None:
    """Extract ``reviews.jsonl`` from a generated shop folder, each review about its sku."""
    reviews = ReadOptions(about_field="sku")
    extract_path(store, settings, folder / "reviews.jsonl", reviews, extractor=Extractor(settings, store))


@dataclass
class ShopGraph:
    """What was written, as frames with store column names (``id``, ``from_id``, ...)."""

    categories: pd.DataFrame
    items: pd.DataFrame  # products plus cold-start items; brand, category_id, material columns
    users: pd.DataFrame
    purchased: pd.DataFrame
    viewed: pd.DataFrame
    documents: pd.DataFrame
    describes: pd.DataFrame
    mentions: pd.DataFrame  # from_id, to_label, to_id, text, confidence
    brands: pd.DataFrame
    organizations: pd.DataFrame
    persons: pd.DataFrame
    segments: pd.DataFrame
    in_segment: pd.DataFrame
    recommended: pd.DataFrame
    extra: dict[str, object] = field(default_factory=dict)


def build_shop_graph(
    store: GraphStore, folder: Path, size: ShopSize = SMALL_SHOP, seed: int = 11
) -> ShopGraph:
    """Generate, ingest and enrich the shop in ``store``; return the frames written."""
    files = generate_shop(folder, size, seed=seed)
    for data_file, mapping in files:
        ingest_path(store, data_file, mapping=mapping)
    categories = pd.read_csv(folder / "categories.csv", dtype=str, keep_default_na=False)
    products = pd.read_csv(folder / "products.csv", dtype={"sku": str})
    users = pd.read_csv(folder / "users.csv", dtype={"user_id": str})
    purchases = pd.read_csv(folder / "purchases.csv", dtype={"user_id": str, "sku": str})
    views = pd.read_csv(folder / "views.csv", dtype={"user_id": str, "sku": str})

    items = products.rename(columns={"sku": "id"})[
        ["id", "name", "description", "brand", "category_id", "material"]
    ]
    cold = _cold_start_items(store, items)
    brands = _brand_aliases(store)
    documents, describes, mentions = _documents(store, folder / "reviews.jsonl", products)
    organizations, persons, org_mentions = _named_entities(store, documents)
    segments, in_segment = _segments(store, users)
    recommended = _recommendations(store, purchases, users, cold)
    messages = _messages(store, users, items)
    write_profiles(store, profiles := build_profiles(store))  # the real `kg profile --all`
    return ShopGraph(
        categories=categories,
        items=pd.concat([items, cold], ignore_index=True),
        users=users.rename(columns={"user_id": "id"}),
        purchased=purchases.rename(columns={"user_id": "from_id", "sku": "to_id", "quantity": "count"}),
        viewed=views.rename(columns={"user_id": "from_id", "sku": "to_id", "views": "count"}),
        documents=documents,
        describes=describes,
        mentions=pd.concat([mentions, org_mentions], ignore_index=True),
        brands=brands,
        organizations=organizations,
        persons=persons,
        segments=segments,
        in_segment=in_segment,
        recommended=recommended,
        extra={"messages": messages, "profiles": profiles},
    )


def _cold_start_items(store: GraphStore, items: pd.DataFrame) -> pd.DataFrame:
    """New arrivals nobody has interacted with yet."""
    template = items.iloc[0]
    cold = pd.DataFrame(
        {
            "id": ["P90001", "P90002", "P90003"],
            "name": ["New Arrival One", "New Arrival Two", "New Arrival Three"],
            "description": ["", "", ""],
            "brand": [template["brand"]] * 3,
            "category_id": [template["category_id"]] * 3,
            "material": [None, None, None],
        }
    )
    store.upsert_nodes("Item", cold[["id", "name"]].assign(kind="product"))
    links = pd.DataFrame({"from_id": cold["id"], "to_id": cold["brand"].map(slugify)})
    store.upsert_relationships("HAS_BRAND", "Item", "Brand", links)
    store.upsert_relationships(
        "IN_CATEGORY", "Item", "Category", pd.DataFrame({"from_id": cold["id"], "to_id": cold["category_id"]})
    )
    return cold


def _brand_aliases(store: GraphStore) -> pd.DataFrame:
    brands = pd.DataFrame(
        {
            "id": [slugify(name) for name in BRANDS],
            "name": list(BRANDS),
            "aliases": [list(spellings) for spellings, _, _ in BRANDS.values()],
        }
    )
    store.upsert_nodes("Brand", brands)
    return brands


def _documents(
    store: GraphStore, reviews_file: Path, products: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Descriptions and reviews as Documents; brand and material mentions found by exact
    spelling (a stand-in for the extraction stage, which writes the same shape)."""
    reviews = [json.loads(line) for line in reviews_file.read_text("utf-8").splitlines()]
    documents = pd.DataFrame(
        [
            {"id": f"desc-{p.sku}", "text": p.description, "source": "description", "item": p.sku}
            for p in products.itertuples()
        ]
        + [{"id": r["id"], "text": r["text"], "source": "review", "item": r["sku"]} for r in reviews]
    )
    store.upsert_nodes("Document", documents[["id", "text", "source"]])
    describes = pd.DataFrame({"from_id": documents["id"], "to_id": documents["item"]})
    store.upsert_relationships("DESCRIBES", "Document", "Item", describes)

    materials = sorted(set(products["material"]))
    rows = []
    for doc in documents.itertuples():
        for brand, (spellings, _, _) in BRANDS.items():
            found = next((s for s in spellings if s in doc.text), None)
            if found:
                confidence = 0.95 if found == brand else 0.75
                rows.append(("Brand", slugify(brand), doc.id, found, confidence))
        for material in materials:
            if material in doc.text:
                rows.append(("Material", slugify(material), doc.id, material, 0.85))
    mentions = pd.DataFrame(rows, columns=["to_label", "to_id", "from_id", "text", "confidence"])
    for label, group in mentions.groupby("to_label"):
        store.upsert_relationships("MENTIONS", "Document", str(label), group.drop(columns="to_label"))
    return documents, describes, mentions


def _named_entities(
    store: GraphStore, documents: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Organisations and people as extraction would leave them before resolution: one
    that is really a brand (an alias spelling), duplicates among themselves."""
    organizations = pd.DataFrame(
        {
            "id": ["org-northpeak-inc", "org-blue-fin", "org-blue-fin-2", "org-acme"],
            "name": ["NorthPeak Inc.", "Blue Fin Labs", " blue fin LABS", "Acme Robotics"],
        }
    )
    persons = pd.DataFrame(
        {"id": ["person-maya", "person-maya-2", "person-leo"], "name": ["Maya Kim", "maya kim", "Leo Ito"]}
    )
    store.upsert_nodes("Organization", organizations)
    store.upsert_nodes("Person", persons)
    first_review = documents.loc[documents["source"] == "review", "id"].iloc[0]
    mentions = pd.DataFrame(
        {
            "to_label": ["Organization", "Person"],
            "to_id": ["org-acme", "person-leo"],
            "from_id": [first_review, first_review],
            "text": ["Acme Robotics", "Leo Ito"],
            "confidence": [0.6, 0.55],
        }
    )
    for label, group in mentions.groupby("to_label"):
        store.upsert_relationships("MENTIONS", "Document", str(label), group.drop(columns="to_label"))
    return organizations, persons, mentions


def _segments(store: GraphStore, users: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three segments by position; every seventh user stays unassigned."""
    segments = pd.DataFrame(
        {
            "id": ["seg-0", "seg-1", "seg-2"],
            "name": ["Explorers", "Regulars", "Bargain hunters"],
            "profile": ["outdoor, high spend", "steady, mid spend", "low price, many views"],
            "model": ["test-kmeans"] * 3,
        }
    )
    store.upsert_nodes("Segment", segments)
    ids = users["user_id"].tolist()
    members = [(uid, f"seg-{i % 3}", float(i % 5) / 10) for i, uid in enumerate(ids) if i % 7 != 6]
    in_segment = pd.DataFrame(members, columns=["from_id", "to_id", "distance"])
    store.replace_relationships("IN_SEGMENT", "User", "Segment", in_segment)
    return segments, in_segment


def _recommendations(
    store: GraphStore, purchases: pd.DataFrame, users: pd.DataFrame, cold: pd.DataFrame
) -> pd.DataFrame:
    """Popular unbought items for 20 users ('popularity'); cold-start items first for 10
    more ('content'), as the recommend stage writes them (replace per user)."""
    popular = (
        purchases["sku"]
        .value_counts()
        .sort_index()
        .sort_values(ascending=False, kind="stable")
        .index.tolist()
    )
    bought = purchases.groupby("user_id")["sku"].apply(set).to_dict()
    rows = []
    for position, uid in enumerate(users["user_id"].head(30)):
        if position < 20:
            model, candidates = "popularity", popular
        else:
            model, candidates = "content", cold["id"].tolist()[: 1 + position % 3] + popular[::-1]
        chosen = [sku for sku in candidates if sku not in bought.get(uid, set())][:5]
        for rank, sku in enumerate(chosen, start=1):
            rows.append(
                (
                    uid,
                    sku,
                    round(1.0 - rank * 0.1, 3),
                    rank,
                    f"{model} rank {rank}",
                    model,
                    "2025-11-01T00:00:00",
                )
            )
    recommended = pd.DataFrame(
        rows, columns=["from_id", "to_id", "score", "rank", "reason", "model", "created_at"]
    )
    store.replace_relationships("RECOMMENDED", "User", "Item", recommended)
    return recommended


def _messages(store: GraphStore, users: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Campaign copy as `kg copy --campaign` stores it: two arms, one unchecked message."""
    from kg.marketing.copywriter import Draft
    from kg.marketing.messages import MessageSlot, store_messages

    slots = [
        MessageSlot("User", str(user), str(item), "email", "friendly", "demo-spring", arm)
        for user, item, arm in zip(
            users["user_id"][:6], items["id"][:6], ["copy-a", "copy-b"] * 3, strict=True
        )
    ]
    drafts = [
        Draft(f"Copy {i}", "template", "copy-v1", i != 2, ("contradiction: a price",) if i == 2 else (), 0)
        for i in range(len(slots))
    ]
    return store_messages(store, slots, drafts, created_at="2025-11-01T00:00:00")
