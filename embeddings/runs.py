"""The model registry: one directory per training run under ``<data_dir>/models/``.

``kg models use RUN`` selects a run (written to ``models/SELECTED``); otherwise the
newest run is used. A run is written to a temporary directory and renamed into place, so
an interrupted save never leaves a half artifact that looks complete. Loading verifies
checksums and, given the store, that the graph is the one the model was trained on.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.artifact import ModelArtifactError, TrainedModel, verify_artifact
from embeddings.triples import export_triples, triples_fingerprint
from kg.config import Settings
from kg.errors import InputError, KGError, NotFoundError
from kg.ids import is_folder_name
from kg.store import GraphStore, open_store

SELECTED_FILE = "SELECTED"
# A model whose sampled training facts are mostly missing was trained on another graph.
MIN_TRIPLE_OVERLAP = 0.9


@dataclass(frozen=True)
class RunSummary:
    """One line of ``kg models list``."""

    run_id: str
    model_name: str
    created_at: str
    text: bool
    metrics: dict[str, Any]
    selected: bool
    path: Path
    problem: str | None = None


def registry_dir(settings: Settings) -> Path:
    return settings.models_dir


def new_run_id(model_name: str, text: bool = False) -> str:
    """Sortable and readable: ``20250101-120000-transe-text``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{model_name}{'-text' if text else ''}"


def save_run(settings: Settings, trained: TrainedModel) -> Path:
    """Store a trained model as a new run; returns its directory."""
    root = registry_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    run_id = (
        trained.run_id
        if not trained.run_id.startswith("unsaved")
        else new_run_id(trained.model_name, trained.text_aware)
    )
    final = root / run_id
    suffix = 1
    while final.exists():
        suffix += 1
        final = root / f"{run_id}-{suffix}"
    trained.run_id = final.name
    trained.info.setdefault("created_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    staging = root / f".tmp-{final.name}"
    shutil.rmtree(staging, ignore_errors=True)
    trained.save(staging)
    staging.rename(final)
    return final


def forget_entities(settings: Settings, entities: Sequence[str]) -> list[str]:
    """Erase ``entities`` from every stored run that holds them (``kg forget``); the runs
    changed, each rewritten beside itself and swapped in, so a crash leaves the old or
    the new run, never half of one. A damaged run cannot be read: it is deleted."""
    wanted = set(entities)
    changed = []
    _recover_interrupted_forget(registry_dir(settings))
    for summary in list_runs(settings):
        if summary.problem is not None:
            shutil.rmtree(summary.path)
            changed.append(summary.run_id)
            continue
        names = json.loads((summary.path / "entities.json").read_text("utf-8"))
        if wanted.isdisjoint(names):
            continue
        trained = TrainedModel.load(summary.path, device="cpu")
        trained.forget_entities(sorted(wanted))
        staging = summary.path.parent / f".forget-{summary.run_id}"
        shutil.rmtree(staging, ignore_errors=True)
        trained.save(staging)
        retired = summary.path.parent / f".retired-{summary.run_id}"
        summary.path.rename(retired)
        staging.rename(summary.path)
        shutil.rmtree(retired)
        changed.append(summary.run_id)
    return changed


def _recover_interrupted_forget(root: Path) -> None:
    """Undo what a killed ``forget_entities`` left: a half-written copy goes, a run moved
    aside comes back (to be erased again), one already replaced is deleted."""
    if not root.is_dir():
        return
    for staging in root.glob(".forget-*"):
        shutil.rmtree(staging)
    for retired in root.glob(".retired-*"):
        original = root / retired.name.removeprefix(".retired-")
        if original.exists():
            shutil.rmtree(retired)
        else:
            retired.rename(original)


def list_runs(settings: Settings) -> list[RunSummary]:
    """Every run, newest first; a damaged one is listed with its problem."""
    root = registry_dir(settings)
    if not root.is_dir():
        return []
    selected = _selected_id(root)
    runs = []
    for path in sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")),
        reverse=True,
    ):
        try:
            verify_artifact(path)
            spec = json.loads((path / "model.json").read_text("utf-8"))
            metrics = json.loads((path / "metrics.json").read_text("utf-8"))
            runs.append(
                RunSummary(
                    run_id=path.name,
                    model_name=spec["model_name"],
                    created_at=spec.get("info", {}).get("created_at", ""),
                    text=bool(spec.get("text_dim")),
                    metrics=metrics,
                    selected=path.name == selected,
                    path=path,
                )
            )
        except ModelArtifactError as exc:
            runs.append(
                RunSummary(path.name, "?", "", False, {}, path.name == selected, path, problem=str(exc))
            )
    return runs


def find_run_by_key(settings: Settings, run_key: str) -> Path | None:
    """The newest intact run whose training had ``run_key`` (same data, options and seed;
    ``TrainedModel.info['run_key']``), or None."""
    for run in list_runs(settings):
        if run.problem is None:
            spec = json.loads((run.path / "model.json").read_text("utf-8"))
            if spec.get("info", {}).get("run_key") == run_key:
                return run.path
    return None


def resolve_run(settings: Settings, run_id: str | None = None) -> Path:
    """The directory of ``run_id``, else of the selected run, else of the newest run."""
    root = registry_dir(settings)
    if run_id is not None:
        return run_dir(settings, run_id)
    selected = _selected_id(root)
    if selected:
        path = root / selected
        if is_folder_name(selected) and path.is_dir() and not path.is_symlink():
            return path
        raise NotFoundError(
            f"The selected model run {selected!r} no longer exists in {root}; pick another with `kg models use`."
        )
    runs = list_runs(settings)
    if not runs:
        raise NotFoundError(f"No trained model in {root}; run `kg train` first.")
    return runs[0].path


def run_dir(settings: Settings, run_id: str) -> Path:
    """The folder of the run named ``run_id``: a run folder directly inside the registry.

    The id must be a plain folder name (``kg.ids.is_folder_name``) and the path must sit directly
    in the registry root, not through a symlink: ``kg models remove ..`` once wiped the
    whole data directory because the argument was joined to the root as a path."""
    root = registry_dir(settings)
    if not is_folder_name(run_id):
        raise InputError(
            f"{run_id!r} is not a run id: run ids look like 20250101-120000-distmult (see `kg models list`)."
        )
    path = root / run_id
    if not path.is_dir() or path.is_symlink() or path.resolve().parent != root.resolve():
        known = [r.run_id for r in list_runs(settings)]
        raise NotFoundError(
            f"No model run {run_id!r} in {root}. "
            + (f"Known runs: {', '.join(known[:10])}." if known else "Train one with `kg train`.")
        )
    return path


def use_run(settings: Settings, run_id: str) -> Path:
    """Select the run that ``load_model(settings)`` returns from now on."""
    path = resolve_run(settings, run_id)
    verify_artifact(path)
    (registry_dir(settings) / SELECTED_FILE).write_text(path.name + "\n", encoding="utf-8")
    return path


def removal_warning(settings: Settings, run_ids: list[str]) -> str | None:
    """Why removing ``run_ids`` deserves a confirmation, or None: more than one run at
    once, or the newest run (the one every command falls back to)."""
    paths = [run_dir(settings, run_id) for run_id in run_ids]
    if len({p.name for p in paths}) > 1:
        return f"This deletes {len(set(paths))} model runs: {', '.join(sorted({p.name for p in paths}))}."
    runs = list_runs(settings)
    if runs and runs[0].path.name == paths[0].name:
        return f"{paths[0].name} is the newest run: predictions and recommendations fall back to it."
    return None


def remove_run(settings: Settings, run_id: str) -> Path:
    """Delete a run (also a damaged one); clears the selection if it pointed there."""
    path = run_dir(settings, run_id)
    shutil.rmtree(path)
    root = registry_dir(settings)
    if _selected_id(root) == path.name:
        (root / SELECTED_FILE).unlink()
    return path


def load_model(
    settings: Settings,
    run_id: str | None = None,
    *,
    store: GraphStore | None = None,
    device: str | None = None,
) -> TrainedModel:
    """Load a run (default: the selected one, else the newest).

    Refuses a corrupted artifact (checksums) and, when ``store`` is given, a model
    trained on a different graph: if fewer than 90% of a sample of its training facts
    are in the store. A graph that only grew since training (new nodes, new facts) is fine.
    """
    path = resolve_run(settings, run_id)
    trained = TrainedModel.load(path, device=device)
    if store is not None:
        check_graph(trained, store)
    return trained


def check_graph(trained: TrainedModel, store: GraphStore) -> float:
    """Share of the model's sample of training triples that the store still holds; a
    ``ModelArtifactError`` when it is below ``MIN_TRIPLE_OVERLAP``.

    Facts, not ids: two generated shops share ids like ``User:U00001`` but not who bought
    what, while a graph that only grew since training keeps every sampled fact."""
    if not trained.sample:
        return 1.0
    wanted = {tuple(t) for t in trained.sample}
    relations = sorted({r for _, r, _ in wanted} & set(store.schema.rels))
    found = 0
    for batch in store.iter_triples(relations):
        found += sum(1 for t in batch.itertuples(index=False, name=None) if t in wanted)
    overlap = found / len(wanted)
    if overlap < MIN_TRIPLE_OVERLAP:
        raise ModelArtifactError(
            f"Model run {trained.run_id} was trained on a different graph: only {overlap:.0%} of a sample of "
            f"its training facts are in the store at {getattr(store, 'path', store.name)}. Train one on this "
            "graph with `kg train`, or point --store at the graph it was trained on."
        )
    return overlap


def graph_status(settings: Settings, trained: TrainedModel) -> str:
    """Whether the store still holds the graph a run was trained on, in words."""
    try:
        with open_store(settings, read_only=True) as store:
            check_graph(trained, store)
            triples = export_triples(store, trained.info.get("relations_config"))
    except KGError as exc:
        return f"not comparable: {exc}"
    if triples_fingerprint(triples) == trained.fingerprint:
        return f"unchanged since training (fingerprint {trained.fingerprint[:12]})"
    return (
        f"changed since training ({len(triples):,} triples now); predictions cover the entities it was "
        "trained on -- retrain with `kg train` to include the new facts"
    )


def _selected_id(root: Path) -> str | None:
    marker = root / SELECTED_FILE
    if not marker.is_file():
        return None
    return marker.read_text("utf-8").strip() or None
