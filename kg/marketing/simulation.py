"""A campaign with a known answer: simulated outcomes whose true uplift is set in advance.

Each targeted user converts with a probability that depends on their segment (a base
rate per segment) and on their arm (a relative uplift per arm, zero for control);
users who get a message see it one to three times and click with the arm's click rate.
Converting users spend the promoted item's price. Since the truth is known, a report's
intervals can be checked against it: the expected CVR difference of an arm is its
uplift times the mean base rate of the audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kg.marketing.campaigns import Campaign, campaign_targets
from kg.store.base import GraphStore

DEFAULT_SEGMENT = ""
USER_SEGMENTS_QUERY = (
    "MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) WHERE u.id IN $users RETURN u.id AS user, s.id AS segment"
)
PRICES_QUERY = "MATCH (i:Item) WHERE i.id IN $items RETURN i.id AS item, i.price AS price"
START = 1_767_225_600  # 2026-01-01


@dataclass(frozen=True)
class TrueResponse:
    """How users really respond: base conversion per segment id (``""``: any other
    segment), relative conversion uplift and click rate per arm."""

    base_conversion: dict[str, float] = field(default_factory=lambda: {DEFAULT_SEGMENT: 0.05})
    uplift: dict[str, float] = field(default_factory=dict)
    click_rate: dict[str, float] = field(default_factory=dict)

    def conversion(self, segment: str, arm: str) -> float:
        base = self.base_conversion.get(segment, self.base_conversion.get(DEFAULT_SEGMENT, 0.05))
        return min(1.0, base * (1 + self.uplift.get(arm, 0.0)))


def audience_segments(store: GraphStore, users: list[str]) -> pd.Series:
    """Each user's segment id (``""`` for users in none), indexed by user."""
    rows = store.query(USER_SEGMENTS_QUERY, {"users": users}) if users else pd.DataFrame()
    known = dict(zip(rows["user"].astype(str), rows["segment"].astype(str), strict=True)) if len(rows) else {}
    return pd.Series([known.get(u, DEFAULT_SEGMENT) for u in users], index=users, dtype=str)


def true_uplift(store: GraphStore, campaign: Campaign, response: TrueResponse) -> dict[str, float]:
    """Expected CVR of each arm minus control's, over the campaign's whole audience."""
    users = list(campaign_targets(store, campaign.id)["user"])
    segments = audience_segments(store, users)
    base = np.array([response.conversion(s, campaign.control) for s in segments])
    return {
        arm.name: float(np.mean([response.conversion(s, arm.name) for s in segments]) - base.mean())
        for arm in campaign.arms
        if arm.name != campaign.control
    }


def simulate_outcomes(
    store: GraphStore, campaign: Campaign, response: TrueResponse, seed: int = 0
) -> pd.DataFrame:
    """Outcome events (columns of ``events.EVENT_COLUMNS`` plus ``event``) for every
    targeted user; the control arm gets no message, so no impressions or clicks."""
    rng = np.random.default_rng(seed)
    targets = campaign_targets(store, campaign.id)
    segments = audience_segments(store, list(targets["user"]))
    prices = store.query(PRICES_QUERY, {"items": sorted(set(targets["item"]))})
    price = (
        dict(zip(prices["item"].astype(str), prices["price"].astype(float), strict=True))
        if len(prices)
        else {}
    )
    rows = []
    for user, arm, item in targets[["user", "arm", "item"]].itertuples(index=False):
        common = {"user_id": user, "campaign": campaign.id, "arm": arm, "item": item, "revenue": None}
        stamp = START + int(rng.integers(0, 14 * 86_400))
        if arm != campaign.control:
            rows.append(
                {**common, "event": "IMPRESSED", "count": int(rng.integers(1, 4)), "timestamp": stamp}
            )
            if rng.random() < response.click_rate.get(arm, 0.05):
                rows.append({**common, "event": "CLICKED", "count": 1, "timestamp": stamp + 60})
        if rng.random() < response.conversion(segments[user], arm):
            rows.append(
                {
                    **common,
                    "event": "CONVERTED",
                    "count": 1,
                    "revenue": round(price.get(item, 0.0), 2),
                    "timestamp": stamp + 600,
                }
            )
    return pd.DataFrame(
        rows, columns=["user_id", "campaign", "arm", "item", "event", "count", "revenue", "timestamp"]
    )
