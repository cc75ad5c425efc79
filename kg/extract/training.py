"""Training, saving and loading of the joint entity/relation extractor.

``train_extractor`` trains the task heads and, by default, fine-tunes the encoder with
them (a small learning rate for the encoder, a larger one for the heads, both warmed up
then decayed linearly); ``fine_tune=False`` encodes the sentences once with the frozen
encoder instead. Runs are seeded, so a rerun gives the same model. With dev sentences
the best epoch on dev is kept; :func:`train_final` then retrains on train+dev for that
many epochs (the protocol SpERT used for its test figures).

A run is saved as a folder ``<models_root>/<run>/`` holding ``model.pt`` (head weights),
``config.json`` (network shape, label maps, training options and figures) and, for a
fine-tuned run, ``encoder/`` (the tuned transformer and its tokenizer). The newest
folder is what ``kg extract eval`` and ``kg extract run`` use unless told otherwise.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kg.errors import ConfigError, InputError, NotFoundError
from kg.extract.conll04 import LabelledSentence
from kg.extract.encoder import DEFAULT_ENCODER, WordEncoder
from kg.extract.extraction_metrics import EvaluationReport, evaluate
from kg.extract.relation_model import (
    ENTITY_HEADS,
    NO_RELATION,
    JointExtractor,
    ModelConfig,
    Prediction,
    collate,
    migrate_state,
    predict_sentences,
)
from kg.extract.sampling import relation_samples
from kg.folders import replace_folder
from kg.ids import is_folder_name
from kg.progress import ProgressReporter, SilentProgress

# Settings that differ by mode (the field defaults are the fine-tuned ones): the frozen
# model keeps those its documented figures were measured with. A fine-tuned epoch costs
# ~90 s on one core against ~15 s frozen (CoNLL04 train split), and peaks sooner.
_MODE_DEFAULTS: dict[bool, dict[str, int | float]] = {
    True: {},
    False: {"epochs": 25, "batch_size": 16, "learning_rate": 2e-3},
}
WEIGHTS_FILE = "model.pt"
CONFIG_FILE = "config.json"
ENCODER_DIR = "encoder"


@dataclass
class TrainingOptions:
    """Knobs of one training run (defaults reach the documented CoNLL04 figures)."""

    epochs: int = 14
    batch_size: int = 8
    learning_rate: float = 1e-3  # the task heads
    encoder_learning_rate: float = 2e-4  # the transformer, when fine-tuned (1e-4: lower dev F1)
    warmup: float = 0.1  # share of the steps with a rising learning rate
    fine_tune: bool = True
    tune_layers: int = 6  # top transformer layers fine-tuned (see WordEncoder.trainable)
    weight_decay: float = 1e-5
    seed: int = 13
    threads: int | None = 1  # see torch_threads
    encoder: str = DEFAULT_ENCODER
    entities: str = "tagger"  # the entity head: "tagger" (BILOU) or "span" (SpERT's), ENTITY_HEADS

    def __post_init__(self) -> None:
        self.entities = ENTITY_HEADS.check(self.entities)  # an unknown head fails before any work

    @classmethod
    def for_mode(cls, fine_tune: bool, **changes: int | float | str | None) -> TrainingOptions:
        """The defaults of a fine-tuned or a frozen run, with ``changes`` (``None``: keep)."""
        given = {key: value for key, value in changes.items() if value is not None}
        return cls(fine_tune=fine_tune, **{**_MODE_DEFAULTS[fine_tune], **given})  # type: ignore[arg-type]


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    seconds: float
    dev_entity_f1: float | None = None
    dev_relation_f1: float | None = None
    phase: str = "train"  # "final": the retraining on train+dev

    def dev_score(self) -> tuple[float, float]:
        """What the best epoch maximises: strict relation F1, then entity F1."""
        return (self.dev_relation_f1 or 0.0, self.dev_entity_f1 or 0.0)


@dataclass
class TrainingResult:
    run_dir: Path
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None  # the epoch kept (chosen on dev), None without dev


class ExtractionModel:
    """A trained extractor with its encoder: word tokens in, entities and relations out."""

    def __init__(self, network: JointExtractor, encoder: WordEncoder, run_dir: Path | None = None) -> None:
        self.network = network
        self.encoder = encoder
        self.run_dir = run_dir

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    def predict(
        self,
        sentences: list[list[str]],
        *,
        progress: ProgressReporter | None = None,
        threads: int = 1,
        min_confidence: float = 0.5,
    ) -> list[Prediction]:
        with torch_threads(threads):
            encoded = self.encoder.encode(sentences, progress=progress)
            return predict_sentences(self.network, encoded, sentences, min_confidence=min_confidence)

    @classmethod
    def load(cls, run_dir: Path) -> ExtractionModel:
        """Load a saved run; a folder that is not one is a clear ``NotFoundError``."""
        config_path, weights_path = run_dir / CONFIG_FILE, run_dir / WEIGHTS_FILE
        if not config_path.is_file() or not weights_path.is_file():
            raise NotFoundError(
                f"{run_dir} is not a trained extraction model (needs {CONFIG_FILE} and {WEIGHTS_FILE}); "
                "train one with `kg extract train --data FILE`."
            )
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        config = ModelConfig.from_dict(saved["model"])
        network = JointExtractor(config)
        network.load_state_dict(
            migrate_state(torch.load(weights_path, map_location="cpu", weights_only=True))
        )
        network.eval()
        return cls(network, _saved_encoder(run_dir, saved, config.encoder), run_dir)


def _saved_encoder(run_dir: Path, saved: dict[str, Any], base: str) -> WordEncoder:
    """The run's tuned encoder, or the base one for a frozen run. A fine-tuned run whose
    ``encoder/`` is missing or unreadable is refused: its heads under the base encoder
    would load and quietly extract worse."""
    tuned = run_dir / ENCODER_DIR
    if not saved.get("training", {}).get("fine_tune", False):
        return WordEncoder(base)
    if not tuned.is_dir():
        raise NotFoundError(
            f"{run_dir} was fine-tuned but its {ENCODER_DIR}/ folder is missing; copy the whole "
            "run folder, or train again with `kg extract train`."
        )
    try:
        return WordEncoder(str(tuned))
    except ConfigError as exc:
        raise NotFoundError(
            f"{tuned} is not a readable encoder ({exc}); train again with `kg extract train`."
        ) from exc


def latest_run(models_root: Path) -> Path:
    """The newest saved run under ``models_root``."""
    runs = sorted(p.parent for p in models_root.glob(f"*/{CONFIG_FILE}")) if models_root.is_dir() else []
    if not runs:
        raise NotFoundError(
            f"No trained extraction model under {models_root}; run "
            "`kg extract train --data conll04_train.json` first, or pass --model DIR."
        )
    return runs[-1]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` torch CPU threads, then restore the previous count.

    One thread is the default: on a busy two-core machine the encoder and the heads ran
    3-10x faster with one thread than with two (benchmarks/extract.py shows throughput).
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_config(sentences: list[LabelledSentence], encoder: WordEncoder, entities: str) -> ModelConfig:
    """Label maps and relation signatures learned from the training data itself, and the
    entity head ``entities`` (a name in ``ENTITY_HEADS``)."""
    entity_types = sorted({s.type for sentence in sentences for s in sentence.entities})
    relation_types = sorted({r.type for sentence in sentences for r in sentence.relations})
    if not entity_types:
        raise InputError("The training data has no entities; nothing to learn.")
    if NO_RELATION in relation_types:
        raise InputError(f"{NO_RELATION!r} is reserved and cannot be a relation type in training data.")
    signatures = sorted(
        {
            (sentence.entities[r.head].type, sentence.entities[r.tail].type, r.type)
            for sentence in sentences
            for r in sentence.relations
        }
    )
    return ModelConfig(
        encoder=encoder.name,
        encoder_layers=encoder.layers,
        encoder_dim=encoder.dim,
        entity_types=entity_types,
        relation_types=relation_types,
        signatures=signatures,
        entities=entities,
    )


def train_extractor(
    train: list[LabelledSentence],
    models_root: Path,
    options: TrainingOptions | None = None,
    *,
    dev: list[LabelledSentence] | None = None,
    progress: ProgressReporter | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    run_name: str | None = None,
) -> TrainingResult:
    """Train on ``train`` and save the run under ``models_root``.

    With ``dev``, every epoch is scored on it (reported through ``on_epoch``) and the
    best epoch is the one saved, so its dev figures are a selection, not a held-out
    estimate; :func:`train_final` is the protocol for an honest test figure.
    """
    options = options or TrainingOptions()
    check_run_name(run_name)
    if not train:
        raise InputError("No training sentences.")
    started = time.perf_counter()
    with torch_threads(options.threads):
        fitted = _fit(train, dev, options, progress or SilentProgress(), on_epoch)
        fitted.result.seconds = time.perf_counter() - started
        fitted.result.run_dir = save_run(
            fitted, models_root, options, train_size=len(train), run_name=run_name
        )
    return fitted.result


def train_final(
    train: list[LabelledSentence],
    dev: list[LabelledSentence],
    models_root: Path,
    options: TrainingOptions | None = None,
    *,
    progress: ProgressReporter | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    run_name: str | None = None,
) -> TrainingResult:
    """Choose the epoch count on ``dev``, then retrain on train+dev for that many epochs
    (same settings, same schedule shape) and save only that model."""
    options = options or TrainingOptions()
    check_run_name(run_name)
    if not train or not dev:
        raise InputError("--final needs both training and dev sentences.")
    started = time.perf_counter()
    progress = progress or SilentProgress()
    with torch_threads(options.threads):
        chosen = _fit(train, dev, options, progress, on_epoch).result  # its model is dropped here
        assert chosen.best_epoch is not None
        final_options = replace(options, epochs=chosen.best_epoch)
        final = _fit(train + dev, None, final_options, progress, on_epoch, phase="final")
        final.result.history = chosen.history + final.result.history
        final.result.best_epoch = chosen.best_epoch
        final.result.seconds = time.perf_counter() - started
        final.result.run_dir = save_run(
            final, models_root, final_options, train_size=len(train) + len(dev), run_name=run_name
        )
    return final.result


def check_run_name(run_name: str | None) -> None:
    """A run name must be a plain folder name: its folder replaces a run of the same name,
    and ``--name ..`` or an absolute path once emptied folders outside the models folder."""
    if run_name is not None and not is_folder_name(run_name):
        raise InputError(f"--name {run_name!r} is not a folder name: use letters, digits, '.', '_' and '-'.")


@dataclass
class _Fitted:
    network: JointExtractor
    encoder: WordEncoder
    result: TrainingResult


class _FrozenFeatures:
    """Encoder layers computed once, up front; no gradient reaches the encoder.

    Batches are plain shuffles and the schedule is a one-cycle one (warm-up, cosine
    decay): the settings the frozen model's documented figures were measured with.
    """

    length_pool = 1  # see bucketed_batches

    @staticmethod
    def schedule(
        optimizer: torch.optim.Optimizer, total_steps: int, warmup: float
    ) -> torch.optim.lr_scheduler.LRScheduler:
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peaks, total_steps=total_steps, pct_start=warmup
        )

    def __init__(
        self,
        encoder: WordEncoder,
        train: list[LabelledSentence],
        dev: list[LabelledSentence] | None,
        progress: ProgressReporter,
        tune_layers: int,
    ) -> None:
        with progress.task("Encoding training sentences", len(train) + len(dev or [])):
            self.train = encoder.encode([s.tokens for s in train], progress=progress)
            self.dev = encoder.encode([s.tokens for s in dev], progress=progress) if dev else []

    def parameters(self) -> list[nn.Parameter]:
        return []

    def train_batch(self, indices: list[int]) -> list[torch.Tensor]:
        return [self.train[i] for i in indices]

    def dev_vectors(self) -> list[torch.Tensor]:
        return self.dev


class _TunedFeatures:
    """Encoder layers computed per batch with the gradient kept (the encoder learns too).

    Batches group sentences of similar length (the encoder's work is most of a step)
    and the learning rates warm up then decay linearly, as in BERT and SpERT.
    """

    length_pool = 50  # see bucketed_batches

    @staticmethod
    def schedule(
        optimizer: torch.optim.Optimizer, total_steps: int, warmup: float
    ) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_linear(total_steps, warmup))

    def __init__(
        self,
        encoder: WordEncoder,
        train: list[LabelledSentence],
        dev: list[LabelledSentence] | None,
        progress: ProgressReporter,
        tune_layers: int,
    ) -> None:
        self.encoder, self.train, self.dev = encoder, train, dev or []
        self.tuned = encoder.trainable(tune_layers)

    def parameters(self) -> list[nn.Parameter]:
        return self.tuned

    def train_batch(self, indices: list[int]) -> list[torch.Tensor]:
        self.encoder.model.train()
        return self.encoder.encode_trainable([self.train[i].tokens for i in indices])

    def dev_vectors(self) -> list[torch.Tensor]:
        self.encoder.model.eval()
        return self.encoder.encode([s.tokens for s in self.dev])


_FEATURES: dict[bool, type[_FrozenFeatures] | type[_TunedFeatures]] = {
    False: _FrozenFeatures,
    True: _TunedFeatures,
}


def _fit(
    train: list[LabelledSentence],
    dev: list[LabelledSentence] | None,
    options: TrainingOptions,
    progress: ProgressReporter,
    on_epoch: Callable[[EpochRecord], None] | None,
    phase: str = "train",
) -> _Fitted:
    seed_everything(options.seed)
    encoder = WordEncoder(options.encoder)
    features = _FEATURES[options.fine_tune](encoder, train, dev, progress, options.tune_layers)
    config = build_config(train, encoder, options.entities)
    network = JointExtractor(config)
    groups = [{"params": list(network.parameters()), "lr": options.learning_rate}]
    if features.parameters():
        groups.append({"params": features.parameters(), "lr": options.encoder_learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=options.weight_decay)
    total_steps = max(1, options.epochs * ((len(train) + options.batch_size - 1) // options.batch_size))
    scheduler = features.schedule(optimizer, total_steps, options.warmup)
    result = TrainingResult(run_dir=Path())
    best: tuple[tuple[float, float], int, dict[str, torch.Tensor], list[torch.Tensor]] | None = None
    with progress.task("Training" if phase == "train" else "Retraining on train+dev", options.epochs):
        for epoch in range(1, options.epochs + 1):
            epoch_started = time.perf_counter()
            loss = _train_epoch(network, features, optimizer, scheduler, train, options.batch_size)
            record = EpochRecord(epoch, loss, time.perf_counter() - epoch_started, phase=phase)
            if dev:
                tokens = [s.tokens for s in dev]
                report = evaluate_predictions(dev, predict_sentences(network, features.dev_vectors(), tokens))
                record.dev_entity_f1, record.dev_relation_f1 = report.entities.f1, report.relations.f1
                if best is None or record.dev_score() > best[0]:
                    best = (record.dev_score(), epoch, _snapshot(network), _copies(features.parameters()))
            result.history.append(record)
            if on_epoch:
                on_epoch(record)
            progress.advance()
    if best is not None:
        _, result.best_epoch, network_state, encoder_weights = best
        network.load_state_dict(network_state)
        with torch.no_grad():
            for parameter, kept in zip(features.parameters(), encoder_weights, strict=True):
                parameter.copy_(kept)
    network.eval()
    encoder.model.eval()
    return _Fitted(network, encoder, result)


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy(module.state_dict())


def _copies(parameters: list[nn.Parameter]) -> list[torch.Tensor]:
    """The encoder weights training changes (none when frozen): copying the whole
    encoder at every better epoch would copy ~90 MB that never moves."""
    return [parameter.detach().clone() for parameter in parameters]


def warmup_then_linear(total_steps: int, warmup: float) -> Callable[[int], float]:
    """Learning-rate factor: rises linearly over the first ``warmup`` share of the steps,
    then falls linearly to zero (the BERT/SpERT schedule)."""
    warm = max(1, int(total_steps * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return factor


def _train_epoch(
    network: JointExtractor,
    features: _FrozenFeatures | _TunedFeatures,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train: list[LabelledSentence],
    batch_size: int,
) -> float:
    config = network.config
    type_index = {t: i for i, t in enumerate(config.entity_types)}
    relation_index = {r: i + 1 for i, r in enumerate(config.relation_types)}
    network.train()
    total = 0.0
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for chunk in bucketed_batches(train, batch_size, features.length_pool):
        sentences = [train[i] for i in chunk]
        batch = collate(features.train_batch(chunk), [s.tokens for s in sentences])
        states = network.states(batch.layers, batch.shapes, batch.lengths)
        loss = network.entities.loss(states, sentences)
        pairs, labels = relation_samples(sentences, relation_index, network.entities.pair_negatives)
        if pairs:
            loss = loss + nn.functional.cross_entropy(
                network.pair_scores(states, pairs, type_index), torch.tensor(labels)
            )
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(chunk)
    return total / max(1, len(train))


def bucketed_batches(sentences: list[LabelledSentence], batch_size: int, pool: int) -> list[list[int]]:
    """Shuffled batches of sentences of similar length: shuffle, sort each pool of
    ``pool`` batches by length, cut, shuffle the batches (``pool=1``: a plain shuffle).
    Less padding means less encoder work, which is most of a fine-tuning step."""
    order = list(range(len(sentences)))
    random.shuffle(order)
    if pool == 1:  # the frozen path's batches, as its documented figures were measured
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches = []
    for lo in range(0, len(order), pool * batch_size):
        group = sorted(order[lo : lo + pool * batch_size], key=lambda i: len(sentences[i].tokens))
        batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    random.shuffle(batches)
    return batches


def evaluate_predictions(gold: list[LabelledSentence], predictions: list[Prediction]) -> EvaluationReport:
    return evaluate(gold, [p.sentence for p in predictions])


def save_run(
    fitted: _Fitted,
    models_root: Path,
    options: TrainingOptions,
    *,
    train_size: int,
    run_name: str | None = None,
) -> Path:
    """Write weights, config and a tuned encoder to a new run folder; the folder appears
    complete or not at all."""
    check_run_name(run_name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = models_root / (run_name or f"joint-{stamp}")
    staging = models_root / f".{run_dir.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    torch.save(fitted.network.state_dict(), staging / WEIGHTS_FILE)
    if options.fine_tune:
        fitted.encoder.save(staging / ENCODER_DIR)
    result = fitted.result
    meta = {
        "model": fitted.network.config.to_dict(),
        "training": asdict(options),
        "train_sentences": train_size,
        "best_epoch": result.best_epoch,
        "seconds": round(result.seconds, 1),
        "history": [asdict(r) for r in result.history],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    replace_folder(staging, run_dir)
    return run_dir
