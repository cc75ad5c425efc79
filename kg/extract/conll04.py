"""Reader and writer of labelled sentences in the CoNLL04 JSON format.

The format (as distributed with SpERT and used by most joint entity/relation papers) is
a JSON list of sentences, each ``{"tokens": [...], "tags": [...BILOU...], "relations":
[{"head": i, "tail": j, "type": "Work_For"}]}`` where ``head``/``tail`` index the
sentence's entities in the order their spans appear. Tags are BILOU (``B-``, ``I-``,
``L-``, ``U-``, ``O``); BIO tags are accepted too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import InputError


@dataclass(frozen=True, order=True)
class Span:
    """Entity span over word tokens: ``start`` inclusive, ``end`` exclusive."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class LabelledRelation:
    """A typed relation between the ``head``-th and ``tail``-th entity of a sentence."""

    head: int
    tail: int
    type: str


@dataclass
class LabelledSentence:
    """Tokens with their entity spans and the relations between them."""

    tokens: list[str]
    entities: list[Span] = field(default_factory=list)
    relations: list[LabelledRelation] = field(default_factory=list)

    def relation_triples(self) -> set[tuple[Span, Span, str]]:
        """Relations as (head span, tail span, type): what strict evaluation compares."""
        return {(self.entities[r.head], self.entities[r.tail], r.type) for r in self.relations}


def spans_from_tags(tags: Sequence[str]) -> list[Span]:
    """Entity spans from BILOU (or BIO) tags. An ``I``/``L`` without an opening ``B``
    starts a new span, so malformed sequences still give spans instead of failing."""
    spans: list[Span] = []
    start: int | None = None
    current: str | None = None
    for index, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix in ("I", "L") and label == current and start is not None
        if start is not None and not continues:
            spans.append(Span(start, index, current or ""))
            start, current = None, None
        if prefix in ("B", "U", "I", "L") and not continues:
            start, current = index, label
        if prefix in ("U", "L") and start is not None:
            spans.append(Span(start, index + 1, current or ""))
            start, current = None, None
    return spans


def tags_from_spans(length: int, spans: Iterable[Span]) -> list[str]:
    """BILOU tags for ``length`` tokens (the inverse of :func:`spans_from_tags`)."""
    tags = ["O"] * length
    for span in spans:
        if span.end - span.start == 1:
            tags[span.start] = f"U-{span.type}"
            continue
        tags[span.start] = f"B-{span.type}"
        for index in range(span.start + 1, span.end - 1):
            tags[index] = f"I-{span.type}"
        tags[span.end - 1] = f"L-{span.type}"
    return tags


def read_conll04(path: Path) -> list[LabelledSentence]:
    """Load a CoNLL04-format JSON file; a malformed file is one clear ``InputError``."""
    if not path.is_file():
        raise InputError(f"{path} does not exist; pass a CoNLL04-format JSON file (a list of sentences).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}).") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
    if not isinstance(data, list):
        raise InputError(f"{path} must hold a JSON list of sentences, found {type(data).__name__}.")
    return [_sentence(record, path, number) for number, record in enumerate(data)]


def _sentence(record: Any, path: Path, number: int) -> LabelledSentence:
    where = f"{path.name} sentence {number}"
    if not isinstance(record, dict) or "tokens" not in record or "tags" not in record:
        raise InputError(f"{where}: expected an object with 'tokens', 'tags' and 'relations'.")
    tokens, tags = record["tokens"], record["tags"]
    if len(tokens) != len(tags):
        raise InputError(f"{where}: {len(tokens)} tokens but {len(tags)} tags.")
    entities = spans_from_tags([str(t) for t in tags])
    relations = []
    for rel in record.get("relations", []):
        try:
            head, tail, rel_type = int(rel["head"]), int(rel["tail"]), str(rel["type"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: a relation needs integer 'head', 'tail' and a 'type'.") from exc
        if not (0 <= head < len(entities) and 0 <= tail < len(entities)):
            raise InputError(f"{where}: relation {rel} points past the {len(entities)} entities.")
        relations.append(LabelledRelation(head, tail, rel_type))
    return LabelledSentence([str(t) for t in tokens], entities, relations)


def write_conll04(sentences: Iterable[LabelledSentence], path: Path) -> None:
    """Write sentences back in the same format (for slices and model predictions)."""
    records = [
        {
            "tokens": s.tokens,
            "tags": tags_from_spans(len(s.tokens), s.entities),
            "relations": [{"head": r.head, "tail": r.tail, "type": r.type} for r in s.relations],
        }
        for s in sentences
    ]
    path.write_text(json.dumps(records), encoding="utf-8")
