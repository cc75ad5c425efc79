"""Versioned copy prompts, built from a brief of graph facts.

A :class:`CopyBrief` holds item facts, the explanation path, segment-level facts, the
channel and the tone -- and nothing else, so no user's id, name, age, zip code or other
property can reach a prompt: the reader is always "the customer". ``PROMPT_VERSION``
changes whenever the wording does; it is part of every cache key and stored on each
Message.
"""

from __future__ import annotations

from dataclasses import dataclass

from kg.errors import InputError
from kg.marketing.copy_facts import ItemFacts

PROMPT_VERSION = "copy-v1"
SYSTEM_PROMPT = (
    "You write short marketing copy for a shop. Use only the facts given: never invent a brand, "
    "product, material, category, price or discount. Answer with the copy only."
)
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True)
class Channel:
    """Where the copy appears, what form it takes there, and its length limit."""

    name: str
    max_chars: int
    form: str


CHANNELS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        Channel("email", 400, "a short marketing email: a subject line, then two or three sentences"),
        Channel("push", 140, "a push notification of one sentence"),
        Channel("banner", 80, "a banner headline of a few words"),
    )
}
TONES: dict[str, str] = {
    "friendly": "warm and friendly",
    "urgent": "urgent, with a clear call to act now",
    "premium": "calm and premium",
    "playful": "light and playful",
}


@dataclass(frozen=True)
class CopyBrief:
    """Everything one piece of copy may say: graph facts, why this audience, where, how."""

    item: ItemFacts
    reason: str
    audience: str = "the customer"
    segment: str = ""
    channel: str = "email"
    tone: str = "friendly"


def channel(name: str) -> Channel:
    if name not in CHANNELS:
        raise InputError(f"Unknown channel {name!r}; choose one of {', '.join(CHANNELS)}.")
    return CHANNELS[name]


def check_tone(name: str) -> str:
    if name not in TONES:
        raise InputError(f"Unknown tone {name!r}; choose one of {', '.join(TONES)}.")
    return name


def price_text(facts: ItemFacts) -> str | None:
    """``$59.99``, ``€12.00``, ``30.00 CHF``; None for an item without a price."""
    if facts.price is None:
        return None
    symbol = CURRENCY_SYMBOLS.get((facts.currency or "USD").upper())
    return f"{symbol}{facts.price:.2f}" if symbol else f"{facts.price:.2f} {facts.currency}"


def fact_lines(facts: ItemFacts) -> list[str]:
    """The item's facts, one per line, only those the graph holds."""
    lines = [f"Product: {facts.name}"]
    if facts.brand:
        lines.append(f"Brand: {facts.brand}")
    if facts.categories:
        lines.append(f"Category: {', '.join(facts.categories)}")
    if facts.materials:
        lines.append(f"Material: {', '.join(facts.materials)}")
    if facts.genres:
        lines.append(f"Genre: {', '.join(facts.genres)}")
    price = price_text(facts)
    if price:
        lines.append(f"Price: {price}")
    return lines


def build_prompt(brief: CopyBrief) -> str:
    """The user prompt for one brief (version ``PROMPT_VERSION``)."""
    spec = channel(brief.channel)
    must = ["the brand"] if brief.item.brand else []
    if brief.item.price is not None:
        must.append("the exact price")
    lines = [
        f"Write {spec.form} in a {TONES[check_tone(brief.tone)]} tone, addressed to {brief.audience}.",
        *fact_lines(brief.item),
        f"Why it suits {brief.audience}: {brief.reason}",
    ]
    if brief.segment:
        lines.append(f"Segment facts: {brief.segment}")
    lines.append(
        (f"Name {' and '.join(must)}. " if must else "")
        + f"At most {spec.max_chars} characters. Mention nothing that is not in these facts."
    )
    return "\n".join(lines) + "\nCopy:"


def regeneration_prompt(prompt: str, draft: str, problems: list[str]) -> str:
    """Ask again, saying what was wrong with the rejected draft."""
    return (
        f"{prompt.removesuffix('Copy:')}A previous draft was rejected: {'; '.join(problems)}.\n"
        f"Rejected draft: {draft}\nWrite it again using only the facts above.\nCopy:"
    )
