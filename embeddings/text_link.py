"""Text-aware entity representations: node text feeds the KGE model.

An entity's representation is ``project(text_vector) + residual``: a trainable linear map
of its (frozen) sentence-transformer vector plus a free embedding that learns what the
text does not say. During training the residual of entities that have text is hidden at
random (``residual_dropout``), so the projection alone must already place an entity well.
That is what lets an entity the model never saw -- a product added after training, with
no interactions -- get a meaningful embedding from its text alone: ``project(text)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from pykeen.models import ERModel
from pykeen.nn.representation import Embedding, Representation
from torch import nn


class TextFusedRepresentation(Representation):
    """``project(features[i]) + residual[i]`` with residual dropout for entities with text."""

    def __init__(
        self,
        features: torch.Tensor,
        has_text: torch.Tensor,
        *,
        shape: tuple[int, ...],
        dtype: torch.dtype | None = None,
        initializer: object = None,
        residual_dropout: float = 0.3,
        regularizer: object = None,
    ) -> None:
        super().__init__(max_id=int(features.shape[0]), shape=shape, unique=False, regularizer=regularizer)
        self.register_buffer("features", features.float())
        self.register_buffer("has_text", has_text.bool())
        self.is_complex = bool(dtype is not None and dtype.is_complex)
        width = int(np.prod(shape)) * (2 if self.is_complex else 1)
        self.projection = nn.Linear(int(features.shape[1]), width, bias=False)
        self.residual = Embedding(max_id=self.max_id, shape=shape, dtype=dtype, initializer=initializer)
        self.residual_dropout = residual_dropout

    def reset_parameters(self) -> None:
        self.residual.reset_parameters()
        nn.init.xavier_uniform_(self.projection.weight)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Representations from text vectors alone (cold start): ``(n, *shape)``."""
        x = self.projection(features.to(self.projection.weight.dtype))
        if self.is_complex:
            x = torch.view_as_complex(x.view(*x.shape[:-1], -1, 2).contiguous())
        else:
            x = x.view(*x.shape[:-1], *self.shape)
        return x

    def _plain_forward(self, indices: torch.Tensor | None = None) -> torch.Tensor:
        features = self.features if indices is None else self.features[indices.to(self.features.device)]
        residual = self.residual(indices)
        if self.training and self.residual_dropout > 0:
            has_text = self.has_text if indices is None else self.has_text[indices.to(self.has_text.device)]
            hidden = has_text & (torch.rand(has_text.shape, device=has_text.device) < self.residual_dropout)
            residual = residual * (~hidden).unsqueeze(-1).to(residual.real.dtype)
        return self.project(features) + residual

    def text_only(self, features: torch.Tensor) -> torch.Tensor:
        """The cold-start representation of new entities from their text vectors."""
        return self.project(features)

    def extend(self, features: torch.Tensor) -> None:
        """Append entities known only by text: their residual is zero, so they are
        represented exactly by their projected text."""
        count = int(features.shape[0])
        if count == 0:
            return
        device = self.features.device
        self.features = torch.cat([self.features, features.to(device, self.features.dtype)])
        self.has_text = torch.cat([self.has_text, torch.ones(count, dtype=torch.bool, device=device)])
        old = self.residual._embeddings
        grown = nn.Embedding(
            old.num_embeddings + count, old.embedding_dim, dtype=old.weight.dtype, device=device
        )
        with torch.no_grad():
            grown.weight[: old.num_embeddings] = old.weight
            grown.weight[old.num_embeddings :] = 0.0
        self.residual._embeddings = grown
        self.residual.max_id += count
        self.max_id += count


def attach_text_features(
    model: ERModel, features: np.ndarray, has_text: np.ndarray, *, residual_dropout: float
) -> TextFusedRepresentation:
    """Swap the model's entity embedding for a text-fused one of the same shape and type.

    The new representation keeps the old one's initializer and regularizer but not the
    unit-norm constraint of TransE and DistMult: forcing ``project(text) + residual`` onto
    the sphere halved test MRR on the demo shop (0.21 against 0.39 for DistMult) and made
    text-only vectors of new items land among unrelated ones.
    """
    old = model.entity_representations[0]
    if not isinstance(old, Embedding):
        raise TypeError(f"Cannot attach text to a {type(old).__name__} entity representation.")
    fused = TextFusedRepresentation(
        torch.as_tensor(features, dtype=torch.float32),
        torch.as_tensor(has_text, dtype=torch.bool),
        shape=old.shape,
        dtype=torch.cfloat if old.is_complex else None,
        initializer=old.initializer,
        residual_dropout=residual_dropout,
        regularizer=old.regularizer,
    ).to(old.device)
    model.entity_representations = nn.ModuleList([fused])
    return fused


def fused_representation(model: ERModel) -> TextFusedRepresentation | None:
    rep = model.entity_representations[0]
    return rep if isinstance(rep, TextFusedRepresentation) else None


def feature_matrix(
    entities: Iterable[str], text_features: dict[str, np.ndarray], dim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of text vectors in entity order (zeros where an entity has no text) and a mask."""
    ordered = list(entities)
    if dim is None:
        dim = len(next(iter(text_features.values())))
    matrix = np.zeros((len(ordered), dim), dtype=np.float32)
    mask = np.zeros(len(ordered), dtype=bool)
    for row, entity in enumerate(ordered):
        vector = text_features.get(entity)
        if vector is not None:
            matrix[row] = vector
            mask[row] = True
    return matrix, mask
