"""Campaigns: an audience from the recommender, split into arms, written to the graph.

``(:Campaign {name, target, segment, arms, tones, split, control, channel, allocation})
-[:TARGETS {arm, item, score}]->(:User)``. The audience is the existing precision-
targeting code's (`kg audience`): the users most likely to take an item of the target
(an item, category, brand or genre), each with the item to promote to them, optionally
only the members of one segment. Users without consent are left out and counted.
Creating a campaign again keeps every assignment made before and assigns only newcomers,
so a campaign can grow in waves (with Thompson sampling, each wave learns from the last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from kg.config import Settings
from kg.errors import InputError, NotFoundError
from kg.ids import slugify
from kg.marketing.assignment import ALLOCATIONS, Arm, ArmOutcomes, assign_arms
from kg.marketing.prompts import channel as check_channel
from kg.privacy.consent import consent_properties, consenting_users
from kg.progress import ProgressReporter
from kg.store.base import FROM_ID, TO_ID, GraphStore

CAMPAIGN_QUERY = """
MATCH (c:Campaign {id: $campaign})
RETURN c.id AS id, c.name AS name, c.target AS target, c.segment AS segment, c.arms AS arms,
       c.tones AS tones, c.split AS split, c.control AS control, c.channel AS channel, c.allocation AS allocation
"""
TARGETS_QUERY = """
MATCH (c:Campaign {id: $campaign})-[t:TARGETS]->(u:User)
RETURN u.id AS user, t.arm AS arm, t.item AS item
ORDER BY user
"""
CONVERSIONS_QUERY = """
MATCH (u:User)-[e:CONVERTED]->(c:Campaign {id: $campaign})
RETURN u.id AS user
"""
SEGMENT_MEMBERS_QUERY = """
MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) WHERE s.id = $segment OR s.name = $segment
RETURN u.id AS user
"""


@dataclass(frozen=True)
class Campaign:
    """A campaign as stored: its arms in order and which one is the control."""

    id: str
    name: str
    target: str
    arms: tuple[Arm, ...]
    control: str
    channel: str = "email"
    allocation: str = "fixed"
    segment: str = ""

    def arm(self, name: str) -> Arm:
        return next(arm for arm in self.arms if arm.name == name)


@dataclass
class CampaignCreated:
    """What `kg campaign create` did."""

    campaign: Campaign
    target: str
    kept: int
    assigned: int
    excluded_no_consent: int
    per_arm: pd.DataFrame = field(default_factory=pd.DataFrame)


def campaign_id(name: str) -> str:
    return slugify(name)


def create_campaign(
    store: GraphStore,
    settings: Settings,
    campaign: Campaign,
    *,
    size: int | None = None,
    progress: ProgressReporter | None = None,
) -> CampaignCreated:
    """Find the audience for ``campaign.target`` (within ``campaign.segment``), assign arms
    and write the campaign. ``size`` keeps the best-scored users only."""
    from kg.recommend.audience import audience
    from kg.recommend.service import load_recommender

    recommender = load_recommender(store, settings, progress=progress)
    scored = audience(
        recommender, campaign.target, recommender.graph.n_users, explain=False, progress=progress
    )
    if campaign.segment:
        members = store.query(SEGMENT_MEMBERS_QUERY, {"segment": campaign.segment})
        if members.empty:
            raise NotFoundError(
                f"Segment {campaign.segment!r} has no members; run `kg segment` and list segments with "
                "`kg query segment-profiles`."
            )
        scored = scored[scored["user"].astype(str).isin(set(members["user"].astype(str)))]
    return assign_audience(store, settings, campaign, scored, size=size)


def assign_audience(
    store: GraphStore,
    settings: Settings,
    campaign: Campaign,
    scored: pd.DataFrame,
    *,
    size: int | None = None,
) -> CampaignCreated:
    """Write ``campaign`` and assign arms to the users of ``scored`` (columns user, item,
    score; best first) who consented and were not assigned before."""
    check_channel(campaign.channel)
    if campaign.allocation not in ALLOCATIONS:
        raise InputError(
            f"Unknown allocation {campaign.allocation!r}; choose one of {', '.join(ALLOCATIONS)}."
        )
    if campaign.control not in {arm.name for arm in campaign.arms}:
        raise InputError(
            f"The control arm {campaign.control!r} is not among the arms {[a.name for a in campaign.arms]}."
        )
    _check_same_arms(store, campaign)
    users, excluded = consenting_users(store, scored["user"].astype(str), consent_properties(settings))
    chosen = scored[scored["user"].astype(str).isin(set(users))]
    if size is not None:
        chosen = chosen.head(size)
    before = campaign_targets(store, campaign.id)
    new = chosen[~chosen["user"].astype(str).isin(set(before["user"]))]
    outcomes = arm_outcomes(store, campaign.id) if campaign.allocation == "thompson" else {}
    arms = assign_arms(
        campaign.id,
        list(new["user"].astype(str)),
        campaign.arms,
        allocation=campaign.allocation,
        control=campaign.control,
        outcomes=outcomes,
    )
    _write_campaign(store, campaign)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if len(new):
        store.upsert_relationships(
            "TARGETS",
            "Campaign",
            "User",
            pd.DataFrame(
                {
                    FROM_ID: campaign.id,
                    TO_ID: new["user"].astype(str).to_numpy(),
                    "arm": arms,
                    "item": new["item"].astype(str).to_numpy(),
                    "score": new["score"].astype(float).to_numpy(),
                    "assigned_at": now,
                }
            ),
        )
    after = campaign_targets(store, campaign.id)
    per_arm = (
        after.groupby("arm")
        .size()
        .reindex([a.name for a in campaign.arms], fill_value=0)
        .rename("users")
        .reset_index()
    )
    return CampaignCreated(campaign, campaign.target, len(before), len(new), excluded, per_arm)


def _check_same_arms(store: GraphStore, campaign: Campaign) -> None:
    """A campaign's arms are fixed once users are in them."""
    try:
        stored = load_campaign(store, campaign.id)
    except NotFoundError:
        return
    if [a.name for a in stored.arms] != [a.name for a in campaign.arms]:
        raise InputError(
            f"Campaign {campaign.name!r} already has arms {', '.join(a.name for a in stored.arms)}; "
            "its users are assigned to them, so they cannot change (create a campaign with a new name)."
        )


def _write_campaign(store: GraphStore, campaign: Campaign) -> None:
    store.upsert_nodes(
        "Campaign",
        pd.DataFrame(
            [
                {
                    "id": campaign.id,
                    "name": campaign.name,
                    "target": campaign.target,
                    "segment": campaign.segment,
                    "arms": [a.name for a in campaign.arms],
                    "tones": [a.tone for a in campaign.arms],
                    "split": [a.share for a in campaign.arms],
                    "control": campaign.control,
                    "channel": campaign.channel,
                    "allocation": campaign.allocation,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            ]
        ),
    )


def load_campaign(store: GraphStore, name: str) -> Campaign:
    """A stored campaign by name or id."""
    rows = store.query(CAMPAIGN_QUERY, {"campaign": campaign_id(name)})
    if rows.empty:
        raise NotFoundError(f"No campaign {name!r}; create it with `kg campaign create {name} --target ...`.")
    row = rows.iloc[0]
    arms = tuple(
        Arm(str(n), float(s), str(t or ""))
        for n, s, t in zip(list(row["arms"]), list(row["split"]), list(row["tones"]), strict=True)
    )
    return Campaign(
        id=str(row["id"]),
        name=str(row["name"]),
        target=str(row["target"] or ""),
        arms=arms,
        control=str(row["control"]),
        channel=str(row["channel"] or "email"),
        allocation=str(row["allocation"] or "fixed"),
        segment=str(row["segment"] or ""),
    )


def campaign_targets(store: GraphStore, campaign: str) -> pd.DataFrame:
    """The users of a campaign with their arm and promoted item."""
    rows = store.query(TARGETS_QUERY, {"campaign": campaign})
    if rows.empty:
        return pd.DataFrame(
            {"user": pd.Series(dtype=str), "arm": pd.Series(dtype=str), "item": pd.Series(dtype=str)}
        )
    return rows.astype({"user": str, "arm": str, "item": str})


def arm_outcomes(store: GraphStore, campaign: str) -> dict[str, ArmOutcomes]:
    """Users and converted users per arm so far (Thompson sampling's posterior counts)."""
    targets = campaign_targets(store, campaign)
    converted = set(store.query(CONVERSIONS_QUERY, {"campaign": campaign})["user"].astype(str))
    return {
        str(arm): ArmOutcomes(len(group), int(group["user"].isin(converted).sum()))
        for arm, group in targets.groupby("arm")
    }
