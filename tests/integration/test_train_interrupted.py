"""`kg train` killed at any point and run again: one valid model, nothing half-written
registered, nothing trained twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from embeddings.checkpoints import AtomicCheckpoints
from embeddings.runs import list_runs, load_model
from embeddings.train import TRAINING_LOOPS
from embeddings.workflow import train_from_store
from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store
from tests.helpers import KG, ROOT, assert_clean_error, kg

# 30 epochs of about 0.1 s on this graph; validation every 10 epochs, so the run is
# long enough to be killed between checkpoints and ends at epoch 30 either way
TRAIN = ["train", "--model", "distmult", "--epochs", "30", "--dim", "16", "--option", "eval_every=10"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated shop in the embedded store (8,393 triples)."""
    root = tmp_path_factory.mktemp("train-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "unused")
    with open_store(settings) as store:
        for data, mapping in generate_shop(root / "files", ShopSize(users=200, items=80, reviews=0), seed=5):
            ingest_path(store, data, mapping=mapping)
    return root / "graph"


def settings_for(graph: Path, data_dir: Path) -> Settings:
    return load_settings(store=str(graph), data_dir=data_dir)


def wait_for_checkpoint(folder: Path, victim: subprocess.Popen[bytes], timeout: float = 120) -> Path:
    """The checkpoint file once training has written it at least twice (two epochs done)."""
    deadline = time.monotonic() + timeout
    seen: tuple[Path, int] | None = None
    while time.monotonic() < deadline and victim.poll() is None:
        found = sorted(folder.glob("*.pt")) if folder.is_dir() else []
        found = [p for p in found if not p.name.endswith("-best.pt")]
        if found:
            stamp = found[0].stat().st_mtime_ns
            if seen is not None and seen[1] != stamp:
                return found[0]
            seen = seen or (found[0], stamp)
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint appeared in {folder} (training exit code {victim.poll()})")


def test_killed_training_resumes_to_one_valid_run(shop: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for(shop, data_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KG_DATA_DIR": str(data_dir)}
    victim = subprocess.Popen(
        [*KG, "--store", str(shop), *TRAIN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = wait_for_checkpoint(settings.models_dir / ".checkpoints", victim)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, "training finished before it could be killed"
    assert list_runs(settings) == [], "a killed run is never registered"

    # a checkpoint cut short (as a kill during a plain in-place write would leave it) is
    # one clear line that says how to start over, and registers nothing
    complete = checkpoint.read_bytes()
    checkpoint.write_bytes(complete[: len(complete) // 3])
    cut = kg("--store", str(shop), *TRAIN, "--resume", env={"KG_DATA_DIR": str(data_dir)})
    assert_clean_error(cut, "cannot be read", "without --resume")
    assert list_runs(settings) == []
    checkpoint.write_bytes(complete)

    resumed = kg("--store", str(shop), *TRAIN, "--resume", env={"KG_DATA_DIR": str(data_dir)})
    assert resumed.returncode == 0, resumed.stderr
    assert "Resumed the interrupted run" in resumed.stdout
    runs = list_runs(settings)
    assert len(runs) == 1 and runs[0].problem is None
    assert runs[0].metrics["epochs"] == 30 and 0 < runs[0].metrics["mrr"] <= 1
    assert (runs[0].path / "metrics.json").is_file()
    with open_store(settings, read_only=True) as store:
        trained = load_model(settings, store=store)  # checksums and the graph check pass
    assert trained.run_id == runs[0].run_id
    listed = kg("--store", str(shop), "models", "list", env={"KG_DATA_DIR": str(data_dir)})
    assert listed.stdout.count(runs[0].run_id[:15]) == 1  # the table may shorten the id
    assert not list((settings.models_dir / ".checkpoints").iterdir()), "no checkpoint left behind"

    # the same model an uninterrupted run gives
    reference_dir = tmp_path / "reference"
    reference = kg("--store", str(shop), *TRAIN, env={"KG_DATA_DIR": str(reference_dir)})
    assert reference.returncode == 0, reference.stderr
    uninterrupted = load_model(settings_for(shop, reference_dir))
    assert uninterrupted.metrics["epochs"] == trained.metrics["epochs"]
    assert np.allclose(uninterrupted.entity_embeddings(), trained.entity_embeddings(), atol=1e-5)


def test_killed_during_write_back_finishes_without_a_second_run(shop: Path, tmp_path: Path) -> None:
    settings = settings_for(shop, tmp_path / "data")

    class KilledDuringWriteBack:
        @contextmanager
        def task(self, description: str, total: float | None) -> Iterator[None]:
            if description.startswith("Writing embedding"):
                raise KeyboardInterrupt
            yield

        def advance(self, amount: float = 1) -> None:
            pass

    quick = {"num_epochs": 4, "embedding_dim": 8}
    with open_store(settings) as store:
        with pytest.raises(KeyboardInterrupt):
            train_from_store(settings, store, model="distmult", progress=KilledDuringWriteBack(), **quick)
        saved = list_runs(settings)
        assert len(saved) == 1, "the run was saved before the write-back began"
        report = train_from_store(settings, store, model="distmult", resume=True, **quick)
        written = store.query("MATCH (u:User) WHERE u.embedding_distmult IS NOT NULL RETURN count(*) AS n")
    assert report.resumed and report.path == saved[0].path
    assert [r.run_id for r in list_runs(settings)] == [saved[0].run_id], "not trained twice"
    assert report.written["User"] == 200 and written["n"][0] == 200


class _HalfWrite:
    """A training loop whose checkpoint write dies half way."""

    def _save_state(self, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt


class _Loop(AtomicCheckpoints, _HalfWrite):
    pass


def test_a_checkpoint_write_cut_short_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    checkpoint = tmp_path / "distmult-key.pt"
    checkpoint.write_bytes(b"the complete previous checkpoint")
    with pytest.raises(KeyboardInterrupt):
        _Loop()._save_state(path=checkpoint)
    assert checkpoint.read_bytes() == b"the complete previous checkpoint"
    assert all(issubclass(loop, AtomicCheckpoints) for loop in TRAINING_LOOPS.values())
