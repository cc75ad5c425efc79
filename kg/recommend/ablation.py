"""Ablation: what each signal adds to the fused recommender.

For every signal that carries weight, the fusion is refit on the same validation scores
without it (the other signals keep their tuned settings; only the weights are learned
again, and the learned ranker too when the full recommender chose one), and the refit
recommender is scored on the test split like the full one. The
drop in test nDCG@K is what the signal is worth *given all the others*: a signal that is
strong alone but redundant costs little. A signal without weight is not refit: removing
it changes nothing, because coordinate ascent never moved it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from kg.recommend.fusion import learn_weights, standardize
from kg.recommend.ltr import chosen_ranker, fit_ranker
from kg.recommend.model import Recommender
from kg.recommend.tuning import TUNING_K, ValidationSet

TestScore = Callable[[Recommender], float]  # test nDCG@K of a recommender


def ablation_table(
    recommender: Recommender,
    validation: ValidationSet,
    test_ndcg: TestScore,
    full_ndcg: float,
    k: int,
    seed: int = 42,
) -> pd.DataFrame:
    """One row per tuned signal: the fused test nDCG@K without it, the fusion refit."""
    metric = f"nDCG@{k}"
    standardized = {name: standardize(t.validation_scores) for name, t in recommender.tuned.items()}
    rows = []
    for name in standardized:
        if recommender.weights.get(name, 0.0) <= 0 or name not in recommender.scorers:
            rows.append(
                _row(name, full_ndcg, full_ndcg, recommender.validation_ndcg, "weight 0: unchanged", metric)
            )
            continue
        rest = {other: scores for other, scores in standardized.items() if other != name}
        weights, validation_ndcg = learn_weights(rest, validation.seen, validation.held_out, TUNING_K)
        ranker = chosen_ranker(fit_ranker(rest, weights, validation, seed)) if recommender.ranker else None
        without = replace(recommender, weights={**weights, name: 0.0}, ranker=ranker)
        text = ", ".join(f"{n}={w:g}" for n, w in sorted(weights.items(), key=lambda x: -x[1]) if w > 0)
        text += " + lambdarank" if ranker is not None else ""
        rows.append(_row(name, full_ndcg, test_ndcg(without), validation_ndcg, text, metric))
    return pd.DataFrame(rows).sort_values(metric, kind="stable").reset_index(drop=True)


def _row(
    name: str, full: float, value: float, validation_ndcg: float, weights: str, metric: str
) -> dict[str, object]:
    return {
        "without": name,
        metric: value,
        "change": (value - full) / full if full else float("nan"),
        "validation nDCG": validation_ndcg,
        "refit weights": weights,
    }
