"""Consent: a user who said no gets no campaign and no copy.

One small function, shared by every path that selects people to contact, so the rule
(and the count of people it left out) is the same everywhere. The properties are the
privacy settings' ``consent_property`` (no marketing at all) and
``marketing_consent_property`` (no campaigns or copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kg.config import Settings
from kg.store.base import GraphStore
from kg.store.cypher_names import q


def consent_properties(settings: Settings) -> list[str]:
    """The User properties whose ``false`` excludes a user from marketing."""
    return [settings.privacy.consent_property, settings.privacy.marketing_consent_property]


def consenting_users(
    store: GraphStore, users: Iterable[str], properties: Sequence[str]
) -> tuple[list[str], int]:
    """``users`` without those for whom any of ``properties`` is false (order kept), and
    how many were left out. A missing value is not a refusal; a property the schema does
    not declare excludes no one."""
    wanted = [str(u) for u in users]
    declared = [p for p in properties if p in store.schema.node("User").properties]
    if not declared or not wanted:
        return wanted, 0
    refused_if = " OR ".join(f"u.{q(p)} = false" for p in declared)
    refused = store.query(
        f"MATCH (u:User) WHERE u.id IN $users AND ({refused_if}) RETURN u.id AS user", {"users": wanted}
    )
    excluded = set(refused["user"].astype(str)) if not refused.empty else set()
    return [u for u in wanted if u not in excluded], len(excluded)
