"""Consent: a user who said no gets no campaign and no copy.

One small function, shared by every path that selects people to contact, so the rule
(and the count of people it left out) is the same everywhere. The properties are the
privacy settings' ``consent_property`` (no marketing at all) and
``marketing_consent_property`` (no campaigns or copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kg.privacy.consent import refused_by
from kg.store.base import GraphStore


def consenting_users(
    store: GraphStore, users: Iterable[str], properties: Sequence[str]
) -> tuple[list[str], int]:
    """``users`` without those for whom any of ``properties`` is false (order kept), and
    how many were left out (the rule itself: ``kg.privacy.consent.refused_by``)."""
    wanted = [str(u) for u in users]
    excluded = refused_by(store, properties, wanted)
    return [u for u in wanted if u not in excluded], len(excluded)
