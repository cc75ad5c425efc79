"""Precision, recall and F1 of extracted entities and relations against gold labels.

Entities count as correct only with the exact span and type. Relations are scored
"strict" as in the CoNLL04 literature (SpERT, REBEL): head span and type, tail span and
type, and the relation type must all match. Scores are micro-averaged; per-type figures
are reported beside them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from kg.extract.conll04 import LabelledSentence


@dataclass(frozen=True)
class Scores:
    """Counts and the precision/recall/F1 they give."""

    true_positives: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            self.true_positives + other.true_positives,
            self.predicted + other.predicted,
            self.gold + other.gold,
        )


def score_sets(gold: Iterable[Hashable], predicted: Iterable[Hashable]) -> Scores:
    """Scores of one sentence's predicted items against its gold items."""
    gold_set, predicted_set = set(gold), set(predicted)
    return Scores(len(gold_set & predicted_set), len(predicted_set), len(gold_set))


@dataclass
class EvaluationReport:
    """Micro-averaged entity and strict relation scores, with per-type breakdowns."""

    entities: Scores = field(default_factory=Scores)
    relations: Scores = field(default_factory=Scores)
    entity_types: dict[str, Scores] = field(default_factory=dict)
    relation_types: dict[str, Scores] = field(default_factory=dict)
    sentences: int = 0


def evaluate(gold: Sequence[LabelledSentence], predicted: Sequence[LabelledSentence]) -> EvaluationReport:
    """Compare predictions with gold sentence by sentence (same order, same tokens)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predictions")
    report = EvaluationReport(sentences=len(gold))
    for gold_sentence, predicted_sentence in zip(gold, predicted, strict=True):
        gold_entities, predicted_entities = set(gold_sentence.entities), set(predicted_sentence.entities)
        gold_relations = gold_sentence.relation_triples()
        predicted_relations = predicted_sentence.relation_triples()
        report.entities += score_sets(gold_entities, predicted_entities)
        report.relations += score_sets(gold_relations, predicted_relations)
        _add_by_type(report.entity_types, gold_entities, predicted_entities, lambda span: span.type)
        _add_by_type(report.relation_types, gold_relations, predicted_relations, lambda triple: triple[2])
    return report


def _add_by_type(target: dict[str, Scores], gold: set, predicted: set, type_of) -> None:  # type: ignore[no-untyped-def]
    for name in {type_of(x) for x in gold | predicted}:
        target[name] = target.get(name, Scores()) + score_sets(
            {x for x in gold if type_of(x) == name}, {x for x in predicted if type_of(x) == name}
        )
