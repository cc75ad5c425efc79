"""Training, saving and loading of the joint entity/relation extractor.

``train_extractor`` encodes the sentences once with the frozen encoder, then trains the
task heads for a fixed number of epochs (seeded, so a rerun gives the same model). A
run is saved as a folder ``<models_root>/<run>/`` holding ``model.pt`` (weights) and
``config.json`` (network shape, label maps, training options and figures); the newest
folder is what ``kg extract eval`` and ``kg extract run`` use unless told otherwise.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kg.errors import InputError, NotFoundError
from kg.extract.conll04 import LabelledSentence, tags_from_spans
from kg.extract.encoder import DEFAULT_ENCODER, WordEncoder
from kg.extract.extraction_metrics import EvaluationReport, evaluate
from kg.extract.relation_model import (
    NO_RELATION,
    JointExtractor,
    ModelConfig,
    Prediction,
    collate,
    predict_sentences,
)
from kg.ids import is_folder_name
from kg.progress import ProgressReporter, SilentProgress

WEIGHTS_FILE = "model.pt"
CONFIG_FILE = "config.json"


@dataclass
class TrainingOptions:
    """Knobs of one training run (defaults reach the documented CoNLL04 figures)."""

    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 13
    threads: int | None = 1  # see torch_threads
    encoder: str = DEFAULT_ENCODER


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    seconds: float
    dev_entity_f1: float | None = None
    dev_relation_f1: float | None = None


@dataclass
class TrainingResult:
    run_dir: Path
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0


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
        network.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        network.eval()
        return cls(network, WordEncoder(config.encoder), run_dir)


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


def build_config(sentences: list[LabelledSentence], encoder: WordEncoder) -> ModelConfig:
    """Label maps and relation signatures learned from the training data itself."""
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

    ``dev`` is only watched (scores printed per epoch through ``on_epoch``); the saved
    model is the one after the last epoch, so dev figures stay an honest estimate.
    """
    options = options or TrainingOptions()
    check_run_name(run_name)
    if not train:
        raise InputError("No training sentences.")
    with torch_threads(options.threads):
        return _train(train, models_root, options, dev, progress or SilentProgress(), on_epoch, run_name)


def check_run_name(run_name: str | None) -> None:
    """A run name must be a plain folder name: its folder replaces a run of the same name,
    and ``--name ..`` or an absolute path once emptied folders outside the models folder."""
    if run_name is not None and not is_folder_name(run_name):
        raise InputError(f"--name {run_name!r} is not a run name: use letters, digits, '.', '_' and '-'.")


def _train(
    train: list[LabelledSentence],
    models_root: Path,
    options: TrainingOptions,
    dev: list[LabelledSentence] | None,
    progress: ProgressReporter,
    on_epoch: Callable[[EpochRecord], None] | None,
    run_name: str | None,
) -> TrainingResult:
    started = time.perf_counter()
    seed_everything(options.seed)
    encoder = WordEncoder(options.encoder)
    with progress.task("Encoding training sentences", len(train) + len(dev or [])):
        train_vectors = encoder.encode([s.tokens for s in train], progress=progress)
        dev_vectors = encoder.encode([s.tokens for s in dev], progress=progress) if dev else []

    config = build_config(train, encoder)
    network = JointExtractor(config)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    total_steps = options.epochs * ((len(train) + options.batch_size - 1) // options.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=options.learning_rate, total_steps=max(1, total_steps), pct_start=0.1
    )
    result = TrainingResult(run_dir=models_root)
    with progress.task("Training", options.epochs):
        for epoch in range(1, options.epochs + 1):
            epoch_started = time.perf_counter()
            loss = _train_epoch(network, optimizer, scheduler, train, train_vectors, options.batch_size)
            record = EpochRecord(epoch, loss, time.perf_counter() - epoch_started)
            if dev:
                report = evaluate_predictions(
                    dev, predict_sentences(network, dev_vectors, [s.tokens for s in dev])
                )
                record.dev_entity_f1, record.dev_relation_f1 = report.entities.f1, report.relations.f1
            result.history.append(record)
            if on_epoch:
                on_epoch(record)
            progress.advance()
    result.seconds = time.perf_counter() - started
    result.run_dir = save_run(network, models_root, options, result, train_size=len(train), run_name=run_name)
    return result


def _train_epoch(
    network: JointExtractor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train: list[LabelledSentence],
    vectors: list[torch.Tensor],
    batch_size: int,
) -> float:
    config = network.config
    tag_index = {t: i for i, t in enumerate(config.tags)}
    type_index = {t: i for i, t in enumerate(config.entity_types)}
    relation_index = {r: i + 1 for i, r in enumerate(config.relation_types)}
    network.train()
    order = list(range(len(train)))
    random.shuffle(order)
    total = 0.0
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        sentences = [train[i] for i in chunk]
        batch = collate([vectors[i] for i in chunk], [s.tokens for s in sentences])
        states = network.states(batch.layers, batch.shapes, batch.lengths)
        width = states.shape[1]
        gold_tags = torch.full((len(chunk), width), -100, dtype=torch.long)
        pairs, labels = [], []
        for row, sentence in enumerate(sentences):
            tags = tags_from_spans(len(sentence.tokens), sentence.entities)
            gold_tags[row, : len(tags)] = torch.tensor([tag_index[t] for t in tags])
            gold = {(r.head, r.tail): relation_index[r.type] for r in sentence.relations}
            for h, head in enumerate(sentence.entities):
                for t, tail in enumerate(sentence.entities):
                    if h != t:
                        pairs.append((row, head, tail))
                        labels.append(gold.get((h, t), 0))
        tag_loss = nn.functional.cross_entropy(
            network.tag_scores(states).reshape(-1, len(config.tags)), gold_tags.reshape(-1), ignore_index=-100
        )
        loss = tag_loss
        if pairs:
            loss = loss + nn.functional.cross_entropy(
                network.pair_scores(states, pairs, type_index), torch.tensor(labels)
            )
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(chunk)
    return total / max(1, len(train))


def evaluate_predictions(gold: list[LabelledSentence], predictions: list[Prediction]) -> EvaluationReport:
    return evaluate(gold, [p.sentence for p in predictions])


def save_run(
    network: JointExtractor,
    models_root: Path,
    options: TrainingOptions,
    result: TrainingResult,
    *,
    train_size: int,
    run_name: str | None = None,
) -> Path:
    """Write weights and config to a new run folder; the folder appears complete or not at all."""
    check_run_name(run_name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = models_root / (run_name or f"joint-{stamp}")
    staging = models_root / f".{run_dir.name}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), staging / WEIGHTS_FILE)
    meta = {
        "model": network.config.to_dict(),
        "training": asdict(options),
        "train_sentences": train_size,
        "history": [asdict(r) for r in result.history],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if run_dir.exists():
        for old in run_dir.iterdir():
            old.unlink()
        run_dir.rmdir()
    staging.rename(run_dir)
    return run_dir
