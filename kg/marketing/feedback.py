"""Campaign outcomes become interactions the recommender and the embeddings learn from.

``marketing.feedback`` maps each outcome to an interaction type: by default a click
becomes a VIEWED edge (the weaker positive) and a conversion a PURCHASED edge with the
revenue as its amount (the stronger one). Only pairs the graph does not already link
are written, so a user's recorded history (counts, amounts) is never overwritten, and
running feedback twice writes nothing new.
"""

from __future__ import annotations

import pandas as pd

from kg.config import Settings
from kg.errors import ConfigError
from kg.marketing.campaigns import load_campaign
from kg.marketing.events import OUTCOMES, outcome_events
from kg.store.base import FROM_ID, TO_ID, GraphStore
from kg.store.cypher_names import q


def feed_back_outcomes(store: GraphStore, settings: Settings, name: str) -> dict[str, int]:
    """Write the campaign's clicks and conversions as interactions; return new edges per type."""
    campaign = load_campaign(store, name)
    events = outcome_events(store, campaign.id)
    written: dict[str, int] = {}
    for outcome, rel_type in settings.marketing.feedback.items():
        if not rel_type:
            continue
        if outcome not in OUTCOMES:
            raise ConfigError(
                f"marketing.feedback: {outcome!r} is not an outcome; use {', '.join(OUTCOMES)}."
            )
        store.schema.check_endpoints(rel_type, "User", "Item")
        chosen = events[(events["event"] == outcome) & events["item"].notna()]
        pairs = chosen.groupby(["user", "item"], as_index=False).agg(
            count=("count", "sum"), revenue=("revenue", "sum")
        )
        pairs = _new_pairs(store, rel_type, pairs)
        if pairs.empty:
            written[rel_type] = written.get(rel_type, 0)
            continue
        rows = pd.DataFrame({FROM_ID: pairs["user"].astype(str), TO_ID: pairs["item"].astype(str)})
        declared = store.schema.rel(rel_type).properties
        if "count" in declared:
            rows["count"] = pairs["count"].astype(int).to_numpy()
        if "amount" in declared and outcome == "CONVERTED":
            rows["amount"] = pairs["revenue"].astype(float).to_numpy()
        result = store.upsert_relationships(rel_type, "User", "Item", rows)
        written[rel_type] = written.get(rel_type, 0) + result.created
    return written


def _new_pairs(store: GraphStore, rel_type: str, pairs: pd.DataFrame) -> pd.DataFrame:
    """The (user, item) pairs of ``pairs`` not yet linked by ``rel_type``."""
    if pairs.empty:
        return pairs
    known = store.query(
        f"MATCH (u:User)-[:{q(rel_type)}]->(i:Item) WHERE u.id IN $users RETURN u.id AS user, i.id AS item",
        {"users": sorted(set(pairs["user"].astype(str)))},
    )
    if known.empty:
        return pairs
    seen = set(zip(known["user"].astype(str), known["item"].astype(str), strict=True))
    keep = [
        (u, i) not in seen for u, i in zip(pairs["user"].astype(str), pairs["item"].astype(str), strict=True)
    ]
    return pairs[keep]
