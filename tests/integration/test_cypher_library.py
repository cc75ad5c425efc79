"""The analyst query library: documented headers, and every portable query's answer on a
demo-like graph, checked against pandas over the written frames, in the embedded store
and in Neo4j; the Neo4j-only queries (labels/type, paths, APOC, the vector index) checked
on Neo4j against computations of their own."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
from tests.helpers import ROOT
from tests.library_answers import (
    EXPECTED,
    assert_answer_matches,
    comparable,
    names_by_id,
    with_brand_and_category,
)
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
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("### Analyst queries") :].split("\n### ", 1)[0]
    assert f"holds {len(QUERIES)} documented queries" in section
    for query in QUERIES:
        assert f"`{query.name}`" in section, f"{query.name} is missing from the README's query table"
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


def _run(store: GraphStore, query: CypherQuery, given: dict[str, str]) -> tuple[pd.DataFrame, dict]:
    params = query.bind(given)
    return store.query(query.text, params), params


@pytest.mark.parametrize("name", PORTABLE)
def test_portable_query_matches_pandas(shop: tuple[GraphStore, ShopGraph], name: str) -> None:
    store, graph = shop
    query = load_query(name)
    given = {"k": BIG_K} if "k" in query.params else {}
    actual, params = _run(store, query, given)
    assert_answer_matches(name, actual, graph, params)


@pytest.mark.parametrize("name", [n for n in PORTABLE if "k" in load_query(n).params])
def test_portable_query_honours_k(shop: tuple[GraphStore, ShopGraph], name: str) -> None:
    store, _ = shop
    query = load_query(name)
    everything, _ = _run(store, query, {"k": BIG_K})
    limited, _ = _run(store, query, {"k": "2"})
    assert len(limited) == min(2, len(everything))
    pd.testing.assert_frame_equal(comparable(limited), comparable(everything.head(2)), check_dtype=False)


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
    items = with_brand_and_category(g).set_index("id")
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
    names = names_by_id(graph.items)
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
