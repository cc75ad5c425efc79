"""`kg ask` on the real embedded store with the real MiniLM: filters are respected,
words that are no filter are reported, a user's interests re-rank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kg.ask.intent import parse_question
from kg.ask.search import Catalogue, ask, user_interests
from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.errors import NotFoundError
from kg.ingest import ingest_path
from kg.store import GraphStore, open_store
from tests.helpers import assert_clean_error, kg

SHOP = ShopSize(users=40, items=90, purchases_per_user=4.0, views_per_user=8.0, reviews=0)


@pytest.fixture(scope="module")
def shop(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, GraphStore, Catalogue, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("ask-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    with open_store(settings) as store:
        for data, mapping in generate_shop(root / "shop", SHOP, seed=8):
            ingest_path(store, data, mapping=mapping)
        products = pd.read_csv(root / "shop" / "products.csv", dtype={"sku": str})
        yield settings, store, Catalogue.from_store(store, settings), products


def test_filters_are_respected(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, catalogue, products = shop
    by_sku = products.set_index("sku")
    boots = products[products["category_id"] == "cat-hiking-boots"].sort_values("sku")
    material, limit = boots["material"].iloc[0], int(boots["price"].iloc[0]) + 1
    result = ask(catalogue, f"{material} hiking boots under {limit}", k=5)
    assert result.intent.describe() == ["category hiking boots", f"material {material}", f"price <= {limit}"]
    expected = boots[(boots["material"] == material) & (boots["price"] <= limit)]
    assert result.candidates == len(expected) > 0
    assert set(result.answers["item"]) <= set(expected["sku"]) and len(result.answers) == min(
        5, len(expected)
    )
    assert all(
        "category Hiking Boots" in why and f"material {material}" in why for why in result.answers["why"]
    )
    # A top-level category reaches its subcategories; a colour filters on the item's colour.
    apparel = ask(catalogue, "navy apparel from Blue Harbor", k=10)
    for sku in apparel.answers["item"]:
        row = by_sku.loc[sku]
        assert row["brand"] == "Blue Harbor" and row["color"] == "navy"
        assert row["category_id"] in {"cat-jackets", "cat-t-shirts", "cat-sweaters"}
    assert ask(catalogue, "sandals between 10 and 12", k=5).answers.empty


def test_unknown_words_are_reported_not_dropped(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, catalogue, _ = shop
    result = ask(catalogue, "waterproof jacket under 150", k=5)
    assert result.intent.free_words == ["waterproof"] and result.unknown == ["waterproof"]
    assert set(result.intent.describe()) == {"category jacket", "price <= 150"}
    known = parse_question("comfortable urban jacket", catalogue.vocabulary)
    assert known.free_words == ["comfortable", "urban"]  # ranking words, "urban" is in item names


def test_user_interests_rerank(shop) -> None:  # type: ignore[no-untyped-def]
    _, store, catalogue, products = shop
    plain = ask(catalogue, "jacket", k=5)
    brands = products.set_index("sku")["brand"]
    jackets = products[products["category_id"] == "cat-jackets"]
    favourite = next(
        b for b in sorted(set(jackets["brand"])) if b not in set(brands[plain.answers["item"].head(1)])
    )
    key = favourite.lower().replace(" ", "-")
    personal = ask(catalogue, "jacket", k=5, interests={f"brand:{key}": 1.0})
    assert brands[personal.answers["item"].iloc[0]] == favourite
    assert f"your interests: brand:{key} 1.00" in personal.answers["why"].iloc[0]
    assert user_interests(store, "U00001")  # computed from behaviour when not yet stored
    with pytest.raises(NotFoundError, match="No user 'nobody'"):
        user_interests(store, "nobody")


def test_kg_ask_prints_answers_with_reasons(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, store, _, _ = shop
    options = ["--store", str(settings.store), "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text(f'data_dir = "{settings.data_dir}"\n')
    store.close()
    result = kg(*options, "ask", "waterproof jacket under 150", "--user", "U00001")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert (
        "Understood: category jacket; price <= 150" in out and "Unknown words" in out and "waterproof" in out
    )
    assert "Jacket" in out and "similarity" in out and "[:IN_CATEGORY]->(:Category" in out
    assert_clean_error(kg(*options, "ask", "jacket", "--user", "nobody"), "No user 'nobody'")
