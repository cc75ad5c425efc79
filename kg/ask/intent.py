"""What a question asks for: catalogue filters (brands, categories, materials from the
catalogue ruler's patterns), a price range and colours, and the words left over.

Every word is accounted for: it is part of a filter, a function word, or reported back
as not understood as a filter (it then only steers the semantic ranking), so nothing is
silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kg.extract.entities import catalog_patterns
from kg.store.base import GraphStore

FILTER_LABELS = ("Brand", "Category", "Material")
_NUMBER = r"\$?\s?(\d+(?:\.\d+)?)"
# (regex, which bound it sets); the first that matches a span wins.
PRICE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\bbetween\s+{_NUMBER}\s+and\s+{_NUMBER}", re.I), "between"),
    (
        re.compile(rf"\b(?:under|below|less than|cheaper than|up to|at most|max(?:imum)?)\s+{_NUMBER}", re.I),
        "max",
    ),
    (re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?|from)\s+{_NUMBER}", re.I), "min"),
)
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "for",
        "me",
        "my",
        "i",
        "we",
        "our",
        "you",
        "your",
        "with",
        "and",
        "or",
        "of",
        "in",
        "on",
        "to",
        "by",
        "from",
        "made",
        "some",
        "any",
        "show",
        "find",
        "want",
        "need",
        "looking",
        "look",
        "buy",
        "get",
        "what",
        "which",
        "is",
        "are",
        "that",
        "this",
        "these",
        "those",
        "please",
        "good",
        "nice",
        "new",
        "one",
        "ones",
        "item",
        "items",
        "product",
        "products",
        "dollars",
        "usd",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass
class Intent:
    question: str
    filters: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # label -> [(id, text)]
    min_price: float | None = None
    max_price: float | None = None
    colors: list[str] = field(default_factory=list)
    free_words: list[str] = field(default_factory=list)  # not a filter: ranking only

    def describe(self) -> list[str]:
        parts = [
            f"{label.lower()} {' or '.join(t for _, t in found)}" for label, found in self.filters.items()
        ]
        if self.colors:
            parts.append(f"colour {' or '.join(self.colors)}")
        if self.min_price is not None:
            parts.append(f"price >= {self.min_price:g}")
        if self.max_price is not None:
            parts.append(f"price <= {self.max_price:g}")
        return parts


@dataclass(frozen=True)
class Vocabulary:
    """What the catalogue can filter on: ruler patterns and the colours items have."""

    patterns: list[tuple[re.Pattern[str], str, str, str]]  # regex, label, node id, surface
    colors: frozenset[str]

    @classmethod
    def from_store(cls, store: GraphStore) -> Vocabulary:
        rows = catalog_patterns(store, FILTER_LABELS)
        rows = sorted(rows, key=lambda p: (-len(p["pattern"]), p["label"], p["pattern"]))
        patterns = [
            (
                re.compile(rf"(?<![\w-]){re.escape(p['pattern'])}(?![\w-])", re.I),
                p["label"],
                p["id"],
                p["pattern"],
            )
            for p in rows
        ]
        colors = store.query("MATCH (i:Item) WHERE i.color IS NOT NULL RETURN DISTINCT i.color AS color")
        return cls(patterns, frozenset(str(c).lower() for c in colors["color"]))


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def parse_question(question: str, vocabulary: Vocabulary) -> Intent:
    """Filters found in ``question`` (longest catalogue names first), and the rest."""
    intent = Intent(question)
    rest = question
    for regex, bound in PRICE_PATTERNS:
        for match in regex.finditer(rest):
            values = [float(v) for v in match.groups() if v is not None]
            if bound == "between":
                intent.min_price, intent.max_price = min(values), max(values)
            elif bound == "max":
                intent.max_price = values[0]
            else:
                intent.min_price = values[0]
            rest = _blank(rest, match.start(), match.end())
    for regex, label, node_id, _surface in vocabulary.patterns:
        for match in regex.finditer(rest):
            found = intent.filters.setdefault(label, [])
            if node_id not in {i for i, _ in found}:
                found.append((node_id, match.group(0)))
            rest = _blank(rest, match.start(), match.end())
    for word in _WORD.findall(rest.lower()):
        if word in vocabulary.colors:
            if word not in intent.colors:
                intent.colors.append(word)
        elif word not in STOP_WORDS and not word.replace(".", "").isdigit():
            intent.free_words.append(word)
    return intent


def unknown_words(words: Iterable[str], known: set[str]) -> list[str]:
    """The words no item text contains (e.g. a property the catalogue does not record)."""
    return [w for w in words if w not in known and w.rstrip("s") not in known]
