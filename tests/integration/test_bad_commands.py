"""Commands given a graph or a model they cannot use: one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store
from tests.helpers import assert_clean_error, kg, kg_ingest


def test_kg_train_on_an_empty_graph(tmp_path: Path) -> None:
    graph = str(tmp_path / "graph")
    with open_store(load_settings(store=graph)) as store:
        store.ensure_schema()
    result = kg("--store", graph, "train", cwd=tmp_path)
    assert_clean_error(result, "has no", "relationships to train on", "kg ingest", "[embeddings] relations")
    assert not list(tmp_path.glob("kg-data/models/*")), "nothing registered"


def test_kg_train_on_a_handful_of_facts(tmp_path: Path) -> None:
    mapping = '[edges]\nrel = "PURCHASED"\nfrom = { label = "User", column = "user" }\nto = { label = "Item", column = "sku" }\n'
    options = kg_ingest(tmp_path, "user,sku\nu1,p1\nu1,p2\nu2,p1\n", mapping)
    assert_clean_error(kg(*options, "train", cwd=tmp_path), "Only 3 triples", "too few")


@pytest.fixture(scope="module")
def two_shops(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    """Global options for two generated shops that share a data folder (so one model
    registry), with a model trained on the first."""
    root = tmp_path_factory.mktemp("two-shops")
    config = root / "kg.toml"
    config.write_text(f'data_dir = "{root / "data"}"\n[recommend]\nsignals = ["ease", "popularity", "kge"]\n')
    options = []
    for name, seed in (("a", 5), ("b", 6)):
        with open_store(load_settings(store=str(root / name))) as store:
            for data, mapping in generate_shop(
                root / f"{name}-files", ShopSize(users=150, items=60, reviews=0), seed=seed
            ):
                ingest_path(store, data, mapping=mapping)
        options.append(["--config", str(config), "--store", str(root / name)])
    trained = kg(*options[0], "train", "--epochs", "3", "--dim", "8")
    assert trained.returncode == 0, trained.stderr
    return options[0], options[1]


def test_a_model_of_another_graph_is_refused_by_predict_and_left_out_by_recommend(
    two_shops: tuple[list[str], list[str]],
) -> None:
    _, other = two_shops
    assert_clean_error(
        kg(*other, "predict", "User:U00001", "PURCHASED"), "trained on a different graph", "kg train"
    )
    assert_clean_error(kg(*other, "embed"), "trained on a different graph")
    # recommendations still come from the graph's other signals; a note says why kge is off
    result = kg(*other, "recommend", "U00001", "--k", "3")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Recommendations for user U00001" in result.stdout
    note = " ".join(result.stderr.split())
    assert "note: link prediction (kge) is off: Model run" in note and "trained on a different graph" in note
