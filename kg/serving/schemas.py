"""Request and response bodies of the HTTP API: what the OpenAPI spec publishes and what
every request is checked against before any code of ours runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
RelType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong and what to do about it.")


class Event(BaseModel):
    """One interaction of a user with an item, as the shop saw it happen."""

    model_config = ConfigDict(extra="forbid")

    user: Identifier = Field(description="User id; a user the graph does not know yet is created.")
    item: Identifier = Field(description="Item id; must be in the catalogue the server serves.")
    type: RelType = Field(
        default="VIEWED",
        description="Interaction type: a User->Item relationship type of the schema (VIEWED, PURCHASED, RATED...).",
    )
    timestamp: datetime | int | None = Field(
        default=None, description="When it happened: epoch seconds or ISO 8601 (default: now)."
    )
    value: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The rating of a RATED event, the amount of a PURCHASED one; none for the other types.",
    )


class EventsAccepted(BaseModel):
    accepted: int = Field(description="Events folded into the users' histories.")
    pending: int = Field(description="Events accepted but not yet written to the graph.")


class RecommendedItem(BaseModel):
    rank: int
    item: str
    name: str
    score: float
    reason: str | None = None
    signal: str | None = None
    cypher: str | None = Field(default=None, description="Cypher that shows the path in the graph.")


class Recommendations(BaseModel):
    user: str
    known_user: bool = Field(description="Whether the user is in the graph the model was fitted on.")
    cold_start: bool = Field(description="True when the user has no history: cold-start recommendations.")
    events_folded: int = Field(description="Items from events since the last fit that count as history.")
    model: str
    items: list[RecommendedItem]


class SimilarItems(BaseModel):
    item: str
    name: str
    model: str
    items: list[RecommendedItem]


class AudienceMember(BaseModel):
    rank: int
    user: str
    score: float
    item: str = Field(description="The target item this user is most likely to convert on.")
    name: str
    rank_for_user: int = Field(description="Where that item ranks among everything the user could be shown.")
    reason: str | None = None


class Audience(BaseModel):
    target: str
    segment: str | None = None
    model: str
    users: list[AudienceMember]


class ExplanationResponse(BaseModel):
    user: str
    item: str
    name: str
    cold_start: bool
    reason: str
    signal: str
    cypher: str


class Health(BaseModel):
    status: str
    model: str
    model_created_at: str
    model_age_s: float
    users: int
    items: int
    events_pending: int
    events_folded: int
