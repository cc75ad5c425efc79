"""Entity recognition: the pretrained spaCy NER plus an EntityRuler built from the graph.

The ruler knows every catalogue name the graph holds (brands with their aliases and
legal-suffix spellings, categories in singular and plural, materials, genres, product
names), matched case-insensitively, so "NORTHPEAK" and "NorthPeak Inc." are recognised
exactly as the Brand ``northpeak``. It runs before the statistical NER, which then only
labels what the catalogue does not know. spaCy labels become schema labels through
``extract.label_map``; a mapped label the schema does not declare is rejected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc, Span

from kg.extract.facts import Mention
from kg.schema import Schema
from kg.store.base import GraphStore

RULER_NAME = "catalog_ruler"
LEGAL_SUFFIXES = (
    "Inc.", "Inc", "Incorporated", "Ltd.", "Ltd", "Limited", "LLC", "L.L.C.", "Corp.", "Corp", "Corporation",
    "Co.", "Co", "Company", "GmbH", "AG", "S.A.", "SA", "PLC", "plc", "Pty Ltd", "B.V.", "N.V.", "S.p.A.", "SRL",
)  # fmt: skip
# Single words tagged like this are function words, not catalogue names ("went down").
_NOT_A_NAME_POS = frozenset({"ADP", "ADV", "AUX", "CCONJ", "DET", "PART", "PRON", "SCONJ", "VERB"})
SUFFIXED_LABELS = frozenset({"Brand", "Organization"})
PLURALISED_LABELS = frozenset({"Category", "Material", "Genre"})


@dataclass(frozen=True)
class CatalogEntry:
    """A name the graph already knows and the node it denotes."""

    label: str
    node_id: str
    name: str


def catalog_entries(store: GraphStore, labels: Iterable[str]) -> list[CatalogEntry]:
    """Names and aliases of the nodes of ``labels`` (labels the schema lacks are skipped)."""
    entries: list[CatalogEntry] = []
    for label in labels:
        if label not in store.schema.nodes:
            continue
        node = store.schema.nodes[label]
        wanted = [p for p in ("name", "aliases") if p in node.properties]
        if "name" not in wanted:
            continue
        for frame in store.iter_nodes(label, wanted):
            for row in frame.itertuples(index=False):
                record = row._asdict()
                aliases = record.get("aliases")
                names = [record.get("name"), *(aliases if isinstance(aliases, (list, tuple, np.ndarray)) else [])]
                for name in dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()):
                    entries.append(CatalogEntry(label, str(record[node.key]), name.strip()))
    return entries


def spelling_variants(entry: CatalogEntry) -> list[str]:
    """The ways text may write a catalogue name: legal suffixes, '&'/'and', number."""
    names = {entry.name}
    if "&" in entry.name:
        names.add(entry.name.replace("&", "and"))
    if " and " in entry.name:
        names.add(entry.name.replace(" and ", " & "))
    if entry.label in SUFFIXED_LABELS:
        names |= {f"{n} {suffix}" for n in list(names) for suffix in LEGAL_SUFFIXES}
        names |= {f"{n}, {suffix}" for n in list(names) for suffix in ("Inc.", "Ltd.", "LLC")}
    if entry.label in PLURALISED_LABELS:
        for name in list(names):
            names.add(name[:-1] if name.endswith("s") and not name.endswith("ss") else name + "s")
    return sorted(names)


def add_catalog_ruler(nlp: Language, entries: list[CatalogEntry]) -> int:
    """Add (or refill) the catalogue EntityRuler before the NER; return the pattern count.

    A name shared by several nodes of one label is ambiguous and left out: linking it
    would be a guess.
    """
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in entries:
        for variant in spelling_variants(entry):
            owners[(entry.label, variant.lower())].add(entry.node_id)
    patterns, seen = [], set()
    for entry in entries:
        for variant in spelling_variants(entry):
            key = (entry.label, variant.lower())
            if len(owners[key]) != 1 or key in seen:
                continue
            seen.add(key)
            patterns.append({"label": entry.label, "pattern": variant, "id": entry.node_id})
    if RULER_NAME in nlp.pipe_names:
        nlp.remove_pipe(RULER_NAME)
    before = {"before": "ner"} if "ner" in nlp.pipe_names else {}
    ruler = nlp.add_pipe(
        "entity_ruler", name=RULER_NAME, config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True}, **before
    )
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return len(patterns)


def doc_mentions(
    doc: Doc, schema: Schema, label_map: dict[str, str], *, offset: int = 0
) -> tuple[list[Mention], list[str]]:
    """Mentions of a processed doc with schema labels, and the labels rejected.

    Catalogue matches keep the node they matched; NER entities carry the mapped label
    and are resolved later. Labels with no mapping (DATE, MONEY ...) are attributes, not
    entities, and are skipped silently.
    """
    mentions: list[Mention] = []
    rejected: list[str] = []
    for ent in doc.ents:
        if ent.ent_id_:
            if len(ent) == 1 and ent[0].pos_ in _NOT_A_NAME_POS:
                continue
            mentions.append(_mention(ent, ent.label_, ent.label_, "catalog", offset, node_id=ent.ent_id_))
            continue
        label = label_map.get(ent.label_)
        if label is None:
            continue
        if label not in schema.nodes:
            rejected.append(f"label {label!r} (from {ent.label_})")
            continue
        text = ent.text.strip()
        if text:
            mentions.append(_mention(ent, label, ent.label_, "ner", offset, confidence=0.85))
    return mentions, rejected


def _mention(
    ent: Span, label: str, source_label: str, method: str, offset: int, *, node_id: str | None = None,
    confidence: float = 1.0,
) -> Mention:  # fmt: skip
    return Mention(
        text=ent.text,
        start=offset + ent.start_char,
        end=offset + ent.end_char,
        label=label,
        source_label=source_label,
        method=method,
        confidence=confidence,
        node_id=node_id,
    )
