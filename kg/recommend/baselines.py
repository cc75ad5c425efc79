"""Matrix-factorisation baselines from the ``implicit`` library, on the same footing as the
signals: same split, same validation tuning, same metrics, same process.

(The popularity and item-kNN baselines are the ``popularity`` and ``item_knn`` scorers.)
Grids cover the settings that work on MovieLens-100k-sized data; ALS in particular needs
few factors and strong regularisation there, so the grid reaches both.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import NO_USER, Grid, Scorer
from kg.recommend.threads import single_threaded


class ImplicitMF(Scorer):
    """A user-factor x item-factor model; unknown users (no row) score zero."""

    model_class: ClassVar[str]

    def _model(self) -> Any:
        from implicit.cpu import als, bpr

        classes = {"als": als.AlternatingLeastSquares, "bpr": bpr.BayesianPersonalizedRanking}
        # BPR's threads update shared factors without locks: one thread, or no two fits agree
        threads = {"num_threads": 1} if self.name == "bpr" else {}
        return classes[self.name](**self.params, random_state=self.context.seed, **threads)

    def fit(self, graph: InteractionGraph) -> None:
        with single_threaded(user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # implicit checks the BLAS threads when it starts
            model = self._model()
            model.fit(graph.matrix.astype(np.float32), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        rows = self.user_factors[np.where(users == NO_USER, 0, users)]
        rows[users == NO_USER] = 0.0
        return rows @ self.item_factors.T


class ALS(ImplicitMF):
    name = "als"
    description = "baseline: implicit ALS matrix factorisation (Hu, Koren & Volinsky 2008)"
    grid: ClassVar[Grid] = {
        "factors": (64, 16, 32, 128),
        "regularization": (1.0, 5.0, 20.0, 50.0),
        "alpha": (1.0, 3.0, 10.0),
        "iterations": (15,),
    }
    max_trials = 20


class BPR(ImplicitMF):
    name = "bpr"
    description = "baseline: implicit BPR matrix factorisation (Rendle et al. 2009)"
    grid: ClassVar[Grid] = {
        "factors": (64, 32, 128),
        "learning_rate": (0.01, 0.02, 0.05),
        "regularization": (0.01, 0.001),
        "iterations": (50, 20, 100),
    }
