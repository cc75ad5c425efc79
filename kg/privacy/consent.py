"""Who may be marketed to, and the smallest group an output may describe."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kg.config import Settings
from kg.errors import InputError
from kg.store import GraphStore
from kg.store.cypher_names import q


def consent_properties(settings: Settings) -> list[str]:
    """The User properties whose ``false`` excludes a user from marketing."""
    return [settings.privacy.consent_property, settings.privacy.marketing_consent_property]


def refused_by(store: GraphStore, properties: Sequence[str], users: Sequence[str] | None = None) -> set[str]:
    """Users (of ``users``, else all) for whom one of ``properties`` is ``false``. A missing
    value is not a refusal; a property the schema does not declare refuses no one."""
    node = store.schema.node("User")
    declared = [p for p in properties if p in node.properties]
    if not declared or (users is not None and not users):
        return set()
    refused_if = " OR ".join(f"u.{q(p)} = false" for p in declared)
    among = "u.id IN $users AND " if users is not None else ""
    found = store.query(
        f"MATCH (u:User) WHERE {among}({refused_if}) RETURN u.{q(node.key)} AS id",
        {"users": list(users)} if users is not None else {},
    )
    return set(found["id"].astype(str)) if not found.empty else set()


def consenting_users(
    store: GraphStore, users: Iterable[str], properties: Sequence[str]
) -> tuple[list[str], int]:
    """``users`` without those for whom any of ``properties`` is false (order kept), and
    how many were left out: the one rule every path that selects people to contact
    (audiences, campaigns, copy) applies, so the count it reports is the same everywhere."""
    wanted = [str(u) for u in users]
    excluded = refused_by(store, properties, wanted)
    return [u for u in wanted if u not in excluded], len(excluded)


def refused_users(store: GraphStore, settings: Settings) -> set[str]:
    """Every user who refused marketing: left out of audiences, campaigns and copy."""
    return refused_by(store, consent_properties(settings))


def require_group_size(size: int, minimum: int, what: str) -> None:
    """Refuse an output about fewer people than ``privacy.min_group_size``."""
    if size < minimum:
        raise InputError(
            f"{what} would hold {size} user{'s' if size != 1 else ''}, fewer than the minimum group size "
            f"{minimum} (privacy.min_group_size); it is suppressed. Ask for more, or lower the minimum."
        )
