"""The Lightning training path (``embeddings.multi_gpu``) on PyKEEN's Nations graph, on CPU:
the same code runs on GPUs with ``accelerator="gpu", devices=N, strategy="ddp"``."""

from __future__ import annotations

import pytest
import torch
from pykeen.datasets import Nations
from pykeen.evaluation import RankBasedEvaluator
from pykeen.losses import loss_resolver
from pykeen.models import Model

from embeddings.artifact import build_model
from embeddings.recipes import resolve_recipe
from kg.errors import InputError

pytest.importorskip("pytorch_lightning")
from embeddings.multi_gpu import train_lightning

QUICK = {"num_epochs": 8, "embedding_dim": 32}


def _filtered_mrr(model: Model, data: Nations) -> float:
    result = RankBasedEvaluator(filtered=True).evaluate(
        model,
        data.testing.mapped_triples,
        additional_filter_triples=[data.training.mapped_triples, data.validation.mapped_triples],
        batch_size=256,
        use_tqdm=False,
    )
    return float(result.get_metric("inverse_harmonic_mean_rank"))


def test_lightning_training_learns_the_graph() -> None:
    data = Nations(create_inverse_triples=True)
    recipe = resolve_recipe("distmult", QUICK)
    # the same recipe and seed, untrained: train_lightning starts from exactly these weights
    untrained = build_model(
        recipe,
        num_entities=data.training.num_entities,
        num_relations=data.training.num_relations,
        loss=loss_resolver.make(recipe.loss, recipe.loss_kwargs),
        random_seed=42,
    )
    trained = train_lightning(data.training, "distmult", accelerator="cpu", devices=1, seed=42, **QUICK)

    before = torch.cat([p.detach().flatten() for p in untrained.parameters()])
    after = torch.cat([p.detach().flatten() for p in trained.parameters()])
    assert before.shape == after.shape
    assert not torch.allclose(before, after)
    trained_mrr, random_mrr = _filtered_mrr(trained, data), _filtered_mrr(untrained, data)
    assert trained_mrr > random_mrr + 0.05, (trained_mrr, random_mrr)


def test_factory_must_match_the_recipe() -> None:
    with pytest.raises(InputError, match="create_inverse_triples"):
        train_lightning(Nations().training, "distmult", accelerator="cpu", devices=1, num_epochs=1)
