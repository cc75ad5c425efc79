"""Attributes stated in text -- price, size, colour, material, quantities, dates --
become properties of the entity they describe, not nodes.

The entity described is the product the sentence is about: the catalogue item the
sentence names (the nearest one before the value where it names several), else the node
the document is about (a product's own description, a review of it). Values the
catalogue already holds are kept: text fills gaps, it does not overwrite data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.tokens import Doc, Span

from kg.extract.facts import AttributeFact, Mention

_PRICE = re.compile(
    r"(?P<symbol>[$€£])\s?(?P<amount>\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
    r"|(?P<amount2>\d+(?:\.\d{1,2})?)\s?(?P<code>USD|EUR|GBP|dollars?|euros?|pounds?)\b",
    re.IGNORECASE,
)
_SIZE = re.compile(r"\bsize\s+(?P<size>\d{1,3}(?:\.5)?|XXS|XS|S|M|L|XL|XXL|XXXL)\b", re.IGNORECASE)
# A calendar date: a year, a day/month, or a month's name -- not a bare "46" from "size 46",
# nor a stretch of time such as "two weeks" or "last month".
_DATE_LIKE = re.compile(
    r"\d{4}|\d{1,2}[/.-]\d{1,2}|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b"
)
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "dollar": "USD", "euro": "EUR", "pound": "GBP"}


def sentence_attributes(
    doc: Doc,
    mentions: list[Mention],
    colors: Iterable[str],
    about: tuple[str, str] | None,
    *,
    offset: int = 0,
) -> list[AttributeFact]:
    """Attributes found in ``doc``, each attached to the entity it describes."""
    color_words = {c.lower() for c in colors}
    facts: list[AttributeFact] = []
    for sentence in doc.sents:
        base = offset + sentence.start_char
        end = base + len(sentence.text)
        items = [m for m in mentions if m.label == "Item" and m.node_id and base <= m.start < end]
        if not items and about is None:
            continue
        for name, value, surface, start in _sentence_values(sentence, mentions, color_words, base):
            target = _described(items, base + start, about)
            if target is not None:
                facts.append(AttributeFact(target[0], target[1], name, value, surface, base + start))
    return first_per_property(facts)


def _described(items: list[Mention], position: int, about: tuple[str, str] | None) -> tuple[str, str] | None:
    """The node a value at ``position`` describes: of the items the sentence names, the
    nearest before it, else the first after it; with none named, the document's subject."""
    before = [m for m in items if m.start < position]
    if before:
        return max(before, key=lambda m: m.start).key
    return min(items, key=lambda m: m.start).key if items else about


def _sentence_values(
    sentence: Span, mentions: list[Mention], color_words: set[str], base: int
) -> list[tuple[str, str | float, str, int]]:
    """(property, value, text, start within the sentence) stated in one sentence."""
    text = sentence.text
    found: list[tuple[str, str | float, str, int]] = []
    for match in _PRICE.finditer(text):
        amount = match.group("amount") or match.group("amount2")
        marker = (match.group("symbol") or match.group("code") or "").lower().rstrip("s")
        found.append(("price", float(amount.replace(",", "")), match.group(0), match.start()))
        found.append(("currency", _CURRENCIES.get(marker, marker.upper()), match.group(0), match.start()))
    for match in _SIZE.finditer(text):
        found.append(("size", match.group("size").upper(), match.group(0), match.start()))
    named = [(m.start - base, m.end - base) for m in mentions]  # "Blue" in "Blue Harbor" is a name
    for token in sentence:
        at = token.idx - sentence.start_char
        if any(start <= at < stop for start, stop in named):
            continue
        if token.lower_ in color_words and token.pos_ in ("ADJ", "NOUN", "PROPN"):
            found.append(("color", token.lower_, token.text, at))
    for ent in sentence.ents:
        if ent.label_ == "QUANTITY":
            found.append(("quantity", ent.text, ent.text, ent.start_char - sentence.start_char))
        elif ent.label_ == "DATE" and _DATE_LIKE.search(ent.text):
            found.append(("date", ent.text, ent.text, ent.start_char - sentence.start_char))
    end = base + len(text)
    for mention in mentions:
        if mention.label == "Material" and mention.node_id and base <= mention.start < end:
            found.append(
                ("material", (mention.name or mention.text).lower(), mention.text, mention.start - base)
            )
    return found


def first_per_property(facts: list[AttributeFact]) -> list[AttributeFact]:
    """One value per (node, property): the first the text states."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for fact in facts:
        key = (fact.label, fact.node_id, fact.name)
        if key not in seen:
            seen.add(key)
            kept.append(fact)
    return kept
