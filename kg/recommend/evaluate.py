"""Offline evaluation: the fused recommender, each signal alone and the baselines, on one
seeded per-user split, in one process, plus the ablation (the fusion refit without each
signal).

Protocol ``random``: every user's interactions are split 75/25 at random (seeded); the 75%
is split again 75/25 into an inner training part and a validation part on which every
model's hyper-parameters (and the fusion weights) are tuned; each model is then refit on
the full 75% and ranks the whole catalogue minus the user's training items; metrics are
computed against the held-out 25%. Protocol ``temporal`` holds out each user's newest
interactions instead (or everything after a cut-off date), and validation holds out the
newest of what is left, so nothing is tuned on a moment later than the one it is tested
on. No model sees the test interactions before it is scored.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.config import RecommendSettings, Settings
from kg.errors import InputError
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.ablation import ablation_table
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.model import Recommender, available_signals, fit_recommender, user_chunk
from kg.recommend.ranking_metrics import ndcg_at_k, ranking_metrics, top_k
from kg.recommend.registry import make_scorer, scorer_class
from kg.recommend.signals.base import Scorer, ScorerContext
from kg.recommend.split import Protocol
from kg.recommend.strength import describe as describe_strength
from kg.recommend.tuning import TUNING_K, hits, trial_count, tune, validation_set
from kg.store.base import GraphStore


@dataclass
class Evaluation:
    """One row per model (fused, fused cold-start, signals, baselines) and the protocol."""

    table: pd.DataFrame
    k: int
    seed: int
    users: int
    items: int
    train_interactions: int
    test_interactions: int
    seconds: float
    weights: dict[str, float] = field(default_factory=dict)
    cold_weights: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    protocol: str = "random"
    ablation: pd.DataFrame = field(default_factory=pd.DataFrame)
    ranker_importance: dict[str, float] = field(default_factory=dict)  # empty: linear fusion

    def winner_margin(self) -> float:
        """Fused nDCG@K minus the best baseline's (positive: the fused recommender wins)."""
        metric = f"nDCG@{self.k}"
        fused = self.table.loc[self.table["model"] == "fused", metric].iloc[0]
        baselines = self.table.loc[self.table["kind"].str.contains("baseline"), metric]
        return float(fused - baselines.max()) if len(baselines) else float("nan")


def evaluate(
    graph: InteractionGraph,
    settings: RecommendSettings,
    context: ScorerContext,
    *,
    k: int | None = None,
    protocol: Protocol | None = None,
    progress: ProgressReporter | None = None,
) -> Evaluation:
    """Split, tune on validation, refit on train, score the test interactions."""
    progress = progress or SilentProgress()
    protocol = protocol or Protocol()
    k = k or settings.k
    protocol_notes = []
    if k > graph.n_items:  # a top-K list cannot be longer than the catalogue
        protocol_notes.append(
            f"K lowered from {k} to {graph.n_items}: the catalogue has {graph.n_items} items"
        )
        k = graph.n_items
    started = time.perf_counter()
    split = protocol.split(graph.seen, graph.seen_times, settings.test_fraction, settings.seed)
    held_out = hits(split.held_out, graph, settings.relevant)
    users = np.flatnonzero(np.diff(held_out.indptr))
    if not len(users):
        raise InputError(
            f"Cannot evaluate: no user has two or more interactions ({graph.n_users:,} users, "
            f"{graph.seen.nnz:,} interactions), so there is nothing to hold out and test on; "
            "evaluate once customers have come back for more."
        )
    protocol_notes.append(
        describe_strength(
            settings.strength, graph.disliked.nnz if graph.disliked is not None else 0, graph.negatives_apart
        )
        + ("; a held-out dislike is no hit" if settings.relevant == "liked" else "")
    )
    train = graph.with_interactions(split.train)
    validation = validation_set(
        train,
        settings.validation_fraction,
        settings.seed + 1,
        settings.tune_max_users,
        protocol,
        relevant=settings.relevant,
    )
    recommender = fit_recommender(
        train,
        settings,
        context,
        validation=validation,
        keep_all=True,
        progress=progress,
    )
    baselines, notes = available_signals(train, settings.baselines, context)
    baseline_scorers = _baselines(baselines, recommender, train, validation, context, progress, notes)
    relevant = held_out[users]
    rows = []
    kinds = {name: _kind(name, settings) for name in [*recommender.scorers, *baseline_scorers]}
    with progress.task("Scoring the test users", 2 + len(recommender.scorers) + len(baseline_scorers)):
        for label, cold in (("fused", False), ("fused, new-user mode", True)):
            ranked = _rank(
                lambda u, h, c=cold: recommender.fused_scores(u, h, cold_only=c)[0], train, users, k
            )
            rows.append(_row(label, "fused", ranked, relevant, train, _weights_text(recommender, cold)))
            progress.advance()
        scorers: dict[str, Scorer] = {**recommender.scorers, **baseline_scorers}
        tuned = {s.name: s for s in recommender.signals}
        for name, scorer in scorers.items():
            ranked = _rank(scorer.score, train, users, k)
            validation_ndcg = tuned[name].validation_ndcg if name in tuned else float("nan")
            rows.append(
                _row(name, kinds[name], ranked, relevant, train, scorer.describe_params(), validation_ndcg)
            )
            progress.advance()
    table = pd.DataFrame(rows)
    fused_validation = recommender.validation_ndcg
    table.loc[table["model"] == "fused", "validation nDCG"] = fused_validation

    def test_ndcg(model: Recommender) -> float:
        return ndcg_at_k(_rank(lambda u, h: model.fused_scores(u, h)[0], train, users, k), relevant)

    full = float(table.loc[table["model"] == "fused", f"nDCG@{k}"].iloc[0])
    with progress.task("Ablation: the fusion refit without each signal", 1):
        ablation = (
            ablation_table(recommender, validation, test_ndcg, full, k, settings.seed)
            if not validation.is_empty
            else pd.DataFrame()
        )
        progress.advance()
    return Evaluation(
        table=table,
        k=k,
        seed=settings.seed,
        users=len(users),
        items=graph.n_items,
        train_interactions=int(split.train.nnz),
        test_interactions=int(held_out.nnz),
        seconds=time.perf_counter() - started,
        weights=recommender.weights,
        cold_weights=recommender.cold_weights,
        notes=[*protocol_notes, *recommender.notes, *notes],
        protocol=protocol.describe(),
        ablation=ablation,
        ranker_importance=recommender.ranker.importance() if recommender.ranker else {},
    )


def _kind(name: str, settings: RecommendSettings) -> str:
    kinds = [
        kind
        for kind, names in (("signal", settings.signals), ("baseline", settings.baselines))
        if name in names
    ]
    return " + ".join(kinds)


def _baselines(
    names: list[str],
    recommender: Recommender,
    train: InteractionGraph,
    validation: object,
    context: ScorerContext,
    progress: ProgressReporter,
    notes: list[str],
) -> dict[str, Scorer]:
    """Baselines tuned on the same validation split and refit on train (a baseline that is
    also a signal is not fitted twice)."""
    todo = [n for n in names if n not in recommender.scorers]
    fitted: dict[str, Scorer] = {}
    with progress.task(
        "Tuning baselines on the validation split", sum(trial_count(n, context) for n in todo)
    ):
        for name in todo:
            try:
                best = tune(name, validation, context, TUNING_K, progress)  # type: ignore[arg-type]
                scorer = make_scorer(name, context, **best.params)
                scorer.fit(train)
            except InputError as exc:
                notes.append(f"baseline {name} skipped: {exc}")
                continue
            fitted[name] = scorer
    return fitted


def _rank(score, train: InteractionGraph, users: np.ndarray, k: int) -> np.ndarray:
    """Top-k unseen items for every user, in chunks so big catalogues fit in memory."""
    parts = []
    step = user_chunk(train.n_items)
    for start in range(0, len(users), step):
        chunk = users[start : start + step]
        parts.append(top_k(score(chunk, train.matrix[chunk]), k, exclude=train.seen[chunk]))
    return np.vstack(parts) if parts else np.zeros((0, k), dtype=np.int64)


def _row(
    model: str,
    kind: str,
    ranked: np.ndarray,
    relevant: sp.csr_matrix,
    train: InteractionGraph,
    params: str,
    validation_ndcg: float = float("nan"),
) -> dict[str, object]:
    metrics = ranking_metrics(
        ranked,
        relevant,
        n_items=train.n_items,
        train_popularity=train.item_popularity,
        n_train_users=train.n_users,
    )
    k = ranked.shape[1]
    return {
        "model": model,
        "kind": kind,
        **metrics.as_dict(k),
        "validation nDCG": validation_ndcg,
        "settings": params,
    }


def _weights_text(recommender: Recommender, cold: bool) -> str:
    weights = recommender.cold_weights if cold else recommender.weights
    text = ", ".join(f"{n}={w:g}" for n, w in sorted(weights.items(), key=lambda x: -x[1]) if w > 0)
    return text + (", re-ranked by LightGBM lambdarank" if recommender.ranker and not cold else "")


def scorer_descriptions(names: list[str]) -> dict[str, str]:
    return {name: scorer_class(name).description for name in names}


def evaluate_graph(
    store: GraphStore,
    settings: Settings,
    *,
    k: int | None = None,
    protocol: Protocol | None = None,
    progress: ProgressReporter | None = None,
) -> tuple[Evaluation, Path]:
    """Evaluate on the store's interactions; save the table as CSV and JSON under reports/."""
    graph = export_interactions(store, settings.recommend, progress)
    evaluation = evaluate(
        graph,
        settings.recommend,
        ScorerContext.from_settings(settings),
        k=k,
        protocol=protocol,
        progress=progress,
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
        "protocol": evaluation.protocol,
        "seconds": round(evaluation.seconds, 1),
        "weights": evaluation.weights,
        "cold_weights": evaluation.cold_weights,
        "ranker_importance": evaluation.ranker_importance,
        "notes": evaluation.notes,
        "rows": evaluation.table.to_dict("records"),
        "ablation": evaluation.ablation.to_dict("records"),
    }
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return evaluation, stem.with_suffix(".json")
