"""Filtered rank-based link-prediction metrics (MRR, Hits@1/3/10).

"Filtered": when ranking the true tail of ``(h, r, ?)``, every other tail known to be
true (in train, validation or test) is removed from the candidates first, as in Bordes
et al. (2013) and every KGE paper since. Ranks are PyKEEN's "realistic" ranks (ties
count half), averaged over head and tail prediction.
"""

from __future__ import annotations

from typing import Any

from pykeen.evaluation import MetricResults, RankBasedEvaluator
from pykeen.models import Model
from pykeen.triples import CoreTriplesFactory

METRICS = {
    "mrr": "inverse_harmonic_mean_rank",
    "hits_at_1": "hits_at_1",
    "hits_at_3": "hits_at_3",
    "hits_at_10": "hits_at_10",
}


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


def evaluate_filtered(
    model: Model,
    test: CoreTriplesFactory,
    known: list[CoreTriplesFactory],
    *,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Filtered metrics of ``model`` on ``test``, filtering with ``known`` triples."""
    evaluator = RankBasedEvaluator(filtered=True)
    result = evaluator.evaluate(
        model,
        test.mapped_triples,
        additional_filter_triples=[k.mapped_triples for k in known],
        batch_size=batch_size,
        use_tqdm=False,
    )
    return metrics_from_result(result)
