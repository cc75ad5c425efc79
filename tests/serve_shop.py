"""A small synthetic shop graph and a served app over it, for the `kg serve` tests.

The recommender is fitted with the quick signals only (a second or so), the way a shop
would configure it in kg.toml; everything else (store, writer, refit) is the real thing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import uvicorn

from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.serving.app import build_server, create_app
from kg.serving.config import ServeSettings
from kg.store import open_store

READ_KEY = "read-key-0123456789abcdef"
WRITE_KEY = "write-key-0123456789abcdef"
QUICK_SIGNALS = ["ease", "item_knn", "attributes", "cohort", "popularity"]
SHOP = ShopSize(users=80, items=50, purchases_per_user=5.0, views_per_user=10.0, reviews=10)


def shop_settings(folder: Path) -> Settings:
    """A shop graph in ``folder`` (built once per folder) and the settings that serve it."""
    settings = load_settings(
        store=str(folder / "graph"), data_dir=folder / "kg-data", recommend={"signals": QUICK_SIGNALS}
    )
    if not (folder / "graph").exists():
        ingest_shop(settings, folder / "source")
    return settings


def ingest_shop(settings: Settings, source: Path) -> None:
    """Generate the shop's files into ``source`` and ingest them into the settings' store
    (embedded or Neo4j), with one segment, Campers, of the first ten users."""
    files = generate_shop(source, SHOP, seed=5)
    with open_store(settings) as store:
        for data_file, mapping in files:
            ingest_path(store, data_file, mapping=mapping)
        store.upsert_nodes("Segment", pd.DataFrame({"id": ["seg-0"], "name": ["Campers"]}))
        members = pd.DataFrame({"from_id": [f"U{n:05d}" for n in range(1, 11)], "to_id": "seg-0"})
        store.upsert_relationships("IN_SEGMENT", "User", "Segment", members)


def serve_settings(**overrides: object) -> ServeSettings:
    return ServeSettings(api_keys=READ_KEY, api_write_keys=WRITE_KEY, **overrides)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(settings: Settings, serve: ServeSettings) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    app = create_app(build_server(settings, serve))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
