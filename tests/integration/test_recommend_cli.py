"""`kg recommend`, `similar`, `audience`, `segment` and `evaluate` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from kg.config import RecommendSettings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store
from tests.helpers import assert_clean_error, kg


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
    unknown = kg(*shop, "recommend", "nobody")
    assert_clean_error(unknown, "No user 'nobody'")
    hint = re.search(r"`kg query '([^']+)'`", " ".join(unknown.stderr.split()))
    assert hint, unknown.stderr
    listed = kg(*shop, "query", hint.group(1))  # the hint runs as given and lists user ids
    assert listed.returncode == 0 and "U00001" in listed.stdout, listed.stderr
    assert_clean_error(kg(*shop, "similar", "P99999"), "No item 'P99999'")
    assert_clean_error(kg(*shop, "audience", "Footwar"), "did you mean 'Footwear'")
    assert_clean_error(kg(*shop, "recommend", "--all"), "add --write")
    assert_clean_error(kg(*shop, "recommend", "U00001", "--category", "Nope"), "No category 'Nope'")
    assert_clean_error(kg(*shop, "audience", "Item:P99999"), "No item 'P99999'")


def test_filters_that_match_no_item_say_why(shop: list[str]) -> None:
    """They used to print a blank line and exit 0."""
    assert_clean_error(
        kg(*shop, "recommend", "U00001", "--max-price", "0.5"), "no item costs at most 0.5 (prices run from"
    )
    assert_clean_error(kg(*shop, "similar", "P00003", "--min-price", "1e9"), "no item costs at least 1e+09")


def test_item_targets_take_the_label_the_embeddings_use(shop: list[str]) -> None:
    labelled = kg(*shop, "audience", "Item:P00003", "--k", "10", "--no-explain")
    plain = kg(*shop, "audience", "P00003", "--k", "10", "--no-explain")
    assert labelled.returncode == 0, labelled.stderr
    assert "Audience for item" in " ".join(labelled.stdout.split())
    assert labelled.stdout == plain.stdout


def test_similar_audience_and_segment(shop: list[str]) -> None:
    similar = kg(*shop, "similar", "P00003", "--k", "4", "--explain")
    assert similar.returncode == 0, similar.stderr
    assert "Similar to" in similar.stdout and "MATCH" in similar.stdout
    listed = re.findall(r"│\s*(\d+)\s*│\s*(P\d{5})\s*│", similar.stdout)
    assert [rank for rank, _ in listed] == ["1", "2", "3", "4"], similar.stdout
    assert "P00003" not in {item for _, item in listed}  # never the item itself
    explained = re.findall(r"^#(\d) ([^\n]+)\n(MATCH .+?\nRETURN [^\n]+)", similar.stdout, re.M | re.S)
    assert [rank for rank, _, _ in explained] == ["1", "2", "3", "4"], similar.stdout
    target = kg(*shop, "audience", "Footwear", "--k", "12")
    assert target.returncode == 0, target.stderr
    assert "Audience for category Footwear" in " ".join(target.stdout.split())
    users = re.findall(r"│\s*(\d+)\s*│\s*(U\d{5})\s*│\s*([\d.]+)\s*│\s*([^│]+?)\s*│", target.stdout)
    assert [int(rank) for rank, *_ in users] == list(range(1, 13)), target.stdout
    assert len({user for _, user, *_ in users}) == 12  # twelve different people, best first
    scores = [float(score) for _, _, score, _ in users]
    assert scores == sorted(scores, reverse=True)
    with open_store(load_settings(store=shop[1]), read_only=True) as store:
        for _, name, cypher in explained:  # each explanation's Cypher, run as printed, finds its item
            found = store.query(cypher)
            assert not found.empty and list(found["recommended"]) == [name], (cypher, found)
        for _, user, _, name in users:  # a Footwear item (sub-categories count) the user never touched
            offered = store.query(
                "MATCH (i:Item {name: $name})-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..3]->"
                "(:Category {name: 'Footwear'}) OPTIONAL MATCH (:User {id: $user})-[seen:PURCHASED|VIEWED]->(i) "
                "RETURN count(DISTINCT i) AS items, count(seen) AS seen",
                {"name": name, "user": user},
            )
            assert offered.to_dict("records") == [{"items": 1, "seen": 0}], (user, name)
    segments = kg(*shop, "segment", "--k", "3", env={"COLUMNS": "80"})
    assert segments.returncode == 0, segments.stderr
    assert "Wrote Segment nodes" in " ".join(segments.stdout.split())
    profiles = kg(*shop, "query", "segment-profiles")
    assert profiles.returncode == 0 and "segment-1" in profiles.stdout
    # at 80 columns each segment's name and figures stay whole on its first line
    written = kg(*shop, "query", "MATCH (s:Segment) RETURN s.name AS name, s.size AS size ORDER BY name")
    rows = re.findall(r"(S\d: [^│]*?)\s*│\s*(\d+)\s*│", written.stdout)
    assert len(rows) == 3, written.stdout
    total = sum(int(size) for _, size in rows)
    assert total == 150  # every user of the shop is in exactly one segment
    for name, size in rows:
        line = next((line for line in segments.stdout.splitlines() if name in line), None)
        assert line is not None, (name, segments.stdout)
        assert {f"{int(size):,}", f"{int(size) / total:.0%}"} <= set(line.split()), line


def test_evaluate_prints_the_table_and_saves_it(shop: list[str]) -> None:
    result = kg(*shop, "evaluate", "--k", "5", "--signals", "ease,cohort,popularity", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for row in ("fused", "ease", "cohort", "popularity", "item_knn", "als", "bpr", "nDCG@5"):
        assert row in out, row
    saved = Path("".join(result.stdout.split("Saved ")[-1].split()))  # a long path wraps at 80
    assert saved.suffix == ".json" and saved.is_file() and saved.with_suffix(".csv").is_file()
    # at 80 columns every figure is printed whole (they used to break across lines)
    tokens = set(result.stdout.split())
    table = pd.read_csv(saved.with_suffix(".csv"))
    for metric in ("P@5", "R@5", "nDCG@5", "MAP@5", "HR@5", "coverage"):
        assert table[metric].between(0, 1).all(), table[metric]
        for value in table[metric]:
            assert f"{value:.4f}" in tokens, (metric, value)
    # the protocol says what it tested: every shop user, the whole catalogue, K=5
    report = json.loads(saved.read_text())
    assert (report["k"], report["users"], report["items"]) == (5, 150, 60)
    assert "Offline evaluation, K=5: 150 test users, 60 items" in out
    signals = {row["model"] for row in report["rows"] if "signal" in row["kind"]}
    assert signals == {"ease", "cohort", "popularity"}  # the signals asked for, each scored alone
    # the JSON and the CSV hold the same figures, and the verdict follows from them
    pd.testing.assert_series_equal(pd.DataFrame(report["rows"])["nDCG@5"], table["nDCG@5"])
    fused = table.loc[table["model"] == "fused", "nDCG@5"].iloc[0]
    margin = fused - table.loc[table["kind"].str.contains("baseline"), "nDCG@5"].max()
    verdict = "beats" if margin > 0 else "does NOT beat"
    assert f"fused {verdict} the best baseline on nDCG@5 by {margin:+.4f}" in out, out
