"""Regularisation for KGE training: weighted N3 and embedding dropout.

**N3** (Lacroix, Usunier and Obozinski, "Canonical Tensor Decomposition for Knowledge
Base Completion", ICML 2018) penalises the cubed moduli of the embeddings a training
triple uses, ``sum_i |e_i|^3``, added to the loss with a weight. It is the regulariser
that made DistMult and ComplEx competitive again (ComplEx-N3). Lacroix et al. found the
*weighted* form best: each entity is penalised as often as it occurs in training
triples, not once per step. PyKEEN's regularisers are updated with every representation
a forward pass reads, and a 1-N step reads the whole entity table as candidate tails, so
attached to the model they would penalise every entity on every step (the unweighted
form). Here the penalty is computed from the batch instead, over its training triples
``(h, r, t)``, each adding ``|h|^3 + |r|^3 + |t|^3``, averaged over the batch's triples as
in Lacroix et al.'s code: in 1-N training a row ``(h, r)`` with true tails ``T`` stands
for the triples ``(h, r, t), t in T`` (reciprocal relations make every triple a row from
both of its ends); in sLCWA training the triples are the batch's positives.

**Embedding dropout** (the entity and relation dropout of LibKGE's 1-N recipes, Ruffinelli
et al., ICLR 2020) zeroes embedding coordinates at random while training; a complex
coordinate is kept or dropped whole (torch's ``Dropout`` has no complex kernel). Outside
training mode it is the identity, so evaluation and scoring stay deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from pykeen.models import ERModel
from torch import nn

from kg.registry import Registry

BatchRegularizer = Callable[[ERModel, Mapping[str, Any], int, int], torch.Tensor]


class WeightedN3:
    """``weight / |B| * sum over the batch's triples (h, r, t) of |h|^3 + |r|^3 + |t|^3``."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)

    def __call__(self, model: ERModel, batch: Mapping[str, Any], start: int, stop: int) -> torch.Tensor:
        """The penalty for rows ``start:stop`` of a PyKEEN training batch: an LCWA batch
        (``pairs`` ``(head, relation)``, ``target`` their true-tail indicators) or an
        sLCWA one (``positives``, the triples)."""
        entities, relations = model.entity_representations[0], model.relation_representations[0]
        if "pairs" in batch:
            pairs = batch["pairs"][start:stop].to(model.device)
            targets = batch["target"][start:stop].to(model.device, torch.float32)
            per_row = targets.sum(dim=1)  # triples each row stands for
            as_tail = targets.sum(dim=0)  # times each entity is a true tail in the batch
            tails = torch.nonzero(as_tail).squeeze(1)
            terms = [
                (entities, pairs[:, 0], per_row),
                (relations, pairs[:, 1], per_row),
                (entities, tails, as_tail[tails]),
            ]
            triples = per_row.sum()
        else:
            positives = batch["positives"][start:stop].to(model.device)
            ones = torch.ones(len(positives), device=model.device)
            terms = [
                (entities, positives[:, 0], ones),
                (relations, positives[:, 1], ones),
                (entities, positives[:, 2], ones),
            ]
            triples = ones.sum()
        total = sum((weights * cubed_moduli(_undropped(rep, ids))).sum() for rep, ids, weights in terms)
        return self.weight * total / triples.clamp_min(1.0)


def cubed_moduli(x: torch.Tensor) -> torch.Tensor:
    """``sum_i |x_i|^3`` per row (the modulus of each complex coordinate for ComplEx)."""
    return x.abs().pow(3).flatten(start_dim=1).sum(dim=1)


def _undropped(representation: nn.Module, indices: torch.Tensor) -> torch.Tensor:
    """The representations of ``indices`` before normalisation and dropout: what the
    penalty is about (PyKEEN's representations apply dropout in ``forward``)."""
    return representation._plain_forward(indices=indices)


REGULARIZERS: Registry[type[WeightedN3] | None] = Registry("regularizer", {"none": None, "n3": WeightedN3})


def batch_regularizer(name: str, weight: float) -> WeightedN3 | None:
    """The penalty a recipe's ``regularizer`` and ``regularizer_weight`` ask for."""
    kind = REGULARIZERS.get(name)
    return None if kind is None else kind(weight)


class BatchRegularized:
    """Mixin for PyKEEN's training loops: adds a ``regularizer(model, batch, start, stop)``
    penalty to every (sub-)batch's loss."""

    def __init__(self, *args: Any, regularizer: BatchRegularizer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_regularizer = regularizer

    def _process_batch(self, batch: Any, start: int, stop: int, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss = super()._process_batch(batch, start, stop, *args, **kwargs)  # type: ignore[misc]
        if self.batch_regularizer is None:
            return loss
        return loss + self.batch_regularizer(self.model, batch, start, stop)  # type: ignore[attr-defined]


class EmbeddingDropout(nn.Module):
    """Dropout over embedding coordinates that also handles complex embeddings."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty(x.shape, dtype=x.real.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_embedding_dropout(model: ERModel, *, entity: float, relation: float) -> None:
    """Give the model's entity and relation representations dropout (a rate of 0 leaves
    them as they are)."""
    for representations, p in (
        (model.entity_representations, entity),
        (model.relation_representations, relation),
    ):
        if p > 0:
            for representation in representations:
                representation.dropout = EmbeddingDropout(p)
