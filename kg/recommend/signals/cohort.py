"""Demographic cohort paths: User->(occupation, age group, ...)<-User->Item.

Naive Bayes over the user's cohorts: log P(item) + sum over cohorts of the log lift of
the item inside the cohort, with lifts shrunk towards 1 for small cohorts. Needs no
history, so a new customer with only a profile gets results that fit their cohort.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kg.recommend.explain import PathEvidence
from kg.recommend.interactions import InteractionGraph
from kg.recommend.signals.base import Grid, Scorer, as_dense, known_rows


class CohortAffinity(Scorer):
    name = "cohort"
    description = "demographic cohorts (occupation, age group, gender...): naive-Bayes lifts"
    grid: ClassVar[Grid] = {"shrink": (20.0, 5.0, 100.0)}
    uses_history = False

    def unavailable(self, graph: InteractionGraph) -> str | None:
        return (
            None if graph.user_cohorts.shape[1] else "no user cohorts (occupation, age group...) in the graph"
        )

    def fit(self, graph: InteractionGraph) -> None:
        cohorts = graph.user_cohorts.tocsc()
        self.counts = as_dense(cohorts.T @ graph.positives)  # cohort x item: members who interacted
        self.sizes = np.asarray(cohorts.sum(axis=0)).ravel().astype(np.float32)
        rate = (graph.item_popularity + 1.0) / (graph.n_users + 1.0)
        shrink = float(self.params["shrink"])
        cohort_rate = (self.counts + shrink * rate[None, :]) / (self.sizes[:, None] + shrink)
        self.log_lift = np.log(cohort_rate / rate[None, :]).astype(np.float32)
        self.log_prior = np.log(rate).astype(np.float32)
        self.user_cohorts = graph.user_cohorts.tocsr()

    def _memberships(self, users: np.ndarray) -> sp.csr_matrix:
        return known_rows(self.user_cohorts, users)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return as_dense(self._memberships(users) @ self.log_lift) + self.log_prior[None, :]

    def strongest_path(
        self, graph: InteractionGraph, user: int | None, history: sp.csr_matrix, item: int
    ) -> PathEvidence | None:
        if user is None:
            return None
        member_of = self.user_cohorts[user].indices
        if not len(member_of):
            return None
        lift = np.where(self.counts[member_of, item] > 0, self.log_lift[member_of, item], -np.inf)
        best = int(np.argmax(lift))
        if not np.isfinite(lift[best]) or lift[best] <= 0:
            return None
        cohort = int(member_of[best])
        return PathEvidence(
            "cohort",
            self.name,
            item,
            attribute=cohort,
            count=int(self.counts[cohort, item]),
            total=int(self.sizes[cohort]),
        )
