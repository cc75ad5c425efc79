"""Training on several GPUs (or machines) through PyKEEN's PyTorch Lightning integration.

``embeddings.train`` runs PyKEEN's own training loop on one device. For more, PyKEEN ships
``pykeen.contrib.lightning``: the same sLCWA / LCWA batch step inside a Lightning module,
so Lightning's ``Trainer`` brings data-parallel training (``strategy="ddp"``), several
nodes (``num_nodes``) and mixed precision. This module feeds it one of our recipes
(``embeddings.recipes``) and the model ``embeddings.artifact.build_model`` makes from it, so
both paths train the same model. What it leaves out, being the single-device path's job:
early stopping, checkpoints and the registry (``kg train``).

Needs the ``gpu`` extra (``pip install -e '.[gpu]'``).
"""

from __future__ import annotations

from typing import Any

import torch
from pykeen.datasets import EagerDataset
from pykeen.losses import loss_resolver
from pykeen.models import Model
from pykeen.triples import CoreTriplesFactory

from embeddings.artifact import build_model
from embeddings.device import quiet_libraries
from embeddings.recipes import resolve_recipe
from kg.errors import InputError


def train_lightning(
    training: CoreTriplesFactory,
    model: str = "transe",
    *,
    validation: CoreTriplesFactory | None = None,
    devices: int | str = "auto",
    accelerator: str = "auto",
    strategy: str = "auto",
    num_nodes: int = 1,
    seed: int = 42,
    **overrides: Any,
) -> Model:
    """Train ``model``'s recipe (with ``overrides``, e.g. ``num_epochs=20``) on
    ``training`` with a Lightning ``Trainer`` and return the trained PyKEEN model.

    ``devices``, ``accelerator``, ``strategy`` and ``num_nodes`` go to the ``Trainer``
    unchanged: ``devices=4, strategy="ddp"`` trains on four GPUs. Use ``"ddp"``, not
    ``"ddp_spawn"``: with spawned workers the weights are trained in child processes and
    the model returned here would stay untrained. ``validation`` only adds a validation
    loss per epoch. The factory must match the recipe's ``create_inverse_triples``
    (the LCWA recipes train on reciprocal relations).
    """
    try:
        from pykeen.contrib.lightning import lit_pipeline
    except ImportError as error:
        raise InputError(
            "Multi-GPU training needs PyTorch Lightning: pip install 'kg-recommend[gpu]'."
        ) from error
    recipe = resolve_recipe(model, overrides)
    if training.create_inverse_triples != recipe.create_inverse_triples:
        raise InputError(
            f"The {recipe.model} recipe trains with create_inverse_triples={recipe.create_inverse_triples}; "
            "build the triples factory the same way."
        )
    torch.manual_seed(seed)
    kge = build_model(
        recipe,
        num_entities=training.num_entities,
        num_relations=training.num_relations,
        loss=loss_resolver.make(recipe.loss, recipe.loss_kwargs),
        random_seed=seed,
    )
    loop_kwargs: dict[str, Any] = {
        # the module reads the training (and validation) factory from a dataset
        "dataset": EagerDataset(training=training, testing=training, validation=validation),
        "model": kge,
        "batch_size": recipe.batch_size,
        "learning_rate": recipe.lr,
        "label_smoothing": recipe.label_smoothing,
        "optimizer": recipe.optimizer,
    }
    if recipe.training_loop == "slcwa":
        loop_kwargs.update(
            negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": recipe.num_negs_per_pos}
        )
    with quiet_libraries():
        lit_pipeline(
            training_loop=recipe.training_loop,
            training_loop_kwargs=loop_kwargs,
            trainer_kwargs={
                "accelerator": accelerator,
                "devices": devices,
                "strategy": strategy,
                "num_nodes": num_nodes,
                "max_epochs": recipe.num_epochs,
                "logger": False,
                "enable_checkpointing": False,
                "enable_progress_bar": False,
                "enable_model_summary": False,
            },
        )
    return kge
