"""Message nodes: the copy, how it was made and checked, for whom and for what.

``(:Message {text, channel, tone, model, prompt_version, checked, issues, ...})``
``-[:FOR]->(:User|:Segment)`` and ``-[:PROMOTES]->(:Item)``, through the store API so it
is the same on the embedded store and on Neo4j. A message's key is the hash of its slot
(campaign, arm, audience, item, channel, tone): writing copy again for the same slot
replaces it instead of adding a second message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pandas as pd

from kg.ids import content_hash
from kg.marketing.copywriter import Draft
from kg.store.base import FROM_ID, TO_ID, GraphStore

AUDIENCE_LABELS = ("User", "Segment")


@dataclass(frozen=True)
class MessageSlot:
    """Who a message is for, what it promotes, where and how; ``campaign``/``arm`` are
    empty outside a campaign."""

    audience_label: str
    audience_id: str
    item: str
    channel: str
    tone: str
    campaign: str = ""
    arm: str = ""

    @property
    def id(self) -> str:
        return "msg-" + content_hash("\x1f".join(asdict(self).values()))[:20]


def store_messages(
    store: GraphStore, slots: list[MessageSlot], drafts: list[Draft], *, created_at: str | None = None
) -> pd.DataFrame:
    """Write one Message per slot with its FOR and PROMOTES edges; return what was written.
    ``created_at`` defaults to now (a fixed one makes two stores' copies comparable)."""
    created = created_at or datetime.now(UTC).isoformat(timespec="seconds")
    frame = pd.DataFrame(
        [
            {
                "id": slot.id,
                "text": draft.text,
                "channel": slot.channel,
                "tone": slot.tone,
                "model": draft.model,
                "prompt_version": draft.prompt_version,
                "checked": draft.checked,
                "issues": list(draft.issues),
                "regenerations": draft.regenerations,
                "campaign": slot.campaign,
                "arm": slot.arm,
                "created_at": created,
                "audience_label": slot.audience_label,
                "audience_id": slot.audience_id,
                "item": slot.item,
            }
            for slot, draft in zip(slots, drafts, strict=True)
        ]
    )
    if frame.empty:
        return frame
    store.upsert_nodes("Message", frame.drop(columns=["audience_label", "audience_id", "item"]))
    for label in AUDIENCE_LABELS:
        chosen = frame[frame["audience_label"] == label]
        if len(chosen):
            store.upsert_relationships(
                "FOR", "Message", label, pd.DataFrame({FROM_ID: chosen["id"], TO_ID: chosen["audience_id"]})
            )
    store.upsert_relationships(
        "PROMOTES", "Message", "Item", pd.DataFrame({FROM_ID: frame["id"], TO_ID: frame["item"]})
    )
    return frame
