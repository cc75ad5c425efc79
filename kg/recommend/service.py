"""The recommender for the live graph: fitted once, kept on disk, refit when the graph changes.

The fitted model lives in ``<data_dir>/recommender/`` with a fingerprint of what it
was fitted on (the store, the counts of the nodes and relationships it reads, the
recommend settings, the KGE model run). Any command finds it there in well under a
second; a changed graph or setting refits it automatically (``--refit`` forces it, e.g.
after properties changed but no counts did).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from filelock import FileLock

from kg.config import Settings
from kg.errors import KGError
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.evaluate import Evaluation, evaluate
from kg.recommend.filters import ItemFilter
from kg.recommend.interactions import PATH_SEPARATOR, export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.segments import Segmentation, segment_table, segment_users, write_segments
from kg.recommend.signals.base import ScorerContext
from kg.recommend.signals.kge import LinkPrediction
from kg.recommend.writeback import write_recommendations
from kg.store.base import GraphStore

MODEL_FILE = "recommender.joblib"


def model_path(settings: Settings) -> Path:
    """Beside, not inside, ``models_dir``: that folder is the KGE run registry."""
    return settings.data_dir / "recommender" / MODEL_FILE


def live_kge_model(store: GraphStore, settings: Settings) -> tuple[Any | None, str | None]:
    """The KGE model ``kg train`` registered for this graph, or None and why not."""
    try:
        from embeddings.registry import load_model

        return load_model(settings, store=store), None
    except KGError as exc:
        return None, f"link prediction (kge) is off: {exc}".replace("\n", " ")


def graph_fingerprint(store: GraphStore, settings: Settings, kge_run: str | None = None) -> str:
    """What the recommender depends on: nodes and relationships it reads, its settings,
    the KGE model run."""
    config = settings.recommend
    rels = set(config.interaction_relations)
    for path in [*config.item_attribute_paths, *config.user_cohort_paths]:
        rels.update(path.split(PATH_SEPARATOR))
    counts = store.counts()
    payload = {
        "store": settings.store,
        "nodes": {label: n for label, n in counts.nodes.items() if label not in ("Segment", "Document")},
        "relationships": {rel: counts.relationships.get(rel, 0) for rel in sorted(rels)},
        "recommend": config.model_dump(mode="json"),
        "embeddings": settings.embeddings.model_dump(mode="json"),
        "kge_run": kge_run,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_recommender(
    store: GraphStore, settings: Settings, *, refit: bool = False, progress: ProgressReporter | None = None
) -> Recommender:
    """The fitted recommender for this graph: from disk if still current, else fitted now."""
    path = model_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    config, notes, pretrained = settings.recommend, [], {}
    context = ScorerContext.from_settings(settings)
    if "kge" in config.signals:
        trained, why_not = live_kge_model(store, settings)
        if trained is None:
            config = config.model_copy(update={"signals": [s for s in config.signals if s != "kge"]})
            notes.append(str(why_not))
        else:
            pretrained["kge"] = LinkPrediction(context, trained=trained)
    fingerprint = graph_fingerprint(store, settings, getattr(pretrained.get("kge"), "run_id", None))
    with FileLock(str(path) + ".lock"):
        cached = None if refit else _load_cached(path, fingerprint)
        if cached is not None:
            for scorer in cached.scorers.values():
                if isinstance(scorer, LinkPrediction):
                    scorer.reattach(pretrained["kge"].trained)
            return cached
        progress = progress or SilentProgress()
        graph = export_interactions(store, config, progress)
        recommender = fit_recommender(graph, config, context, pretrained=pretrained, progress=progress)
        recommender.fingerprint = fingerprint
        recommender.notes = [*notes, *recommender.notes]
        partial = path.with_suffix(".partial")
        joblib.dump(recommender, partial)
        os.replace(partial, path)
    return recommender


def _load_cached(path: Path, fingerprint: str) -> Recommender | None:
    if not path.is_file():
        return None
    try:
        cached = joblib.load(path)
    except Exception:
        return None
    return cached if isinstance(cached, Recommender) and cached.fingerprint == fingerprint else None


def write_all_recommendations(
    store: GraphStore,
    recommender: Recommender,
    k: int | None = None,
    item_filter: ItemFilter | None = None,
    *,
    progress: ProgressReporter | None = None,
) -> int:
    """Recommend for every user and replace all their RECOMMENDED edges in one write."""
    progress = progress or SilentProgress()
    users = np.arange(recommender.graph.n_users)
    progress.start("Recommending for every user", len(users))
    try:
        frames = list(recommender.recommend_users(users, k, item_filter, explain=True, progress=progress))
    finally:
        progress.finish()
    return write_recommendations(
        store, pd.concat(frames, ignore_index=True), recommender.name, recommender.created_at
    )


def segment_graph(
    store: GraphStore,
    settings: Settings,
    k: int,
    *,
    write: bool = True,
    progress: ProgressReporter | None = None,
) -> tuple[Segmentation, pd.DataFrame, list[str]]:
    """Segment every user on KGE (else spectral) embeddings and behaviour; write them."""
    graph = export_interactions(store, settings.recommend, progress)
    trained, why_not = live_kge_model(store, settings)
    embeddings, source, notes = None, "spectral", []
    if trained is not None:
        entities = ["User:" + str(u) for u in graph.user_ids]
        known = np.array([e in trained.entity_to_id for e in entities])
        if known.all():
            embeddings, source = trained.entity_embeddings(entities), f"kge:{trained.run_id}"
        else:
            notes.append(
                f"{(~known).sum()} users are not in KGE model {trained.run_id}; using spectral embeddings"
            )
    else:
        notes.append(f"{why_not}; segmenting on spectral graph embeddings")
    segmentation = segment_users(
        graph, k, seed=settings.recommend.seed, embeddings=embeddings, embedding_source=source
    )
    if write:
        write_segments(store, graph, segmentation)
    return segmentation, segment_table(segmentation), notes


def evaluate_graph(
    store: GraphStore, settings: Settings, *, k: int | None = None, progress: ProgressReporter | None = None
) -> tuple[Evaluation, Path]:
    """Evaluate on the store's interactions; save the table as CSV and JSON under reports/."""
    graph = export_interactions(store, settings.recommend, progress)
    evaluation = evaluate(
        graph, settings.recommend, ScorerContext.from_settings(settings), k=k, progress=progress
    )
    folder = settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"evaluate-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    evaluation.table.to_csv(stem.with_suffix(".csv"), index=False)
    summary = {
        "k": evaluation.k,
        "seed": evaluation.seed,
        "users": evaluation.users,
        "items": evaluation.items,
        "train_interactions": evaluation.train_interactions,
        "test_interactions": evaluation.test_interactions,
        "seconds": round(evaluation.seconds, 1),
        "weights": evaluation.weights,
        "cold_weights": evaluation.cold_weights,
        "notes": evaluation.notes,
        "rows": evaluation.table.to_dict("records"),
    }
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return evaluation, stem.with_suffix(".json")
