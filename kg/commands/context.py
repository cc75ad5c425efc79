"""What every command shares: the global options, the consoles, settings built from them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from kg.config import Settings, load_settings

if TYPE_CHECKING:
    from kg.platform import Platform

console = Console()
err_console = Console(stderr=True)


class GlobalOptions:
    """Options given before the command, resolved into settings on first use."""

    config: Path | None = None
    store: str | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Settings with ``overrides`` (command options; ``None`` means not given) on top.
        A config section takes a dict of its keys: ``extract={"n_process": 4}``."""
        return load_settings(self.config, store=self.store, **overrides)

    def platform(self, **overrides: Any) -> Platform:
        """The Python API over the same settings, for commands that are one of its verbs."""
        from kg.platform import Platform

        return Platform(self.settings(**overrides))


state = GlobalOptions()


def given(**options: Any) -> dict[str, Any]:
    """The options a user gave (not ``None``), e.g. as a config section's overrides."""
    return {key: value for key, value in options.items() if value is not None}


def global_options(
    store: Annotated[
        Optional[str],
        typer.Option("--store", help="Embedded store path or Neo4j URI (overrides KG_STORE)."),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", help="TOML config file (overrides KG_CONFIG and ./kg.toml)."),
    ] = None,
) -> None:
    """Global options. Credentials come from KG_NEO4J_USER / KG_NEO4J_PASSWORD only."""
    state.store = store
    state.config = config
