"""Signals and baselines by name: the recommender and the evaluation pick them from
config (``recommend.signals``, ``recommend.baselines``) through this registry.

Entries are import paths, not classes, so that the names can be checked when the config
loads (``kg.config``) without importing every signal's libraries (pandas, implicit,
PyTorch...): a class is imported the first time a scorer of its name is made.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

from kg.errors import ConfigError
from kg.registry import Registry

if TYPE_CHECKING:
    from kg.recommend.signals.base import Scorer, ScorerContext

SCORERS: Registry[str] = Registry(
    "recommender signal or baseline",
    {
        "ease": "kg.recommend.signals.cointeraction:EASE",
        "rp3beta": "kg.recommend.signals.cointeraction:RP3Beta",
        "item_knn": "kg.recommend.signals.cointeraction:ItemKNN",
        "user_knn": "kg.recommend.signals.cointeraction:UserKNN",
        "spectral": "kg.recommend.signals.spectral:SpectralFilter",
        "attributes": "kg.recommend.signals.attributes:SharedAttributes",
        "cohort": "kg.recommend.signals.cohort:CohortAffinity",
        "text": "kg.recommend.signals.text:TextSimilarity",
        "kge": "kg.recommend.signals.kge:LinkPrediction",
        "recency": "kg.recommend.signals.recency:RecencyEASE",
        "sequential": "kg.recommend.signals.sequential:Sequential",
        "dislikes": "kg.recommend.signals.dislikes:Dislikes",
        "popularity": "kg.recommend.signals.popularity:Popularity",
        "als": "kg.recommend.baselines:ALS",
        "bpr": "kg.recommend.baselines:BPR",
    },
    error=ConfigError,
)


@cache
def _load(path: str) -> type[Scorer]:
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)


def scorer_class(name: str) -> type[Scorer]:
    """The class registered under ``name`` (imported now if it was not yet)."""
    return _load(SCORERS.get(name))


def make_scorer(name: str, context: ScorerContext, **params: Any) -> Scorer:
    return scorer_class(name)(context, **params)
