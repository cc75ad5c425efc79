"""What extraction produces, as plain data: documents, mentions, relations, attributes.

Each stage of the pipeline fills these in (entities -> resolution -> relations ->
attributes) and the writer turns them into store batches; ``kg extract preview`` prints
them without writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocumentRecord:
    """A text to extract from, with where it came from and what it is about."""

    id: str
    text: str
    source: str
    title: str | None = None
    about: tuple[str, str] | None = None  # (label, id) of the node the text describes


@dataclass
class Mention:
    """An entity named in a document, and the graph node it resolved to.

    ``label`` is a schema label; ``node_id`` the key of the node it links to (an existing
    catalogue node or a node created from the normalised name).
    """

    text: str
    start: int
    end: int
    label: str
    source_label: str  # the label the recogniser gave (ORG, Brand, Peop ...)
    method: str  # catalog | ner | model | product | subject | exact | alias | fuzzy
    confidence: float = 1.0
    node_id: str | None = None
    name: str | None = None  # canonical display name of the node

    @property
    def key(self) -> tuple[str, str]:
        return (self.label, self.node_id or "")


@dataclass
class RelationFact:
    """A typed relation between two mentions of the same document."""

    rel_type: str
    head: Mention
    tail: Mention
    confidence: float
    method: str  # rule:<name> | model


@dataclass
class AttributeFact:
    """A property value stated in text for the entity it describes."""

    label: str
    node_id: str
    name: str
    value: str | float
    text: str
    start: int


@dataclass
class ReviewCandidate:
    """Two nodes that may be the same entity but scored below the merge threshold."""

    label: str
    node_id: str
    other_label: str
    other_id: str
    score: float
    method: str


@dataclass
class DocumentFacts:
    """Everything extracted from one document."""

    document: DocumentRecord
    language: str = "en"
    tokens: int = 0
    mentions: list[Mention] = field(default_factory=list)
    relations: list[RelationFact] = field(default_factory=list)
    attributes: list[AttributeFact] = field(default_factory=list)
    candidates: list[ReviewCandidate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # labels / types not in the schema
    note: str | None = None  # why extraction was limited (non-English, truncated ...)
