"""Who may be marketed to, and the smallest group an output may describe."""

from __future__ import annotations

from kg.config import Settings
from kg.errors import InputError
from kg.store import GraphStore
from kg.store.cypher_names import q


def refused_users(store: GraphStore, settings: Settings) -> set[str]:
    """Users whose consent property (or marketing-consent property) is ``false``: they
    are left out of audiences, campaigns and copy. A missing value is not a refusal."""
    node = store.schema.node("User")
    declared = [
        p
        for p in (settings.privacy.consent_property, settings.privacy.marketing_consent_property)
        if p in node.properties
    ]
    if not declared:
        return set()
    refused_if = " OR ".join(f"u.{q(p)} = false" for p in declared)
    found = store.query(f"MATCH (u:User) WHERE {refused_if} RETURN u.{q(node.key)} AS id")
    return set(found["id"].astype(str)) if not found.empty else set()


def require_group_size(size: int, minimum: int, what: str) -> None:
    """Refuse an output about fewer people than ``privacy.min_group_size``."""
    if size < minimum:
        raise InputError(
            f"{what} would hold {size} user{'s' if size != 1 else ''}, fewer than the minimum group size "
            f"{minimum} (privacy.min_group_size); it is suppressed. Ask for more, or lower the minimum."
        )
