"""The joint entity/relation model: real MiniLM encoder, real training on a CoNLL04 slice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kg.config import load_settings
from kg.errors import NotFoundError
from kg.extract import evaluate_file, find_model, preview_text
from kg.extract.conll04 import read_conll04, write_conll04
from kg.extract.encoder import WordEncoder
from kg.extract.extraction_metrics import evaluate
from kg.extract.relation_model import distance_bucket, word_shape
from kg.extract.training import ExtractionModel, TrainingOptions, latest_run, train_extractor
from tests.helpers import CONLL04, require

SLICE = 48


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list, object]]:
    """A model trained for a few epochs on a small slice of the CoNLL04 train split
    (frozen encoder; fine-tuning is tested with a tiny encoder in test_extract_finetune)."""
    sentences = read_conll04(require(CONLL04 / "conll04_train.json"))[:SLICE]
    root = tmp_path_factory.mktemp("extract-model")
    result = train_extractor(
        sentences,
        root / "extract-models",
        TrainingOptions(epochs=14, batch_size=8, learning_rate=3e-3, seed=5, fine_tune=False),
    )
    yield root, sentences, result


def test_training_fits_the_slice_it_saw(trained) -> None:  # type: ignore[no-untyped-def]
    _root, sentences, result = trained
    losses = [r.loss for r in result.history]
    assert losses[-1] < losses[0] / 4
    model = ExtractionModel.load(result.run_dir)
    report = evaluate(sentences, [p.sentence for p in model.predict([s.tokens for s in sentences])])
    assert report.entities.f1 > 0.85, report.entities
    assert report.relations.f1 > 0.6, report.relations
    assert set(model.config.relation_types) == {r.type for s in sentences for r in s.relations}
    assert set(model.config.entity_types) == {e.type for s in sentences for e in s.entities}


def test_saved_model_reloads_to_the_same_predictions(trained) -> None:  # type: ignore[no-untyped-def]
    _root, sentences, result = trained
    first, second = ExtractionModel.load(result.run_dir), ExtractionModel.load(result.run_dir)
    tokens = [s.tokens for s in sentences[:10]]
    a, b = first.predict(tokens), second.predict(tokens)
    assert [p.sentence.entities for p in a] == [p.sentence.entities for p in b]
    assert [p.sentence.relations for p in a] == [p.sentence.relations for p in b]
    assert all(0.0 <= c <= 1.0 for p in a for c in p.entity_confidence + p.relation_confidence)


def test_eval_uses_the_newest_run_and_the_pipeline_maps_its_labels(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, sentences, result = trained
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=root)
    assert latest_run(root / "extract-models") == result.run_dir
    data = tmp_path / "slice.json"
    write_conll04(sentences[:12], data)
    report, model = evaluate_file(settings, data)
    assert model.run_dir == result.run_dir and report.sentences == 12 and report.entities.f1 > 0.7
    # In the pipeline its types become schema labels and relation types (extract.label maps).
    sentence = " ".join(sentences[0].tokens)
    facts = preview_text(sentence, settings, None, find_model(settings))
    from_model = [m for m in facts.mentions if m.method == "model"]
    assert from_model and all(m.label in ("Person", "Organization", "Location", "Entity") for m in from_model)
    assert all(
        r.rel_type in settings.extract.relation_map.values() for r in facts.relations if r.method == "model"
    )


def test_no_model_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path)
    assert find_model(settings) is None
    with pytest.raises(NotFoundError, match="kg extract train"):
        find_model(settings, required=True)
    with pytest.raises(NotFoundError, match="not a trained extraction model"):
        ExtractionModel.load(tmp_path)


def test_encoder_handles_empty_long_and_odd_sentences() -> None:
    encoder = WordEncoder()
    long_sentence = ["word"] * 700  # more pieces than the encoder's window
    vectors = encoder.encode([[], ["\u200b"], long_sentence, ["Zürich", "東京"]])
    assert [v.shape[0] for v in vectors] == [0, 1, 700, 2]
    assert all(v.shape[1:] == (encoder.layers, encoder.dim) for v in vectors)
    assert torch.isfinite(vectors[2].float()).all()


def test_word_shapes_and_distances() -> None:
    shapes = [word_shape(w) for w in ("paris", "Paris", "IBM", "iPhone", "1999", ",", "A")]
    assert shapes == [1, 2, 3, 4, 5, 6, 2]
    assert distance_bucket(0) != distance_bucket(3) != distance_bucket(-3)
    assert distance_bucket(40) == distance_bucket(400)
