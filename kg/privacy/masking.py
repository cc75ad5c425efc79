"""Masking personal data in free text before it leaves the machine.

Emails, phone numbers and card-like digit runs are found by patterns; people's names by
spaCy's named-entity recogniser (the ``PERSON`` label of the installed English model).
Each is replaced by a placeholder naming its kind, so a model still reads a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from spacy.language import Language

from kg.config import ExtractSettings

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# +44 20 7946 0958, (555) 123-4567, 555-123-4567, 0151 496 0000: 7+ digits with separators
PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?!\w|\.\d)"
)
PLACEHOLDERS = {"email": "[email]", "phone": "[phone]", "person": "[name]"}


def mask_patterns(text: str) -> str:
    """Emails and phone numbers replaced (phones need at least 7 digits, so years and
    prices stay)."""
    text = EMAIL.sub(PLACEHOLDERS["email"], text)
    return PHONE.sub(lambda m: PLACEHOLDERS["phone"] if _digits(m.group()) >= 7 else m.group(), text)


def mask_texts(
    texts: Sequence[str], known_names: Iterable[str] = (), nlp: Language | None = None
) -> list[str]:
    """Each text with emails, phone numbers and people's names masked.

    ``known_names`` are the people the graph holds (their names, and each part of them):
    the recogniser misses unusual names, a list of the customers' own names does not."""
    nlp = nlp or _default_nlp()
    names = _name_pattern(known_names)
    patterned = [mask_patterns(t) for t in texts]
    if names is not None:
        patterned = [names.sub(PLACEHOLDERS["person"], t) for t in patterned]
    masked = []
    for text, doc in zip(patterned, nlp.pipe(patterned), strict=True):
        pieces, last = [], 0
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                pieces.extend((text[last : ent.start_char], PLACEHOLDERS["person"]))
                last = ent.end_char
        masked.append("".join(pieces) + text[last:])
    return masked


def _name_pattern(known_names: Iterable[str]) -> re.Pattern[str] | None:
    """Whole names first, then their parts of three letters or more, as whole words."""
    parts: set[str] = set()
    for name in known_names:
        parts.add(name.strip())
        parts.update(word for word in re.split(r"[\s,]+", name) if len(word) >= 3)
    ordered = sorted((p for p in parts if p), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


@lru_cache(maxsize=1)
def _default_nlp() -> Language:
    from kg.extract.nlp import load_nlp

    return load_nlp(ExtractSettings())
