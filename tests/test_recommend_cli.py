"""`kg recommend`, `similar`, `audience`, `segment` and `evaluate` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import RecommendSettings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store
from tests.test_cli import assert_clean_error, kg


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Global options that point `kg` at a small shop and its own data folder, with the
    recommender already fitted there (so later commands print nothing but their answer)."""
    root = tmp_path_factory.mktemp("cli-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "data", recommend=RecommendSettings())
    with open_store(settings) as store:
        for data, mapping in generate_shop(root / "files", ShopSize(users=150, items=60, reviews=0), seed=5):
            ingest_path(store, data, mapping=mapping)
    config = root / "kg.toml"
    config.write_text(
        f'data_dir = "{root / "data"}"\n[recommend]\nsignals = ["ease", "item_knn", "attributes", "cohort", "popularity"]\n'
    )
    options = ["--store", str(root / "graph"), "--config", str(config)]
    fitted = kg(*options, "recommend", "U00002")  # fits and saves the recommender once
    assert fitted.returncode == 0, fitted.stderr
    return options


def test_recommend_explain_write_then_query(shop: list[str]) -> None:
    result = kg(*shop, "recommend", "U00001", "--k", "5", "--explain", "--write")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Recommendations for user U00001" in out and "because" in out
    assert 'MATCH (u:User {id: "U00001"})' in out  # the pasteable pattern
    assert "Wrote 5 RECOMMENDED edges" in out
    stored = kg(*shop, "query", "MATCH (:User {id: 'U00001'})-[r:RECOMMENDED]->() RETURN count(r) AS n")
    assert stored.returncode == 0 and "│ 5 │" in stored.stdout.replace(" ", "").replace("│5│", "│ 5 │")


def test_unknown_user_item_and_target_are_one_line_errors(shop: list[str]) -> None:
    assert_clean_error(kg(*shop, "recommend", "nobody"), "No user 'nobody'")
    assert_clean_error(kg(*shop, "similar", "P99999"), "No item 'P99999'")
    assert_clean_error(kg(*shop, "audience", "Footwar"), "did you mean 'Footwear'")
    assert_clean_error(kg(*shop, "recommend", "--all"), "add --write")
    assert_clean_error(kg(*shop, "recommend", "U00001", "--category", "Nope"), "No category 'Nope'")


def test_similar_audience_and_segment(shop: list[str]) -> None:
    similar = kg(*shop, "similar", "P00003", "--k", "4", "--explain")
    assert similar.returncode == 0, similar.stderr
    assert "Similar to" in similar.stdout and "MATCH" in similar.stdout
    target = kg(*shop, "audience", "Footwear", "--k", "5")
    assert target.returncode == 0, target.stderr
    assert "Audience for category Footwear" in " ".join(target.stdout.split())
    segments = kg(*shop, "segment", "--k", "3")
    assert segments.returncode == 0, segments.stderr
    assert "segment-3" in segments.stdout and "Wrote Segment nodes" in segments.stdout
    profiles = kg(*shop, "query", "segment-profiles")
    assert profiles.returncode == 0 and "segment-1" in profiles.stdout


def test_evaluate_prints_the_table_and_saves_it(shop: list[str]) -> None:
    result = kg(*shop, "evaluate", "--k", "5", "--signals", "ease,cohort,popularity")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for row in ("fused", "ease", "cohort", "popularity", "item_knn", "als", "bpr", "nDCG@5"):
        assert row in out, row
    saved = Path(out.split("Saved ")[-1].split()[0])
    assert saved.suffix == ".json" and saved.is_file() and saved.with_suffix(".csv").is_file()
