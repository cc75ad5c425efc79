"""The Python API on a real embedded store (the README's "Use from Python" example runs in
tests/integration/test_platform_readme.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.errors import InputError


def test_the_platform_reports_a_users_mistake_as_the_cli_does(tmp_path: Path) -> None:
    from kg import Platform

    platform = Platform.open(tmp_path / "graph", data_dir=tmp_path / "kg-data")
    with pytest.raises(InputError, match="does not exist"):
        platform.ingest(tmp_path / "nope.csv", mapping=tmp_path / "nope.toml")
    assert not (tmp_path / "graph").exists(), "a failed check creates no store"
