"""`kg extract ...` and `kg resolve` as a user runs them: real processes, real store."""

from __future__ import annotations

from pathlib import Path

from kg.config import load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store
from tests.helpers import assert_clean_error, kg


def test_extract_run_preview_and_review_from_the_command_line(tmp_path: Path) -> None:
    files = generate_shop(tmp_path / "shop", ShopSize(users=20, items=30, reviews=20), seed=11)
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
    with open_store(settings) as store:
        for data, mapping in files:
            ingest_path(store, data, mapping=mapping)
    env = {"KG_STORE": str(tmp_path / "graph"), "KG_DATA_DIR": str(tmp_path / "kg-data")}
    reviews = str(tmp_path / "shop" / "reviews.jsonl")

    first = kg("extract", "run", "--from-graph", "Item.description", env=env)
    assert first.returncode == 0, first.stderr
    assert "documents/s" in first.stdout and "tokens/s" in first.stdout
    assert kg("extract", "run", reviews, "--about-field", "sku", env=env).returncode == 0
    stats = kg("stats", env=env)
    cells = [
        [c.strip() for c in line.split("│")] for line in stats.stdout.splitlines() if line.count("│") >= 4
    ]
    rows = {cell[2]: int(cell[3].replace(",", "")) for cell in cells}
    assert rows["Document"] == 50 and rows["MENTIONS"] > 100 and rows["DESCRIBES"] == 50

    with open_store(settings, read_only=True) as store:
        before = store.counts()
    shown = kg(
        "extract", "preview", "Anna Berg works for NORTHPEAK Inc. and Nimbus Labs in Portland.", env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert "northpeak" in shown.stdout and "catalog" in shown.stdout and "WORKS_FOR" in shown.stdout
    with open_store(settings, read_only=True) as store:
        assert store.counts() == before  # a preview writes nothing
    review = kg("resolve", "--review", env=env)
    assert review.returncode == 0 and "SAME_AS candidates to review" in review.stdout


def test_extract_errors_are_one_clear_line(tmp_path: Path) -> None:
    env = {"KG_STORE": str(tmp_path / "graph"), "KG_DATA_DIR": str(tmp_path / "kg-data")}
    data = tmp_path / "tiny.json"
    data.write_text('[{"tokens": ["Ann"], "tags": ["U-Peop"], "relations": []}]', encoding="utf-8")
    assert_clean_error(kg("extract", "eval", "--data", str(data), env=env), "kg extract train")
    assert_clean_error(kg("extract", "run", env=env), "PATH or --from-graph")
    assert_clean_error(kg("extract", "train", "--data", str(data), "--final", env=env), "--final needs --dev")


def test_run_summary_prints_schema_hints_verbatim(tmp_path: Path) -> None:
    """Summary lines quote ``[schema_extension]`` and rejected names: printed as text, not markup."""
    note = tmp_path / "note.txt"
    note.write_text("Tim Cook works for Apple in Cupertino.", encoding="utf-8")
    env = {
        "KG_STORE": str(tmp_path / "graph"),
        "KG_DATA_DIR": str(tmp_path / "kg-data"),
        "KG_EXTRACT__LABEL_MAP": '{"ORG": "[Company]", "PERSON": "Person"}',
    }
    run = kg("extract", "run", str(note), env=env)
    assert run.returncode == 0, run.stderr
    shown = " ".join(run.stdout.split())
    assert "label '[Company]' (from ORG)" in shown and "extend it under [schema_extension]" in shown
