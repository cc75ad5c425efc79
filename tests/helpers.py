"""What the test modules share: running `kg` (as a real process, or in-process through
Typer's CliRunner), reading its errors, small graphs several tiers build, and the shared
development data beside the checkout. Test modules import from here (or from the support
modules beside it: shop_graph, graph_shapes, library_answers...), never from each other."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli import app
from kg.config import load_settings
from kg.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
MOVIELENS = SHARED_DATA / "movielens-100k"
CONLL04 = SHARED_DATA / "conll04"

KG = [sys.executable, "-c", "from cli import main; main()"]


def require(path: Path) -> Path:
    """Skip (with the reason) when the shared development data is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"needs {path} (shared development data beside the checkout)")
    return path


def kg(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`kg ARGS` as a user runs it: a new process (the integration tier only; it imports
    torch and spaCy again each time)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.run([*KG, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def invoke(*args: str, env: dict[str, str] | None = None, data: Path | None = None) -> Result:
    """`kg ARGS` in this process through Typer's CliRunner (usage errors, red lines and exit
    codes are the same as a process's); ``data`` holds the store and the data folder."""
    paths = {"KG_STORE": str(data / "graph"), "KG_DATA_DIR": str(data / "kg-data")} if data else {}
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **paths, **(env or {})})


def one_line(output: str) -> str:
    """Output with its wrapping undone, to look for a message whatever the width."""
    return " ".join(output.split())


def assert_clean_error(result: subprocess.CompletedProcess[str] | Result, *fragments: str) -> None:
    """A user's mistake: exit code 1, no traceback, one message starting ``error:`` that
    holds each of ``fragments`` (from a process or from ``invoke``)."""
    code = result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    assert code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    shown = [line for line in result.stderr.splitlines() if "━" not in line]  # progress bars come first
    message = one_line(" ".join(shown))
    assert message.startswith("error:"), message
    for fragment in fragments:
        assert fragment in message, message


def kg_ingest(folder: Path, rows: str, mapping: str, name: str = "rows.csv") -> list[str]:
    """Write ``rows`` (file text) and ``mapping`` (TOML text) into ``folder`` and load them
    with `kg ingest` into a new store there; the ``--store`` options that name it."""
    data = folder / name
    data.write_text(rows)
    (folder / "mapping.toml").write_text(mapping)
    options = ["--store", str(folder / "graph")]
    loaded = kg(*options, "ingest", str(data), "--mapping", str(folder / "mapping.toml"))
    assert loaded.returncode == 0, loaded.stderr
    return options


def write_shared_id_graph(root: Path) -> Path:
    """Users and items with the same ids (1..8), as in MovieLens, in a store and data folder
    under ``root`` (the layout ``invoke(..., data=root)`` expects)."""
    ids = [str(i) for i in range(1, 9)]
    with open_store(load_settings(store=str(root / "graph"), data_dir=root / "kg-data")) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ids}))
        store.upsert_nodes("Item", pd.DataFrame({"id": ids, "name": [f"Film {i}" for i in ids]}))
        pairs = [(u, i) for u in ids for i in ids if (int(u) + int(i)) % 3 == 0]
        store.upsert_relationships("RATED", "User", "Item", pd.DataFrame(pairs, columns=["from_id", "to_id"]))
    return root


class RecordingProgress:
    """A progress reporter that remembers its total and how far it was advanced."""

    def __init__(self) -> None:
        self.total: float | None = None
        self.done = 0.0

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[None]:
        self.total, self.done = total, 0.0
        yield

    def advance(self, amount: float = 1) -> None:
        self.done += amount
