"""Distributed extraction on a real Dask ``LocalCluster`` (two worker processes): the
workers analyse, this process resolves and writes -- and the graph is the same as
after a run in one process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.errors import ConfigError
from kg.extract import Extractor, ReadOptions, extract_graph_text, extract_path
from kg.extract.distributed import cluster_extractor, dask_client
from kg.ingest import ingest_path
from kg.store import GraphStore, open_store
from tests.helpers import kg

# Cross-document resolution that only works when names are resolved in input order in
# one place: "APPLE Inc." must find the "Apple" created by an earlier document (which
# another worker analysed), "Greenfeld Analytics" the "Greenfield Analytics" before it.
NOTES = [
    "Tim Cook works for Apple in Cupertino.",
    "Greenfield Analytics Inc. opened a store in Denver.",
    "Anna Berg works for NORTHPEAK Inc. in Portland.",
    "Nimbus Labs opened an office in Oslo, Norway.",
    "APPLE Inc. opened a store in Boston.",
    "Der neue Rucksack von NORTHPEAK ist aus Nylon gefertigt und wurde in Portland entworfen.",
    "Greenfeld Analytics opened an office in Oslo.",
    "Mary Jones lives in Paris and works for Apple.",
]
WRITE_TIMES = ("ingested_at", "decided_at")


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with dask_client(workers=2) as running:
        yield running


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, Path]:
    """The generated shop's folder (24 products, 12 reviews) and a JSONL file of notes."""
    generate_shop(tmp_path / "shop", ShopSize(users=20, items=24, reviews=12), seed=5)
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(NOTES)), "utf-8")
    return tmp_path / "shop", notes


def _catalogue(tmp_path: Path, name: str, shop_dir: Path) -> Settings:
    """A store holding the shop's categories and products (with brands and materials)."""
    settings = load_settings(store=str(tmp_path / name), data_dir=tmp_path / "kg-data")
    settings.extract.batch_size = 4  # many small partitions: each write batch spreads over both workers
    with open_store(settings) as store:
        for data in ("categories.csv", "products.csv"):
            ingest_path(store, shop_dir / data, mapping=shop_dir / data.replace(".csv", ".toml"))
    return settings


def _extract(store: GraphStore, settings: Settings, notes: Path, shop_dir: Path, extractor: Extractor) -> int:
    reports = [
        extract_graph_text(store, settings, extractor=extractor),
        extract_path(
            store, settings, shop_dir / "reviews.jsonl", ReadOptions(about_field="sku"), extractor=extractor
        ),
        extract_path(store, settings, notes, extractor=extractor),
    ]
    return sum(r.documents for r in reports)


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return round(value, 6) if isinstance(value, float) else value


def _graph(store: GraphStore) -> dict[str, list[dict]]:
    """Every node and relationship with its properties, except the times of writing."""
    content: dict[str, list[dict]] = {}
    frames = [(label, store.iter_nodes(label)) for label in store.schema.nodes]
    frames += [(rel_type, store.iter_relationships(rel_type)) for rel_type in store.schema.rels]
    for name, batches in frames:
        rows = [
            {k: _plain(v) for k, v in row.items() if k not in WRITE_TIMES}
            for frame in batches
            for row in frame.to_dict("records")
        ]
        if rows:
            content[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return content


def test_a_cluster_run_writes_what_a_local_run_writes(client: Client, shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shop_dir, notes = shop
    local_settings = _catalogue(tmp_path, "local", shop_dir)
    with open_store(local_settings) as store:
        local_documents = _extract(store, local_settings, notes, shop_dir, Extractor(local_settings, store))
        local = _graph(store)
    cluster_settings = _catalogue(tmp_path, "cluster", shop_dir)
    with (
        open_store(cluster_settings) as store,
        cluster_extractor(client, cluster_settings, store) as extractor,
    ):
        assert _extract(store, cluster_settings, notes, shop_dir, extractor) == local_documents == 24 + 12 + 8
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        assert len(executed) == 2 and all(count > 0 for count in executed.values())  # both workers analysed
        clustered = _graph(store)
        assert _extract(store, cluster_settings, notes, shop_dir, extractor) == 0  # all unchanged, skipped
        assert _graph(store) == clustered
    assert clustered == local
    organisations = {row["id"] for row in clustered["Organization"]}
    assert {"apple", "greenfield-analytics"} <= organisations and "greenfeld-analytics" not in organisations
    assert {"exact", "fuzzy"} <= {row["method"] for row in clustered["MENTIONS"]}
    assert "SAME_AS" in clustered  # Nimbus Labs ~ Nimbus, for review
    assert not any(name.startswith("kg-extract-") for name in _worker_plugins(client))


def _worker_plugins(client: Client) -> set[str]:
    return {
        name for names in client.run(lambda dask_worker: list(dask_worker.plugins)).values() for name in names
    }


def test_the_command_line_runs_on_a_given_scheduler(client: Client, shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shop_dir, notes = shop
    settings = _catalogue(tmp_path, "graph", shop_dir)
    env = {"KG_STORE": settings.store, "KG_DATA_DIR": str(tmp_path / "kg-data")}
    run = kg("extract", "run", str(notes), "--scheduler", client.scheduler.address, env=env)
    assert run.returncode == 0, run.stderr
    with open_store(settings, read_only=True) as store:
        assert store.counts().nodes["Document"] == len(NOTES)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    expected = r"No Dask scheduler answers at tcp://127\.0\.0\.1:9 .*--workers N"
    with pytest.raises(ConfigError, match=expected), dask_client("tcp://127.0.0.1:9", connect_seconds=1):
        pass
