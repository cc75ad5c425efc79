"""Relations from dependency patterns (spaCy ``DependencyMatcher``).

Each rule is data: a syntactic pattern with a ``head`` and a ``tail`` node, the schema
relation type it states, the labels its head and tail mentions must have, and the
confidence given to what it finds. A match counts only when both nodes fall inside
mentions of the right labels, so "works for" between two places states nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import DependencyMatcher
from spacy.tokens import Doc

from kg.extract.facts import Mention, RelationFact

ORGS = ("Organization", "Brand")


@dataclass(frozen=True)
class DependencyRule:
    name: str
    rel_type: str
    head_labels: tuple[str, ...]
    tail_labels: tuple[str, ...]
    pattern: tuple[dict, ...]
    confidence: float = 0.7


def _verb(lemmas: list[str]) -> dict:
    return {"RIGHT_ID": "verb", "RIGHT_ATTRS": {"LEMMA": {"IN": lemmas}}}


def _child(left: str, right: str, deps: list[str], **attrs: object) -> dict:
    return {"LEFT_ID": left, "REL_OP": ">", "RIGHT_ID": right, "RIGHT_ATTRS": {"DEP": {"IN": deps}, **attrs}}


def _made_under(left: str) -> dict:
    """The verb "made" anywhere in the phrase of ``left``: "a jacket made of", and "a
    cookware set made of", which the parser reads as "set" (a verb) with "made" under it."""
    return {"LEFT_ID": left, "REL_OP": ">>", "RIGHT_ID": "made", "RIGHT_ATTRS": {"LEMMA": "make"}}


def _prep(left: str, words: list[str]) -> dict:
    return _child(left, "prep", ["prep", "agent"], LOWER={"IN": words})


RULES: tuple[DependencyRule, ...] = (
    DependencyRule(
        "works-for-verb", "WORKS_FOR", ("Person",), ORGS,
        (_verb(["work", "serve"]), _child("verb", "head", ["nsubj"]), _prep("verb", ["for", "at", "with"]),
         _child("prep", "tail", ["pobj"])),
    ),
    DependencyRule(
        "works-for-title", "WORKS_FOR", ("Person",), ORGS,
        ({"RIGHT_ID": "head", "RIGHT_ATTRS": {"ENT_TYPE": {"NOT_IN": [""]}}},
         _child("head", "title", ["appos"], POS="NOUN"), _prep("title", ["of", "for", "at"]),
         _child("prep", "tail", ["pobj"])),
    ),
    DependencyRule(
        "lives-in", "LIVES_IN", ("Person",), ("Location",),
        (_verb(["live", "reside", "bear", "grow"]), _child("verb", "head", ["nsubj", "nsubjpass"]),
         _prep("verb", ["in"]), _child("prep", "tail", ["pobj"])),
    ),
    DependencyRule(
        "based-in-clause", "BASED_IN", ORGS, ("Location",),
        ({"RIGHT_ID": "head", "RIGHT_ATTRS": {"POS": "PROPN"}},
         _child("head", "verb", ["acl"], LEMMA={"IN": ["base", "headquarter", "locate"]}),
         _prep("verb", ["in"]), _child("prep", "tail", ["pobj"])),
    ),
    DependencyRule(
        "based-in-passive", "BASED_IN", ORGS, ("Location",),
        (_verb(["base", "headquarter", "locate"]), _child("verb", "head", ["nsubjpass"]),
         _prep("verb", ["in"]), _child("prep", "tail", ["pobj"])),
    ),
    DependencyRule(
        "place-comma-place", "LOCATED_IN", ("Location",), ("Location",),
        ({"RIGHT_ID": "head", "RIGHT_ATTRS": {"POS": "PROPN"}}, _child("head", "tail", ["appos"], POS="PROPN")),
        confidence=0.6,
    ),
    DependencyRule(
        "killed", "KILLED", ("Person",), ("Person",),
        (_verb(["kill", "assassinate", "murder", "shoot", "slay"]), _child("verb", "head", ["nsubj"]),
         _child("verb", "tail", ["dobj"])),
    ),
    DependencyRule(
        "item-made-of", "MADE_OF", ("Item",), ("Material",),
        (_verb(["be"]), _child("verb", "head", ["nsubj"]), _child("verb", "what", ["attr"]),
         _made_under("what"), _prep("made", ["of", "from"]),
         _child("prep", "tail", ["pobj"])),
        confidence=0.8,
    ),
    DependencyRule(
        "item-made-by", "HAS_BRAND", ("Item",), ("Brand",),
        (_verb(["be"]), _child("verb", "head", ["nsubj"]), _child("verb", "what", ["attr"]),
         _made_under("what"), _prep("made", ["by"]),
         _child("prep", "tail", ["pobj"])),
        confidence=0.8,
    ),
    DependencyRule(
        "item-is-made-of", "MADE_OF", ("Item",), ("Material",),
        (_verb(["make"]), _child("verb", "head", ["nsubjpass"]), _prep("verb", ["of", "from"]),
         _child("prep", "tail", ["pobj"])),
        confidence=0.8,
    ),
    DependencyRule(
        "item-is-made-by", "HAS_BRAND", ("Item",), ("Brand",),
        (_verb(["make"]), _child("verb", "head", ["nsubjpass"]), _prep("verb", ["by"]),
         _child("prep", "tail", ["pobj"])),
        confidence=0.8,
    ),
)  # fmt: skip


class RuleRelations:
    """Applies ``RULES`` (or other rules) to processed docs."""

    def __init__(self, nlp: Language, rules: tuple[DependencyRule, ...] = RULES) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.matcher = DependencyMatcher(nlp.vocab)
        self.roles: dict[str, tuple[int, int]] = {}
        for rule in rules:
            ids = [node["RIGHT_ID"] for node in rule.pattern]
            self.roles[rule.name] = (ids.index("head"), ids.index("tail"))
            self.matcher.add(rule.name, [list(rule.pattern)])

    def find(self, doc: Doc, mentions: list[Mention], *, offset: int = 0) -> list[RelationFact]:
        """Relations the rules state between ``mentions`` (char offsets shifted by ``offset``)."""
        by_token = {}
        for mention in sorted(mentions, key=lambda m: m.end - m.start):  # the longest name wins a token
            span = doc.char_span(mention.start - offset, mention.end - offset, alignment_mode="expand")
            if span is not None:
                for token in span:
                    by_token[token.i] = mention
        facts: list[RelationFact] = []
        seen: set[tuple[str, tuple[str, str], tuple[str, str]]] = set()
        for match_id, tokens in self.matcher(doc):
            name = doc.vocab.strings[match_id]
            rule = self.rules[name]
            head_at, tail_at = self.roles[name]
            head, tail = by_token.get(tokens[head_at]), by_token.get(tokens[tail_at])
            if head is None or tail is None or head is tail:
                continue
            if head.label not in rule.head_labels or tail.label not in rule.tail_labels:
                continue
            key = (rule.rel_type, head.key, tail.key)
            if key not in seen:
                seen.add(key)
                facts.append(RelationFact(rule.rel_type, head, tail, rule.confidence, f"rule:{name}"))
        return facts
