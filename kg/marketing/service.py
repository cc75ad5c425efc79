"""`kg copy`: briefs for a user, a segment or a whole campaign, written, checked, stored.

A user's brief carries the item's facts and the explanation path of why the recommender
picks this item for them -- rendered without any of their properties (a path through a
demographic cohort becomes "customers like this one") -- and the facts of their
segment. A segment's brief carries the segment's profile and how the item fits it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kg.config import Settings
from kg.errors import InputError
from kg.marketing.campaigns import campaign_targets, load_campaign
from kg.marketing.copy_facts import ItemFacts, SegmentFacts, item_facts, segment_facts
from kg.marketing.copywriter import CopyRun, Copywriter
from kg.marketing.factcheck import FactChecker
from kg.marketing.messages import MessageSlot, store_messages
from kg.marketing.prompts import CopyBrief, channel, check_tone
from kg.privacy.consent import consent_properties, consenting_users
from kg.progress import ProgressReporter, SilentProgress
from kg.recommend.explain import Explanation
from kg.store.base import GraphStore
from kg.store.cypher_names import q

PERSONAL_SIGNALS = frozenset({"cohort"})  # explanations that name a user's own properties
USER_SEGMENT_QUERY = """
MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) WHERE u.id IN $users
RETURN u.id AS user, s.id AS segment
"""


@dataclass(frozen=True)
class CopyRequest:
    """Whom to write for (one user, one segment, or a campaign's users) and how."""

    item: str | None = None
    user: str | None = None
    segment: str | None = None
    campaign: str | None = None
    channel: str | None = None
    tone: str | None = None
    backend: str | None = None


@dataclass
class CopyResult:
    messages: pd.DataFrame
    run: CopyRun
    excluded_no_consent: int = 0
    notes: list[str] = field(default_factory=list)


def grounded_reason(explanation: Explanation) -> str:
    """The explanation path in words, without the user's own properties."""
    if explanation.signal in PERSONAL_SIGNALS:
        return "popular with customers who shop like this one"
    return explanation.reason


def write_copy(
    store: GraphStore, settings: Settings, request: CopyRequest, progress: ProgressReporter | None = None
) -> CopyResult:
    """Write, check and store the copy ``request`` asks for."""
    chosen = [name for name in ("user", "segment", "campaign") if getattr(request, name)]
    if len(chosen) != 1:
        raise InputError("Give exactly one of --user, --segment or --campaign.")
    if request.campaign is None and not request.item:
        raise InputError("--item is needed with --user or --segment (a campaign knows its items).")
    progress = progress or SilentProgress()
    slots, briefs, excluded, notes = _plan(store, settings, request, progress)
    with Copywriter(settings, FactChecker(store, settings), request.backend) as writer:
        drafts = writer.write(briefs, progress)
    messages = store_messages(store, slots, drafts)
    return CopyResult(messages, writer.run, excluded, notes)


def _plan(
    store: GraphStore, settings: Settings, request: CopyRequest, progress: ProgressReporter
) -> tuple[list[MessageSlot], list[CopyBrief], int, list[str]]:
    config = settings.marketing
    channel_name = channel(request.channel or config.channel).name
    tone = check_tone(request.tone or config.tone)
    if request.segment:
        segment = segment_facts(store, request.segment)
        facts = item_facts(store, [str(request.item)])[str(request.item)]
        brief = CopyBrief(
            facts, _segment_reason(store, settings, segment, facts), "the customers of this segment", segment.summary,
            channel_name, tone,
        )  # fmt: skip
        return [MessageSlot("Segment", segment.id, facts.id, channel_name, tone)], [brief], 0, []
    if request.user:
        users, excluded = consenting_users(store, [request.user], consent_properties(settings))
        if not users:
            refused = " or ".join(consent_properties(settings))
            raise InputError(
                f"User {request.user!r} refused marketing ({refused} is false): no copy is written."
            )
        targets = pd.DataFrame({"user": [request.user], "item": [str(request.item)], "arm": [""]})
        return (*_user_briefs(store, settings, targets, channel_name, {"": tone}, "", progress), excluded, [])
    campaign = load_campaign(store, str(request.campaign))
    targets = campaign_targets(store, campaign.id)
    targets = targets[targets["arm"] != campaign.control]
    users, excluded = consenting_users(store, targets["user"], consent_properties(settings))
    targets = targets[targets["user"].isin(set(users))]
    tones = {arm.name: arm.tone or tone for arm in campaign.arms}
    notes = (
        []
        if len(targets)
        else [f"Campaign {campaign.name!r} has no users outside its control arm to write for."]
    )
    slots, briefs = _user_briefs(
        store, settings, targets, request.channel or campaign.channel, tones, campaign.id, progress
    )
    return slots, briefs, excluded, notes


def _user_briefs(
    store: GraphStore,
    settings: Settings,
    targets: pd.DataFrame,
    channel_name: str,
    tones: dict[str, str],
    campaign: str,
    progress: ProgressReporter,
) -> tuple[list[MessageSlot], list[CopyBrief]]:
    """One brief per (user, item, arm) row of ``targets``, with the explanation path."""
    from kg.recommend.service import load_recommender

    if targets.empty:
        return [], []
    recommender = load_recommender(store, settings, progress=progress)
    graph = recommender.graph
    facts = item_facts(store, list(targets["item"]))
    segments = _segments_of(store, list(targets["user"]))
    slots, briefs = [], []
    with progress.task(f"Explaining {len(targets):,} recommendations", len(targets)):
        for user, item, arm in targets[["user", "item", "arm"]].itertuples(index=False):
            reason = grounded_reason(recommender.explain(graph.user_index(user), graph.item_index(item)))
            segment = segments.get(user)
            briefs.append(
                CopyBrief(
                    facts[item],
                    reason,
                    "the customer",
                    segment.summary if segment else "",
                    channel_name,
                    tones[arm],
                )
            )
            slots.append(MessageSlot("User", user, item, channel_name, tones[arm], campaign, arm))
            progress.advance()
    return slots, briefs


def _segments_of(store: GraphStore, users: list[str]) -> dict[str, SegmentFacts]:
    rows = store.query(USER_SEGMENT_QUERY, {"users": users})
    if rows.empty:
        return {}
    profiles = {s: segment_facts(store, s) for s in set(rows["segment"].astype(str))}
    return {str(u): profiles[str(s)] for u, s in zip(rows["user"], rows["segment"], strict=True)}


def _segment_reason(store: GraphStore, settings: Settings, segment: SegmentFacts, facts: ItemFacts) -> str:
    """Why a segment gets an item: its customers who already took it (by an interaction
    the recommender reads), and the profile attributes the item shares."""
    known = [rel for rel in settings.recommend.interaction_relations if rel in store.schema.rels]
    rels = "|".join(q(rel) for rel in known) or q("PURCHASED")
    rows = store.query(
        f"MATCH (s:Segment {{id: $segment}})<-[:IN_SEGMENT]-(u:User)-[:{rels}]->(i:Item {{id: $item}}) "
        "RETURN count(DISTINCT u) AS customers",
        {"segment": segment.id, "item": facts.id},
    )
    customers = int(rows["customers"].iloc[0]) if len(rows) else 0
    shared = [
        name
        for name in (facts.brand, *facts.categories, *facts.materials)
        if name and name in segment.summary
    ]
    parts = [f"because {customers:,} of the segment's {segment.size:,} customers already bought or viewed it"]
    if shared:
        parts.append(f"the segment over-indexes on {', '.join(shared)}")
    return ", and ".join(parts)
