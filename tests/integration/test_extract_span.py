"""SpERT's span-based entity head (``--entities span``) beside the BILOU tagger.

Training runs on the tiny random BERT of test_extract_finetune, so the whole path --
sampled negative spans and pairs, span classification, saving, loading -- runs in seconds.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from kg.config import load_settings
from kg.errors import InputError
from kg.extract import evaluate_file
from kg.extract.conll04 import LabelledRelation, LabelledSentence, Span, write_conll04
from kg.extract.extraction_metrics import evaluate
from kg.extract.relation_model import ModelConfig
from kg.extract.sampling import relation_samples, sample_negative_spans
from kg.extract.span_model import SpanHead, resolve_overlaps
from kg.extract.tagger_head import TaggerHead
from kg.extract.training import CONFIG_FILE, WEIGHTS_FILE, ExtractionModel, train_extractor
from tests.helpers import kg
from tests.integration import test_extract_finetune as finetune

tiny_encoder = finetune.tiny_encoder  # the module-scoped tiny BERT fixture


def predictions_of(model: ExtractionModel, tokens: list[list[str]]) -> list[tuple]:
    return [
        (p.sentence.entities, p.sentence.relations, p.entity_confidence, p.relation_confidence)
        for p in model.predict(tokens)
    ]


def test_span_head_learns_a_toy_relation_and_reloads_to_the_same_predictions(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    train = finetune.toy_sentences(finetune.PEOPLE, finetune.ORGS)
    result = train_extractor(train, tmp_path / "models", finetune.options(tiny_encoder, entities="span"))
    saved = json.loads((result.run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    assert saved["model"]["entities"] == "span" and saved["training"]["entities"] == "span"
    model = ExtractionModel.load(result.run_dir)
    assert isinstance(model.network.entities, SpanHead)
    report = evaluate(train, [p.sentence for p in model.predict([s.tokens for s in train])])
    assert report.entities.f1 == 1.0 and report.relations.f1 == 1.0, (report.entities, report.relations)
    tokens = [s.tokens for s in train] + [["Zoe", "works", "for", "Pixar", "."], []]
    again = ExtractionModel.load(result.run_dir)
    assert predictions_of(model, tokens) == predictions_of(again, tokens)


def test_overlapping_candidates_resolve_to_the_most_confident_disjoint_spans() -> None:
    candidates = [
        (Span(0, 3, "Org"), 0.6),
        (Span(1, 2, "Peop"), 0.9),  # beats the wider span it sits in
        (Span(2, 4, "Loc"), 0.7),  # overlaps only the Org, which lost already
        (Span(3, 5, "Other"), 0.65),  # overlaps the kept Loc
        (Span(6, 7, "Loc"), 0.55),
    ]
    kept = resolve_overlaps(candidates)
    assert kept == [(Span(1, 2, "Peop"), 0.9), (Span(2, 4, "Loc"), 0.7), (Span(6, 7, "Loc"), 0.55)]


def test_an_untrained_span_head_still_decodes_well_formed_spans() -> None:
    """Random weights call many overlapping spans entities; what comes out is disjoint,
    inside its sentence and at most ``max_span_width`` words wide."""
    torch.manual_seed(1)
    config = ModelConfig("enc", 2, 8, ["Loc", "Org", "Peop"], [], entities="span", max_span_width=4)
    head = SpanHead(config, 16).eval()
    lengths = [12, 3, 0]
    with torch.no_grad():
        head.classify[-1].bias[0] = -5.0  # "none" unlikely: nearly every span is a candidate
        decoded = head.decode(torch.randn(3, 12, 16), lengths)
    assert decoded[2] == ([], [])
    for (spans, confidence), length in zip(decoded, lengths, strict=True):
        assert len(spans) == len(confidence) and all(0.0 < c <= 1.0 for c in confidence)
        assert all(0 <= s.start < s.end <= length and s.end - s.start <= 4 for s in spans)
        assert all(a.end <= b.start for a, b in pairwise(spans))  # sorted, disjoint
    assert len(decoded[0][0]) >= 3


def test_negative_sampling_takes_at_most_the_set_number_of_spans_and_pairs() -> None:
    gold = {(0, 2), (5, 6)}
    sampled = sample_negative_spans(30, gold, 100, 10)
    assert len(sampled) == 100 and len(set(sampled)) == 100 and not set(sampled) & gold
    assert all(0 <= start < end <= 30 and end - start <= 10 for start, end in sampled)
    short = sample_negative_spans(4, {(0, 1)}, 100, 10)  # 10 spans of a 4-word sentence, less the gold one
    assert sorted(short) == sorted({(s, e) for s in range(4) for e in range(s + 1, 5)} - {(0, 1)})

    entities = [Span(i, i + 1, "Peop") for i in range(30)]
    crowded = LabelledSentence(["w"] * 30, entities, [LabelledRelation(0, 1, "Kill")])
    pairs, labels = relation_samples([crowded], {"Kill": 1}, 100)
    assert len(pairs) == 101 and labels.count(1) == 1 and (0, entities[0], entities[1]) in pairs
    all_pairs, _ = relation_samples([crowded], {"Kill": 1}, None)  # the tagger's: every pair
    assert len(all_pairs) == 30 * 29


def test_a_run_saved_before_the_head_choice_loads_as_the_tagger(tiny_encoder: Path, tmp_path: Path) -> None:
    """Older run folders have no ``entities`` in config.json and the tagger's weights
    under ``tagger.*``; they load as the tagger and predict as before."""
    train = finetune.toy_sentences(finetune.PEOPLE, finetune.ORGS)
    result = train_extractor(train, tmp_path / "models", finetune.options(tiny_encoder, epochs=3))
    tokens = [s.tokens for s in train]
    before = predictions_of(ExtractionModel.load(result.run_dir), tokens)

    config_path, weights_path = result.run_dir / CONFIG_FILE, result.run_dir / WEIGHTS_FILE
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    for section in ("model", "training"):
        del saved[section]["entities"]
    for key in ("max_span_width", "width_dim", "span_hidden"):
        del saved["model"][key]
    config_path.write_text(json.dumps(saved), encoding="utf-8")
    weights = torch.load(weights_path, weights_only=True)
    torch.save({key.removeprefix("entities."): value for key, value in weights.items()}, weights_path)

    old = ExtractionModel.load(result.run_dir)
    assert old.config.entities == "tagger" and isinstance(old.network.entities, TaggerHead)
    assert predictions_of(old, tokens) == before


def test_an_unknown_entity_head_is_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    train = finetune.toy_sentences(finetune.PEOPLE, finetune.ORGS)
    with pytest.raises(InputError, match="did you mean 'span'"):
        train_extractor(train, tmp_path / "models", finetune.options(tiny_encoder, entities="spam"))


def test_the_command_line_trains_a_span_model_that_eval_loads(tmp_path: Path) -> None:
    data = tmp_path / "toy.json"
    write_conll04(finetune.toy_sentences(finetune.PEOPLE, finetune.ORGS), data)
    env = {"KG_STORE": str(tmp_path / "graph"), "KG_DATA_DIR": str(tmp_path / "kg-data")}
    trained = kg(
        "extract", "train", "--data", str(data), "--entities", "span", "--frozen", "--epochs", "1",
        "--name", "span-run", env=env,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    run = tmp_path / "kg-data" / "extract-models" / "span-run"
    assert json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))["model"]["entities"] == "span"
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
    report, model = evaluate_file(settings, data)
    assert model.run_dir == run and isinstance(model.network.entities, SpanHead) and report.sentences == 8
