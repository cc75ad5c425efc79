"""Precision, recall and F1 of extracted entities and relations against gold labels.

Entities count as correct only with the exact span and type. Relations are scored
"strict" as in the CoNLL04 literature (SpERT, REBEL): head span and type, tail span and
type, and the relation type must all match. Scores are micro-averaged; per-type figures
are reported beside them.

Two granularities: :func:`evaluate` scores the joint model on labelled sentences (token
spans); :func:`evaluate_documents` scores the whole pipeline's document facts (character
spans), where a catalogue mention must also link to the right node and attributes must
land on the right node with the right value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from kg.extract.conll04 import LabelledSentence
from kg.extract.facts import DocumentFacts, Mention
from kg.extract.labelled_documents import GoldMention, LabelledDocument


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


@dataclass
class DocumentEvaluation:
    """Micro-averaged strict scores of a pipeline's document facts, with per-type
    breakdowns (entity label, relation type, attribute name)."""

    entities: Scores = field(default_factory=Scores)
    relations: Scores = field(default_factory=Scores)
    attributes: Scores = field(default_factory=Scores)
    entity_types: dict[str, Scores] = field(default_factory=dict)
    relation_types: dict[str, Scores] = field(default_factory=dict)
    attribute_types: dict[str, Scores] = field(default_factory=dict)
    documents: int = 0


EntityKey = tuple[int, int, str, str | None]


def evaluate_documents(
    gold: Sequence[LabelledDocument], predicted: Sequence[DocumentFacts], linked_labels: Iterable[str]
) -> DocumentEvaluation:
    """Compare each document's facts with its gold (same order, same documents).

    An entity is right with its exact character span and label, and -- for a label in
    ``linked_labels`` (the catalogue's) -- the node it links to. A relation is right when
    its type and both arguments are right in that sense. An attribute is right on the
    right node, with the right property and value (numbers to the cent, text ignoring case).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold documents but {len(predicted)} predicted")
    linked = frozenset(linked_labels)

    def entity(start: int, end: int, label: str, node_id: str | None) -> EntityKey:
        return (start, end, label, node_id if label in linked else None)

    def mention_key(m: Mention) -> EntityKey:
        return entity(m.start, m.end, m.label, m.node_id)

    def gold_key(m: GoldMention) -> EntityKey:
        return entity(m.start, m.end, m.label, m.node_id)

    report = DocumentEvaluation(documents=len(gold))
    for truth, facts in zip(gold, predicted, strict=True):
        if truth.document.id != facts.document.id:
            raise ValueError(f"gold document {truth.document.id} faces predictions for {facts.document.id}")
        entities = ({gold_key(m) for m in truth.mentions}, {mention_key(m) for m in facts.mentions})
        relations = (
            {(r.rel_type, gold_key(r.head), gold_key(r.tail)) for r in truth.relations},
            {(r.rel_type, mention_key(r.head), mention_key(r.tail)) for r in facts.relations},
        )
        attributes = (
            {(a.label, a.node_id, a.name, _value(a.value)) for a in truth.attributes},
            {(a.label, a.node_id, a.name, _value(a.value)) for a in facts.attributes},
        )
        report.entities += score_sets(*entities)
        report.relations += score_sets(*relations)
        report.attributes += score_sets(*attributes)
        _add_by_type(report.entity_types, *entities, lambda key: key[2])
        _add_by_type(report.relation_types, *relations, lambda key: key[0])
        _add_by_type(report.attribute_types, *attributes, lambda key: key[2])
    return report


def _value(value: str | float) -> str | float:
    return round(float(value), 2) if isinstance(value, (int, float)) else str(value).lower()


def _add_by_type(target: dict[str, Scores], gold: set, predicted: set, type_of) -> None:  # type: ignore[no-untyped-def]
    for name in {type_of(x) for x in gold | predicted}:
        target[name] = target.get(name, Scores()) + score_sets(
            {x for x in gold if type_of(x) == name}, {x for x in predicted if type_of(x) == name}
        )
