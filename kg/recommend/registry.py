"""Signals and baselines by name: the recommender and the evaluation pick them from
config (``recommend.signals``, ``recommend.baselines``) through this registry."""

from __future__ import annotations

from typing import Any

from kg.errors import ConfigError
from kg.recommend.baselines import ALS, BPR
from kg.recommend.signals.attributes import SharedAttributes
from kg.recommend.signals.base import Scorer, ScorerContext
from kg.recommend.signals.cohort import CohortAffinity
from kg.recommend.signals.cointeraction import EASE, ItemKNN, RP3Beta, UserKNN
from kg.recommend.signals.kge import LinkPrediction
from kg.recommend.signals.popularity import Popularity
from kg.recommend.signals.recency import RecencyEASE
from kg.recommend.signals.sequential import Sequential
from kg.recommend.signals.spectral import SpectralFilter
from kg.recommend.signals.text import TextSimilarity

SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls
    for cls in (
        EASE,
        RP3Beta,
        ItemKNN,
        UserKNN,
        SpectralFilter,
        SharedAttributes,
        CohortAffinity,
        TextSimilarity,
        LinkPrediction,
        RecencyEASE,
        Sequential,
        Popularity,
        ALS,
        BPR,
    )
}


def scorer_class(name: str) -> type[Scorer]:
    try:
        return SCORERS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown recommender signal or baseline {name!r}; choose from {', '.join(sorted(SCORERS))}."
        ) from None


def make_scorer(name: str, context: ScorerContext, **params: Any) -> Scorer:
    return scorer_class(name)(context, **params)
