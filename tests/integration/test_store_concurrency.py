"""Several kg processes on one embedded store, and ingest killed mid-run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kg.config import load_settings
from kg.store import open_store
from tests.helpers import ROOT, assert_clean_error, kg

HOLD = """
import sys, time
from kg.config import load_settings
from kg.store import open_store
store = open_store(load_settings(store=sys.argv[1]), read_only=sys.argv[2] == "read")
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def graph(tmp_path: Path) -> str:
    path = tmp_path / "graph"
    with open_store(load_settings(store=str(path))) as store:
        store.ensure_schema()
    return str(path)


def hold_store(path: str, mode: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, path, mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    return holder


@pytest.fixture
def writer(graph: str) -> Iterator[subprocess.Popen[str]]:
    holder = hold_store(graph, "write")
    yield holder
    holder.kill()
    holder.wait()


def test_second_process_gets_store_in_use(graph: str, writer: subprocess.Popen[str], tmp_path: Path) -> None:
    users = tmp_path / "u.csv"
    users.write_text("user_id\nu1\n")
    mapping = tmp_path / "u.toml"
    mapping.write_text('[nodes]\nlabel = "User"\nid = "user_id"\n')
    assert_clean_error(
        kg("--store", graph, "ingest", str(users), "-m", str(mapping)), "is in use", f"pid {writer.pid}"
    )
    assert_clean_error(kg("--store", graph, "stats"), "is in use", "another kg process")


def test_readers_share_the_store(graph: str) -> None:
    reader = hold_store(graph, "read")
    try:
        assert kg("--store", graph, "stats").returncode == 0
        assert_clean_error(kg("--store", graph, "query", "MATCH (n) SET n.x = 1", "--write"), "is in use")
    finally:
        reader.kill()
        reader.wait()


def test_lock_is_released_with_the_process(graph: str) -> None:
    holder = hold_store(graph, "write")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert kg("--store", graph, "stats").returncode == 0


def write_purchases(tmp_path: Path, rows: int) -> tuple[Path, Path, Path, Path]:
    rng = np.random.default_rng(3)
    users, items = tmp_path / "users.csv", tmp_path / "purchases.csv"
    users.write_text("user_id\n" + "".join(f"u{i}\n" for i in range(5000)))
    pairs = {
        (int(u), int(i))
        for u, i in zip(rng.integers(0, 5000, rows * 2), rng.integers(0, 3000, rows * 2), strict=True)
    }
    with items.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["user_id", "sku", "qty"])
        out.writerows((f"u{u}", f"p{i}", 1 + (u + i) % 3) for u, i in sorted(pairs)[:rows])
    users_map, purchases_map = tmp_path / "users.toml", tmp_path / "purchases.toml"
    users_map.write_text('[nodes]\nlabel = "User"\nid = "user_id"\n')
    purchases_map.write_text(
        '[edges]\nrel = "PURCHASED"\nfrom = { label = "User", column = "user_id" }\n'
        'to = { label = "Item", column = "sku" }\nproperties = { count = "qty" }\n'
    )
    return users, users_map, items, purchases_map


def snapshot(path: str) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    with open_store(load_settings(store=path), read_only=True) as store:
        counts = {k: v for k, v in store.counts().relationships.items() if v}
        edges = store.query("MATCH (u:User)-[p:PURCHASED]->(i:Item) RETURN u.id, i.id, p.count")
    return counts, sorted(map(tuple, edges.itertuples(index=False)))


def store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def wait_until_written(path: Path, before: int, timeout: float = 120) -> None:
    """Block until the store files grow, i.e. the ingest has committed some batches."""
    deadline = time.monotonic() + timeout
    while store_bytes(path) <= before + 64 * 1024:
        assert time.monotonic() < deadline, "the ingest wrote nothing"
        time.sleep(0.1)
    time.sleep(0.5)


def test_killed_ingest_resumes_to_the_same_graph(tmp_path: Path) -> None:
    users, users_map, purchases, purchases_map = write_purchases(tmp_path, 150_000)
    reference, interrupted = str(tmp_path / "reference"), str(tmp_path / "interrupted")
    for store in (reference, interrupted):
        assert kg("--store", store, "ingest", str(users), "-m", str(users_map)).returncode == 0
    assert kg("--store", reference, "ingest", str(purchases), "-m", str(purchases_map)).returncode == 0

    command = [
        sys.executable,
        "-c",
        "from cli import main; main()",
        "--store",
        interrupted,
        "ingest",
        str(purchases),
        "-m",
        str(purchases_map),
        "--batch-size",
        "5000",
    ]
    victim = subprocess.Popen(
        command,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_written(Path(interrupted), before=store_bytes(Path(interrupted)))
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, (
        "the ingest finished before it could be interrupted; use more rows"
    )

    partial_counts, _ = snapshot(interrupted)
    assert 0 < partial_counts.get("PURCHASED", 0) < 150_000, "killed between batches, mid-run"
    resumed = kg("--store", interrupted, "ingest", str(purchases), "-m", str(purchases_map))
    assert resumed.returncode == 0, resumed.stderr
    assert snapshot(interrupted) == snapshot(reference)
