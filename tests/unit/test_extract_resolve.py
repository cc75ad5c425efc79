"""Entity resolution: variants merge, similar but different names do not, decisions are recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from kg.config import ExtractSettings
from kg.errors import InputError
from kg.extract.resolve import (
    EntityIndex,
    decide_pair,
    normalize_name,
    resolve_graph,
    review_candidates,
)
from kg.store import GraphStore


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Apple", "apple"),
        ("Apple Inc.", "apple"),
        ("APPLE", "apple"),
        ("apple, inc", "apple"),
        ("NorthPeak Inc.", "northpeak"),
        ("Lumen & Co", "lumen"),
        ("Lumen and Co.", "lumen"),
        ("Terra Firma GmbH", "terra firma"),
        ("The Boston Globe", "boston globe"),
        ("Nimbus Labs", "nimbus labs"),
        ("Müller's", "müller"),
    ],
)
def test_normalisation(name: str, key: str) -> None:
    assert normalize_name(name) == key


def test_spelling_variants_become_one_node() -> None:
    index = EntityIndex(ExtractSettings())
    first = index.resolve("Organization", "Apple")
    assert first is not None and first.method == "new"
    for variant in ("Apple Inc.", "APPLE", "apple, inc"):
        again = index.resolve("Organization", variant)
        assert again is not None
        assert (again.label, again.node_id) == ("Organization", first.node_id)
        assert again.method == "exact"


def test_extracted_organisations_link_to_catalogue_brands() -> None:
    index = EntityIndex(ExtractSettings())
    index.add("Brand", "northpeak", "Northpeak")
    for variant in ("NorthPeak Inc.", "NORTHPEAK", "Northpeak Ltd"):
        found = index.resolve("Organization", variant)
        assert found is not None and (found.label, found.node_id) == ("Brand", "northpeak")


def test_similar_names_of_different_companies_are_review_candidates_not_merges() -> None:
    index = EntityIndex(ExtractSettings())
    index.add("Brand", "nimbus", "Nimbus")
    labs = index.resolve("Organization", "Nimbus Labs")
    assert labs is not None
    assert (labs.label, labs.node_id, labs.method) == ("Organization", "nimbus-labs", "new")
    [candidate] = labs.candidates
    assert (candidate.other_label, candidate.other_id) == ("Brand", "nimbus")
    settings = ExtractSettings()
    assert settings.review_threshold <= candidate.score < settings.fuzzy_threshold


def test_different_brands_in_the_catalogue_stay_apart() -> None:
    index = EntityIndex(ExtractSettings())
    index.add("Brand", "nimbus", "Nimbus")
    index.add("Brand", "nimbus-labs", "Nimbus Labs")
    index.add("Brand", "voltix", "Voltix")
    assert index.resolve("Organization", "Nimbus Labs Inc.").node_id == "nimbus-labs"  # type: ignore[union-attr]
    assert index.resolve("Organization", "NIMBUS").node_id == "nimbus"  # type: ignore[union-attr]
    voltex = index.resolve("Organization", "Voltex")
    assert voltex is not None and (voltex.label, voltex.node_id) == ("Organization", "voltex")


def test_a_typo_above_the_threshold_merges_and_says_so() -> None:
    index = EntityIndex(ExtractSettings())
    index.add("Brand", "stridewell", "Stridewell")
    found = index.resolve("Organization", "Stridewel")
    assert found is not None and (found.node_id, found.method) == ("stridewell", "fuzzy")


def test_alias_table_from_settings() -> None:
    index = EntityIndex(ExtractSettings(aliases={"Big Blue": "IBM"}))
    index.add("Organization", "ibm", "IBM")
    found = index.resolve("Organization", "Big Blue")
    assert found is not None and (found.node_id, found.method) == ("ibm", "alias")


def test_text_never_adds_catalogue_nodes() -> None:
    index = EntityIndex(ExtractSettings())
    found = index.resolve("Item", "Hyperwidget 3000")
    assert found is not None and found.label == "Entity"


def _organisations(store: GraphStore, names: dict[str, str]) -> None:
    store.upsert_nodes("Organization", pd.DataFrame({"id": list(names), "name": list(names.values())}))


def test_kg_resolve_records_candidates_and_review_lists_them(store: GraphStore) -> None:
    store.upsert_nodes("Brand", pd.DataFrame({"id": ["nimbus", "voltix"], "name": ["Nimbus", "Voltix"]}))
    _organisations(store, {"nimbus-labs": "Nimbus Labs", "voltex": "Voltex", "acme": "Acme"})
    settings = ExtractSettings()
    report = resolve_graph(store, settings)
    pairs = {(c.node_id, c.other_id) for c in report.candidates}
    assert ("nimbus-labs", "nimbus") in pairs and ("voltex", "voltix") in pairs
    assert not any("acme" in pair for pair in pairs)
    assert report.written == len(report.candidates)
    listed = review_candidates(store)
    assert set(zip(listed["from_id"], listed["to_id"], strict=True)) == pairs
    assert set(listed["status"]) == {"candidate"}
    assert listed["score"].is_monotonic_decreasing
    # Nothing was merged: both sides are still there.
    assert store.existing_node_ids("Organization", ["nimbus-labs", "voltex"]) == {"nimbus-labs", "voltex"}
    # A second run records nothing new, and a decision a reviewer made is kept.
    store.query(
        "MATCH (a:Organization {id: $a})-[r:SAME_AS]->(b:Brand {id: $b}) SET r.status = 'rejected'",
        {"a": "voltex", "b": "voltix"},
        write=True,
    )
    assert resolve_graph(store, settings).written == 0
    still = review_candidates(store, status="rejected")
    assert list(zip(still["from_id"], still["to_id"], strict=True)) == [("voltex", "voltix")]


def test_embedding_similarity_proposes_what_spelling_misses(store: GraphStore) -> None:
    _organisations(store, {"volkswagen": "Volkswagen", "vw": "VW", "acme": "Acme"})
    plain = resolve_graph(store, ExtractSettings())
    assert not plain.candidates
    with_embeddings = resolve_graph(store, ExtractSettings(use_embeddings=True))
    pairs = {frozenset((c.node_id, c.other_id)) for c in with_embeddings.candidates}
    assert frozenset(("volkswagen", "vw")) in pairs
    assert all(c.method == "embedding" for c in with_embeddings.candidates)
    assert not any("acme" in pair for pair in pairs)


def test_kg_resolve_merges_clear_duplicates_and_moves_their_facts(store: GraphStore) -> None:
    """Text extracted before the catalogue knew "Stridewell": the organisation it
    created folds into the brand, with its mentions, relations and spelling."""
    store.upsert_nodes("Brand", pd.DataFrame({"id": ["stridewell"], "name": ["Stridewell"]}))
    _organisations(store, {"stridewel": "Stridewel", "acme": "Acme"})
    store.upsert_nodes("Person", pd.DataFrame({"id": ["ann"], "name": ["Ann"]}))
    store.upsert_nodes("Document", pd.DataFrame({"id": ["d1", "d2"], "text": ["...", "..."]}))
    mentions = pd.DataFrame(
        {"from_id": ["d1", "d2"], "to_id": ["stridewel", "acme"], "text": ["Stridewel", "Acme"]}
    )
    store.upsert_relationships("MENTIONS", "Document", "Organization", mentions)
    works = pd.DataFrame({"from_id": ["ann"], "to_id": ["stridewel"], "confidence": [0.8], "doc_id": ["d1"]})
    store.upsert_relationships("WORKS_FOR", "Person", "Organization", works)

    report = resolve_graph(store, ExtractSettings())
    assert [(c.node_id, c.other_id) for c in report.merged] == [("stridewel", "stridewell")]
    assert store.existing_node_ids("Organization", ["stridewel", "acme"]) == {"acme"}
    moved = store.query(
        "MATCH (d:Document)-[m:MENTIONS]->(b:Brand {id: 'stridewell'}) RETURN d.id AS doc, m.text AS text"
    )
    assert moved.to_dict("records") == [{"doc": "d1", "text": "Stridewel"}]
    job = store.query("MATCH (:Person {id: 'ann'})-[r:WORKS_FOR]->(b) RETURN b.id AS id, r.confidence AS c")
    assert job.to_dict("records") == [{"id": "stridewell", "c": 0.8}]
    aliases = store.query("MATCH (b:Brand {id: 'stridewell'}) RETURN b.aliases AS a")["a"][0]
    assert list(aliases) == ["Stridewel", "Stridewell"]
    assert store.counts().relationships["MENTIONS"] == 2


def test_reviewer_decisions(store: GraphStore) -> None:
    store.upsert_nodes("Brand", pd.DataFrame({"id": ["nimbus"], "name": ["Nimbus"]}))
    _organisations(store, {"nimbus-labs": "Nimbus Labs", "nimbus-co": "Nimbus Company Group"})
    settings = ExtractSettings()
    resolve_graph(store, settings)
    assert "Recorded" in decide_pair(store, "Organization:nimbus-labs", "Brand:nimbus", accept=False)
    listed = review_candidates(store, status="rejected")
    assert list(zip(listed["from_id"], listed["to_id"], strict=True)) == [("nimbus-labs", "nimbus")]
    assert "Merged" in decide_pair(store, "Organization:nimbus-co", "Brand:nimbus", accept=True)
    assert not store.existing_node_ids("Organization", ["nimbus-co"])
    with pytest.raises(InputError, match="Label:id"):
        decide_pair(store, "nimbus", "Brand:nimbus", accept=True)
    with pytest.raises(InputError, match="extracted from text"):
        decide_pair(store, "Brand:nimbus", "Organization:nimbus-labs", accept=True)
    resolve_graph(store, settings)  # a rejected pair is neither merged nor re-listed
    assert store.existing_node_ids("Organization", ["nimbus-labs"]) == {"nimbus-labs"}
