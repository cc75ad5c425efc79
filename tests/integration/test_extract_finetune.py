"""Fine-tuning the encoder with the joint extractor: a tiny BERT learns a toy relation.

The encoder is a real ``BertModel`` (two layers, 32 wide, random weights) saved to a
folder with MiniLM's tokenizer, so the whole path -- gradient through the transformer,
saving the tuned encoder in the run folder, loading it back, ``--final`` -- runs in
seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kg.errors import NotFoundError
from kg.extract.conll04 import LabelledRelation, LabelledSentence, Span
from kg.extract.encoder import WordEncoder
from kg.extract.extraction_metrics import evaluate
from kg.extract.training import (
    ENCODER_DIR,
    ExtractionModel,
    TrainingOptions,
    bucketed_batches,
    train_extractor,
    train_final,
    warmup_then_linear,
)

PEOPLE = ["Alice", "Bruno", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Wonka", "Stark"]


def toy_sentences(people: list[str], orgs: list[str]) -> list[LabelledSentence]:
    """'<person> works for <org> .' (a Work_For relation) and '<person> met <org> .' (none)."""
    sentences = []
    for number, (person, org) in enumerate(zip(people, orgs, strict=True)):
        entities = [Span(0, 1, "Peop"), Span(3 if number % 2 == 0 else 2, 4 if number % 2 == 0 else 3, "Org")]
        if number % 2 == 0:
            tokens, relations = [person, "works", "for", org, "."], [LabelledRelation(0, 1, "Work_For")]
        else:
            tokens, relations = [person, "met", org, "."], []
        sentences.append(LabelledSentence(tokens, entities, relations))
    return sentences


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertModel

    base = WordEncoder()
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=base.tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(str(folder))
    base.tokenizer.save_pretrained(str(folder))
    return folder


def options(encoder: Path, **changes: object) -> TrainingOptions:
    values: dict = dict(
        epochs=25, batch_size=4, learning_rate=5e-3, encoder_learning_rate=1e-3, seed=3, encoder=str(encoder)
    )
    values.update(changes)
    return TrainingOptions(**values)


def test_fine_tuning_learns_a_toy_relation_and_saves_the_tuned_encoder(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    train = toy_sentences(PEOPLE, ORGS)
    result = train_extractor(train, tmp_path / "models", options(tiny_encoder))
    model = ExtractionModel.load(result.run_dir)
    assert model.encoder.name == str(result.run_dir / ENCODER_DIR)
    report = evaluate(train, [p.sentence for p in model.predict([s.tokens for s in train])])
    assert report.entities.f1 == 1.0 and report.relations.f1 == 1.0, (report.entities, report.relations)
    # The gradient reached the transformer: its saved weights moved away from the start.
    start = WordEncoder(str(tiny_encoder)).model.state_dict()
    tuned = model.encoder.model.state_dict()
    top = "encoder.layer.1.attention.self.query.weight"
    assert not torch.equal(start[top], tuned[top])


def test_a_reloaded_fine_tuned_model_predicts_the_same(tiny_encoder: Path, tmp_path: Path) -> None:
    train = toy_sentences(PEOPLE, ORGS)
    result = train_extractor(train, tmp_path / "models", options(tiny_encoder, epochs=6))
    first, second = ExtractionModel.load(result.run_dir), ExtractionModel.load(result.run_dir)
    tokens = [s.tokens for s in train] + [["Zoe", "works", "for", "Pixar", "."]]
    a, b = first.predict(tokens), second.predict(tokens)
    assert [p.sentence.entities for p in a] == [p.sentence.entities for p in b]
    assert [p.sentence.relations for p in a] == [p.sentence.relations for p in b]
    assert [p.entity_confidence for p in a] == [p.entity_confidence for p in b]


def test_a_fine_tuned_run_without_its_encoder_is_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    """Its heads under the base encoder would load and quietly extract worse."""
    import shutil

    result = train_extractor(
        toy_sentences(PEOPLE, ORGS), tmp_path / "models", options(tiny_encoder, epochs=1)
    )
    tuned = result.run_dir / ENCODER_DIR
    (tuned / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(NotFoundError, match="not a readable encoder"):
        ExtractionModel.load(result.run_dir)
    shutil.rmtree(tuned)
    with pytest.raises(NotFoundError, match="was fine-tuned but its encoder/ folder is missing"):
        ExtractionModel.load(result.run_dir)


def test_frozen_runs_save_no_encoder(tiny_encoder: Path, tmp_path: Path) -> None:
    train = toy_sentences(PEOPLE, ORGS)
    result = train_extractor(train, tmp_path / "models", options(tiny_encoder, epochs=2, fine_tune=False))
    assert not (result.run_dir / ENCODER_DIR).exists()
    assert ExtractionModel.load(result.run_dir).encoder.name == str(tiny_encoder)


def test_dev_keeps_the_best_epoch_and_final_retrains_on_train_and_dev(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    train, dev = toy_sentences(PEOPLE[:6], ORGS[:6]), toy_sentences(PEOPLE[6:], ORGS[6:])
    watched = train_extractor(train, tmp_path / "models", options(tiny_encoder, epochs=8), dev=dev)
    scores = [r.dev_score() for r in watched.history]
    assert watched.best_epoch == scores.index(max(scores)) + 1

    result = train_final(train, dev, tmp_path / "models", options(tiny_encoder, epochs=8), run_name="final")
    assert result.run_dir.name == "final" and result.best_epoch is not None
    final_epochs = [r for r in result.history if r.phase == "final"]
    assert len(final_epochs) == result.best_epoch and all(r.dev_entity_f1 is None for r in final_epochs)
    saved = json.loads((result.run_dir / "config.json").read_text(encoding="utf-8"))
    assert (
        saved["train_sentences"] == len(train) + len(dev) and saved["training"]["epochs"] == result.best_epoch
    )


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    factor = warmup_then_linear(100, 0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5) and factor(100) == 0.0


def test_length_bucketed_batches_cover_every_sentence_once() -> None:
    sentences = [LabelledSentence(["w"] * (1 + (7 * i) % 40), [], []) for i in range(100)]
    batches = bucketed_batches(sentences, 8, pool=50)
    assert sorted(i for batch in batches for i in batch) == list(range(100))
    assert all(len(batch) <= 8 for batch in batches)
    spread = max(len(sentences[b[-1]].tokens) - len(sentences[b[0]].tokens) for b in batches)
    assert spread < 10  # sorted within the pool: neighbours in a batch have similar lengths
