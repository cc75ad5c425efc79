"""Text-aware embeddings for cold start: a product added after training, with no
interactions at all, gets an embedding from its text whose nearest neighbours share its
brand or category."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from embeddings.enrich import enrich_store
from embeddings.runs import load_model
from embeddings.workflow import train_from_store
from embeddings.writeback import write_entity_embeddings
from kg.config import load_settings
from kg.datasets.synthetic_shop import BRANDS, ShopSize
from kg.ids import slugify
from kg.store import GraphStore, open_store
from tests.shop_graph import build_shop_graph

SHOP = ShopSize(users=120, items=90, purchases_per_user=8.0, views_per_user=12.0, reviews=20)
NEW_ID = "P99999"


def _item_neighbours(store: GraphStore) -> pd.DataFrame:
    """Item -> brand and category, from the graph."""
    brand = pd.concat(store.iter_relationships("HAS_BRAND", properties=[]))[["from_id", "to_id"]]
    category = pd.concat(store.iter_relationships("IN_CATEGORY", properties=[]))[["from_id", "to_id"]]
    return brand.rename(columns={"to_id": "brand"}).merge(
        category.rename(columns={"to_id": "category"}), on="from_id"
    )


def test_a_product_added_after_training_gets_a_text_embedding_near_its_brand_or_category(
    tmp_path: Path,
) -> None:
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
    with open_store(settings) as store:
        shop = build_shop_graph(store, tmp_path / "shop", size=SHOP, seed=5)
        enrich_store(settings, store)
        report = train_from_store(
            settings, store, model="distmult", text=True, num_epochs=30, embedding_dim=32
        )
        assert report.trained.text_aware and report.text_entities > 0

        # a new arrival: same brand and category as an existing product, nobody has seen it
        model_item = shop.items.iloc[7]
        brand_id, category_id = slugify(model_item["brand"]), model_item["category_id"]
        spellings, city, _ = BRANDS[model_item["brand"]]
        store.upsert_nodes(
            "Item",
            pd.DataFrame(
                {
                    "id": [NEW_ID],
                    "name": [f"{model_item['brand']} Horizon {model_item['name'].split()[-1]}"],
                    "kind": ["product"],
                    "description": [f"The new {spellings[-1]} arrival, designed in {city}."],
                }
            ),
        )
        store.upsert_relationships(
            "HAS_BRAND", "Item", "Brand", pd.DataFrame({"from_id": [NEW_ID], "to_id": [brand_id]})
        )
        store.upsert_relationships(
            "IN_CATEGORY", "Item", "Category", pd.DataFrame({"from_id": [NEW_ID], "to_id": [category_id]})
        )
        enrich_store(settings, store, labels=["Item"])
        trained = load_model(settings, store=store)
        assert f"Item:{NEW_ID}" not in trained.entity_to_id  # unseen by the model
        written = write_entity_embeddings(store, trained)
        assert written["Item (from text)"] == 1
        items = pd.concat(store.iter_nodes("Item", properties=["embedding_distmult"]))
        neighbours = _item_neighbours(store).set_index("from_id")

    vectors = dict(zip(items["id"], items["embedding_distmult"], strict=True))
    new = np.asarray(vectors.pop(NEW_ID))
    others = list(vectors)
    matrix = np.vstack([vectors[i] for i in others])
    cosine = matrix @ new / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(new))
    nearest = [others[i] for i in np.argsort(-cosine)[:5]]
    shared = [
        i
        for i in nearest
        if neighbours.at[i, "brand"] == brand_id or neighbours.at[i, "category"] == category_id
    ]
    # by chance (random items) about 1 of 5 would share the brand or the category
    assert len(shared) >= 4, (nearest, neighbours.loc[nearest].to_dict("records"), brand_id, category_id)
