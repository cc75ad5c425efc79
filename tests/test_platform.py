"""The Python API, run as the README's "Use from Python" shows it, on a real embedded store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.errors import InputError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text("utf-8")
    section = text[text.index("## Use from Python") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
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


def test_the_platform_reports_a_users_mistake_as_the_cli_does(tmp_path: Path) -> None:
    from kg import Platform

    platform = Platform.open(tmp_path / "graph", data_dir=tmp_path / "kg-data")
    with pytest.raises(InputError, match="does not exist"):
        platform.ingest(tmp_path / "nope.csv", mapping=tmp_path / "nope.toml")
    assert not (tmp_path / "graph").exists(), "a failed check creates no store"
