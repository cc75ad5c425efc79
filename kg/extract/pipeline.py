"""Documents -> facts: the extraction pipeline, and ``run_extraction`` that writes them.

One pass per document batch in two halves. The analyser needs no graph: language check,
spaCy (``nlp.pipe`` with batching and ``n_process``) with the catalogue ruler,
dependency rules, the trained joint model when one is given, attributes -- it can run
on other machines (``kg/extract/distributed.py``). The resolver runs beside the store:
entity resolution, then the schema check of relations. Long documents are cut at paragraph
or sentence boundaries into chunks spaCy handles comfortably; offsets stay document
offsets. Nothing here writes: ``kg extract preview`` uses the same path as ``run``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from spacy.tokens import Doc

from kg.config import ExtractSettings, Settings
from kg.errors import SchemaError
from kg.extract.attributes import first_per_property, sentence_attributes
from kg.extract.entities import Catalogue, add_catalog_ruler, doc_mentions, read_catalogue
from kg.extract.facts import DocumentFacts, DocumentRecord, Mention, RelationFact
from kg.extract.language import detect_language
from kg.extract.nlp import load_nlp
from kg.extract.relations import RuleRelations
from kg.extract.resolve import EntityIndex, normalize_name, resolve_mentions
from kg.extract.training import ExtractionModel
from kg.ingest.problems import ProblemLog
from kg.progress import ProgressReporter, SilentProgress
from kg.schema import Schema
from kg.store.base import GraphStore

# nlp.pipe batches per pipe call and store write: a write has the fixed cost of a few
# queries, and a pipe call with n_process > 1 starts its workers.
WRITE_BATCHES = 16
MODEL_MAX_WORDS = 150  # longer "sentences" (tables, lists) are not sent to the joint model
_BREAK = re.compile(r"\n\s*\n|(?<=[.!?])\s+")


@dataclass
class ExtractReport:
    """What one extraction run read, found and wrote."""

    documents: int = 0
    unchanged: int = 0
    tokens: int = 0
    seconds: float = 0.0
    mentions: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)
    attributes: int = 0
    candidates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    not_english: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    problems: ProblemLog = field(default_factory=ProblemLog)

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def add(self, facts: DocumentFacts) -> None:
        self.documents += 1
        self.tokens += facts.tokens
        self.mentions.update(m.label for m in facts.mentions)
        self.relations.update(r.rel_type for r in facts.relations)
        self.attributes += len(facts.attributes)
        self.candidates += len(facts.candidates)
        self.rejected.update(facts.rejected)
        if facts.language != "en":
            self.not_english[facts.language] += 1

    def summary_lines(self) -> list[str]:
        lines = []
        if self.unchanged:
            lines.append(f"{self.unchanged} document(s) unchanged since the last run were skipped.")
        if self.not_english:
            langs = ", ".join(f"{k}: {v}" for k, v in self.not_english.most_common())
            lines.append(f"Not English ({langs}): only catalogue names were matched in those documents.")
        for what, count in self.rejected.most_common(5):
            lines.append(f"Rejected {count}x {what}: not in the schema (extend it under [schema_extension]).")
        if self.problems.count:
            lines.append(f"{self.problems.count} input(s) skipped, first: {self.problems.kept[0]}.")
        return lines


class Analyser(Protocol):
    """What turns documents into facts with unresolved names: :class:`TextAnalyser`
    in this process, or :class:`kg.extract.distributed.ClusterAnalyser` on a cluster."""

    def analyse(self, documents: list[DocumentRecord]) -> list[DocumentFacts]: ...


class TextAnalyser:
    """The half of extraction that needs no graph: spaCy + catalogue ruler + rules
    (+ the joint model) + attributes. It is built from plain data -- settings, schema,
    the catalogue's patterns and names, a model folder -- so it runs as well in a worker
    on another machine."""

    def __init__(
        self,
        settings: ExtractSettings,
        schema: Schema,
        catalogue: Catalogue,
        model: ExtractionModel | None = None,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.nlp = load_nlp(settings)
        add_catalog_ruler(self.nlp, catalogue.patterns)
        self.rules = RuleRelations(self.nlp)
        self.model = model
        self.names = catalogue.names

    def analyse(self, documents: list[DocumentRecord]) -> list[DocumentFacts]:
        """Facts of each document, in input order; names not in the catalogue have no node yet."""
        facts = [DocumentFacts(document=d, language=detect_language(d.text)) for d in documents]
        chunks = [
            (text, (number, offset))
            for number, d in enumerate(documents)
            for offset, text in split_text(d.text, self.settings.chunk_chars)
        ]
        docs_by_number: dict[int, list[tuple[int, Doc]]] = {}
        for doc, (number, offset) in self.nlp.pipe(
            chunks, as_tuples=True, batch_size=self.settings.batch_size, n_process=self.settings.n_process
        ):
            docs_by_number.setdefault(number, []).append((offset, doc))
        for number, item in enumerate(facts):
            for offset, doc in docs_by_number.get(number, []):
                self._read_doc(item, doc, offset)
        if self.model is not None:
            self._apply_model(facts, docs_by_number)
        for number, item in enumerate(facts):
            link_to_subject(item, self.names.get(item.document.about) if item.document.about else None)
            self._attach_attributes(item, docs_by_number.get(number, []))
        return facts

    def _read_doc(self, item: DocumentFacts, doc: Doc, offset: int) -> None:
        item.tokens += len(doc)
        english = item.language == "en"
        mentions, rejected = doc_mentions(
            doc, self.schema, self.settings.label_map, offset=offset, use_ner=english
        )
        item.rejected += rejected
        if not english:
            item.note = f"language {item.language}: only catalogue names matched"
        item.mentions += mentions
        if english:
            item.relations += self.rules.find(doc, mentions, offset=offset)

    def _apply_model(
        self, facts: list[DocumentFacts], docs_by_number: dict[int, list[tuple[int, Doc]]]
    ) -> None:
        """Entities and relations of the trained model, sentence by sentence."""
        assert self.model is not None
        sentences, owners = [], []
        for number, item in enumerate(facts):
            if item.language != "en":
                continue
            for offset, doc in docs_by_number.get(number, []):
                for sentence in doc.sents:
                    words = [t for t in sentence if not t.is_space]
                    if 0 < len(words) <= MODEL_MAX_WORDS:
                        sentences.append(words)
                        owners.append((item, offset))
        if not sentences:
            return
        predictions = self.model.predict(
            [[t.text for t in words] for words in sentences],
            min_confidence=self.settings.min_relation_confidence,
        )
        for words, (item, offset), prediction in zip(sentences, owners, predictions, strict=True):
            found: list[Mention] = []
            for span, confidence in zip(
                prediction.sentence.entities, prediction.entity_confidence, strict=True
            ):
                label = self.settings.model_label_map.get(span.type, span.type)
                start, end = (
                    offset + words[span.start].idx,
                    offset + words[span.end - 1].idx + len(words[span.end - 1]),
                )
                text = item.document.text[start:end]
                found.append(Mention(text, start, end, label, span.type, "model", confidence))
            merged = merge_model_mentions(item, found, self.schema)
            for relation, confidence in zip(
                prediction.sentence.relations, prediction.relation_confidence, strict=True
            ):
                head, tail = merged[relation.head], merged[relation.tail]
                if head is None or tail is None:
                    continue
                rel_type = self.settings.relation_map.get(relation.type, relation.type)
                item.relations.append(RelationFact(rel_type, head, tail, confidence, "model"))

    def _attach_attributes(self, item: DocumentFacts, docs: list[tuple[int, Doc]]) -> None:
        """Attributes of the products the text is about; a generic NER name inside a
        stated value ("XL" of "size XL", tagged a place) is no name and is dropped."""
        if item.language != "en":
            return
        found = []
        for offset, doc in docs:
            found += sentence_attributes(
                doc, item.mentions, self.settings.colors, item.document.about, offset=offset
            )
        item.attributes = first_per_property(found)
        values = [(a.start, a.start + len(a.text)) for a in found]
        item.mentions = [
            m
            for m in item.mentions
            if m.method != "ner" or all(m.end <= a or b <= m.start for a, b in values)
        ]


class FactResolver:
    """The half of extraction that needs the graph, run where the store is: entity
    resolution against the names the graph knows and those this run created (in input
    order, so a distributed run resolves exactly as a local one), then the schema check
    of every relation."""

    def __init__(self, schema: Schema, index: EntityIndex) -> None:
        self.schema = schema
        self.index = index

    @classmethod
    def for_store(cls, settings: ExtractSettings, store: GraphStore | None, schema: Schema) -> FactResolver:
        index = EntityIndex.from_store(store, settings) if store is not None else EntityIndex(settings)
        return cls(schema, index)

    def resolve(self, facts: list[DocumentFacts]) -> list[DocumentFacts]:
        for item in facts:
            item.candidates = resolve_mentions(item.mentions, self.index)
            item.mentions = [m for m in item.mentions if m.node_id]
            item.relations = self._checked_relations(item)
        return facts

    def _checked_relations(self, item: DocumentFacts) -> list[RelationFact]:
        """Relations whose type and endpoint labels the schema allows; others are rejected.
        A relation stated by several rules or the model is kept once, most confident first."""
        kept, seen = [], set()
        for fact in sorted(item.relations, key=lambda f: -f.confidence):
            if not fact.head.node_id or not fact.tail.node_id or fact.head.key == fact.tail.key:
                continue
            if "product" in (fact.head.method, fact.tail.method):
                continue  # a product the catalogue lacks: nothing to say about it
            try:
                self.schema.check_endpoints(fact.rel_type, fact.head.label, fact.tail.label)
            except SchemaError:
                item.rejected.append(f"relation {fact.rel_type!r} ({fact.head.label})->({fact.tail.label})")
                continue
            key = (fact.rel_type, fact.head.key, fact.tail.key)
            if key not in seen:
                seen.add(key)
                kept.append(fact)
        return kept


class Extractor:
    """The configured pipeline, built once: an analyser (local unless given) and the
    resolver over ``store``'s catalogue."""

    def __init__(
        self,
        settings: Settings,
        store: GraphStore | None = None,
        model: ExtractionModel | None = None,
        *,
        analyser: Analyser | None = None,
    ) -> None:
        self.settings = settings.extract
        schema = store.schema if store is not None else Schema.default(settings.schema_extension)
        self.analyser = analyser or TextAnalyser(
            self.settings, schema, read_catalogue(store, self.settings.catalog_labels), model
        )
        self.resolver = FactResolver.for_store(self.settings, store, schema)

    def extract(
        self, documents: Iterable[DocumentRecord], *, progress: ProgressReporter | None = None
    ) -> Iterator[DocumentFacts]:
        """Facts of each document, in input order (lazily, batch by batch)."""
        progress = progress or SilentProgress()
        for batch in _batches(documents, self.settings.batch_size * WRITE_BATCHES):
            yield from self.resolver.resolve(self.analyser.analyse(batch))
            progress.advance(len(batch))


def link_to_subject(item: DocumentFacts, subject_name: str | None = None) -> None:
    """A name in a text that names the node the text is about denotes that node, even
    where the catalogue holds the name more than once: the subject's full name (a
    product's own description naming the product), or a product name that shortens it
    (a review of the "Kestrel Trail Backpack" calling it "my Kestrel Backpack").
    ``subject_name`` is the subject's catalogue name, for documents without a title."""
    document = item.document
    name = document.title or subject_name
    if document.about is None or not name:
        return
    subject = normalize_name(name)
    for mention in item.mentions:
        if mention.node_id is not None:
            continue
        key = normalize_name(mention.text)
        if key == subject or (mention.method == "product" and shortens(key, subject)):
            mention.label, mention.node_id, mention.method = document.about[0], document.about[1], "subject"


def shortens(short: str, full: str) -> bool:
    """Whether the words of ``short`` are words of ``full`` in order, with the same first
    (the brand) and last (the kind of product) word: "kestrel backpack" shortens
    "kestrel trail backpack"; "kestrel tent" does not."""
    words, whole = short.split(), iter(full.split())
    if len(words) < 2 or words[0] != full.split()[0] or words[-1] != full.split()[-1]:
        return False
    return all(word in whole for word in words)


def merge_model_mentions(item: DocumentFacts, found: list[Mention], schema: Schema) -> list[Mention | None]:
    """Add the model's entities to a document's mentions, in order of trust: catalogue
    matches win over the model, the model over the generic NER. Returns, for each model
    entity, the mention that now stands for it (``None`` if its label is rejected)."""
    merged: list[Mention | None] = []
    for mention in found:
        overlapping = [m for m in item.mentions if m.start < mention.end and mention.start < m.end]
        catalog = next((m for m in overlapping if m.method == "catalog"), None)
        if catalog is not None:
            merged.append(catalog)
            continue
        if mention.label not in schema.nodes:
            item.rejected.append(f"label {mention.label!r} (from model type {mention.source_label})")
            merged.append(None)
            continue
        item.mentions = [m for m in item.mentions if m not in overlapping]
        item.mentions.append(mention)
        for fact in item.relations:  # what the rules said about the replaced NER mentions stands
            fact.head = mention if fact.head in overlapping else fact.head
            fact.tail = mention if fact.tail in overlapping else fact.tail
        merged.append(mention)
    return merged


def split_text(text: str, limit: int) -> list[tuple[int, str]]:
    """``(offset, piece)`` pieces of at most ``limit`` characters, cut after a paragraph
    or sentence end where possible (a hard cut only inside an endless run of text)."""
    if len(text) <= limit:
        return [(0, text)]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            breaks = [m.end() for m in _BREAK.finditer(text, start + limit // 2, end)]
            end = breaks[-1] if breaks else end
        pieces.append((start, text[start:end]))
        start = end
    return pieces


# ---------------------------------------------------------------------- run
def run_extraction(
    store: GraphStore,
    documents: Iterable[DocumentRecord],
    settings: Settings,
    *,
    model: ExtractionModel | None = None,
    progress: ProgressReporter | None = None,
    total: int | None = None,
    problems: ProblemLog | None = None,
    extractor: Extractor | None = None,
) -> ExtractReport:
    """Extract from ``documents`` and write documents, entities, mentions, relations and
    attributes to ``store``. Documents whose text is unchanged since a previous run are
    skipped, and every write is an upsert, so a rerun (or a resumed run) adds nothing twice.
    """
    from kg.extract.writer import FactWriter

    progress = progress or SilentProgress()
    report = ExtractReport(problems=problems or ProblemLog())
    extractor = extractor or Extractor(settings, store, model)
    writer = FactWriter(store)
    started = time.perf_counter()
    with progress.task("Extracting", total):
        for batch in _batches(documents, settings.extract.batch_size * WRITE_BATCHES):
            fresh, unchanged = writer.changed_documents(
                batch, report.problems, settings.extract.max_document_chars
            )
            report.unchanged += unchanged
            facts = list(extractor.extract(fresh))
            for item in facts:
                report.add(item)
            report.created.update(writer.write(facts))
            progress.advance(len(batch))
    report.seconds = time.perf_counter() - started
    return report


def _batches(items: Iterable[DocumentRecord], size: int) -> Iterator[list[DocumentRecord]]:
    batch: list[DocumentRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
