"""Entity recognition: the pretrained spaCy NER plus a catalogue ruler built from the graph.

The ruler knows every catalogue name the graph holds (brands with their aliases and
legal-suffix spellings, categories in singular and plural, materials, genres, product
names), matched case-insensitively, so "NORTHPEAK" and "NorthPeak Inc." are recognised
exactly as the Brand ``northpeak``. It is spaCy's ``span_ruler`` (the rule matcher the
EntityRuler is built on), so the NER's own view of each name stays available and a longer
name around a catalogue word ("Nimbus Labs" around "Nimbus") is not forced onto the
catalogue node -- while a generic NER span around catalogue names that is really a
product name ("The Northpeak Trail Jacket", tagged ORG) gives way to them. spaCy labels
become schema labels through ``extract.label_map``; a mapped label the schema does not
declare is rejected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from kg.extract.facts import Mention
from kg.schema import Schema
from kg.store.base import GraphStore

RULER_NAME = "catalog_ruler"
SPANS_KEY = "catalog"
LEGAL_SUFFIXES = (
    "Inc.", "Inc", "Incorporated", "Ltd.", "Ltd", "Limited", "LLC", "L.L.C.", "Corp.", "Corp", "Corporation",
    "Co.", "Co", "Company", "GmbH", "AG", "S.A.", "SA", "PLC", "plc", "Pty Ltd", "B.V.", "N.V.", "S.p.A.", "SRL",
)  # fmt: skip
# Single words tagged like this are function words, not catalogue names ("went down").
_NOT_A_NAME_POS = frozenset({"ADP", "ADV", "AUX", "CCONJ", "DET", "PART", "PRON", "SCONJ"})
_SUFFIX_TOKENS = frozenset(w.rstrip(".").lower() for suffix in LEGAL_SUFFIXES for w in suffix.split())
PRODUCT_LABEL = "Item"  # catalogue products and product names found in text
SUFFIXED_LABELS = frozenset({"Brand", "Organization"})
PLURALISED_LABELS = frozenset({"Category", "Material", "Genre"})
_ES_PLURALS = ("ches", "shes", "sses", "xes", "zes")


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
                names = [
                    record.get("name"),
                    *(aliases if isinstance(aliases, (list, tuple, np.ndarray)) else []),
                ]
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
            if name.endswith(_ES_PLURALS):  # "Smartwatches" -> "Smartwatch"
                names.add(name[:-2])
    return sorted(names)


def catalog_patterns(store: GraphStore | None, labels: Iterable[str]) -> list[dict[str, str]]:
    """Ruler patterns for the catalogue names of ``store`` (none without a store): plain
    data, so they can be built where the store is and shipped to workers elsewhere."""
    return ruler_patterns(catalog_entries(store, labels)) if store is not None else []


def ruler_patterns(entries: list[CatalogEntry]) -> list[dict[str, str]]:
    """One ``span_ruler`` pattern per spelling of each catalogue name.

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
    return patterns


@dataclass(frozen=True)
class Catalogue:
    """What the text analyser knows of the graph, as plain data it can be shipped as:
    the ruler's patterns, and the name of every catalogue node -- ambiguous names too,
    which the ruler leaves out but a text about that very node may still use."""

    patterns: list[dict[str, str]]
    names: dict[tuple[str, str], str]


def read_catalogue(store: GraphStore | None, labels: Iterable[str]) -> Catalogue:
    """The :class:`Catalogue` of ``store``'s nodes of ``labels`` (empty without a store)."""
    entries = catalog_entries(store, labels) if store is not None else []
    names: dict[tuple[str, str], str] = {}
    for entry in entries:  # a node's name comes before its aliases
        names.setdefault((entry.label, entry.node_id), entry.name)
    return Catalogue(ruler_patterns(entries), names)


def add_catalog_ruler(nlp: Language, patterns: list[dict[str, str]]) -> int:
    """Add (or refill) the catalogue ruler at the end of the pipeline; return the
    pattern count. Its matches go to ``doc.spans["catalog"]`` and are reconciled with
    the NER's entities in :func:`doc_mentions`."""
    if RULER_NAME in nlp.pipe_names:
        nlp.remove_pipe(RULER_NAME)
    if not patterns:
        return 0  # an empty graph: nothing to match (and spaCy warns about an empty ruler)
    ruler = nlp.add_pipe(
        "span_ruler",
        name=RULER_NAME,
        config={"spans_key": SPANS_KEY, "phrase_matcher_attr": "LOWER", "overwrite": True},
    )
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return len(patterns)


def doc_mentions(
    doc: Doc, schema: Schema, label_map: dict[str, str], *, offset: int = 0, use_ner: bool = True
) -> tuple[list[Mention], list[str]]:
    """Mentions of a processed doc with schema labels, and the labels rejected.

    Catalogue matches keep the node they matched, and win over a generic NER span that
    contains them when the NER's extra words are only an article, punctuation, a legal
    suffix ("NorthPeak Inc." is the brand) or lowercase modifiers ("the grey Lumen & Co
    Headphones", "LUMEN & CO really"), or when the span is a product name -- a
    catalogue brand, capitalised words and a catalogue category ("The Northpeak Trail
    Jacket", which the NER calls an organisation). A product name the catalogue does not
    hold becomes a ``product`` mention of an Item for the pipeline to link (to the
    document's subject, see :func:`kg.extract.pipeline.link_to_subject`). A brand inside
    a product name is a mention of that brand too. Any other longer NER name around a
    catalogue word wins ("Nimbus Labs" is not the brand "Nimbus" and goes to resolution,
    which lists it for review). NER labels with no mapping (DATE, MONEY ...) are
    attributes, not entities, and are skipped. Without ``use_ner`` (text in a language
    the model was not trained on, or a caller that wants catalogue names only) only
    catalogue matches count.
    """
    found = [span for span in doc.spans.get(SPANS_KEY, []) if not _function_word(span)]
    names = filter_spans(found)
    if use_ner:
        names = with_product_names(doc, names)
    mentions: list[Mention] = []
    rejected: list[str] = []
    used: set[int] = set()
    for ent in doc.ents if use_ner else ():
        inside = [i for i, span in enumerate(names) if span.start < ent.end and ent.start < span.end]
        if inside:
            extra = [t for t in ent if not any(names[i].start <= t.i < names[i].end for i in inside)]
            first = min(names[i].start for i in inside)
            if all(_is_filler(t) or _modifier(t, first) for t in extra):
                continue  # the catalogue match (or product name) stands for this entity
            used.update(inside)  # a longer, different name: the NER entity wins
        label = label_map.get(ent.label_)
        if label is None:
            continue
        if label not in schema.nodes:
            rejected.append(f"label {label!r} (from {ent.label_})")
            continue
        if any(ch.isupper() for ch in ent.text):  # "navy", "grey running shoe": not names
            mentions.append(_mention(ent, label, ent.label_, "ner", offset, confidence=0.85))
    kept = [span for index, span in enumerate(names) if index not in used]
    for span in kept + brands_in_product_names(found, kept):
        mentions.append(_name_mention(span, offset))
    return sorted(mentions, key=lambda m: (m.start, -m.end)), rejected


def with_product_names(doc: Doc, names: list[Span]) -> list[Span]:
    """``names`` (non-overlapping catalogue matches) where each product name -- a Brand
    match, capitalised words, then a Category match in title case and any capitalised
    nouns after it ("Kestrel Trail Backpack", "Ironleaf Cookware Set") -- replaces the
    matches it is made of. Catalogue items are matched whole by the ruler already; this
    finds the products the catalogue does not name that way."""
    by_start = {span.start: span for span in names}
    products: list[Span] = []
    for brand in names:
        if brand.label_ != "Brand":
            continue
        end = brand.end
        while end < len(doc) and end not in by_start and doc[end].text[:1].isupper():
            end += 1
        category = by_start.get(end)
        if category is not None and category.label_ == "Category" and _titled(category):
            end = category.end  # and the nouns a kind of product may end with ("Cookware Set")
            while end < len(doc) and end not in by_start and _titled_noun(doc[end]):
                end += 1
            products.append(Span(doc, brand.start, end, label=PRODUCT_LABEL))
    inside_product = {
        index for index, span in enumerate(names) if any(p.start <= span.start < p.end for p in products)
    }
    kept = [span for index, span in enumerate(names) if index not in inside_product]
    return sorted(kept + products, key=lambda span: span.start)


def brands_in_product_names(found: list[Span], names: list[Span]) -> list[Span]:
    """Brand matches inside the Item matches and product names of ``names``: "Northpeak"
    in "Northpeak Trail Jacket" names the brand as well as the product."""
    products = [span for span in names if span.label_ == PRODUCT_LABEL]
    return filter_spans(
        [
            span
            for span in found
            if span.label_ == "Brand" and any(p.start <= span.start and span.end <= p.end for p in products)
        ]
    )


def _function_word(span: Span) -> bool:
    """A one-word match used as a function word ("wore down"), unless a preposition
    makes it a thing ("made of down")."""
    if len(span) != 1 or span[0].pos_ not in _NOT_A_NAME_POS:
        return False
    before = span.doc[span.start - 1] if span.start > 0 else None
    return before is None or before.lower_ not in ("of", "from", "with", "in")


def _titled(span: Span) -> bool:
    return all(t.text[:1].isupper() for t in span if t.is_alpha)


def _titled_noun(token: Token) -> bool:
    return token.text[:1].isupper() and token.pos_ in ("NOUN", "PROPN")


def _modifier(token: Token, name_start: int) -> bool:
    """A lowercase word before a name ("the grey"), or one after it that is no noun
    ("LUMEN & CO really"): it does not make the name a different one; "Nimbus labs" does."""
    return token.is_lower and (token.i < name_start or token.pos_ not in ("NOUN", "PROPN"))


def _is_filler(token: Token) -> bool:
    return token.is_punct or token.pos_ == "DET" or token.text.rstrip(".").lower() in _SUFFIX_TOKENS


def _name_mention(span: Span, offset: int) -> Mention:
    """A catalogue match (it carries its node id), or a product name not yet linked."""
    if not span.id_:
        return _mention(span, PRODUCT_LABEL, "PRODUCT", "product", offset, confidence=0.9)
    mention = _mention(span, span.label_, span.label_, "catalog", offset, node_id=span.id_)
    if span.label_ in SUFFIXED_LABELS:
        end = _legal_suffix_end(span.doc.text, span.end_char)
        mention.text, mention.end = span.doc.text[span.start_char : end], offset + end
    return mention


def _legal_suffix_end(text: str, end: int) -> int:
    """The end of a company name at ``end`` with the legal suffix written after it, which
    the tokenizer kept from the match: "Terra Firma GmbH." (one token "GmbH."), and the
    dot of "NorthPeak Inc.." (tokens "Inc", "..")."""
    if text[end : end + 1] == "." and text[:end].rsplit(" ", 1)[-1] + "." in LEGAL_SUFFIXES:
        return end + 1
    for suffix in sorted(LEGAL_SUFFIXES, key=len, reverse=True):
        after = end + 1 + len(suffix)
        if text.startswith(" " + suffix, end) and not text[after : after + 1].isalnum():
            return after
    return end


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
