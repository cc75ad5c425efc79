"""The analyst query library: documented headers, and every portable query's answer on a
demo-like graph, checked against pandas over the written frames, in the embedded store
and in Neo4j; the Neo4j-only queries (labels/type, paths, APOC, the vector index) checked
on Neo4j against computations of their own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cypher import CypherQuery, list_queries, load_query
from kg.errors import StoreError
from kg.ids import slugify
from kg.store import GraphStore, open_store
from kg.store.neo4j import Neo4jStore
from kg.store.neo4j_cypher import QUANTIZATION_OPTION, vector_index_name
from tests.neo4j_server import empty_store_settings
from tests.shop_graph import ShopGraph, build_shop_graph

QUERIES = list_queries()
PORTABLE = [q.name for q in QUERIES if q.portable]
NEO4J_ONLY = [q.name for q in QUERIES if not q.portable]
BIG_K = "100000"  # compare whole answers; LIMIT itself is checked separately
STORES = ["ladybug", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def _build_shop(kind: str, root: Path) -> Iterator[tuple[GraphStore, ShopGraph]]:
    with open_store(empty_store_settings(kind, root)) as store:
        yield store, build_shop_graph(store, root / "shop")


@pytest.fixture(scope="module")
def neo4j_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStore, ShopGraph]]:
    """The shop in the test Neo4j database, emptied first (vector indexes included)."""
    yield from _build_shop("neo4j", tmp_path_factory.mktemp("library-neo4j"))


@pytest.fixture(scope="module", params=STORES)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GraphStore, ShopGraph]]:
    """The same shop in each store: the portable queries must answer alike in both."""
    if request.param == "neo4j":
        yield request.getfixturevalue("neo4j_shop")
        return
    yield from _build_shop("ladybug", tmp_path_factory.mktemp("library-ladybug"))


# ---------------------------------------------------------------------- headers
def test_every_library_query_is_documented_and_declares_its_parameters() -> None:
    assert len(QUERIES) >= 15
    assert len(PORTABLE) >= 10
    for query in QUERIES:
        assert query.path is not None and query.name == query.path.stem
        assert len(query.description) > 20, query.name
        assert re.search(r"^//\s*portable:\s*(true|false)\s*$", query.path.read_text("utf-8"), re.M), (
            query.name
        )
        used = set(re.findall(r"\$(\w+)", query.text))
        assert used == set(query.params), (
            f"{query.name}: uses {sorted(used)}, declares {sorted(query.params)}"
        )
        for param in query.params.values():
            assert param.default is not None and param.description, f"{query.name}.{param.name}"
        query.bind({})  # every default converts to its declared type


def test_every_portable_query_has_an_independent_check() -> None:
    assert sorted(PORTABLE) == sorted(EXPECTED)


# ---------------------------------------------------------------------- expectations
def _names(items: pd.DataFrame) -> dict[str, str]:
    return dict(zip(items["id"], items["name"], strict=True))


def _with_brand_category(g: ShopGraph) -> pd.DataFrame:
    categories = dict(zip(g.categories["id"], g.categories["name"], strict=True))
    brands = dict(zip(g.brands["id"], g.brands["name"], strict=True))
    return g.items.assign(
        brand_id=g.items["brand"].map(slugify),
        brand_name=g.items["brand"].map(slugify).map(brands),
        category_name=g.items["category_id"].map(categories),
    )


def top_customers(g: ShopGraph, p: dict) -> pd.DataFrame:
    agg = g.purchased.groupby("from_id").agg(items=("to_id", "size"), spent=("amount", "sum")).reset_index()
    agg = agg.rename(columns={"from_id": "user"}).assign(name=lambda f: f["user"].map(_names(g.users)))
    agg = agg.sort_values(["items", "spent", "user"], ascending=[False, False, True])
    return agg[["user", "name", "items", "spent"]].head(p["k"])


def co_purchase_pairs(g: ShopGraph, p: dict) -> pd.DataFrame:
    pairs = g.purchased.merge(g.purchased, on="from_id")
    pairs = pairs[pairs["to_id_x"] < pairs["to_id_y"]]
    agg = pairs.groupby(["to_id_x", "to_id_y"])["from_id"].nunique().reset_index(name="customers")
    names = _names(g.items)
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
    items = _with_brand_category(g)
    items = items[items["category_id"].isin(under)]
    bought = g.purchased.merge(items, left_on="to_id", right_on="id")
    agg = bought.groupby(["id", "name", "category_name"]).agg(
        buyers=("from_id", "size"), units=("count", "sum")
    )
    agg = agg.reset_index().rename(columns={"id": "item", "category_name": "category"})
    agg = agg.sort_values(["buyers", "units", "item"], ascending=[False, False, True])
    return agg[["item", "name", "category", "buyers", "units"]].head(p["k"])


def customer_history(g: ShopGraph, p: dict) -> pd.DataFrame:
    items = _with_brand_category(g).drop(columns="brand")
    rows = g.purchased[g.purchased["from_id"] == p["user"]].merge(items, left_on="to_id", right_on="id")
    rows = rows.rename(
        columns={"id": "item", "brand_name": "brand", "category_name": "category", "count": "quantity"}
    )
    rows = rows.sort_values(["timestamp", "item"], ascending=[False, True])
    return rows[["item", "name", "brand", "category", "quantity", "amount", "timestamp"]].head(p["k"])


def user_recommendations(g: ShopGraph, p: dict) -> pd.DataFrame:
    items = _with_brand_category(g).set_index("id")
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
    items = _with_brand_category(g).set_index("id")
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
    agg = agg.assign(name=agg["user"].map(_names(g.users)), recommended_rank=agg["user"].map(ranks))
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
    items = _with_brand_category(g).set_index("id")
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
    about = g.describes.set_index("from_id")["to_id"].map(_names(g.items))
    out = m.assign(
        document=m["from_id"], source=m["from_id"].map(docs["source"]), about=m["from_id"].map(about)
    )
    out = out.rename(columns={"text": "mention"}).sort_values(
        ["confidence", "document", "mention"], ascending=[False, True, True]
    )
    return out[["document", "source", "mention", "confidence", "entity", "about"]].head(p["k"])


def facts_with_source(g: ShopGraph, p: dict) -> pd.DataFrame:
    item = _with_brand_category(g).set_index("id").loc[p["item"]]
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
        name=agg["to_id"].map(_names(g.items)),
        conversion=(agg["buyers"] / agg["viewers"]).round(4),
    )
    agg = agg.sort_values(["conversion", "viewers", "item"], ascending=[True, False, True])
    return agg[["item", "name", "viewers", "buyers", "conversion"]].head(p["k"])


def campaign_messages(g: ShopGraph, p: dict) -> pd.DataFrame:
    messages = g.extra["messages"]
    rows = messages[messages["campaign"] == p["campaign"]].assign(
        audience=lambda m: m["audience_id"], name=lambda m: m["item"].map(_names(g.items))
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


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists become sorted tuples (collect() order is undefined); missing is NaN."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, (list, set, tuple, np.ndarray))).any():
            out[column] = out[column].map(lambda v: tuple(sorted(v)) if v is not None else ())
        elif out[column].dtype == object:  # Neo4j gives None where the embedded store gives NaN
            out[column] = out[column].map(lambda v: np.nan if v is None else v)
    return out


def _run(store: GraphStore, query: CypherQuery, given: dict[str, str]) -> tuple[pd.DataFrame, dict]:
    params = query.bind(given)
    return store.query(query.text, params), params


@pytest.mark.parametrize("name", PORTABLE)
def test_portable_query_matches_pandas(shop: tuple[GraphStore, ShopGraph], name: str) -> None:
    store, graph = shop
    query = load_query(name)
    given = {"k": BIG_K} if "k" in query.params else {}
    actual, params = _run(store, query, given)
    expected_fn, ordered = EXPECTED[name]
    expected = expected_fn(graph, params)
    assert not expected.empty, f"{name}: the test graph should give this query something to find"
    assert list(actual.columns) == list(expected.columns)
    actual, expected = _comparable(actual), _comparable(expected)
    if not ordered:
        actual = actual.sort_values(list(actual.columns)).reset_index(drop=True)
        expected = expected.sort_values(list(expected.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False, atol=1e-3)


@pytest.mark.parametrize("name", [n for n in PORTABLE if "k" in load_query(n).params])
def test_portable_query_honours_k(shop: tuple[GraphStore, ShopGraph], name: str) -> None:
    store, _ = shop
    query = load_query(name)
    everything, _ = _run(store, query, {"k": BIG_K})
    limited, _ = _run(store, query, {"k": "2"})
    assert len(limited) == min(2, len(everything))
    pd.testing.assert_frame_equal(_comparable(limited), _comparable(everything.head(2)), check_dtype=False)


def test_neo4j_only_queries_say_so(tmp_path: Path) -> None:
    """Queries that need Neo4j features are marked non-portable (the embedded store
    rejects them), so `kg query` on the embedded store points at Neo4j."""
    for query in QUERIES:
        if not query.portable:
            assert re.search(r"labels\(|type\(|db\.|apoc\.|\[\$|path", query.text), query.name


# ---------------------------------------------------------------------- Neo4j-only queries
def test_every_neo4j_only_query_has_a_live_check() -> None:
    assert sorted(NEO4J_ONLY) == sorted(
        ["fuzzy-duplicate-entities", "recommendation-paths", "schema-overview", "similar-items"]
    )


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@pytest.mark.neo4j
def test_fuzzy_duplicate_entities_match_levenshtein_similarity(
    neo4j_shop: tuple[GraphStore, ShopGraph],
) -> None:
    """APOC's similarity is 1 - distance / length of the longer name (lower-cased)."""
    store, graph = neo4j_shop
    query = load_query("fuzzy-duplicate-entities")
    params = query.bind({"threshold": "0.5", "k": BIG_K})
    rows = []
    for o in graph.organizations.itertuples():
        for b in graph.brands.itertuples():
            a, c = o.name.lower(), b.name.lower()
            similarity = 1 - _levenshtein(a, c) / max(len(a), len(c))
            if similarity >= params["threshold"]:
                rows.append((o.id, o.name, b.id, b.name, round(similarity, 3)))
    expected = pd.DataFrame(rows, columns=["organization", "name", "brand", "brand_name", "similarity"])
    expected = expected.sort_values(["similarity", "organization", "brand"], ascending=[False, True, True])
    assert not expected.empty
    actual = store.query(query.text, params)
    pd.testing.assert_frame_equal(
        actual, expected.reset_index(drop=True), check_dtype=False, check_exact=False, atol=1e-3
    )
    assert len(store.query(query.text, query.bind({"threshold": "0.0", "k": "2"}))) == 2


@pytest.mark.neo4j
def test_schema_overview_counts_what_was_written(neo4j_shop: tuple[GraphStore, ShopGraph]) -> None:
    store, g = neo4j_shop
    materials = g.items["material"].dropna()
    expected = {
        ("node", "User"): len(g.users),
        ("node", "Item"): len(g.items),
        ("node", "Category"): len(g.categories),
        ("node", "Brand"): len(g.brands),
        ("node", "Material"): materials.map(slugify).nunique(),
        ("node", "Document"): len(g.documents),
        ("node", "Organization"): len(g.organizations),
        ("node", "Person"): len(g.persons),
        ("node", "Segment"): len(g.segments),
        ("relationship", "PURCHASED"): len(g.purchased),
        ("relationship", "VIEWED"): len(g.viewed),
        ("relationship", "HAS_BRAND"): len(g.items),
        ("relationship", "IN_CATEGORY"): len(g.items),
        ("relationship", "MADE_OF"): len(materials),
        ("relationship", "SUBCATEGORY_OF"): int((g.categories["parent"] != "").sum()),
        ("relationship", "DESCRIBES"): len(g.describes),
        ("relationship", "MENTIONS"): len(g.mentions),
        ("relationship", "IN_SEGMENT"): len(g.in_segment),
        ("relationship", "RECOMMENDED"): len(g.recommended),
        ("node", "Message"): len(g.extra["messages"]),
        ("relationship", "FOR"): len(g.extra["messages"]),
        ("relationship", "PROMOTES"): len(g.extra["messages"]),
        ("node", "Tag"): len({tag for p in g.extra["profiles"].values() for tag in p.tags["tag"]}),
        ("relationship", "INTERESTED_IN"): sum(len(p.tags) for p in g.extra["profiles"].values()),
    }
    query = load_query("schema-overview")
    actual = store.query(query.text, query.bind({}))
    assert list(actual.columns) == ["kind", "name", "count"]
    assert (
        dict(zip(zip(actual["kind"], actual["name"], strict=True), actual["count"], strict=True)) == expected
    )


def _recommendation_paths(g: ShopGraph, user: str, k: int) -> list[tuple[str, ...]]:
    """(user, bought item, shared node, recommended item, relationship type) per path."""
    items = _with_brand_category(g).set_index("id")
    shared_by = {
        "HAS_BRAND": lambda row: [f"Brand:{row['brand_id']}"],
        "IN_CATEGORY": lambda row: [f"Category:{row['category_id']}"],
        "MADE_OF": lambda row: [] if pd.isna(row["material"]) else [f"Material:{slugify(row['material'])}"],
    }
    recs = g.recommended[(g.recommended["from_id"] == user) & (g.recommended["rank"] <= k)]
    bought = g.purchased.loc[g.purchased["from_id"] == user, "to_id"]
    paths = []
    for target in recs["to_id"]:
        for sku in bought:
            for rel, nodes in shared_by.items():
                for node in set(nodes(items.loc[sku])) & set(nodes(items.loc[target])):
                    paths.append((user, sku, node, target, rel))
    return sorted(paths)


@pytest.mark.neo4j
def test_recommendation_paths_are_the_shared_attribute_paths(
    neo4j_shop: tuple[GraphStore, ShopGraph],
) -> None:
    store, graph = neo4j_shop
    query = load_query("recommendation-paths")
    found = 0
    for user in sorted(set(graph.recommended["from_id"])):
        params = query.bind({"user": user, "k": "2"})
        expected = _recommendation_paths(graph, user, params["k"])
        assert len(expected) < 100, "the query's LIMIT 100 would cut this user's paths"
        actual = store.query(query.text, params)
        got = []
        for path, rec in zip(actual["path"], actual["r"], strict=True):
            u, bought, shared, target = path.nodes
            rels = [r.type for r in path.relationships]
            assert rels[0] == "PURCHASED" and rels[1] == rels[2] and rec["rank"] <= params["k"]
            assert rec.end_node["id"] == target["id"]
            (label,) = shared.labels
            got.append((u["id"], bought["id"], f"{label}:{shared['id']}", target["id"], rels[1]))
        assert sorted(got) == expected, user
        found += len(got)
    assert found > 0


@pytest.mark.neo4j
def test_similar_items_are_the_cosine_nearest_neighbours(neo4j_shop: tuple[GraphStore, ShopGraph]) -> None:
    """The test writes its own embeddings: the store creates the vector index on write-back,
    and no other test has to have run first (defect 9 of issue 12)."""
    store, graph = neo4j_shop
    ids = sorted(graph.items["id"])
    vectors = np.random.default_rng(5).normal(size=(len(ids), 8))
    vectors[1] = vectors[0] + 0.01  # a near twin
    prop = "embedding_library"
    assert store.set_node_properties("Item", pd.DataFrame({"id": ids, prop: list(vectors)})) == len(ids)
    index = vector_index_name("Item", prop)
    shown = store.query(
        "SHOW VECTOR INDEXES YIELD name, properties, state, options "
        "RETURN name, properties, state, options.indexConfig AS config"
    )
    assert [(p, s) for n, p, s, _ in shown.itertuples(index=False) if n == index] == [([prop], "ONLINE")]
    config = dict(zip(shown["name"], shown["config"], strict=True))[index]
    assert config["vector.quantization.enabled"] is False, "int8 copies would move the scores"

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    # Neo4j scores cosine similarity as (1 + cos) / 2, in [0, 1]
    scores = (1 + unit @ unit.T) / 2
    names = _names(graph.items)
    query = load_query("similar-items")
    for position in (0, 1, 17, 40):
        params = query.bind({"item": ids[position], "index": index, "property": prop, "k": "5"})
        expected = pd.DataFrame(
            {
                "item": ids,
                "name": [names[i] for i in ids],
                "similarity": np.round(scores[position], 4),
            }
        ).drop(index=position)
        expected = expected.sort_values(["similarity", "item"], ascending=[False, True]).head(5)
        actual = store.query(query.text, params)
        pd.testing.assert_frame_equal(
            actual, expected.reset_index(drop=True), check_dtype=False, check_exact=False, atol=1e-3
        )
    twin = store.query(query.text, query.bind({"item": ids[0], "index": index, "property": prop, "k": "1"}))
    assert twin["item"].tolist() == [ids[1]] and twin["similarity"][0] > 0.999


@pytest.mark.neo4j
def test_vector_index_on_a_server_without_quantization(
    neo4j_shop: tuple[GraphStore, ShopGraph], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neo4j before 5.23 refuses the quantization option: the index is made without it."""
    store, graph = neo4j_shop
    assert isinstance(store, Neo4jStore)
    execute = store._execute

    def older_server(cypher: str, *args: object, **kwargs: object) -> object:
        if QUANTIZATION_OPTION in cypher:
            raise StoreError(
                "Neo4j rejected a statement (Neo.ClientError.General.InvalidArguments): "
                f"'{QUANTIZATION_OPTION}' is an unrecognized setting."
            )
        return execute(cypher, *args, **kwargs)

    monkeypatch.setattr(store, "_execute", older_server)
    ids = sorted(graph.items["id"])
    vectors = np.random.default_rng(6).normal(size=(len(ids), 4))
    vectors[1] = vectors[0] * 2  # the same direction
    store.set_node_properties("Item", pd.DataFrame({"id": ids, "embedding_older": list(vectors)}))
    query = load_query("similar-items")
    params = {
        "item": ids[0],
        "index": vector_index_name("Item", "embedding_older"),
        "property": "embedding_older",
    }
    nearest = store.query(query.text, query.bind(params | {"k": "1"}))
    assert nearest["item"].tolist() == [ids[1]]
