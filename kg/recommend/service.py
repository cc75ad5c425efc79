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
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from filelock import FileLock

from embeddings.live import live_model, registry_state
from kg.config import Settings
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.filters import ItemFilter
from kg.recommend.interactions import PATH_SEPARATOR, export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.signals.base import ScorerContext
from kg.recommend.signals.kge import LinkPrediction
from kg.recommend.writeback import write_recommendations
from kg.store.base import GraphStore

MODEL_FILE = "recommender.joblib"
# Settings the fitted model does not depend on: how many items a command shows (``k``) and
# what only `kg evaluate` reads. Changing them must neither refit nor change results.
NOT_FITTED_ON = frozenset({"k", "test_fraction", "baselines"})
# Labels the recommender never reads: writing segments, documents, messages or campaigns
# must not make it refit.
NOT_READ_LABELS = frozenset({"Segment", "Document", "Message", "Campaign"})


def model_path(settings: Settings) -> Path:
    """Beside, not inside, ``models_dir``: that folder is the KGE run registry."""
    return settings.data_dir / "recommender" / MODEL_FILE


def live_kge_model(store: GraphStore, settings: Settings) -> tuple[Any | None, str | None]:
    """The KGE model ``kg train`` registered for this graph, or None and why not."""
    trained, why_not = live_model(settings, store)
    return trained, None if trained is not None else f"link prediction (kge) is off: {why_not}"


def recommender_fingerprint(
    store: GraphStore, settings: Settings, registry: list[tuple[str, int]] | None = None
) -> str:
    """What the recommender depends on: nodes and relationships it reads, the settings it
    is fitted with (not ``NOT_FITTED_ON``), the state of the KGE model registry."""
    config = settings.recommend
    rels = set(config.interaction_relations)
    for path in [*config.item_attribute_paths, *config.user_cohort_paths]:
        rels.update(path.split(PATH_SEPARATOR))
    counts = store.counts()
    payload = {
        "store": settings.store,
        "nodes": {label: n for label, n in counts.nodes.items() if label not in NOT_READ_LABELS},
        "relationships": {rel: counts.relationships.get(rel, 0) for rel in sorted(rels)},
        "recommend": config.model_dump(mode="json", exclude=set(NOT_FITTED_ON)),
        "embeddings": settings.embeddings.model_dump(mode="json"),
        "kge_registry": registry or [],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_recommender(
    store: GraphStore, settings: Settings, *, refit: bool = False, progress: ProgressReporter | None = None
) -> Recommender:
    """The fitted recommender for this graph: from disk if still current, else fitted now;
    its default count of items to show is the current ``recommend.k``."""
    recommender = _current_recommender(store, settings, refit=refit, progress=progress)
    recommender.k = settings.recommend.k
    return recommender


def _current_recommender(
    store: GraphStore, settings: Settings, *, refit: bool, progress: ProgressReporter | None
) -> Recommender:
    path = model_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = recommender_fingerprint(store, settings, registry_state(settings))
    with FileLock(str(path) + ".lock"):
        cached = None if refit else _load_cached(path, fingerprint)
        if cached is not None and all(s.restore(store, settings) for s in cached.scorers.values()):
            return cached
        config, notes, pretrained = settings.recommend, [], {}
        context = ScorerContext.from_settings(settings)
        if "kge" in config.signals:
            trained, why_not = live_kge_model(store, settings)
            if trained is None:
                config = config.model_copy(update={"signals": [s for s in config.signals if s != "kge"]})
                notes.append(str(why_not))
            else:  # tuning fits in-memory models of the same kind on the validation split
                context = replace(context, kge_model=trained.model_name)
                pretrained["kge"] = LinkPrediction(context, trained=trained)
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
    with progress.task("Recommending for every user", len(users)):
        frames = list(recommender.recommend_users(users, k, item_filter, explain=True, progress=progress))
    return write_recommendations(
        store, pd.concat(frames, ignore_index=True), recommender.name, recommender.created_at
    )


def discard_fitted(settings: Settings) -> bool:
    """Delete the fitted recommender (``kg forget``: it holds rows of the people it was fitted
    on); the next request fits a new one on the graph as it is. True if one was there."""
    path = model_path(settings)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
