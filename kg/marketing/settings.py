"""Settings of ``kg copy`` and ``kg campaign`` (``[marketing]`` in kg.toml, ``KG_MARKETING__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MarketingSettings(BaseModel):
    """Copy generation, its cost limits, campaign costs and how outcomes feed back."""

    copy_backend: str = Field(
        default="template",
        description="template (no model, deterministic), hf or openai; the model, URL and retries are "
        "[embeddings] llm_model, llm_url, llm_retries, llm_backoff.",
    )
    channel: str = Field(default="email", description="email, push or banner (each has a length limit).")
    tone: str = Field(default="friendly", description="friendly, urgent, premium or playful.")
    max_calls: int = Field(default=200, ge=0, description="Model calls one run may make (retries count).")
    max_tokens: int = Field(
        default=100_000, ge=0, description="Prompt plus answer tokens one run may spend (estimated)."
    )
    max_regenerations: int = Field(
        default=2,
        ge=0,
        description="New drafts asked for when the fact check fails, before storing it unchecked.",
    )
    control_arm: str = Field(default="control", description="The arm every other arm is compared with.")
    cost_per_impression: float = Field(default=0.01, ge=0, description="Cost of showing one message.")
    cost_per_campaign: float = Field(
        default=50.0, ge=0, description="Fixed cost of a campaign (split over arms)."
    )
    min_detectable_uplift: float = Field(
        default=0.1, gt=0, description="Smallest relative conversion uplift worth detecting (sample size)."
    )
    power: float = Field(default=0.8, gt=0, lt=1, description="Power the sample-size estimate aims for.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence of intervals and verdicts.")
    bootstrap_samples: int = Field(default=2000, ge=100, description="Resamples for the revenue interval.")
    feedback: dict[str, str] = Field(
        default={"CLICKED": "VIEWED", "CONVERTED": "PURCHASED"},
        description="Outcome -> interaction it becomes for the recommender and the embeddings: a click is "
        "a view (weak positive), a conversion a purchase (strong); map an outcome to '' to ignore it.",
    )
