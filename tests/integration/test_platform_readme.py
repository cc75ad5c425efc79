"""The README's "Use from Python" example, run as written on a real embedded store: it
ingests a generated shop, fits the recommender and asks every verb the CLI has."""

from __future__ import annotations

import re
from pathlib import Path

from kg.datasets.synthetic_shop import ShopSize, generate_shop
from tests.helpers import ROOT

README = ROOT / "README.md"


def readme_example() -> str:
    text = README.read_text("utf-8")
    section = text[text.index("## Use from Python") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_readme_example_runs_and_matches_the_cli_verbs(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    files = generate_shop(shop, ShopSize(users=60, items=40), seed=3)
    namespace = {"SHOP_FILES": files, "STORE": str(tmp_path / "graph"), "DATA_DIR": tmp_path / "kg-data"}
    exec(compile(readme_example(), "README.md", "exec"), namespace)  # the documented example
    counts, top = namespace["counts"], namespace["top"]
    assert counts.nodes["User"] == 60 and counts.nodes["Item"] >= 40
    assert list(top.columns[:5]) == ["user", "rank", "item", "name", "score"] and len(top) == 5
    assert "reason" in top.columns and top["reason"].str.len().gt(0).all()
    bought = set(namespace["bought"]["item"])
    assert not bought & set(top["item"]), "never a seen item"
    assert len(namespace["fans"]) == 10
