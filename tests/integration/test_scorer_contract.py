"""The contract every registered scorer (signal or baseline) keeps, checked on one real
shop graph: a new scorer gets these tests by being registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from kg.config import load_settings
from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph, export_interactions
from kg.recommend.registry import SCORERS, make_scorer
from kg.recommend.signals.base import NO_USER, Scorer, ScorerContext
from kg.store import open_store
from tests.shop_graph import build_shop_graph

CONTEXT = ScorerContext(seed=7, kge_epochs=2, kge_dim=8)
USERS = np.arange(6)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractionGraph]:
    folder: Path = tmp_path_factory.mktemp("contract")
    settings = load_settings(store=str(folder / "graph"), data_dir=folder / "kg-data")
    with open_store(settings) as store:
        build_shop_graph(store, folder / "shop")
        yield export_interactions(store, settings.recommend)


def fitted(name: str, graph: InteractionGraph) -> Scorer:
    scorer = make_scorer(name, CONTEXT)
    why = scorer.unavailable(graph)
    assert why is None, f"{name} cannot run on the shop graph: {why}"
    scorer.fit(graph)
    return scorer


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scores_are_one_finite_float32_row_per_user(name: str, graph: InteractionGraph) -> None:
    scores = fitted(name, graph).score(USERS, graph.matrix[USERS])
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32
    assert scores.shape == (len(USERS), graph.n_items)
    assert not np.isnan(scores).any()


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_a_history_without_a_user_is_scored(name: str, graph: InteractionGraph) -> None:
    """``kg similar`` and a new visitor: row -1 with a history of one item."""
    history = sp.csr_matrix(([1.0], ([0], [3])), shape=(1, graph.n_items), dtype=np.float32)
    scores = fitted(name, graph).score(np.array([NO_USER]), history)
    assert scores.shape == (1, graph.n_items) and scores.dtype == np.float32
    assert not np.isnan(scores).any()


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_the_same_seed_gives_the_same_scores(name: str, graph: InteractionGraph) -> None:
    first = fitted(name, graph).score(USERS, graph.matrix[USERS])
    second = fitted(name, graph).score(USERS, graph.matrix[USERS])
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_unknown_parameters_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown parameters"):
        make_scorer(name, CONTEXT, no_such_parameter=1)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_the_strongest_path_is_evidence_or_nothing(name: str, graph: InteractionGraph) -> None:
    scorer = fitted(name, graph)
    history = graph.matrix[[0]]
    best = int(np.argmax(scorer.score(np.array([0]), history)[0]))
    path = scorer.strongest_path(graph, 0, history, best)
    assert path is None or isinstance(path, PathEvidence)
