"""Ingest throughput of the embedded store and of a live Neo4j server, in the same run.

Prints relationships/second and peak memory for:
  * MovieLens-100K through `kg ingest --format movielens` (fresh, then re-ingest), if the
    shared data is beside the checkout;
  * a synthetic graph of 1,000,000+ PURCHASED relationships through the store API: fresh
    bulk load, re-ingest of the same rows, and re-ingest where every row changed;
  * the same synthetic rows as a CSV file through the mapping path (parsing included);
  * the baseline in the same process: row-by-row Cypher `UNWIND $rows MERGE`, which is
    what a straightforward adapter would do;
  * the synthetic store through `kg export --format neo4j-admin` and the real
    `neo4j-admin database import full` (the bulk path for a first load into Neo4j);
  * Neo4j (the adapter: UNWIND batches of 10,000 rows, MERGE on the key constraints):
    MovieLens-100K through `kg ingest` (fresh, re-ingest) and the same synthetic
    relationships (fresh, same values, every row changed), once with the pure-Python
    driver and once with `neo4j-rust-ext` when it is installed. Each Neo4j case runs in
    its own client process, so the client's peak is that process's peak RSS; the
    server's peak is the Java process's VmHWM (reset before each case through
    /proc/<pid>/clear_refs), with its CPU seconds beside the client's.

The Neo4j server is one started here (`neo4j-local/start.sh` in a temporary run folder,
stopped at the end) unless KG_NEO4J_URI names one (with KG_NEO4J_PASSWORD; its pid from
--neo4j-run or NEO4J_LOCAL_RUN for the server memory). ITS DATABASE IS EMPTIED.

Usage: python benchmarks/ingest.py [--relationships 1000000] [--users 100000] [--items 20000]
                                   [--neo4j auto|off] [--neo4j-run DIR] [--rust both|on|off]
"""

from __future__ import annotations

import argparse
import csv
import importlib.abc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import measure
from kg.config import load_settings
from kg.ingest import ingest_path
from kg.store import open_store
from kg.store.ladybug import LadybugStore

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
NEO4J_LOCAL = Path(__file__).resolve().parents[1] / "neo4j-local"
PURCHASES_MAPPING = """[edges]
rel = "PURCHASED"
from = { label = "User", column = "user" }
to = { label = "Item", column = "item" }
properties = { count = "count", timestamp = "timestamp" }
"""


def synthetic_purchases(relationships: int, users: int, items: int, seed: int = 0) -> pd.DataFrame:
    """Unique (user, item) pairs with a long-tailed item popularity."""
    rng = np.random.default_rng(seed)
    draw = int(relationships * 1.15)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.7
    user_idx = rng.integers(0, users, draw)
    item_idx = rng.choice(items, size=draw, p=popularity / popularity.sum())
    pairs = pd.DataFrame({"u": user_idx, "i": item_idx}).drop_duplicates().head(relationships)
    return pd.DataFrame(
        {
            "from_id": "U" + pairs["u"].astype(str),
            "to_id": "I" + pairs["i"].astype(str),
            "count": rng.integers(1, 4, len(pairs)),
            "timestamp": rng.integers(1_600_000_000, 1_700_000_000, len(pairs)),
        }
    )


def report(name: str, rows: int, m) -> None:  # type: ignore[no-untyped-def]
    print(
        f"{name:<52} {rows:>10,} rels {m.seconds:>7.2f} s wall {m.cpu_seconds:>7.2f} s cpu "
        f"{rows / m.seconds:>10,.0f} rels/s  peak RSS {m.peak_mib:>6,.0f} MiB"
    )


def bench_movielens(workdir: Path) -> None:
    if not MOVIELENS.is_dir():
        print(f"(skipping MovieLens: {MOVIELENS} not found)")
        return
    with open_store(load_settings(store=str(workdir / "ml"))) as store:
        for label in ("fresh load", "re-ingest (all rows exist)"):
            with measure() as m:
                result = ingest_path(store, MOVIELENS, fmt="movielens")
            report(f"MovieLens-100K kg ingest, {label}", result.relationships_written, m)


def bench_synthetic(workdir: Path, relationships: int, users: int, items: int, batch: int) -> None:
    rows = synthetic_purchases(relationships, users, items)
    with open_store(load_settings(store=str(workdir / "synthetic"))) as store:
        with measure() as m:
            for start in range(0, users, batch):
                store.upsert_nodes(
                    "User", pd.DataFrame({"id": [f"U{i}" for i in range(start, min(users, start + batch))]})
                )
            store.upsert_nodes(
                "Item", pd.DataFrame({"id": [f"I{i}" for i in range(items)], "kind": "product"})
            )
        print(
            f"{'synthetic nodes (users + items), fresh':<58} {users + items:>10,} nodes {m.seconds:>7.2f} s"
        )
        changed = rows.assign(count=rows["count"] + 1)
        for label, batch_rows in (
            ("fresh bulk load", rows),
            ("re-ingest, same values", rows),
            ("re-ingest, every row changed", changed),
        ):
            with measure() as m:
                for start in range(0, len(batch_rows), batch):
                    store.upsert_relationships(
                        "PURCHASED", "User", "Item", batch_rows.iloc[start : start + batch]
                    )
            report(f"synthetic upsert_relationships, {label}", len(batch_rows), m)
        assert store.counts().relationships["PURCHASED"] == len(rows)

        csv_path = workdir / "purchases.csv"  # the stored state, so re-ingest changes nothing
        with csv_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user", "item", "count", "timestamp"])
            writer.writerows(changed.itertuples(index=False))
    mapping = workdir / "purchases.toml"
    mapping.write_text(PURCHASES_MAPPING)
    with open_store(load_settings(store=str(workdir / "synthetic"))) as store:
        with measure() as m:
            result = ingest_path(store, csv_path, mapping=mapping, batch_size=batch)
        report("synthetic CSV via kg ingest + mapping, re-ingest, same", result.relationships_written, m)


def bench_admin_import(workdir: Path) -> None:
    """The synthetic store through `kg export --format neo4j-admin` and the real
    `neo4j-admin database import full` (neo4j-local, a throwaway run folder): the fast path
    for a first load into Neo4j. The import's wall time includes its JVM start."""
    from kg.export import export_neo4j_admin

    with open_store(load_settings(store=str(workdir / "synthetic")), read_only=True) as store:
        rels = store.counts().total_relationships
        with measure() as m:
            export = export_neo4j_admin(store, workdir / "admin-export")
        report("synthetic kg export --format neo4j-admin (all types)", rels, m)
    command = export.import_command(import_dir=str(workdir / "admin-export"))
    env = os.environ | {
        "NEO4J_LOCAL_RUN": str(workdir / "admin-run"),
        "NEO4J_LOCAL_ENV": str(workdir / "admin-run" / "env"),
        "PATH": f"{NEO4J_LOCAL / 'bin'}:{os.environ.get('PATH', '')}",
    }
    started = time.perf_counter()
    done = subprocess.run(["sh", "-c", command], env=env, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"(neo4j-admin import failed: {done.stderr[-500:] or done.stdout[-500:]})")
        return
    peak = next((line for line in done.stdout.splitlines() if line.startswith("Peak memory usage")), "")
    took = next((line.strip() for line in done.stdout.splitlines() if line.startswith("IMPORT DONE")), "")
    print(
        f"{'Neo4j neo4j-admin database import full, fresh (JVM start incl.)':<52} {rels:>10,} rels "
        f"{seconds:>7.2f} s wall {rels / seconds:>10,.0f} rels/s  importer: {took} {peak}"
    )


def bench_baseline(workdir: Path, sample: int = 500) -> None:
    """Row-by-row MERGE, the straightforward approach, on a small sample."""
    rows = synthetic_purchases(sample, 1000, 1000, seed=1)
    store = LadybugStore(
        workdir / "baseline", open_store(load_settings(store=str(workdir / "unused"))).schema
    )
    store.ensure_schema()
    store.upsert_nodes("User", pd.DataFrame({"id": rows["from_id"].unique()}))
    store.upsert_nodes("Item", pd.DataFrame({"id": rows["to_id"].unique()}))
    records = rows.to_dict("records")
    with measure() as m:
        store.query(
            "UNWIND $rows AS row MATCH (a:User {id: row.from_id}), (b:Item {id: row.to_id}) "
            "MERGE (a)-[r:PURCHASED]->(b) SET r.count = row.count, r.timestamp = row.timestamp",
            {"rows": records},
            write=True,
        )
    report("baseline: UNWIND $rows MERGE (row by row), fresh", sample, m)
    store.close()


# ---------------------------------------------------------------------- Neo4j
NEO4J_CASES = [
    ("ml-fresh", "MovieLens-100K kg ingest, fresh"),
    ("ml-again", "MovieLens-100K kg ingest, re-ingest"),
    ("syn-nodes", "synthetic nodes (users + items), fresh"),
    ("syn-fresh", "synthetic upsert_relationships, fresh bulk load"),
    ("syn-same", "synthetic upsert_relationships, re-ingest, same values"),
    ("syn-changed", "synthetic upsert_relationships, re-ingest, every row changed"),
]


@dataclass
class Neo4jServer:
    env: dict[str, str]  # KG_NEO4J_URI / _USER / _PASSWORD for the client processes
    pid: int | None  # the Java process, for its memory and CPU


def _read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _pid_of(run_dir: Path | None) -> int | None:
    pid_file = run_dir / "neo4j.pid" if run_dir else None
    if pid_file and pid_file.is_file() and pid_file.read_text().strip().isdigit():
        return int(pid_file.read_text().strip())
    return None


@contextmanager
def neo4j_server(mode: str, run_dir: str | None) -> Iterator[Neo4jServer | None]:
    """The server named by KG_NEO4J_URI, or a fresh neo4j-local one (stopped afterwards)."""
    if mode == "off":
        yield None
        return
    if os.environ.get("KG_NEO4J_URI"):
        given = run_dir or os.environ.get("NEO4J_LOCAL_RUN")
        env = {k: v for k, v in os.environ.items() if k.startswith("KG_NEO4J_")}
        yield Neo4jServer(env, _pid_of(Path(given) if given else None))
        return
    with tempfile.TemporaryDirectory(prefix="kg-bench-neo4j-") as tmp:
        local = os.environ | {"NEO4J_LOCAL_RUN": f"{tmp}/run", "NEO4J_LOCAL_ENV": f"{tmp}/env"}
        started = time.perf_counter()
        subprocess.run(["bash", str(NEO4J_LOCAL / "start.sh")], env=local, check=True, cwd=tmp)
        print(f"(started neo4j-local in {time.perf_counter() - started:.0f} s: {tmp}/run)")
        try:
            env = {k: v for k, v in _read_env_file(Path(tmp) / "env").items() if k.startswith("KG_NEO4J_")}
            yield Neo4jServer(env, _pid_of(Path(tmp) / "run"))
        finally:
            subprocess.run(["bash", str(NEO4J_LOCAL / "stop.sh")], env=local, check=False, cwd=tmp)


def _server_status(pid: int | None) -> tuple[float | None, float | None]:
    """(VmHWM MiB, CPU seconds) of the server process."""
    if pid is None:
        return None, None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None, None
    hwm = next(
        (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None
    )
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(stat[11]) + int(stat[12])) / ticks


def _own_peak_mib() -> float:
    """This process's peak RSS: VmHWM, as ru_maxrss would be if Linux did not carry the
    parent's ru_maxrss across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_server_peak(pid: int | None) -> bool:
    """Reset the server's VmHWM to its current RSS (Linux: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except (OSError, TypeError):
        return False


class _NoRust(importlib.abc.MetaPathFinder):
    """Hides neo4j-rust-ext, so the driver packs and unpacks Bolt in pure Python."""

    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name == "neo4j._rust" or name.startswith("neo4j._rust."):
            raise ImportError("neo4j-rust-ext disabled for this benchmark case")
        return None


def rust_ext_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("neo4j._rust") is not None


def neo4j_case(case: str, args: argparse.Namespace) -> dict[str, object]:
    """One Neo4j case in this (fresh) process; returns its figures."""
    if args.rust == "off":
        sys.meta_path.insert(0, _NoRust())
    from neo4j._codec.packstream import v1

    rust = v1._rust_pack is not None
    settings = load_settings(
        store=os.environ["KG_NEO4J_URI"],
        neo4j_user=os.environ.get("KG_NEO4J_USER", "neo4j"),
        neo4j_password=os.environ.get("KG_NEO4J_PASSWORD"),
    )
    pid = args.server_pid
    with open_store(settings) as store:
        if case in ("ml-fresh", "syn-nodes", "warm-up"):
            store.query("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", write=True)
        if case == "warm-up":  # the server's JIT compiles the write paths before anything is timed
            if MOVIELENS.is_dir():
                for _ in range(2):
                    ingest_path(store, MOVIELENS, fmt="movielens")
                store.query(
                    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", write=True
                )
            warm = synthetic_purchases(100_000, 20_000, 5_000, seed=2)
            store.upsert_nodes("User", pd.DataFrame({"id": warm["from_id"].unique()}))
            store.upsert_nodes("Item", pd.DataFrame({"id": warm["to_id"].unique()}))
            for _ in range(2):
                store.upsert_relationships("PURCHASED", "User", "Item", warm)
            store.query("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", write=True)
            return {"case": case}
        rows = pd.DataFrame()
        if case in ("syn-fresh", "syn-same", "syn-changed"):
            rows = synthetic_purchases(args.relationships, args.users, args.items)
        if case == "syn-fresh":  # the other driver mode may have loaded them already
            store.query(
                "MATCH ()-[r:PURCHASED]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS", write=True
            )
        if case == "syn-changed":  # each mode changes every row again, whichever ran first
            rows = rows.assign(count=rows["count"] + (2 if args.rust == "on" else 1))
        reset = _reset_server_peak(pid)
        _, server_cpu_before = _server_status(pid)
        with measure() as m:
            if case.startswith("ml-"):
                written = ingest_path(store, MOVIELENS, fmt="movielens").relationships_written
            elif case == "syn-nodes":
                for start in range(0, args.users, args.batch):
                    ids = [f"U{i}" for i in range(start, min(args.users, start + args.batch))]
                    store.upsert_nodes("User", pd.DataFrame({"id": ids}))
                store.upsert_nodes(
                    "Item", pd.DataFrame({"id": [f"I{i}" for i in range(args.items)], "kind": "product"})
                )
                written = args.users + args.items
            else:
                for start in range(0, len(rows), args.batch):
                    store.upsert_relationships(
                        "PURCHASED", "User", "Item", rows.iloc[start : start + args.batch]
                    )
                written = len(rows)
        server_peak, server_cpu_after = _server_status(pid)
        if not rows.empty:
            assert store.counts().relationships["PURCHASED"] == len(rows)
    return {
        "case": case,
        "rust": rust,
        "rows": written,
        "seconds": m.seconds,
        "cpu": m.cpu_seconds,
        "client_peak_mib": _own_peak_mib(),
        "server_peak_mib": server_peak if reset else None,
        "server_cpu": (server_cpu_after - server_cpu_before) if server_cpu_before is not None else None,
    }


def bench_neo4j(server: Neo4jServer, args: argparse.Namespace, modes: list[str]) -> None:
    """Each case in a fresh client process, after an untimed warm-up; the driver modes
    alternate case by case, so neither gets a warmer server."""
    from kg.store import neo4j as adapter

    print(f"(Neo4j adapter: {adapter.WRITE_CHUNK:,} rows per write transaction)")
    for case, title in [("warm-up", ""), *NEO4J_CASES]:
        for mode in modes[:1] if case == "warm-up" else modes:
            if case.startswith("ml-") and not MOVIELENS.is_dir():
                continue
            if args.neo4j_cases and case != "warm-up" and case not in args.neo4j_cases.split(","):
                continue
            command = [
                sys.executable,
                __file__,
                "--neo4j-case",
                case,
                "--rust",
                mode,
                "--relationships",
                str(args.relationships),
                "--users",
                str(args.users),
                "--items",
                str(args.items),
                "--batch",
                str(args.batch),
                "--server-pid",
                str(server.pid or 0),
            ]
            env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")} | server.env
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"Neo4j case {case} ({mode}) failed:\n{done.stdout}\n{done.stderr}", file=sys.stderr)
                raise SystemExit(1)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            if case == "warm-up":
                print(
                    "(Neo4j warm-up done, not timed: MovieLens and 100,000 synthetic relationships, twice each)"
                )
                continue
            report_neo4j(f"{title}{' (rust-ext)' if figures['rust'] else ''}", figures)


def report_neo4j(name: str, f: dict) -> None:  # type: ignore[type-arg]
    unit = "nodes" if f["case"] == "syn-nodes" else "rels"
    server = (
        f"server peak {f['server_peak_mib']:>6,.0f} MiB cpu {f['server_cpu']:>6.1f} s"
        if f["server_peak_mib"] is not None
        else "server n/a"
    )
    print(
        f"Neo4j {name:<68} {f['rows']:>10,} {unit} {f['seconds']:>7.2f} s wall "
        f"{f['rows'] / f['seconds']:>9,.0f} {unit}/s  client peak {f['client_peak_mib']:>6,.0f} MiB "
        f"cpu {f['cpu']:>6.1f} s  {server}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--neo4j", choices=["auto", "off"], default="auto", help="off: embedded store only")
    parser.add_argument("--neo4j-run", help="run folder of the given server (for its pid)")
    parser.add_argument("--rust", choices=["both", "on", "off"], default="both")
    parser.add_argument("--skip-embedded", action="store_true", help="only the Neo4j cases")
    parser.add_argument(
        "--neo4j-cases", help="comma-separated subset: " + ",".join(c for c, _ in NEO4J_CASES)
    )
    parser.add_argument("--neo4j-case", help=argparse.SUPPRESS)  # one Neo4j case, in a child process
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.neo4j_case:
        args.server_pid = args.server_pid or None
        print(json.dumps(neo4j_case(args.neo4j_case, args)))
        return
    if not args.skip_embedded:
        with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
            workdir = Path(tmp)
            bench_movielens(workdir)
            bench_synthetic(workdir, args.relationships, args.users, args.items, args.batch)
            if args.neo4j != "off":
                bench_admin_import(workdir)
            bench_baseline(workdir)
    modes = {"both": ["off", "on"], "on": ["on"], "off": ["off"]}[args.rust]
    if "on" in modes and not rust_ext_installed():
        print(
            "(neo4j-rust-ext is not installed: pip install 'neo4j-rust-ext>=6.0,<7'; Neo4j runs without it)"
        )
        modes = ["off"]
    with neo4j_server(args.neo4j, args.neo4j_run) as server:
        if server is not None:
            bench_neo4j(server, args, modes)


if __name__ == "__main__":
    main()
