"""Negative feedback: items like the ones a user disliked score lower for that user.

A dislike (a 1-2 star rating, a clearly negative review; ``kg.recommend.strength``) is
kept out of the positive history every other signal reads, so it no longer says "more
like this". This signal says the opposite: a user scores ``-(dislikes @ S)``, with ``S``
a cosine item-item similarity, so the items nearest to what they disliked sink. Which
similarity is tuned on the validation split, like any setting, because either reading is
plausible and the data should decide:

* ``dislikes``: items disliked by the same users ("people who disliked X disliked Y too");
* ``interactions``: items taken by the same users, liked or not ("Y is another X").

Fusion learns the signal's weight like any other's, so where dislikes do not predict
what a user will not take, it ends at weight 0 and costs nothing. It never explains a
recommendation (a penalty is no reason to recommend). A visitor without a graph row, and
any user of a graph without dislikes, scores zero everywhere (so the signal runs on any
graph and costs nothing there).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense, known_rows
from kg.recommend.signals.cointeraction import column_norms, item_item_weights


class Dislikes(Scorer):
    name = "dislikes"
    description = "negative feedback: items like the ones this user rated low or reviewed badly score lower"
    grid: ClassVar[Grid] = {"basis": ("dislikes", "interactions"), "neighbours": (50, 200)}

    def fit(self, graph: InteractionGraph) -> None:
        self.negatives = sp.csr_matrix(graph.negatives, dtype=np.float32)
        if not self.negatives.nnz:  # nothing to penalise: every score is 0, fusion gives it no weight
            self.weights = sp.csr_matrix((graph.n_items, graph.n_items), dtype=np.float32)
            return
        basis = sp.csr_matrix(
            graph.negatives if self.params["basis"] == "dislikes" else graph.seen, dtype=np.float32
        )
        norms = column_norms(basis)

        def cosine(block: np.ndarray, rows: slice) -> np.ndarray:
            return block / (norms[rows, None] * norms[None, :] + 1e-9)

        self.weights = item_item_weights(
            basis.T.tocsr(),
            basis,
            cosine,
            neighbours=int(self.params["neighbours"]),
            dense_limit=self.context.dense_item_limit,
        )

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return -as_dense(known_rows(self.negatives, users) @ self.weights)
