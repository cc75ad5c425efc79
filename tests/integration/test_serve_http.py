"""`kg serve` as a shop meets it: the command started in its own process (registered on a
Typer app the way cli.py registers it), a real uvicorn server on a free loopback port,
keys from KG_API_KEYS, and plain HTTP from this process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kg.config import Settings
from tests.helpers import MOVIELENS, require
from tests.serve_shop import QUICK_SIGNALS, READ_KEY, WRITE_KEY, free_port, shop_settings

# The CLI as cli.py builds it: global --store/--config, then the registered serve command.
CLI = """
from typing import Optional
import typer
from kg.command_errors import KGGroup, run_app
from kg.commands.serve import register

app = typer.Typer(cls=KGGroup)

@app.callback()
def main(store: Optional[str] = typer.Option(None, "--store"), config: Optional[str] = typer.Option(None, "--config")) -> None:
    pass

register(app)
run_app(app)
"""


@contextmanager
def kg_serve(
    settings: Settings, *args: str, keys: bool = True
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env |= {
        "KG_DATA_DIR": str(settings.data_dir),
        "KG_RECOMMEND__SIGNALS": str(settings.recommend.signals).replace("'", '"'),
    }
    if keys:
        env |= {"KG_API_KEYS": READ_KEY, "KG_API_WRITE_KEYS": WRITE_KEY}
    command = [sys.executable, "-c", CLI, "--store", settings.store, "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kg serve exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("kg serve did not answer in time")


def check_done_when(url: str, user: str, seen: set[str]) -> None:
    """The issue's acceptance: 10 unseen items with a key, 401 without; after the user views
    the first recommended item, the next answer no longer has it and differs."""
    read = {"X-API-Key": READ_KEY}
    assert httpx.get(f"{url}/recommendations/{user}?k=10").status_code == 401
    before = httpx.get(f"{url}/recommendations/{user}?k=10", headers=read).json()
    items = [row["item"] for row in before["items"]]
    assert len(items) == 10 and not set(items) & seen
    event = {"user": user, "item": items[0], "type": "VIEWED"}
    posted = httpx.post(f"{url}/events", json=event, headers={"X-API-Key": WRITE_KEY})
    assert posted.status_code == 202
    after = [
        row["item"] for row in httpx.get(f"{url}/recommendations/{user}?k=10", headers=read).json()["items"]
    ]
    assert items[0] not in after and after != items and len(after) == 10


def seen_by(settings: Settings, user: str) -> set[str]:
    from kg.store import open_store

    with open_store(settings, read_only=True) as store:
        rows = store.query(
            "MATCH (:User {id: $user})-[]->(i:Item) RETURN DISTINCT i.id AS item", {"user": user}
        )
    return set(rows["item"])


def test_kg_serve_on_a_shop(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path)
    seen = seen_by(settings, "U00001")
    assert seen  # a user with a history, so "unseen" means something
    with kg_serve(settings) as (url, process):
        wait_until_up(url, process)
        check_done_when(url, "U00001", seen)
        spec = httpx.get(f"{url}/openapi.json").json()
        assert {"/recommendations/{user_id}", "/events", "/metrics", "/audience"} <= set(spec["paths"])


@pytest.mark.slow
def test_kg_serve_on_movielens(tmp_path: Path) -> None:
    """The acceptance on MovieLens-100k (ingest plus a fit with the quick signals)."""
    from kg.config import load_settings
    from kg.ingest import ingest_path
    from kg.store import open_store

    folder = require(MOVIELENS)
    settings = load_settings(
        store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data", recommend={"signals": QUICK_SIGNALS}
    )
    with open_store(settings) as store:
        ingest_path(store, folder)
    with kg_serve(settings, "--host", "127.0.0.1") as (url, process):
        wait_until_up(url, process, timeout=600)
        check_done_when(url, "1", seen_by(settings, "1"))


def test_kg_serve_refuses_without_keys_or_with_workers_on_the_embedded_store(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path)
    with kg_serve(settings, keys=False) as (_, process):
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1 and "KG_API_KEYS" in output and "Traceback" not in output
    with kg_serve(settings, "--workers", "2") as (_, process):
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 1 and "--workers above 1 needs Neo4j" in " ".join(output.split())
