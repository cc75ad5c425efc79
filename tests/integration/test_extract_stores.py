"""Extraction and entity resolution through the GraphStore interface, on both stores.

The Neo4j half runs when ``KG_NEO4J_URI`` names a throwaway server and skips otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kg.config import Settings
from kg.extract import Extractor
from kg.extract.facts import DocumentRecord
from kg.extract.pipeline import run_extraction
from kg.extract.resolve import resolve_graph, review_candidates
from kg.store import GraphStore, open_store
from tests.neo4j_server import empty_store_settings


@pytest.fixture(params=["ladybug", "neo4j"])
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, GraphStore]]:
    """An empty store of each kind holding a tiny catalogue of brands."""
    settings = empty_store_settings(request.param, tmp_path)
    with open_store(settings) as store:
        brands = pd.DataFrame({"id": ["northpeak", "nimbus"], "name": ["Northpeak", "Nimbus"]})
        store.upsert_nodes("Brand", brands)
        yield settings, store


def test_extraction_resolution_and_reruns_on_either_store(graph) -> None:  # type: ignore[no-untyped-def]
    settings, store = graph
    documents = [
        DocumentRecord("d1", "Anna Berg works for NORTHPEAK Inc. in Portland.", "test"),
        DocumentRecord("d2", "Nimbus Labs opened an office in Oslo, Norway.", "test"),
        DocumentRecord("d3", "Stridewel Inc. opened a store in Boston.", "test"),
    ]
    first = run_extraction(store, documents, settings)
    assert first.documents == 3 and store.counts().nodes["Document"] == 3
    mentions = store.query(
        "MATCH (d:Document {id: 'd1'})-[m:MENTIONS]->(b:Brand) RETURN b.id AS brand, m.text AS text"
    )
    assert mentions.to_dict("records") == [{"brand": "northpeak", "text": "NORTHPEAK Inc."}]
    before = store.counts()
    again = run_extraction(store, documents, settings)
    assert again.unchanged == 3 and store.counts() == before

    # The catalogue learns "Stridewell" after the text was read: kg resolve folds the
    # extracted organisation into it, and lists "Nimbus Labs" for review instead.
    store.upsert_nodes("Brand", pd.DataFrame({"id": ["stridewell"], "name": ["Stridewell"]}))
    stridewel = store.query("MATCH (o:Organization) WHERE o.id = 'stridewel' RETURN o.id AS id")
    assert len(stridewel) == 1, "the NER should have read Stridewel as an organisation"
    report = resolve_graph(store, settings.extract)
    assert ("Organization", "stridewel", "Brand", "stridewell") in {
        (c.label, c.node_id, c.other_label, c.other_id) for c in report.merged
    }
    moved = store.query("MATCH (:Document {id: 'd3'})-[:MENTIONS]->(b:Brand) RETURN b.id AS id")
    assert moved["id"].tolist() == ["stridewell"]
    listed = review_candidates(store)
    assert ("nimbus-labs", "nimbus") in set(zip(listed["from_id"], listed["to_id"], strict=True))

    # A changed document loses its old mentions.
    changed = [DocumentRecord("d2", "Northpeak opened an office in Denver.", "test")]
    run_extraction(store, changed, settings, extractor=Extractor(settings, store))
    now = store.query("MATCH (:Document {id: 'd2'})-[:MENTIONS]->(n) RETURN n.id AS id")
    assert "oslo" not in set(now["id"]) and "northpeak" in set(now["id"])
