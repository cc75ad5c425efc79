"""CoNLL04 reading and strict P/R/F1 on hand-made cases with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.errors import InputError
from kg.extract.conll04 import (
    LabelledRelation,
    LabelledSentence,
    Span,
    read_conll04,
    spans_from_tags,
    tags_from_spans,
    write_conll04,
)
from kg.extract.extraction_metrics import evaluate
from tests.helpers import CONLL04, require


def test_bilou_and_bio_tags_become_spans() -> None:
    tags = ["B-Peop", "I-Peop", "L-Peop", "O", "U-Loc", "B-Org", "L-Org"]
    assert spans_from_tags(tags) == [Span(0, 3, "Peop"), Span(4, 5, "Loc"), Span(5, 7, "Org")]
    assert spans_from_tags(["B-Loc", "I-Loc", "O", "B-Org"]) == [Span(0, 2, "Loc"), Span(3, 4, "Org")]
    assert tags_from_spans(7, spans_from_tags(tags)) == tags


def _sentence(entities: list[Span], relations: list[tuple[int, int, str]]) -> LabelledSentence:
    return LabelledSentence(["w"] * 10, entities, [LabelledRelation(h, t, r) for h, t, r in relations])


def test_strict_scores_need_exact_spans_types_and_relation_type() -> None:
    alice, acme, paris = Span(0, 2, "Peop"), Span(3, 4, "Org"), Span(6, 7, "Loc")
    gold = [_sentence([alice, acme, paris], [(0, 1, "Work_For"), (0, 2, "Live_In")])]
    # One entity with a wrong span (so its relation is wrong too), one relation right,
    # one extra relation of a wrong type.
    predicted = [
        _sentence(
            [Span(0, 1, "Peop"), acme, paris, alice],
            [(3, 2, "Live_In"), (0, 1, "Work_For"), (1, 2, "OrgBased_In")],
        )
    ]
    report = evaluate(gold, predicted)
    assert (report.entities.true_positives, report.entities.predicted, report.entities.gold) == (3, 4, 3)
    assert report.entities.precision == pytest.approx(0.75)
    assert report.entities.recall == pytest.approx(1.0)
    assert report.entities.f1 == pytest.approx(2 * 0.75 / 1.75)
    assert (report.relations.true_positives, report.relations.predicted, report.relations.gold) == (1, 3, 2)
    assert report.relations.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert report.relation_types["Live_In"].f1 == pytest.approx(1.0)
    assert report.relation_types["Work_For"].true_positives == 0
    assert report.entity_types["Peop"].predicted == 2


@pytest.mark.parametrize(
    "predicted_entities",
    [
        [Span(0, 1, "Peop"), Span(3, 4, "Org")],  # the right type on the wrong span
        [Span(0, 2, "Loc"), Span(3, 4, "Org")],  # the right span with the wrong type
        [Span(0, 2, "Peop"), Span(3, 5, "Org")],  # the relation's tail a token too long
    ],
    ids=["type-right-span-wrong", "span-right-type-wrong", "relation-argument-span-off"],
)
def test_each_strict_miss_counts_as_a_miss(predicted_entities: list[Span]) -> None:
    gold = [_sentence([Span(0, 2, "Peop"), Span(3, 4, "Org")], [(0, 1, "Work_For")])]
    report = evaluate(gold, [_sentence(predicted_entities, [(0, 1, "Work_For")])])
    assert (report.entities.true_positives, report.entities.predicted, report.entities.gold) == (1, 2, 2)
    assert (report.relations.true_positives, report.relations.predicted, report.relations.gold) == (0, 1, 1)
    assert report.relations.f1 == 0.0


def test_a_relation_with_the_wrong_entity_type_is_not_strictly_correct() -> None:
    gold = [_sentence([Span(0, 1, "Peop"), Span(2, 3, "Org")], [(0, 1, "Work_For")])]
    predicted = [_sentence([Span(0, 1, "Peop"), Span(2, 3, "Loc")], [(0, 1, "Work_For")])]
    report = evaluate(gold, predicted)
    assert report.relations.true_positives == 0
    assert report.entities.true_positives == 1


def test_empty_predictions_score_zero_without_dividing_by_zero() -> None:
    gold = [_sentence([Span(0, 1, "Peop")], [])]
    report = evaluate(gold, [_sentence([], [])])
    assert report.entities.precision == 0.0 and report.entities.recall == 0.0 and report.entities.f1 == 0.0


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    sentence = LabelledSentence(
        ["Ann", "Lee", "works", "for", "Acme", "."],
        [Span(0, 2, "Peop"), Span(4, 5, "Org")],
        [LabelledRelation(0, 1, "Work_For")],
    )
    write_conll04([sentence], tmp_path / "one.json")
    [back] = read_conll04(tmp_path / "one.json")
    assert back.tokens == sentence.tokens and back.entities == sentence.entities
    assert back.relation_triples() == sentence.relation_triples()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"tokens": []}', "JSON list"),
        ('[{"tokens": ["a"], "tags": ["O", "O"]}]', "1 tokens but 2 tags"),
        (
            '[{"tokens": ["a"], "tags": ["U-Peop"], "relations": [{"head": 0, "tail": 3, "type": "X"}]}]',
            "points past",
        ),
    ],
)
def test_malformed_files_are_one_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=fragment):
        read_conll04(path)


def test_the_shared_dev_split_reads_completely() -> None:
    dev = read_conll04(require(CONLL04 / "conll04_dev.json"))
    raw = json.loads((CONLL04 / "conll04_dev.json").read_text(encoding="utf-8"))
    assert len(dev) == len(raw)
    assert sum(len(s.relations) for s in dev) == sum(len(r["relations"]) for r in raw)
    assert {s.type for sentence in dev for s in sentence.entities} == {"Peop", "Org", "Loc", "Other"}
