"""Copy without a language model: deterministic, and grounded by construction.

Used when no model is configured (``marketing.copy_backend = "template"``) and when a
run's budget is spent. It always names the item (which carries its brand) and the real
price, and fits the channel's length limit.
"""

from __future__ import annotations

from kg.marketing.prompts import CopyBrief, channel, price_text

OPENINGS = {
    "friendly": "Picked for you",
    "urgent": "Don't miss out",
    "premium": "Selected for you",
    "playful": "Good news",
}
CLOSINGS = {
    "friendly": "Take a look today.",
    "urgent": "Order now while it lasts.",
    "premium": "Discover it now.",
    "playful": "Go on, treat yourself.",
}


def template_copy(brief: CopyBrief) -> str:
    """One piece of copy for ``brief`` in its channel's form."""
    facts = brief.item
    named = (
        facts.name
        if not facts.brand or facts.brand.lower() in facts.name.lower()
        else f"{facts.name} by {facts.brand}"
    )
    price = price_text(facts)
    offer = f"{named}, now {price}" if price else named
    opening, closing = OPENINGS[brief.tone], CLOSINGS[brief.tone]
    limit = channel(brief.channel).max_chars
    if brief.channel == "banner":
        return _fit(f"{offer}.", limit)
    what = _what(brief)
    if brief.channel == "push":
        return _fit(f"{opening}: {offer}. {closing}", limit)
    subject = f"Subject: {opening}: {named}"
    body = f"{offer}{what}. Why this one: {brief.reason.rstrip('.')}. {closing}"
    return _fit(f"{subject}\n{body}", limit, fallback=f"{subject}\n{offer}{what}. {closing}")


def _what(brief: CopyBrief) -> str:
    facts = brief.item
    parts = []
    if facts.materials:
        parts.append(f"made of {facts.materials[0]}")
    return f" ({', '.join(parts)})" if parts else ""


def _fit(text: str, limit: int, fallback: str | None = None) -> str:
    """``text`` if it fits, else the shorter ``fallback``, else cut at a word."""
    for candidate in (text, fallback):
        if candidate and len(candidate) <= limit:
            return candidate
    cut = (fallback or text)[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
