"""What a user sees when they get something wrong (issue 11, items 1, 4, 5, 9, 12, 13, 14):
commands run in-process through Typer's CliRunner on a real store and a real registry
(Ctrl-C during a real `kg ingest` process: tests/integration/test_ingest_interrupted.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from embeddings.runs import RunSummary
from embeddings.tables import runs_table
from kg.config import load_settings
from kg.errors import ConfigError
from kg.store import open_store
from tests.helpers import invoke, one_line, write_shared_id_graph


# ------------------------------------------------------------------ usage errors: Click's own, exit 2
@pytest.mark.parametrize(
    "args",
    [["stats", "--foo"], ["recomend"], ["recommend", "1", "--kk", "3"], ["stats", "extra"], ["predict"],
     ["train", "--epochs", "0"], ["query", "MATCH (n) RETURN n", "--max-rows", "-1"], [], ["models"]],
)  # fmt: skip
def test_usage_errors_are_clicks_with_exit_code_2(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Usage: kg" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


def test_a_typo_in_a_command_suggests_the_command() -> None:
    result = invoke("recomend")
    assert result.exit_code == 2 and "No such command 'recomend'" in result.output
    assert "Did you mean 'recommend'" in one_line(result.output)


def test_a_users_mistake_is_one_red_line_with_exit_code_1(tmp_path: Path) -> None:
    result = invoke("query", str(tmp_path / "nope.cypher"))
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'nope.cypher'}: file not found."


# ------------------------------------------------------------------ kg models remove
@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A data folder with a graph, two run folders and an unrelated folder beside it."""
    data = tmp_path / "kg-data"
    for run in ("20250101-000000-distmult", "20250102-000000-transe"):
        (data / "models" / run).mkdir(parents=True)
        (data / "models" / run / "model.json").write_text("{}")
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "data.kz").write_text("the graph")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("not a model")
    (data / "models" / "20250103-000000-link").symlink_to(tmp_path / "other")
    return tmp_path


def everything(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "run", ["..", "../models", ".", "/", "OTHER", "20250101-000000-distmult/..", "20250103-000000-link"]
)
def test_models_remove_refuses_anything_but_a_run_folder(run: str, registry: Path) -> None:
    run = str(registry / "other") if run == "OTHER" else run
    before = everything(registry)
    result = invoke("models", "remove", run, "--yes", data=registry)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error:") and (
        "is not a run id" in result.output or "No model run" in result.output
    )
    assert everything(registry) == before


def test_an_empty_run_id_is_a_usage_error_that_removes_nothing(registry: Path) -> None:
    before = everything(registry)
    result = invoke("models", "remove", "", "--yes", data=registry)  # kg models remove "$UNSET"
    assert result.exit_code == 2 and "an argument is empty" in one_line(result.output)
    assert everything(registry) == before


def test_models_remove_asks_before_the_newest_or_several_runs(registry: Path) -> None:
    models = registry / "kg-data" / "models"
    newest = invoke("models", "remove", "20250103-000000-link", data=registry)
    assert newest.exit_code == 1  # a symlink is not a run, even as the newest name
    refused = invoke("models", "remove", "20250102-000000-transe", data=registry)
    assert refused.exit_code == 1 and "is the newest run" in refused.output and "--yes" in refused.output
    assert (models / "20250102-000000-transe").is_dir()
    several = invoke("models", "remove", "20250101-000000-distmult", "20250102-000000-transe", data=registry)
    assert several.exit_code == 1 and "deletes 2 model runs" in one_line(several.output)
    assert (models / "20250101-000000-distmult").is_dir()
    removed = invoke(
        "models", "remove", "20250101-000000-distmult", "20250102-000000-transe", "--yes", data=registry
    )
    assert removed.exit_code == 0, removed.output
    assert sorted(p.name for p in models.iterdir()) == ["20250103-000000-link"]
    assert (registry / "other" / "keep.txt").read_text() == "not a model"
    assert (registry / "graph" / "data.kz").read_text() == "the graph"


def test_models_remove_of_an_older_run_needs_no_confirmation(registry: Path) -> None:
    (registry / "kg-data" / "models" / "20250103-000000-link").unlink()
    result = invoke("models", "remove", "20250101-000000-distmult", data=registry)
    assert result.exit_code == 0 and "Removed" in result.output
    assert not (registry / "kg-data" / "models" / "20250101-000000-distmult").exists()


def test_the_run_table_keeps_run_ids_whole_at_80_columns() -> None:
    run_id = "20261201-113000-distmult-text-12"
    runs = [
        RunSummary(
            run_id,
            "distmult",
            "2026-12-01T11:30:00",
            True,
            {"mrr": 0.1, "hits_at_10": 0.2},
            True,
            Path(run_id),
        )
    ]
    console = Console(width=80, record=True)
    console.print(runs_table(runs))
    assert run_id in console.export_text()


# ------------------------------------------------------------------ kg query parameters
@pytest.fixture
def people(tmp_path: Path) -> Path:
    with open_store(load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")) as store:
        store.upsert_nodes(
            "User",
            pd.DataFrame(
                {"id": ["1", "2", "3"], "age": [24, 53, 31], "zip_code": ["02139", "10001", "94110"]}
            ),
        )
    return tmp_path


def test_query_parameters_are_typed(people: Path) -> None:
    plus = invoke("query", "RETURN $x + 1 AS y", "-p", "x=1", data=people)
    assert plus.exit_code == 0 and "│ 2 │" in plus.output, plus.output
    older = invoke(
        "query",
        "MATCH (u:User) WHERE u.age > $a RETURN u.id AS id ORDER BY id LIMIT $k",
        "-p",
        "a=30",
        "-p",
        "k=5",
        data=people,
    )
    assert older.exit_code == 0, older.output
    assert "│ 2  │" in older.output and "│ 3  │" in older.output and "│ 1  │" not in older.output
    by_id = invoke(
        "query", "MATCH (u:User) WHERE u.id = $id RETURN u.age AS age", "-p", "id:str=2", data=people
    )
    assert by_id.exit_code == 0 and "53" in by_id.output
    quoted = invoke(
        "query", "MATCH (u:User) WHERE u.zip_code = $z RETURN u.id AS id", "-p", "z='02139'", data=people
    )
    assert quoted.exit_code == 0 and "│ 1  │" in quoted.output, quoted.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["RETURN $x + $y AS s", "-p", "x=1"], "needs --param y=..."),
        (["RETURN $x AS s", "-p", "x=1", "-p", "typo=2"], "has no parameter(s) typo; it takes x"),
        (["RETURN $x AS s", "-p", "x:int=abc"], "Parameter x: invalid literal"),
        (["RETURN $x AS s", "-p", "x:long=1"], "unknown type 'long'"),
        (["RETURN $x AS s", "-p", "x=1", "-p", "x=2"], "--param x is given twice"),
    ],
)
def test_query_parameter_mistakes_are_one_line(args: list[str], message: str, people: Path) -> None:
    result = invoke("query", *args, data=people)
    assert (
        result.exit_code == 1 and result.output.startswith("error:") and message in one_line(result.output)
    ), result.output


# ------------------------------------------------------------------ config typos
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[recomend]\nk = 3\n", "unknown section 'recomend'; did you mean 'recommend'?"),
        ("[recommend]\nkk = 3\n", "unknown key 'recommend.kk'; did you mean 'k'?"),
        ("stor = 'x'\n", "unknown key 'stor'; did you mean 'store'?"),
        ("[embeddings]\nmodle = 'transe'\n", "did you mean 'model'?"),
    ],
)
def test_config_typos_are_errors_with_the_nearest_name(toml: str, message: str, tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert message in str(error.value)


def test_free_form_config_tables_take_any_key(tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text('[extract.label_map]\nFOO = "Entity"\n[extract.aliases]\n"Big Blue" = "IBM"\n')
    assert load_settings(config).extract.aliases == {"Big Blue": "IBM"}


# ------------------------------------------------------------------ kg train, kg predict
@pytest.fixture(scope="module")
def shared_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shared_id_graph(tmp_path_factory.mktemp("shared-ids"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-o", "label_smoothing=abc"], "label_smoothing='abc' must be a number"),
        (["--lr", "0"], "lr=0.0 must be greater than 0"),
        (["-o", "loss=nope"], "loss='nope' is not one of"),
        (["--resume"], "Nothing to resume"),
    ],
)
def test_kg_train_refuses_bad_options_before_training(
    options: list[str], message: str, shared_ids: Path
) -> None:
    result = invoke("train", "--epochs", "2", *options, data=shared_ids)
    assert result.exit_code == 1 and message in one_line(result.output), result.output
    assert not list((shared_ids / "kg-data" / "models").glob("2*")), "no run registered"


# ------------------------------------------------------------------ help text
def test_help_shows_bracketed_names() -> None:
    result = invoke("schema", "--help")
    assert "[schema_extension]" in result.output
