"""kg train on a graph in the embedded store, the model registry, predictions, write-back,
refusal of damaged or mismatched artifacts, and the kg commands around them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embeddings.artifact import ModelArtifactError
from embeddings.predict import entity_names, predict_links
from embeddings.runs import list_runs, load_model, remove_run, use_run
from embeddings.workflow import TrainReport, train_from_store
from kg.config import Settings, load_settings
from kg.errors import NotFoundError
from kg.store import GraphStore, open_store
from tests.helpers import ROOT, invoke, write_shared_id_graph
from tests.shop_graph import ShopGraph, build_shop_graph

QUICK = {"num_epochs": 6, "embedding_dim": 16, "eval_every": 3}


@dataclass
class TrainedShop:
    settings: Settings
    shop: ShopGraph
    report: TrainReport


@pytest.fixture(scope="module")
def trained_shop(tmp_path_factory: pytest.TempPathFactory) -> TrainedShop:
    root = tmp_path_factory.mktemp("trained-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    with open_store(settings) as store:
        shop = build_shop_graph(store, root / "shop")
        report = train_from_store(settings, store, model="distmult", **QUICK)
    return TrainedShop(settings, shop, report)


@pytest.fixture
def run_copy(trained_shop: TrainedShop) -> Iterator[Path]:
    """A copy of the trained run that a test may damage."""
    source = trained_shop.report.path
    copy = source.with_name(source.name + "-copy")
    shutil.copytree(source, copy)
    yield copy
    shutil.rmtree(copy, ignore_errors=True)


def test_a_run_is_registered_loaded_and_selected(trained_shop: TrainedShop) -> None:
    settings, report = trained_shop.settings, trained_shop.report
    runs = list_runs(settings)
    assert [r.run_id for r in runs] == [report.path.name]
    assert runs[0].model_name == "distmult" and runs[0].metrics["mrr"] == report.trained.metrics["mrr"]
    loaded = load_model(settings)  # the newest when none is selected
    assert loaded.run_id == report.trained.run_id
    users = ["User:" + u for u in trained_shop.shop.users["id"].head(3)]
    assert np.allclose(loaded.score_tails(users, "PURCHASED"), report.trained.score_tails(users, "PURCHASED"))
    use_run(settings, report.path.name)
    assert (settings.models_dir / "SELECTED").read_text().strip() == report.path.name
    assert load_model(settings).run_id == report.path.name
    assert report.trained.fingerprint and report.trained.info["splits"]["train"] > 0


def test_embeddings_are_written_onto_nodes(trained_shop: TrainedShop) -> None:
    report = trained_shop.report
    assert report.written["Item"] == len(trained_shop.shop.items)
    with open_store(trained_shop.settings, read_only=True) as store:
        items = pd.concat(
            store.iter_nodes("Item", properties=["embedding_distmult", "embedding_distmult_run"])
        )
    assert items["embedding_distmult"].map(len).eq(16).all()
    assert items["embedding_distmult_run"].eq(report.trained.run_id).all()
    first = items.iloc[0]
    expected = report.trained.entity_embeddings([f"Item:{first['id']}"])[0]
    assert np.allclose(first["embedding_distmult"], expected, atol=1e-6)


def test_predictions_are_new_links_of_the_right_label(trained_shop: TrainedShop) -> None:
    shop = trained_shop.shop
    user = shop.purchased["from_id"].value_counts().index[0]
    with open_store(trained_shop.settings, read_only=True) as store:
        trained = load_model(trained_shop.settings, store=store)
        tails = predict_links(trained, store, head=f"User:{user}", relation="PURCHASED", k=5)
        heads = predict_links(
            trained, store, tail=f"Item:{shop.items['id'].iloc[0]}", relation="PURCHASED", k=4
        )
        bare = predict_links(trained, store, head=user, relation="PURCHASED", k=5)
    bought = set("Item:" + shop.purchased.loc[shop.purchased["from_id"] == user, "to_id"])
    assert len(tails) == 5 and tails["tail"].str.startswith("Item:").all()
    assert not set(tails["tail"]) & bought
    assert tails["score"].is_monotonic_decreasing and tails["name"].ne("").all()
    assert len(heads) == 4 and heads["head"].str.startswith("User:").all()
    assert bare["tail"].tolist() == tails["tail"].tolist()  # a bare id resolves to User:<id>


def test_a_damaged_artifact_is_refused(trained_shop: TrainedShop, run_copy: Path) -> None:
    settings = trained_shop.settings
    weights = run_copy / "model.pt"
    original = weights.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    with pytest.raises(ModelArtifactError, match=r"corrupted: model\.pt"):
        load_model(settings, run_copy.name)
    assert any(r.run_id == run_copy.name and r.problem for r in list_runs(settings))
    weights.write_bytes(original)
    assert load_model(settings, run_copy.name).entities
    (run_copy / "metrics.json").unlink()
    with pytest.raises(ModelArtifactError, match="incomplete"):
        load_model(settings, run_copy.name)
    manifest = json.loads((run_copy / "manifest.json").read_text())
    manifest["files"]["model.pt"] = "0" * 64
    (run_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="modified"):
        load_model(settings, run_copy.name)
    remove_run(settings, run_copy.name)
    assert not run_copy.exists()


def test_a_model_of_another_graph_is_refused_and_a_grown_graph_accepted(
    trained_shop: TrainedShop, tmp_path: Path
) -> None:
    other = load_settings(store=str(tmp_path / "other"), data_dir=trained_shop.settings.data_dir)
    with open_store(other) as store:
        build_shop_graph(store, tmp_path / "other-shop", seed=99)  # same ids, other purchases
        with pytest.raises(ModelArtifactError, match="different graph"):
            load_model(other, trained_shop.report.path.name, store=store)
    with open_store(trained_shop.settings) as store:
        store.upsert_nodes(
            "Item", pd.DataFrame({"id": ["P77777"], "name": ["Brand New Lamp"], "kind": ["product"]})
        )
        assert load_model(trained_shop.settings, store=store).run_id == trained_shop.report.path.name


def test_nodes_without_a_name_are_shown_without_one(store: GraphStore) -> None:
    # MovieLens users have no name: `kg predict '?' RATED Item:50` showed "nan" for them
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1"], "age": [30]}))
    store.upsert_nodes("Item", pd.DataFrame({"id": ["i1"], "name": ["Lamp"]}))
    assert entity_names(store, ["User:u1", "Item:i1", "Genre:none"]) == {"Item:i1": "Lamp"}


def test_missing_runs_say_what_to_do(tmp_path: Path, trained_shop: TrainedShop) -> None:
    empty = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "nothing")
    with pytest.raises(NotFoundError, match="run `kg train` first"):
        load_model(empty)
    with pytest.raises(NotFoundError, match="Known runs"):
        load_model(trained_shop.settings, "20000101-000000-transe")


def test_kg_train_models_and_predict_commands(trained_shop: TrainedShop) -> None:
    from cli import app

    settings = trained_shop.settings
    env = {"COLUMNS": "200", "KG_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    base = ["--store", settings.store]
    trained = runner.invoke(
        app,
        [*base, "train", "--model", "transe", "--epochs", "4", "--dim", "8", "--holdout", "leave-one-out"],
        env=env,
    )
    assert trained.exit_code == 0, trained.output
    assert "hr_at_10" in trained.output and "Wrote embeddings" in trained.output
    runs = list_runs(settings)
    newest = next(r for r in runs if r.model_name == "transe")
    assert 0.0 <= newest.metrics["hr_at_10"] <= 1.0 and newest.metrics["holdout_triples"] > 10
    listed = runner.invoke(app, [*base, "models", "list"], env=env)
    assert newest.run_id in listed.output and trained_shop.report.path.name in listed.output
    assert runner.invoke(app, [*base, "models", "use", newest.run_id], env=env).exit_code == 0
    shown = runner.invoke(app, [*base, "models", "show"], env=env)
    assert shown.exit_code == 0 and "transe" in shown.output and "since training" in shown.output
    user = trained_shop.shop.purchased["from_id"].iloc[0]
    predicted = runner.invoke(app, [*base, "predict", f"User:{user}", "PURCHASED", "-k", "3"], env=env)
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.count("Item:") == 3 and newest.run_id in predicted.output
    item = trained_shop.shop.items["id"].iloc[0]
    heads = runner.invoke(app, [*base, "predict", "?", "PURCHASED", f"Item:{item}", "-k", "2"], env=env)
    assert heads.exit_code == 0, heads.output
    assert heads.output.count("User:") == 2 and heads.output.count(f"Item:{item}") == 3  # title + 2 rows
    both = runner.invoke(app, [*base, "predict", f"User:{user}", "PURCHASED", f"Item:{item}"], env=env)
    assert both.exit_code == 1 and "'?' RELATION TAIL" in both.output


def test_kg_train_resume_continues_an_interrupted_run(tmp_path: Path) -> None:
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
    with open_store(settings) as store:
        build_shop_graph(store, tmp_path / "shop")

        class StopAfterTwoEpochs:
            @contextmanager
            def task(self, description: str, total: float | None) -> Iterator[None]:
                self.epochs = 0 if description.startswith("Training") else None
                yield

            def advance(self, amount: float = 1) -> None:
                if self.epochs is not None:
                    self.epochs += 1
                    if self.epochs == 3:
                        raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train_from_store(settings, store, model="distmult", progress=StopAfterTwoEpochs(), **QUICK)
        assert list((settings.models_dir / ".checkpoints").glob("distmult-*.pt"))
        assert list_runs(settings) == []
        resumed = train_from_store(settings, store, model="distmult", resume=True, **QUICK)
        fresh = train_from_store(settings, store, model="distmult", **QUICK)
    assert resumed.resumed and not fresh.resumed
    assert resumed.trained.metrics["epochs"] == fresh.trained.metrics["epochs"]
    assert np.allclose(resumed.trained.entity_embeddings(), fresh.trained.entity_embeddings(), atol=1e-5)
    assert not list((settings.models_dir / ".checkpoints").glob("*.pt"))


def test_a_damaged_model_is_one_clear_error_line(trained_shop: TrainedShop, run_copy: Path) -> None:
    (run_copy / "entities.json").write_text("[]")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli import main; main()",
            "--store",
            trained_shop.settings.store,
            "models",
            "show",
            run_copy.name,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "KG_DATA_DIR": str(trained_shop.settings.data_dir), "COLUMNS": "200"},
        timeout=300,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert " ".join(result.stderr.split()).startswith("error: Model artifact")
    assert "entities.json does not match its checksum" in " ".join(result.stderr.split())


def test_kg_predict_takes_a_bare_id_from_the_relations_head_label(tmp_path: Path) -> None:
    """Users and items share ids (as in MovieLens): a bare id is the relation's head."""
    shared_ids = write_shared_id_graph(tmp_path)
    trained = invoke(
        "train", "--epochs", "3", "--dim", "8", "--no-write", "-o", "eval_every=1", data=shared_ids
    )
    assert trained.exit_code == 0, trained.output
    predicted = invoke("predict", "1", "RATED", "-k", "3", data=shared_ids)
    assert predicted.exit_code == 0, predicted.output
    assert "User:1" in predicted.output and "Item:" in predicted.output
    assert "Film" in predicted.output
