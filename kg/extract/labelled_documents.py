"""Gold facts of whole documents -- what a text truly names and states -- for scoring the
pipeline the way it runs (``DocumentFacts`` out of ``Extractor.extract``), where the
CoNLL04 format scores the joint model alone on pre-tokenised sentences.

Spans are character offsets into the document's text, as in :class:`Mention`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kg.extract.facts import DocumentRecord


@dataclass(frozen=True)
class GoldMention:
    """A name in the text, its schema label, and the catalogue node it denotes (``None``
    for a name the catalogue does not hold, a place say: any node of the label will do)."""

    start: int
    end: int
    label: str
    node_id: str | None = None


@dataclass(frozen=True)
class GoldRelation:
    """A relation the text states between two of its names."""

    rel_type: str
    head: GoldMention
    tail: GoldMention


@dataclass(frozen=True)
class GoldAttribute:
    """A property value the text states for a node."""

    label: str
    node_id: str
    name: str
    value: str | float


@dataclass(frozen=True)
class LabelledDocument:
    """A document and everything it truly names and states."""

    document: DocumentRecord
    mentions: tuple[GoldMention, ...] = ()
    relations: tuple[GoldRelation, ...] = ()
    attributes: tuple[GoldAttribute, ...] = ()
