"""`kg serve --workers 2` on Neo4j, as a shop runs it: the real command in its own process,
two uvicorn worker processes over one Neo4j database, plain HTTP from this process.

Skipped without a Neo4j server (see tests/neo4j_server.py); it EMPTIES the test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kg.config import Settings
from kg.store import open_store
from tests.helpers import KG, ROOT
from tests.neo4j_server import neo4j_env, neo4j_settings, wipe
from tests.serve_shop import QUICK_SIGNALS, READ_KEY, WRITE_KEY, free_port, ingest_shop

pytestmark = pytest.mark.neo4j
READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}


def spawned_children(parent: int) -> int:
    """Processes ``parent`` started through multiprocessing's spawn (uvicorn's workers)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # a process that ended while we looked
        count += ppid == parent and b"spawn_main" in command
    return count


@contextmanager
def kg_serve_workers(settings: Settings, workers: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`kg serve --workers N` against the test Neo4j; yields its URL once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")} | neo4j_env(
        KG_DATA_DIR=str(settings.data_dir),
        KG_RECOMMEND__SIGNALS=json.dumps(QUICK_SIGNALS),
        KG_API_KEYS=READ_KEY,
        KG_API_WRITE_KEYS=WRITE_KEY,
        PYTHONPATH=str(ROOT),
    )
    command = [*KG, "serve", "--workers", str(workers), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise AssertionError(f"kg serve exited: {process.stdout.read() if process.stdout else ''}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kg serve --workers did not answer in time"
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_two_workers_on_neo4j_answer_and_write_events_straight_in(tmp_path: Path) -> None:
    settings = neo4j_settings(data_dir=tmp_path / "kg-data", recommend={"signals": QUICK_SIGNALS})
    with open_store(settings) as store:
        wipe(store)
    ingest_shop(settings, tmp_path / "source")
    with kg_serve_workers(settings, 2) as (url, process):
        for _ in range(600):  # the second worker may still be loading the model
            if spawned_children(process.pid) == 2:
                break
            time.sleep(0.1)
        assert spawned_children(process.pid) == 2
        assert httpx.get(f"{url}/recommendations/U00001").status_code == 401
        with httpx.Client(base_url=url, headers=READ, timeout=30) as client:
            answers = [client.get(f"/recommendations/U{n:05d}?k=5").json() for n in range(1, 41)]
        assert all(len(answer["items"]) == 5 and answer["known_user"] for answer in answers)
        first = answers[0]["items"][0]["item"]
        event = {"user": "U00001", "item": first, "type": "PURCHASED", "value": 42.0}
        posted = httpx.post(f"{url}/events", json=event, headers=WRITE, timeout=30)
        assert posted.status_code == 202 and posted.json() == {"accepted": 1, "pending": 0}
        with open_store(settings, read_only=True) as store:  # written before the response
            bought = store.query(
                "MATCH (:User {id: $u})-[r:PURCHASED]->(:Item {id: $i}) RETURN r.amount AS amount",
                {"u": "U00001", "i": first},
            )
        assert bought["amount"].tolist() == [42.0]
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "ok" and health["items"] == 50
    assert process.returncode is not None
