"""Path fuzzing: every `kg` argument that names a file, folder, run, model or query gets
"..", "", an absolute path outside the data folder and a symlink out of it. Whatever the
command answers, nothing outside the data folder changes unless the user named it as an
output, and the answer is a result or one clear line -- never a traceback.

Found by this test when it was written (issue 11): `kg extract train --name ..` (or an
absolute path) emptied that folder, because the run name was joined to the models folder;
`kg export ""` wrote into the working directory, and `kg export` into a folder of
other files deleted the `*.nodes.csv` files it found there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from kg.config import load_settings
from kg.store import open_store

runner = CliRunner()
HOSTILE = ["..", "", "OUTSIDE", "LINK", "../..", "/", "."]
OUTPUT_COMMANDS = {"export"}  # their argument names an output folder the user may create

# (command words, where the hostile value goes); "{}" is replaced by the value.
COMMANDS: list[list[str]] = [
    ["models", "show", "{}"],
    ["models", "use", "{}"],
    ["models", "remove", "{}", "--yes"],
    ["predict", "User:u1", "PURCHASED", "--run", "{}"],
    ["embed", "--run", "{}"],
    ["extract", "train", "--data", "{data}/train.json", "--epochs", "1", "--name", "{}"],
    ["extract", "train", "--data", "{data}/train.json", "--epochs", "1", "--encoder", "{}"],
    ["extract", "import-encoder", "{}", "--name", "imported"],
    ["extract", "import-encoder", "{data}/train.json", "--name", "{}"],
    ["extract", "eval", "--data", "{data}/train.json", "--model", "{}"],
    ["extract", "preview", "Ada works for Acme.", "--model", "{}"],
    ["query", "{}"],
    ["ingest", "{}"],
    ["ingest", "{data}/users.csv", "--mapping", "{}"],
    ["export", "{}"],
    ["--config", "{}", "stats"],
    ["datasets", "load", "movielens-100k", "--path", "{}"],
]


def snapshot(root: Path) -> dict[str, str]:
    """Content hash of every file under ``root`` (symlinks not followed)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/work (the working directory, holding kg-data and the graph) beside tmp/outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (outside / "precious.cypher").write_text("MATCH (n) RETURN n")
    (outside / "x.nodes.csv").write_text("id:ID\n1\n")
    work = tmp_path / "work"
    data = work / "input"
    data.mkdir(parents=True)
    (data / "users.csv").write_text("user_id\nu1\n")
    (data / "train.json").write_text(
        '[{"tokens": ["Ada", "works", "for", "Acme", "."], "tags": ["U-Peop", "O", "O", "U-Org", "O"], '
        '"relations": [{"head": 0, "tail": 1, "type": "Work_For"}]}]'
    )
    (work / "kg-data" / "models").mkdir(parents=True)
    (work / "kg-data" / "extract-models").mkdir(parents=True)
    with open_store(load_settings(store=str(work / "kg-data" / "graph"), data_dir=work / "kg-data")) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ["u1"]}))
    monkeypatch.chdir(work)
    return tmp_path


def hostile_value(value: str, sandbox: Path) -> str:
    if value == "OUTSIDE":
        return str(sandbox / "outside")
    if value == "LINK":
        link = sandbox / "work" / "kg-data" / "models" / "evil"
        if not link.is_symlink():
            link.symlink_to(sandbox / "outside")
        return "evil"
    return value


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w[:2]) for w in COMMANDS])
def test_hostile_paths_change_nothing_outside(words: list[str], sandbox: Path) -> None:
    before = snapshot(sandbox / "outside")
    for raw in HOSTILE:
        value = hostile_value(raw, sandbox)
        work_before = set(snapshot(sandbox / "work"))
        args = [w.replace("{data}", str(sandbox / "work" / "input")).replace("{}", value) for w in words]
        result = runner.invoke(
            app, args, env={"COLUMNS": "200", "KG_STORE": "kg-data/graph", "KG_DATA_DIR": "kg-data"}
        )
        assert result.exit_code in (0, 1, 2), (args, result.output)
        if result.exit_code == 1:
            assert result.output.startswith("error:"), (args, result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.exception!r}\n{result.output}")
        assert snapshot(sandbox / "outside") == before, (args, result.output)
        new = set(snapshot(sandbox / "work")) - work_before
        named_output = f"{value}/" if words[0] in OUTPUT_COMMANDS else "kg-data/"
        assert all(name.startswith(("kg-data/", named_output)) for name in new), (args, sorted(new))
