"""What `kg serve` reads from the environment: API keys, CORS, limits, refit schedule.

Kept apart from :class:`kg.config.Settings` (the graph and the recommender) because only
the server reads these, and because the keys are secrets that must never reach a model
file, a report or a log. Every field comes from a ``KG_`` variable; lists are
comma-separated (``KG_API_KEYS=key-a,key-b``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kg.errors import ConfigError

MIN_KEY_LENGTH = 16


class ServeSettings(BaseSettings):
    """Server settings: ``KG_API_KEYS`` (read), ``KG_API_WRITE_KEYS`` (read and write)..."""

    model_config = SettingsConfigDict(env_prefix="KG_", extra="ignore")

    api_keys: SecretStr = Field(
        default=SecretStr(""), description="Comma-separated keys that may read (KG_API_KEYS)."
    )
    api_write_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated keys that may also POST /events (KG_API_WRITE_KEYS).",
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty: CORS closed."
    )
    serve_max_body_bytes: int = Field(default=1_048_576, ge=1, description="Largest request body.")
    serve_timeout_s: float = Field(default=10.0, gt=0, description="Longest time one request may take.")
    serve_max_events: int = Field(default=1000, ge=1, description="Most events in one POST /events.")
    serve_flush_s: float = Field(
        default=0.5, gt=0, description="How often the embedded store's event writer flushes a batch."
    )
    serve_refit_s: float = Field(
        default=3600.0, gt=0, description="Refit the recommender in the background this often."
    )
    serve_refit_events: int = Field(
        default=10_000, ge=1, description="...or as soon as this many events have been written."
    )
    serve_score_table_mb: float = Field(
        default=512.0,
        ge=0,
        description="Memory for the scores of every known user, computed when a model comes in "
        "(a request then reads its user's row); a larger table is not kept, and every request scores.",
    )

    @property
    def read_keys(self) -> frozenset[str]:
        return _split(self.api_keys.get_secret_value())

    @property
    def write_keys(self) -> frozenset[str]:
        return _split(self.api_write_keys.get_secret_value())

    @property
    def origins(self) -> list[str]:
        return sorted(_split(self.cors_origins))

    def check_keys(self) -> None:
        """A server without keys would answer anyone, so it does not start; short keys are
        guessable, so they are refused too."""
        if not self.read_keys and not self.write_keys:
            raise ConfigError(
                "No API keys: set KG_API_KEYS (read) and KG_API_WRITE_KEYS (read and write), "
                f"comma-separated, each at least {MIN_KEY_LENGTH} characters "
                '(for example: export KG_API_KEYS=$(python -c "import secrets; print(secrets.token_urlsafe(24))")).'
            )
        short = [key for key in self.read_keys | self.write_keys if len(key) < MIN_KEY_LENGTH]
        if short:
            raise ConfigError(
                f"{len(short)} API key(s) in KG_API_KEYS/KG_API_WRITE_KEYS are shorter than "
                f"{MIN_KEY_LENGTH} characters; use long random keys."
            )


def _split(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())
