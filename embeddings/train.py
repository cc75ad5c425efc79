"""Training: triples in, a ``TrainedModel`` out, through PyKEEN's ``pipeline()``.

``train_model`` is the in-memory entry point (no store, no registry): split, train with
the model's recipe, early-stop on validation MRR, evaluate on the test split. The CLI's
``kg train`` adds the store export, checkpoints and the registry around it
(``embeddings.workflow``). Training is seeded; it uses the GPU when there is one.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pykeen.losses import loss_resolver
from pykeen.models import Model
from pykeen.pipeline import pipeline
from pykeen.stoppers import EarlyStopper
from pykeen.training.callbacks import TrainingCallback
from pykeen.triples import TriplesFactory

from embeddings.artifact import SAMPLE_TRIPLES, TrainedModel, build_model
from embeddings.checkpoints import LCWALoop, SLCWALoop
from embeddings.device import quiet_libraries, resolve_device, use_cpu_threads
from embeddings.link_metrics import FocusedFilterEvaluator, metrics_from_result
from embeddings.recipes import ModelRecipe, resolve_recipe
from embeddings.regularization import batch_regularizer
from embeddings.text_link import feature_matrix
from embeddings.triples import TripleSplits, split_triples, triples_fingerprint
from kg.errors import InputError
from kg.progress import ProgressReporter, SilentProgress

# elements of the score tensors one evaluation batch may build (~256 MB of float32)
EVAL_ELEMENTS = 64_000_000
TRAINING_LOOPS: dict[str, Any] = {"slcwa": SLCWALoop, "lcwa": LCWALoop}
# optimizers torch can run as one fused kernel per step (over real-valued parameters)
FUSED_OPTIMIZERS = frozenset({"adam", "adamw"})


def train_model(
    triples: pd.DataFrame,
    model: str = "transe",
    *,
    text_features: dict[str, np.ndarray] | None = None,
    seed: int = 42,
    progress: ProgressReporter | None = None,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    device: str | None = None,
    **overrides: Any,
) -> TrainedModel:
    """Train a KGE model on ``head, relation, tail`` triples (entities as ``Label:id``).

    The triples are split (stratified, every entity kept in training), the model is
    trained with its recipe (``embeddings.recipes``) updated by ``overrides`` (e.g.
    ``num_epochs=50, embedding_dim=64``), early-stopped on validation MRR and evaluated
    on the test split (``TrainedModel.metrics``). ``text_features`` maps entities to text
    vectors and makes the model text-aware (cold-start capable).
    """
    check_triples(triples)
    splits = split_triples(triples, ratios, seed=seed)
    return train_on_splits(
        splits,
        model,
        text_features=text_features,
        seed=seed,
        progress=progress,
        device=device,
        fingerprint=triples_fingerprint(triples),
        **overrides,
    )


def train_on_splits(
    splits: TripleSplits,
    model: str = "transe",
    *,
    text_features: dict[str, np.ndarray] | None = None,
    seed: int = 42,
    progress: ProgressReporter | None = None,
    device: str | None = None,
    checkpoint: Path | None = None,
    threads: int | None = None,
    fingerprint: str = "",
    run_id: str | None = None,
    **overrides: Any,
) -> TrainedModel:
    """Train on given splits (the benchmark passes PyKEEN's fixed dataset splits).

    ``checkpoint`` names a file that is written after every epoch; if it exists, training
    continues from it (``kg train --resume``). ``threads`` sets torch's CPU threads
    (default: the cores other processes leave free, see ``embeddings.device``).
    """
    recipe = resolve_recipe(model, overrides)
    target = resolve_device(device)
    if target.type == "cpu":
        use_cpu_threads(threads)
    entity_to_id, relation_to_id = _id_maps(splits)
    factories = [
        TriplesFactory.from_labeled_triples(
            part[["head", "relation", "tail"]].to_numpy(dtype=str),
            entity_to_id=entity_to_id,
            relation_to_id=relation_to_id,
            create_inverse_triples=recipe.create_inverse_triples,
            compact_id=False,
        )
        for part in (splits.train, splits.validation, splits.test)
    ]
    training, validation, testing = factories
    features, has_text = (None, None)
    if text_features:
        features, has_text = feature_matrix(entity_to_id, text_features)
    torch.manual_seed(seed)
    kge = build_model(
        recipe,
        num_entities=len(entity_to_id),
        num_relations=len(relation_to_id),
        text_features=features,
        has_text=has_text,
        loss=loss_resolver.make(recipe.loss, recipe.loss_kwargs),
        random_seed=seed,
    )
    reporter = progress or SilentProgress()
    label = f"Training {recipe.model}{' + text' if features is not None else ''} on {target.type}"
    clock = _EpochClock(reporter)
    eval_batch = evaluation_batch_size(recipe, len(entity_to_id))
    started = time.perf_counter()
    with (
        reporter.task(label, total=recipe.num_epochs),
        _training_context(),
        _best_weights_file(checkpoint) as best_weights,
    ):
        stopper = None
        if validation.num_triples:
            stopper = _early_stopper(kge, training, validation, recipe, eval_batch, seed, best_weights)
        result = pipeline(
            training=training,
            validation=validation if validation.num_triples else None,
            testing=testing if testing.num_triples else training,
            model=kge,
            training_loop=TRAINING_LOOPS[recipe.training_loop],
            training_loop_kwargs=_training_loop_kwargs(recipe),
            negative_sampler="basic" if recipe.training_loop == "slcwa" else None,
            negative_sampler_kwargs={"num_negs_per_pos": recipe.num_negs_per_pos}
            if recipe.training_loop == "slcwa"
            else None,
            optimizer=recipe.optimizer,
            optimizer_kwargs=optimizer_kwargs(recipe, kge),
            training_kwargs=_training_kwargs(recipe, clock, checkpoint, pin_memory=target.type == "cuda"),
            stopper=stopper,
            evaluator=FocusedFilterEvaluator,
            evaluator_kwargs={"filtered": True},
            evaluation_kwargs={"batch_size": eval_batch, "use_tqdm": False},
            random_seed=seed,
            device=target,
        )
    epochs = len(result.losses)
    metrics = metrics_from_result(result.metric_results)
    metrics.update(
        epochs=epochs,
        best_epoch=getattr(stopper, "best_epoch", None) or epochs,
        # the early stopper's best filtered MRR on the validation sample: what settings are chosen by
        validation_mrr=round(float(stopper.best_metric), 5) if stopper and stopper.best_epoch else None,
        train_seconds=round(time.perf_counter() - started, 2),
        seconds_per_epoch=round(clock.seconds_per_epoch, 4),
        test_triples=int(testing.num_triples),
    )
    return TrainedModel(
        run_id=run_id or f"unsaved-{recipe.model}",
        model_name=recipe.model,
        entity_to_id=entity_to_id,
        relation_to_id=relation_to_id,
        model=result.model,
        recipe=recipe,
        fingerprint=fingerprint,
        metrics=metrics,
        sample=_sample_triples(splits.train, seed),
        info={
            "seed": seed,
            "device": target.type,
            "text": features is not None,
            "splits": splits.sizes(),
            "relations": sorted(relation_to_id),
        },
    )


class _EpochClock(TrainingCallback):
    """Advances the progress bar per epoch and times the training part of each epoch
    (from its first batch to its end, without the early stopper's evaluations)."""

    def __init__(self, reporter: ProgressReporter) -> None:
        super().__init__()
        self.reporter = reporter
        self.epoch_seconds: list[float] = []
        self._epoch_start: float | None = None

    def pre_batch(self, **kwargs: Any) -> None:
        if self._epoch_start is None:
            self._epoch_start = time.perf_counter()

    def post_epoch(self, epoch: int, epoch_loss: float, **kwargs: Any) -> None:
        if self._epoch_start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._epoch_start)
        self._epoch_start = None
        self.reporter.advance(1)

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean(self.epoch_seconds)) if self.epoch_seconds else 0.0


def _early_stopper(
    model: Model,
    training: TriplesFactory,
    validation: TriplesFactory,
    recipe: ModelRecipe,
    batch_size: int,
    seed: int,
    best_weights: Path,
) -> EarlyStopper:
    """Early stopping on filtered validation MRR, measured on at most
    ``recipe.max_validation`` validation triples (a seeded sample): ranking is the
    expensive part, and a few thousand triples tell a plateau apart from progress."""
    if validation.num_triples > recipe.max_validation:
        generator = torch.Generator().manual_seed(seed)
        keep = torch.randperm(validation.num_triples, generator=generator)[: recipe.max_validation]
        validation = validation.clone_and_exchange_triples(validation.mapped_triples[keep.sort().values])
    return EarlyStopper(
        model=model,
        evaluator=FocusedFilterEvaluator(filtered=True),
        training_triples_factory=training,
        evaluation_triples_factory=validation,
        frequency=recipe.eval_every,
        patience=recipe.patience,
        relative_delta=recipe.min_delta,
        metric="inverse_harmonic_mean_rank",
        evaluation_batch_size=batch_size,
        use_tqdm=False,
        best_model_path=best_weights,
    )


def optimizer_kwargs(recipe: ModelRecipe, model: Model) -> dict[str, Any]:
    """The learning rate, and ``fused`` where torch has a fused step for the optimizer and
    every parameter is real (PyKEEN keeps complex embeddings as real pairs; torch has no
    fused step for complex tensors). The unfused Adam step walks the whole
    embedding table several times: ~350 ms a step for 600k x 64 entities on a CPU core,
    against ~30 ms fused, which decided the epoch time on a 10M-triple graph."""
    kwargs: dict[str, Any] = {"lr": recipe.lr}
    if recipe.optimizer.lower() in FUSED_OPTIMIZERS and all(
        p.is_floating_point() for p in model.parameters()
    ):
        kwargs["fused"] = True
    return kwargs


def evaluation_batch_size(recipe: ModelRecipe, num_entities: int) -> int:
    """Rows ranked at once. Contracted interactions need one score row per query; TransE
    with a norm other than L1 or L2 materialises ``rows x entities x dim``, so it gets fewer rows."""
    broadcast = recipe.model == "transe" and recipe.model_kwargs.get("scoring_fct_norm", 1) not in (1, 2)
    per_row = num_entities * (recipe.embedding_dim if broadcast else 8)
    return int(min(4096, max(16, EVAL_ELEMENTS // per_row)))


def _training_loop_kwargs(recipe: ModelRecipe) -> dict[str, Any] | None:
    """The batch penalty (weighted N3) for the training loop, when the recipe asks for one."""
    regularizer = batch_regularizer(recipe.regularizer, recipe.regularizer_weight)
    return None if regularizer is None else {"regularizer": regularizer}


def _training_kwargs(
    recipe: ModelRecipe, clock: _EpochClock, checkpoint: Path | None, *, pin_memory: bool
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "num_epochs": recipe.num_epochs,
        "batch_size": recipe.batch_size,
        "use_tqdm": False,
        "pin_memory": pin_memory,
        "callbacks": [clock],
    }
    if recipe.training_loop == "lcwa" and recipe.label_smoothing:
        kwargs["label_smoothing"] = recipe.label_smoothing
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(
            checkpoint_name=checkpoint.name, checkpoint_directory=checkpoint.parent, checkpoint_frequency=0
        )
    return kwargs


def _sample_triples(train: pd.DataFrame, seed: int) -> list[tuple[str, str, str]]:
    chosen = train.sample(n=min(SAMPLE_TRIPLES, len(train)), random_state=seed)
    return [(h, r, t) for h, r, t in chosen[["head", "relation", "tail"]].itertuples(index=False)]


def _id_maps(splits: TripleSplits) -> tuple[dict[str, int], dict[str, int]]:
    """Ids follow sorted labels, so the same triples always give the same ids."""
    parts = [splits.train, splits.validation, splits.test]
    entities = sorted(set().union(*(set(p["head"]) | set(p["tail"]) for p in parts)))
    relations = sorted(set().union(*(set(p["relation"]) for p in parts)))
    return {e: i for i, e in enumerate(entities)}, {r: i for i, r in enumerate(relations)}


def check_triples(triples: pd.DataFrame) -> None:
    """Refuse input no model can learn from: missing columns, or a handful of facts
    (which would train for every epoch and report perfect scores on one test triple)."""
    missing = {"head", "relation", "tail"} - set(triples.columns)
    if missing:
        raise InputError(f"Triples need columns head, relation, tail; missing {sorted(missing)}.")
    if len(triples) < 10:
        raise InputError(
            f"Only {len(triples)} triples: too few to train an embedding model; load more data with `kg ingest`."
        )


@contextmanager
def _best_weights_file(checkpoint: Path | None) -> Iterator[Path]:
    """Where the early stopper keeps the best weights: beside the checkpoint, so a
    resumed run still finds them; otherwise in a temporary folder that is removed."""
    if checkpoint is not None:
        yield checkpoint.with_name(checkpoint.stem + "-best.pt")
        return
    with tempfile.TemporaryDirectory(prefix="kg-train-") as folder:
        yield Path(folder) / "best.pt"


@contextmanager
def _training_context() -> Iterator[None]:
    """Quiet libraries, and freeze the objects that exist before training out of the
    garbage collector: PyKEEN runs a full ``gc.collect()`` after every epoch, which
    otherwise re-scans every object torch, pandas and sympy ever created."""
    gc.collect()
    gc.freeze()
    try:
        with quiet_libraries():
            yield
    finally:
        gc.unfreeze()
