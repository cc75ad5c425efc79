"""The fused recommender: tuned signals, learned weights, and the questions it answers.

``fit_recommender`` tunes every configured signal on a validation split of the graph's
interactions, learns the fusion weights there (one set for users with a history, one for
users without: cold start), then refits the signals that carry weight on all
interactions. The fitted :class:`Recommender` scores any batch of users with a few dense
or sparse products, so one user is a row times a matrix, not a graph query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.config import RecommendSettings
from kg.errors import ConfigError, InputError
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.explain import Explanation, describe, popularity_evidence
from kg.recommend.filters import ItemFilter
from kg.recommend.fusion import fuse, learn_weights, standardize
from kg.recommend.interactions import InteractionGraph
from kg.recommend.ltr import LearnedRanker, chosen_ranker, fit_ranker
from kg.recommend.ranking_metrics import top_k
from kg.recommend.registry import make_scorer, scorer_class
from kg.recommend.signals.base import NO_USER, Scorer, ScorerContext, known_rows
from kg.recommend.threads import single_threaded
from kg.recommend.tuning import TUNING_K, TunedScorer, ValidationSet, trial_count, tune, validation_set

SMALL_BATCH = 8  # up to this many users, scoring runs on one BLAS thread (less overhead)
CHUNK_SCORES = 2**24  # scores per signal held at once when scoring users in chunks (64 MB)


def user_chunk(n_items: int) -> int:
    """Users per chunk, so a chunk's score matrices stay small for any catalogue size."""
    return max(1, min(1024, CHUNK_SCORES // max(n_items, 1)))


@dataclass
class SignalReport:
    """How one signal was tuned: its chosen setting and validation quality."""

    name: str
    description: str
    params: dict[str, Any]
    validation_ndcg: float
    seconds: float


@dataclass
class Recommender:
    graph: InteractionGraph
    scorers: dict[str, Scorer]
    weights: dict[str, float]
    cold_weights: dict[str, float]
    k: int = 10
    created_at: str = ""
    signals: list[SignalReport] = field(default_factory=list)
    validation_ndcg: float = 0.0
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    tuned: dict[str, TunedScorer] = field(default_factory=dict, repr=False)  # evaluation only
    ranker: LearnedRanker | None = None  # the learned fusion, when it beat the linear one

    @property
    def name(self) -> str:
        """A stable model name for write-back: what was fused, with which weights, when."""
        digest = hashlib.sha256(
            json.dumps([self.weights, self.cold_weights, self.created_at], sort_keys=True).encode()
        ).hexdigest()
        return f"kg-fused-{digest[:10]}"

    # ------------------------------------------------------------------ scoring
    def _used(self, weights: dict[str, float]) -> dict[str, float]:
        return {n: w for n, w in weights.items() if w > 0 and n in self.scorers}

    def signal_scores(
        self, users: np.ndarray, history: sp.csr_matrix, names: list[str]
    ) -> dict[str, np.ndarray]:
        """Standardised scores of each named signal for a batch of users."""
        return {name: standardize(self.scorers[name].score(users, history)) for name in names}

    def fused_scores(
        self, users: np.ndarray, history: sp.csr_matrix, *, cold_only: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Fused scores, the standardised signals behind them, and which rows used the
        cold-start weights (users with no history, or every row with ``cold_only``)."""
        warm, cold = self._used(self.weights), self._used(self.cold_weights)
        is_cold = np.ones(len(users), bool) if cold_only else np.diff(history.indptr) == 0
        names = list(dict.fromkeys([*(warm if (~is_cold).any() else []), *(cold if is_cold.any() else [])]))
        signals = self.signal_scores(users, history, names)
        if not signals:
            return np.zeros((len(users), self.graph.n_items), np.float32), signals, is_cold
        total = (
            fuse(signals, warm)
            if (~is_cold).any()
            else np.zeros((len(users), self.graph.n_items), np.float32)
        )
        if self.ranker is not None and (~is_cold).any():
            rows = np.flatnonzero(~is_cold)
            used = {name: signals[name][rows] for name in self.ranker.names}
            total[rows] = self.ranker.rerank(
                used, total[rows], history[rows], self._taken(users[rows], history[rows])
            )
        if is_cold.any():
            total[is_cold] = fuse(signals, cold)[is_cold]
        return total, signals, is_cold

    def _history(self, users: np.ndarray) -> sp.csr_matrix:
        return self.graph.matrix[users]

    # ------------------------------------------------------------------ questions
    def recommend(
        self,
        user_id: str,
        k: int | None = None,
        item_filter: ItemFilter | None = None,
        *,
        explain: bool = True,
    ) -> pd.DataFrame:
        """Top-k unseen items for one user, with reasons; cold-start results for a user
        with no interactions."""
        user = self.graph.user_index(user_id)
        return next(self.recommend_users(np.array([user]), k, item_filter, explain=explain))

    def recommend_users(
        self,
        users: np.ndarray,
        k: int | None = None,
        item_filter: ItemFilter | None = None,
        *,
        explain: bool = True,
        progress: ProgressReporter | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Recommendations for many users, one frame per chunk of users."""
        allowed = item_filter.allowed(self.graph) if item_filter else None
        progress = progress or SilentProgress()
        step = user_chunk(self.graph.n_items)
        for start in range(0, len(users), step):
            chunk = users[start : start + step]
            history = self._history(chunk)
            yield pd.DataFrame(
                self._top_columns(chunk, history, k or self.k, allowed, explain, exclude=history)
            )
            progress.advance(len(chunk))

    def recommend_history(
        self,
        user: int,
        history: sp.csr_matrix,
        k: int | None = None,
        allowed: np.ndarray | None = None,
        *,
        explain: bool = True,
    ) -> dict[str, list[Any]]:
        """Top-k items for one user (a graph row, or ``NO_USER`` for a visitor the graph
        does not know) from a given one-row history: `kg serve` folds in the events it
        received since the fit, so they count (and are excluded) before the next refit.
        ``allowed`` is an :meth:`ItemFilter.allowed` mask the caller may keep. Columns of
        plain values, not a frame: building a DataFrame per answer and reading it back
        was a fifth of the time of an answer scored afresh."""
        return self._top_columns(np.array([user]), history, k or self.k, allowed, explain, exclude=history)

    def similar_items(
        self,
        item_id: str,
        k: int | None = None,
        item_filter: ItemFilter | None = None,
        *,
        explain: bool = True,
    ) -> pd.DataFrame:
        """Items to show beside ``item_id``: the recommendations for a visitor who has only
        seen that item (co-interaction, shared attributes, text, popularity)."""
        item = self.graph.item_index(item_id)
        seed = sp.csr_matrix((np.ones(1, np.float32), ([0], [item])), shape=(1, self.graph.n_items))
        allowed = item_filter.allowed(self.graph) if item_filter else None
        frame = pd.DataFrame(
            self._top_columns(np.array([NO_USER]), seed, k or self.k, allowed, explain, exclude=seed)
        )
        return frame.drop(columns=["user"])

    def _top_columns(
        self,
        users: np.ndarray,
        history: sp.csr_matrix,
        k: int,
        allowed: np.ndarray | None,
        explain: bool,
        *,
        exclude: sp.csr_matrix,
    ) -> dict[str, list[Any]]:
        exclude = self._taken(users, exclude)
        with single_threaded(len(users) <= SMALL_BATCH):
            total, signals, is_cold = self.fused_scores(users, history)
            if allowed is not None:
                total[:, ~allowed] = -np.inf
            best = top_k(total, k, exclude=exclude)
            columns: dict[str, list[Any]] = {name: [] for name in ("user", "rank", "item", "name", "score")}
            if explain:
                columns |= {"reason": [], "signal": [], "cypher": []}
            for row, user in enumerate(users):
                seen = set(exclude[row].indices)
                for rank, item in enumerate(best[row], start=1):
                    score = float(total[row, item])
                    if not np.isfinite(score) or item in seen:
                        break  # fewer allowed unseen items than k
                    columns["user"].append(self.graph.user_ids[user] if user != NO_USER else None)
                    columns["rank"].append(rank)
                    columns["item"].append(self.graph.item_ids[item])
                    columns["name"].append(self.graph.item_names[item])
                    columns["score"].append(round(score, 4))
                    if explain:
                        weights = self.cold_weights if is_cold[row] else self.weights
                        user_row = None if user == NO_USER else int(user)
                        found = self.explain_item(user_row, history[row], int(item), signals, weights, row)
                        columns["reason"].append(found.reason)
                        columns["signal"].append(found.signal)
                        columns["cypher"].append(found.inline())
        return columns

    def _taken(self, users: np.ndarray, extra: sp.csr_matrix) -> sp.csr_matrix:
        """``extra`` and everything each known user already took, dislikes included (they
        are not in the positive history, and still must not be recommended again). Callers
        read only which entries are set: one user's (every served answer) is the union of
        two index lists, without the sparse products' per-call overhead."""
        if len(users) == 1:
            seen = self.graph.seen
            user = int(users[0])
            items = extra.indices[extra.data != 0]
            if user != NO_USER:
                items = np.union1d(seen.indices[seen.indptr[user] : seen.indptr[user + 1]], items)
            else:
                items = np.unique(items)
            return sp.csr_matrix(
                (np.ones(len(items), np.float32), items, [0, len(items)]), shape=(1, self.graph.n_items)
            )
        taken = (known_rows(self.graph.seen, users) + abs(extra)).tocsr()
        taken.eliminate_zeros()
        return taken

    def explain(self, user: int, item: int) -> Explanation:
        """Why ``item`` suits ``user`` (graph row indices), from the user's full history."""
        users = np.array([user])
        history = self._history(users)
        with single_threaded():
            _, signals, is_cold = self.fused_scores(users, history)
            weights = self.cold_weights if is_cold[0] else self.weights
            return self.explain_item(user, history[0], item, signals, weights)

    def explain_item(
        self,
        user: int | None,
        history: sp.csr_matrix,
        item: int,
        signals: dict[str, np.ndarray],
        weights: dict[str, float],
        row: int = 0,
    ) -> Explanation:
        """The strongest path of the signal that contributed most to ``item``'s score."""
        contributions = sorted(
            ((weights.get(name, 0.0) * float(scores[row, item]), name) for name, scores in signals.items()),
            reverse=True,
        )
        for _, name in contributions:
            evidence = self.scorers[name].strongest_path(self.graph, user, history, item)
            if evidence is not None:
                return describe(self.graph, user, evidence)
        return describe(self.graph, user, popularity_evidence(self.graph, item))


# ---------------------------------------------------------------------- fitting
def available_signals(
    graph: InteractionGraph, names: list[str], context: ScorerContext
) -> tuple[list[str], list[str]]:
    """The configured signals that can run on ``graph``, and a note for each that cannot."""
    usable, notes = [], []
    for name in names:
        reason = scorer_class(name)(context).unavailable(graph)
        if reason:
            notes.append(f"signal {name} skipped: {reason}")
        else:
            usable.append(name)
    return usable, notes


def fit_recommender(
    graph: InteractionGraph,
    settings: RecommendSettings,
    context: ScorerContext,
    *,
    validation: ValidationSet | None = None,
    pretrained: dict[str, Scorer] | None = None,
    keep_all: bool = False,
    progress: ProgressReporter | None = None,
) -> Recommender:
    """Tune each signal and the fusion weights on a validation split of ``graph``, then
    refit on all of ``graph``. ``pretrained`` scorers (link prediction with the KGE model
    trained on the live graph) replace the refit of their signal; ``keep_all`` refits signals without weight
    too (the evaluation reports each signal alone)."""
    if graph.matrix.nnz == 0:
        raise InputError(
            "The graph has no user-item interactions "
            f"({', '.join(settings.interaction_relations)}); ingest purchases, ratings or views first."
        )
    progress = progress or SilentProgress()
    names, notes = available_signals(graph, settings.signals, context)
    if not names:
        raise ConfigError(
            f"None of the signals in recommend.signals can run on this graph ({'; '.join(notes)}); "
            "add 'popularity', which runs on any graph with interactions."
        )
    validation = validation or validation_set(
        graph,
        settings.validation_fraction,
        context.seed + 1,
        settings.tune_max_users,
        relevant=settings.relevant,
    )
    with progress.task("Tuning signals on a validation split", sum(trial_count(n, context) for n in names)):
        tuned = _tune_signals(names, validation, context, notes, progress)
    names = list(tuned)
    ranker = None
    if validation.is_empty:
        weights, cold_weights, validation_ndcg = untuned_fusion(names)
        notes.append(
            "no user has two or more interactions, so nothing could be held out to tune on: "
            "every signal keeps its default setting and the signals are fused with equal weights"
        )
    else:
        weights, cold_weights, validation_ndcg = learn_fusion(tuned, validation, TUNING_K)
        candidate = fit_ranker(
            {n: standardize(t.validation_scores) for n, t in tuned.items()}, weights, validation, context.seed
        )
        ranker = chosen_ranker(candidate)
        if candidate is not None:
            notes.append(candidate.describe())
    keep = [n for n in names if keep_all or weights.get(n, 0) > 0 or cold_weights.get(n, 0) > 0]
    scorers: dict[str, Scorer] = {}
    with progress.task("Fitting the chosen signals on all interactions", len(keep)):
        for name in keep:
            scorer = (pretrained or {}).get(name) or make_scorer(name, context, **tuned[name].params)
            try:
                scorer.fit(graph)
            except InputError as exc:  # left out of the fusion: _used() skips unfitted names
                notes.append(f"signal {name} skipped: {exc}")
                continue
            finally:
                progress.advance()
            scorers[name] = scorer
    reports = [
        SignalReport(n, scorer_class(n).description, t.params, t.validation_ndcg, t.seconds)
        for n, t in tuned.items()
    ]
    return Recommender(
        graph=graph,
        scorers=scorers,
        weights=weights,
        cold_weights=cold_weights,
        k=settings.k,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        signals=reports,
        validation_ndcg=validation_ndcg,
        notes=notes,
        tuned=tuned if keep_all else {},
        ranker=ranker,
    )


def _tune_signals(
    names: list[str],
    validation: ValidationSet,
    context: ScorerContext,
    notes: list[str],
    progress: ProgressReporter,
) -> dict[str, TunedScorer]:
    """Each signal tuned; one that cannot learn from this little data (the in-memory KGE
    fit wants ten facts) is left out with a note instead of failing the whole fit."""
    tuned: dict[str, TunedScorer] = {}
    for name in names:
        try:
            tuned[name] = tune(name, validation, context, TUNING_K, progress)
        except InputError as exc:
            notes.append(f"signal {name} skipped: {exc}")
    if not tuned:
        raise InputError(f"No signal could be fitted on this graph: {'; '.join(notes)}")
    return tuned


def untuned_fusion(names: list[str]) -> tuple[dict[str, float], dict[str, float], float]:
    """Equal weights (the signals are z-scores, so equal weights mean equal say) when there
    is no validation data to learn them from; no validation nDCG."""
    weights = dict.fromkeys(names, 1.0)
    cold_weights = {n: 1.0 for n in names if not scorer_class(n).uses_history}
    return weights, cold_weights, float("nan")


def learn_fusion(
    tuned: dict[str, TunedScorer], validation: ValidationSet, k: int
) -> tuple[dict[str, float], dict[str, float], float]:
    """Weights for users with history, weights for users without, and the validation
    nDCG of the former."""
    standardized = {name: standardize(t.validation_scores) for name, t in tuned.items()}
    weights, value = learn_weights(standardized, validation.seen, validation.held_out, k)
    cold = {n: s for n, s in standardized.items() if not scorer_class(n).uses_history}
    cold_weights, _ = learn_weights(cold, validation.seen, validation.held_out, k)
    return weights, cold_weights, value
