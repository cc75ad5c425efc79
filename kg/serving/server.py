"""Run the API under uvicorn: the app object itself for one worker, a factory that every
worker process calls for several (Neo4j only: the embedded store has one writer)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from kg.config import Settings, load_settings
from kg.errors import ConfigError
from kg.serving.app import build_server, create_app
from kg.serving.config import ServeSettings
from kg.serving.refit import load_snapshot

FACTORY = "kg.serving.server:app_from_env"
LIMIT_CONCURRENCY = 1000  # connections served at once; beyond them uvicorn answers 503 at once


# No access log: request paths hold user ids, which are personal data.
UVICORN_OPTIONS = {
    "access_log": False,
    "timeout_keep_alive": 30,
    "limit_concurrency": LIMIT_CONCURRENCY,
    "log_level": "warning",
}


def run_server(
    settings: Settings,
    serve: ServeSettings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    config_file: Path | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Load (or fit) the model, then serve until interrupted."""
    serve.check_keys()
    if workers > 1 and not settings.uses_neo4j:
        raise ConfigError(
            "--workers above 1 needs Neo4j: the embedded store admits one writing process, and "
            "events are folded into the model of the process that received them. Use --workers 1, "
            "or set KG_STORE to a bolt:// or neo4j:// URI."
        )
    announce(f"Loading the recommender for {settings.store} (fitted now if the graph changed)...")
    # fitted once here, before any worker starts
    snapshot = load_snapshot(settings, score_table_mb=serve.serve_score_table_mb)
    announce(f"Serving on http://{host}:{port} (API docs at /docs); Ctrl+C stops.")
    if workers == 1:
        uvicorn.run(
            create_app(build_server(settings, serve, snapshot)), host=host, port=port, **UVICORN_OPTIONS
        )
        return
    os.environ["KG_STORE"] = settings.store
    if config_file is not None:
        os.environ["KG_CONFIG"] = str(config_file)
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers, **UVICORN_OPTIONS)


def app_from_env() -> FastAPI:
    """The app of one worker process (``--workers N``): settings from KG_* as the parent set them."""
    return create_app(build_server(load_settings(), ServeSettings()))
