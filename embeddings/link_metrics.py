"""Metrics: filtered link prediction (MRR, Hits@1/3/10) and held-out recommendations.

"Filtered": when ranking the true tail of ``(h, r, ?)``, every other tail known to be
true (in train, validation or test) is removed from the candidates first, as in Bordes
et al. (2013) and every KGE paper since. Ranks are PyKEEN's "realistic" ranks (ties
count half), averaged over head and tail prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from pykeen.evaluation import MetricResults, RankBasedEvaluator
from pykeen.models import Model
from pykeen.typing import MappedTriples

from embeddings.artifact import TrainedModel

USER_BATCH = 1024

METRICS = {
    "mrr": "inverse_harmonic_mean_rank",
    "hits_at_1": "hits_at_1",
    "hits_at_3": "hits_at_3",
    "hits_at_10": "hits_at_10",
}


class FocusedFilterEvaluator(RankBasedEvaluator):
    """PyKEEN's filtered rank-based evaluator, given only the known triples that can
    filter anything: those sharing ``(head, relation)`` or ``(relation, tail)`` with an
    evaluated triple. The ranks are the same. PyKEEN compares every evaluation batch with
    every known triple (a ``batch x known`` mask per side); on a graph of ~10M triples that
    made ranking 1,000 test triples take longer than a training epoch."""

    def evaluate(self, model: Model, mapped_triples: MappedTriples, **kwargs: Any) -> MetricResults:
        known = kwargs.get("additional_filter_triples")
        if self.filtered and known is not None:
            kwargs["additional_filter_triples"] = relevant_filter_triples(mapped_triples, known)
        return super().evaluate(model, mapped_triples, **kwargs)


def relevant_filter_triples(
    evaluated: MappedTriples, known: MappedTriples | list[MappedTriples]
) -> MappedTriples:
    """The rows of ``known`` that share ``(head, relation)`` or ``(relation, tail)`` with a
    row of ``evaluated``: the only ones that filtered head or tail ranking can remove."""
    known = torch.cat(known) if isinstance(known, list | tuple) else known
    if not len(known) or not len(evaluated):
        return known[:0]
    relations = int(torch.cat([known[:, 1], evaluated[:, 1]]).max()) + 1

    def pairs(triples: MappedTriples, entity: int) -> torch.Tensor:
        return triples[:, entity] * relations + triples[:, 1]

    keep = torch.isin(pairs(known, 0), pairs(evaluated, 0)) | torch.isin(pairs(known, 2), pairs(evaluated, 2))
    return known[keep]


def metrics_from_result(result: MetricResults) -> dict[str, Any]:
    """The headline metrics (both sides, realistic ranks) plus MRR per side."""
    metrics: dict[str, Any] = {
        name: round(float(result.get_metric(f"both.realistic.{key}")), 5) for name, key in METRICS.items()
    }
    for side in ("head", "tail"):
        metrics[f"{side}_mrr"] = round(
            float(result.get_metric(f"{side}.realistic.inverse_harmonic_mean_rank")), 5
        )
    return metrics


def holdout_metrics(
    trained: TrainedModel, held_out: pd.DataFrame, remaining: pd.DataFrame, *, k: int = 10
) -> dict[str, Any]:
    """Recommendation metrics on held-out user-item triples (``export.holdout_interactions``).

    Each held-out item is ranked among all entities of its label that the user has no
    remaining link with (the usual "all unseen items" protocol): HR@k, NDCG@k and MRR.
    """
    relation = str(held_out["relation"].iloc[0])
    item_label = str(held_out["tail"].iloc[0]).partition(":")[0]
    items = [e for e in trained.entities if e.partition(":")[0] == item_label]
    column = {item: i for i, item in enumerate(items)}
    seen = remaining[remaining["relation"] == relation].groupby("head")["tail"].agg(set).to_dict()
    ranks = []
    for start in range(0, len(held_out), USER_BATCH):
        chunk = held_out.iloc[start : start + USER_BATCH]
        scores = trained.score_tails(chunk["head"].tolist(), relation, items)
        for row, (user, item) in enumerate(zip(chunk["head"], chunk["tail"], strict=True)):
            row_scores = scores[row].copy()
            mask = [column[i] for i in seen.get(user, ()) if i in column and i != item]
            row_scores[mask] = -np.inf
            ranks.append(1 + int(np.sum(row_scores > row_scores[column[item]])))
    rank = np.asarray(ranks, dtype=float)
    return {
        f"hr_at_{k}": round(float(np.mean(rank <= k)), 5),
        f"ndcg_at_{k}": round(float(np.mean(np.where(rank <= k, 1.0 / np.log2(rank + 1), 0.0))), 5),
        "holdout_mrr": round(float(np.mean(1.0 / rank)), 5),
        "holdout_triples": len(rank),
    }
