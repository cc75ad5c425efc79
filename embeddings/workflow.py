"""``kg train`` end to end: export -> split -> (text) -> train -> evaluate -> register -> write back.

Each stage is a function of its own module; this one strings them together for the CLI
and the demo, and owns the checkpoint that makes an interrupted run resumable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from embeddings.artifact import TrainedModel
from embeddings.checkpoints import check_checkpoint, partial_path
from embeddings.link_metrics import holdout_metrics
from embeddings.recipes import resolve_recipe
from embeddings.runs import find_run_by_key, load_model, save_run
from embeddings.text import text_features
from embeddings.train import check_triples, train_on_splits
from embeddings.triples import (
    check_holdout_mode,
    export_triples,
    holdout_interactions,
    split_triples,
    triples_fingerprint,
)
from embeddings.writeback import write_entity_embeddings
from kg.config import Settings
from kg.errors import InputError, NotFoundError
from kg.progress import ProgressReporter, SilentProgress
from kg.store import GraphStore

HoldoutMode = Literal["leave-one-out", "ratio"]


@dataclass
class TrainReport:
    """What ``kg train`` did."""

    trained: TrainedModel
    path: Path
    triples: int
    resumed: bool
    written: dict[str, int] = field(default_factory=dict)
    text_entities: int = 0


def train_from_store(
    settings: Settings,
    store: GraphStore,
    *,
    model: str | None = None,
    text: bool = False,
    resume: bool = False,
    write: bool | None = None,
    holdout: HoldoutMode | None = None,
    holdout_relation: str | None = None,
    progress: ProgressReporter | None = None,
    **overrides: Any,
) -> TrainReport:
    """Train on the graph in ``store``, save the run in the registry, write embeddings back.

    ``holdout`` removes user-item links (one per user, or a share) before training and
    reports HR@10 / NDCG@10 on them next to the link-prediction metrics. ``resume``
    continues an interrupted run with the same data and options from its checkpoint; if
    that run was already saved (killed during write-back), it finishes the write-back
    with the saved run instead of registering a second one.
    """
    progress = progress or SilentProgress()
    config = settings.embeddings
    name = model or config.model
    recipe = resolve_recipe(name, overrides)  # fail on bad options before any work
    if holdout:
        check_holdout_mode(holdout)
    triples = export_triples(store, config.relations, progress=progress)
    check_triples(triples)
    fingerprint = triples_fingerprint(triples)
    held_out = None
    if holdout:
        relation = holdout_relation or _interaction_relation(settings, triples)
        triples, held_out = holdout_interactions(triples, relation, mode=holdout, seed=config.seed)
    splits = split_triples(triples, config.split, seed=config.seed)
    features = None
    if text:
        features = text_features(store)
        if not features:
            raise InputError("No node has a text embedding yet; run `kg enrich` before `kg train --text`.")
    key = _run_key(recipe.to_dict(), fingerprint, config.seed, text, holdout, config.split)
    checkpoint = settings.models_dir / ".checkpoints" / f"{recipe.model}-{key}.pt"
    leftovers = (checkpoint, partial_path(checkpoint), checkpoint.with_name(checkpoint.stem + "-best.pt"))
    finished = find_run_by_key(settings, key) if resume else None
    if finished is not None:  # killed after the run was saved: finish, do not train it twice
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        trained = load_model(settings, finished.name)
        return TrainReport(
            trained, finished, len(triples), True, _write_back(settings, store, trained, write, progress)
        )
    resumed = resume and checkpoint.is_file()
    if resume and not resumed:
        raise NotFoundError(
            "Nothing to resume: no interrupted `kg train` with these options on this graph "
            f"(no checkpoint {checkpoint.name}). Run `kg train` without --resume to start one."
        )
    if resumed:
        check_checkpoint(checkpoint)
    if not resume:
        for path in leftovers:
            path.unlink(missing_ok=True)
    trained = train_on_splits(
        splits,
        recipe.model,
        text_features=features,
        seed=config.seed,
        progress=progress,
        device=config.device,
        threads=config.threads,
        checkpoint=checkpoint,
        fingerprint=fingerprint,
        **overrides,
    )
    if held_out is not None and not held_out.empty:
        trained.metrics.update(holdout_metrics(trained, held_out, triples))
    trained.info.update(relations_config=config.relations, holdout=holdout, triples=len(triples), run_key=key)
    path = save_run(settings, trained)
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    written = _write_back(settings, store, trained, write, progress)
    return TrainReport(trained, path, len(triples), resumed, written, len(features or {}))


def _write_back(
    settings: Settings,
    store: GraphStore,
    trained: TrainedModel,
    write: bool | None,
    progress: ProgressReporter,
) -> dict[str, int]:
    if settings.embeddings.write_embeddings if write is None else write:
        return write_entity_embeddings(store, trained, progress=progress)
    return {}


def _interaction_relation(settings: Settings, triples: Any) -> str:
    present = set(triples["relation"])
    for relation in settings.recommend.interaction_relations:
        if relation in present:
            return relation
    raise InputError(
        f"None of the interaction relations {settings.recommend.interaction_relations} is in the graph; "
        "pass --holdout-relation."
    )


def _run_key(recipe: dict[str, Any], fingerprint: str, seed: int, *options: Any) -> str:
    """Same data and options -> same checkpoint file, so `--resume` finds it."""
    raw = json.dumps([recipe, fingerprint, seed, *options], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
