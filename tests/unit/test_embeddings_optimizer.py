"""The optimizer runs fused where torch can (real parameters), unfused otherwise."""

from __future__ import annotations

import pytest
import torch
from pykeen.losses import loss_resolver

from embeddings.artifact import build_model
from embeddings.recipes import resolve_recipe
from embeddings.train import optimizer_kwargs


@pytest.mark.parametrize(
    ("name", "overrides", "fused"),
    [
        ("transe", {}, True),
        ("distmult", {"optimizer": "AdamW"}, True),
        ("complex", {}, True),  # PyKEEN stores complex embeddings as real pairs
        ("transe", {"optimizer": "adagrad"}, False),
    ],
)
def test_fused_only_where_torch_supports_it(name: str, overrides: dict, fused: bool) -> None:
    recipe = resolve_recipe(name, {"embedding_dim": 4, **overrides})
    model = build_model(
        recipe, num_entities=5, num_relations=2, loss=loss_resolver.make(recipe.loss), random_seed=0
    )
    kwargs = optimizer_kwargs(recipe, model)
    assert kwargs["lr"] == recipe.lr
    assert kwargs.get("fused", False) is fused


def test_complex_valued_parameters_are_not_fused() -> None:
    recipe = resolve_recipe("transe", {"embedding_dim": 4})
    model = build_model(
        recipe, num_entities=5, num_relations=2, loss=loss_resolver.make(recipe.loss), random_seed=0
    )
    model.register_parameter("phase", torch.nn.Parameter(torch.zeros(3, dtype=torch.cfloat)))
    assert "fused" not in optimizer_kwargs(recipe, model)
