"""Campaign outcome events: files ``kg ingest`` loads, and reading them back.

Each outcome is a relationship from the user to the campaign, carrying the arm and the
promoted item: ``(:User)-[:IMPRESSED|CLICKED|CONVERTED {arm, item, count, revenue,
timestamp}]->(:Campaign)``. A shop's own event log loads with the mappings below (one
file per outcome, the columns named as in ``EVENT_COLUMNS``); the simulation writes its
events the same way, so they travel the path real events do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.store.base import GraphStore
from kg.store.cypher_names import q

OUTCOMES = ("IMPRESSED", "CLICKED", "CONVERTED")
EVENT_COLUMNS = ["user_id", "campaign", "arm", "item", "count", "revenue", "timestamp"]
EVENT_FILES = {"IMPRESSED": "impressions", "CLICKED": "clicks", "CONVERTED": "conversions"}


def event_mapping(outcome: str) -> str:
    """The ``kg ingest`` mapping (TOML) for one outcome's file."""
    revenue = ', revenue = "revenue"' if outcome == "CONVERTED" else ""
    return (
        "[edges]\n"
        f'rel = "{outcome}"\n'
        'from = { label = "User", column = "user_id" }\n'
        'to = { label = "Campaign", column = "campaign" }\n'
        f'properties = {{ arm = "arm", item = "item", count = "count", timestamp = "timestamp"{revenue} }}\n'
    )


def write_event_files(out_dir: Path, events: pd.DataFrame) -> list[tuple[Path, Path]]:
    """``events`` (EVENT_COLUMNS plus ``event``, one of OUTCOMES) as one CSV and one
    mapping per outcome; returns (file, mapping) pairs for ``kg ingest``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for outcome in OUTCOMES:
        rows = events[events["event"] == outcome]
        columns = EVENT_COLUMNS if outcome == "CONVERTED" else [c for c in EVENT_COLUMNS if c != "revenue"]
        data, mapping = out_dir / f"{EVENT_FILES[outcome]}.csv", out_dir / f"{EVENT_FILES[outcome]}.toml"
        rows[columns].to_csv(data, index=False)
        mapping.write_text(event_mapping(outcome), encoding="utf-8")
        files.append((data, mapping))
    return files


def outcome_events(store: GraphStore, campaign: str) -> pd.DataFrame:
    """Every outcome of a campaign: user, event, arm, item, count, revenue."""
    frames = []
    for outcome in OUTCOMES:
        revenue = "e.revenue" if outcome == "CONVERTED" else "0.0"
        rows = store.query(
            f"MATCH (u:User)-[e:{q(outcome)}]->(c:Campaign {{id: $campaign}}) "
            f"RETURN u.id AS user, e.arm AS arm, e.item AS item, e.count AS count, {revenue} AS revenue",
            {"campaign": campaign},
        )
        if len(rows):
            frames.append(rows.assign(event=outcome))
    if not frames:
        return pd.DataFrame(columns=["user", "event", "arm", "item", "count", "revenue"])
    events = pd.concat(frames, ignore_index=True)
    events["user"] = events["user"].astype(str)
    events["count"] = pd.to_numeric(events["count"], errors="coerce").fillna(1).astype(int)
    events["revenue"] = pd.to_numeric(events["revenue"], errors="coerce").fillna(0.0).astype(float)
    return events
