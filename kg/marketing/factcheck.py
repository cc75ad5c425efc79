"""Fact check of copy against the graph, before it is stored.

The catalogue entity ruler (every brand, product, material, category and genre the graph
holds, in all their spellings) finds what the copy names; the attribute extractor finds
the price it states. Two kinds of hallucination are caught:

* a **contradiction**: a brand, material or category that is not the item's, another
  product, a price or currency that is not the item's -- unless the explanation path
  of the brief names it ("because you bought <another product>");
* an **unknown entity**: a proper name (the NER's, or a proper noun the tagger saw) that
  is neither in the graph nor in the brief -- a brand or product the model made up.

Words of the brief are allowed: they are graph facts the copy was asked to use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Doc, Token

from kg.config import Settings
from kg.extract.attributes import sentence_attributes
from kg.extract.entities import add_catalog_ruler, catalog_patterns, doc_mentions
from kg.extract.facts import Mention
from kg.extract.nlp import load_nlp
from kg.marketing.prompts import CopyBrief, channel
from kg.store.base import GraphStore

CONTRADICTION = "contradiction"
UNKNOWN_ENTITY = "unknown entity"
TOO_LONG = "too long"
EMPTY = "empty"
HALLUCINATIONS = frozenset({CONTRADICTION, UNKNOWN_ENTITY})
NAME_ENTITY_LABELS = frozenset(
    {"ORG", "PERSON", "PRODUCT", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART"}
)
PRICE_TOLERANCE = 0.005
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Issue:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class FactCheck:
    """The issues found in one draft (none: it passed)."""

    issues: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.issues

    @property
    def hallucinated(self) -> bool:
        return any(issue.kind in HALLUCINATIONS for issue in self.issues)

    def messages(self) -> list[str]:
        return [str(issue) for issue in self.issues]


class FactChecker:
    """Checks drafts against the catalogue of one store (loaded once per run)."""

    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.schema = store.schema
        self.colors = settings.extract.colors
        self.nlp = load_nlp(settings.extract)
        add_catalog_ruler(self.nlp, catalog_patterns(store, settings.extract.catalog_labels))

    def check(self, text: str, brief: CopyBrief, prompt: str) -> FactCheck:
        """Every catalogue name and price in ``text`` against ``brief``; names ``prompt``
        did not give are unknown entities."""
        doc = self.nlp(text)
        mentions, _ = doc_mentions(doc, self.schema, {}, use_ner=False)
        issues = [*self._catalogue_issues(mentions, brief), *self._price_issues(doc, mentions, brief)]
        issues += self._unknown_names(doc, mentions, prompt)
        if not text.strip():
            issues.append(Issue(EMPTY, "the model wrote nothing"))
        limit = channel(brief.channel).max_chars
        if len(text) > limit:
            issues.append(Issue(TOO_LONG, f"{len(text)} characters; the {brief.channel} limit is {limit}"))
        return FactCheck(tuple(issues))

    def _catalogue_issues(self, mentions: list[Mention], brief: CopyBrief) -> list[Issue]:
        item, issues = brief.item, []
        allowed = {
            "Brand": (
                item.brand_ids,
                f"the item's brand is {item.brand}" if item.brand else "the item has no brand",
            ),
            "Material": (
                item.material_ids,
                f"it is made of {', '.join(item.materials) or 'nothing the graph names'}",
            ),
            "Category": (item.category_ids, f"it is in {', '.join(item.categories) or 'no category'}"),
            "Genre": (item.genre_ids, f"its genres are {', '.join(item.genres) or 'none'}"),
        }
        grounded = brief.reason.lower()  # the explanation path may name other items and their attributes
        for mention in mentions:
            if mention.text.lower() in grounded:
                continue
            if mention.label == "Item":
                if mention.node_id != item.id:
                    issues.append(Issue(CONTRADICTION, f"names another product, {mention.text!r}"))
            elif mention.label in allowed:
                ids, truth = allowed[mention.label]
                if mention.node_id not in ids:
                    issues.append(
                        Issue(CONTRADICTION, f"says {mention.label.lower()} {mention.text!r}; {truth}")
                    )
        return issues

    def _price_issues(self, doc: Doc, mentions: list[Mention], brief: CopyBrief) -> list[Issue]:
        item = brief.item
        stated = {f.name: f for f in sentence_attributes(doc, mentions, self.colors, ("Item", item.id))}
        issues = []
        if "price" in stated:
            value = float(stated["price"].value)
            if item.price is None:
                issues.append(
                    Issue(CONTRADICTION, f"states a price ({stated['price'].text}); the item has none")
                )
            elif abs(value - item.price) > PRICE_TOLERANCE:
                issues.append(
                    Issue(CONTRADICTION, f"says the price is {stated['price'].text}; it is {item.price:.2f}")
                )
        if "currency" in stated and item.currency and str(stated["currency"].value) != item.currency.upper():
            issues.append(
                Issue(
                    CONTRADICTION,
                    f"prices in {stated['currency'].value}; the item is priced in {item.currency}",
                )
            )
        return issues

    def _unknown_names(self, doc: Doc, mentions: list[Mention], prompt: str) -> list[Issue]:
        """Runs of name tokens (NER entities, proper nouns) outside catalogue matches with
        a word the prompt never used."""
        known_words = {w.lower() for w in _WORD.findall(prompt)} | set(self.nlp.Defaults.stop_words)
        covered = {i for m in mentions for i in range(m.start, m.end)}
        in_entity = {t.i for ent in doc.ents if ent.label_ in NAME_ENTITY_LABELS for t in ent}
        issues, run = [], []
        for token in [*doc, None]:
            if token is not None and _is_name(token, in_entity) and token.idx not in covered:
                run.append(token)
                continue
            if any(t.lower_ not in known_words for t in run):
                name = doc[run[0].i : run[-1].i + 1].text
                issues.append(Issue(UNKNOWN_ENTITY, f"names {name!r}, which is not in the graph"))
            run = []
        return issues


def _is_name(token: Token, in_entity: set[int]) -> bool:
    return token.is_alpha and (token.i in in_entity or token.pos_ == "PROPN")
