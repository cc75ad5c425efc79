"""``kg serve``: the recommender as an HTTP API for a shop (see kg/serving/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command(
        epilog="Keys: KG_API_KEYS (read) and KG_API_WRITE_KEYS (read and POST /events), "
        "comma-separated, sent as X-API-Key. CORS: KG_CORS_ORIGINS (closed when empty). "
        "Limits: KG_SERVE_MAX_BODY_BYTES, KG_SERVE_TIMEOUT_S. Refit: KG_SERVE_REFIT_S, "
        "KG_SERVE_REFIT_EVENTS. Memory for every known user's scores (read instead of computed "
        "per request): KG_SERVE_SCORE_TABLE_MB (512). API docs at /docs, spec at /openapi.json."
    )(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to listen on (default: this machine only; 0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes (above 1 needs Neo4j; the embedded store has one writer)."
        ),
    ] = 1,
) -> None:
    """Serve recommendations, similar items, audiences and explanations over HTTP; POST /events
    changes a user's next recommendations at once, and the model refits in the background."""
    from kg.config import load_settings
    from kg.serving.config import ServeSettings
    from kg.serving.server import run_server

    root = ctx.find_root().params  # the global --store / --config, however the CLI holds them
    config: Path | None = root.get("config")
    settings = load_settings(config, store=root.get("store"))
    serve_settings = ServeSettings()
    serve_settings.check_keys()
    run_server(
        settings,
        serve_settings,
        host=host,
        port=port,
        workers=workers,
        config_file=config,
        announce=lambda line: err_console.print(line, highlight=False, markup=False),
    )
