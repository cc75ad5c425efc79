"""`kg serve` under load, measured from a second process on loopback with wrk.

MovieLens-100k (943 users, 1,682 movies; needs ../shared/data/movielens-100k) is
ingested into a scratch embedded store and the recommender is fitted the way `kg serve`
fits it (all default signals, tuned; kept in the work folder, so a second run starts at
once). The server runs in its own process (one uvicorn worker, as the embedded store
requires); wrk (Debian package `wrk`) drives it with a Lua script:

  * 90% GET /recommendations/<random user>?k=10&genre=Drama (top-10 with a filter),
  * 10% POST /events (the user viewed a random movie; folded in, batch-written),

paced to a target rate (default 200 requests/s in total) at 50, 100 and 200 open
connections, then once unpaced at 50 connections for the most the server sustains.
Baseline in the same run: one `kg recommend` CLI call (process start, store open, model
load, one answer), which is what a shop would pay per page view without a server.

Usage: python benchmarks/serve.py [--duration 60] [--rate 200] [--connections 50,100,200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
KEY = "benchmark-read-key-0123456789"
WRITE_KEY = "benchmark-write-key-0123456789"
WRK_SCRIPT = textwrap.dedent(
    """
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    local users, items, pause = %(users)d, %(items)d, %(pause)d
    local headers = {["X-API-Key"] = "%(key)s", ["Content-Type"] = "application/json"}
    request = function()
      local user = math.random(users)
      if math.random() < %(writes)f then
        local body = string.format('{"user":"%%d","item":"%%d","type":"VIEWED"}', user, math.random(items))
        return wrk.format("POST", "/events", headers, body)
      end
      return wrk.format("GET", "/recommendations/" .. user .. "?k=10&genre=Drama", headers)
    end
    delay = function() return pause end
    done = function(summary, latency, requests)
      local e = summary.errors
      io.write(string.format('RESULT {"requests":%%d,"seconds":%%f,"p50_ms":%%f,"p99_ms":%%f,"max_ms":%%f,' ..
        '"non_2xx":%%d,"socket_errors":%%d}\\n', summary.requests, summary.duration / 1e6,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        e.status, e.connect + e.read + e.write + e.timeout))
    end
    """
)


def prepare(work: Path) -> dict[str, str]:
    """The scratch graph and fitted model (reused when present); the env that points at them."""
    from kg.config import load_settings
    from kg.ingest import ingest_path
    from kg.serving.refit import load_snapshot
    from kg.store import open_store

    settings = load_settings(store=str(work / "graph"), data_dir=work / "kg-data")
    if not (work / "graph").exists():
        with open_store(settings) as store:
            ingest_path(store, MOVIELENS)
    started = time.perf_counter()
    load_snapshot(settings)
    print(f"recommender ready in {time.perf_counter() - started:.1f} s (fitted once, then loaded from disk)")
    return {"KG_STORE": str(work / "graph"), "KG_DATA_DIR": str(work / "kg-data")}


def cli_call_seconds(env: dict[str, str], runs: int = 3) -> float:
    """Median wall time of one `kg recommend 1 --k 10 --genre Drama` process."""
    kg = shutil.which("kg", path=str(Path(sys.executable).parent)) or "kg"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [kg, "recommend", "1", "--k", "10", "--genre", "Drama"], env=env, check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    code = (
        "from kg.config import load_settings; from kg.serving.config import ServeSettings; "
        "from kg.serving.server import run_server; "
        f"run_server(load_settings(), ServeSettings(), host='127.0.0.1', port={port}, announce=lambda _: None)"
    )
    server_env = env | {"KG_API_KEYS": KEY, "KG_API_WRITE_KEYS": WRITE_KEY}
    process = subprocess.Popen([sys.executable, "-c", code], env=server_env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def run_wrk(port: int, connections: int, seconds: int, rate: float | None, writes: float) -> dict[str, float]:
    pause = int(connections * 1000 / rate) if rate else 0
    # writes go with the write key; reads with it too (a write key may read)
    script = WRK_SCRIPT % {"users": 943, "items": 1682, "pause": pause, "key": WRITE_KEY, "writes": writes}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(4, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        handle.name,
    ]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True
    )
    os.unlink(handle.name)
    line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60, help="Seconds per load level.")
    parser.add_argument("--rate", type=float, default=200.0, help="Target requests/s in total (paced runs).")
    parser.add_argument("--connections", default="50,100,200", help="Open connections per level.")
    parser.add_argument("--writes", type=float, default=0.10, help="Share of requests that POST /events.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kg-serve-bench")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    if not MOVIELENS.exists():
        raise SystemExit(f"needs {MOVIELENS}")
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")} | prepare(args.work)
    cli = cli_call_seconds(env)
    print(f"baseline: one `kg recommend` CLI call takes {cli * 1000:,.0f} ms (median of 3)")
    server = start_server(env, args.port)
    rows = []
    try:
        run_wrk(args.port, 10, 3, None, args.writes)  # warm-up: first requests compile filter masks
        for connections in [int(c) for c in args.connections.split(",")]:
            rows.append(
                (
                    connections,
                    f"{args.rate:g}/s",
                    run_wrk(args.port, connections, args.duration, args.rate, args.writes),
                )
            )
        rows.append((50, "unpaced", run_wrk(args.port, 50, args.duration, None, args.writes)))
        metrics = httpx.get(f"http://127.0.0.1:{args.port}/metrics", headers={"X-API-Key": KEY}).text
    finally:
        server.terminate()
        server.wait(timeout=60)
    figures = {
        line.split()[0]: float(line.split()[1]) for line in metrics.splitlines() if line.startswith("kg_")
    }
    applied = int(figures.get("kg_events_applied_total", 0))
    hits, misses = figures.get("kg_answer_cache_hits", 0), figures.get("kg_answer_cache_misses", 0)
    print(
        f"\nMovieLens-100k, {args.duration} s per row, {args.writes:.0%} POST /events, wrk from a second process"
    )
    print("| connections | pacing | requests/s | p50 ms | p99 ms | max ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for connections, pacing, r in rows:
        errors = int(r["non_2xx"] + r["socket_errors"])
        print(
            f"| {connections} | {pacing} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['max_ms']:.0f} | {errors} |"
        )
    print(
        f"\nevents folded in by the server: {applied:,}; answers reused: {hits / max(hits + misses, 1):.0%} "
        f"of {int(hits + misses):,}; one CLI call: {cli * 1000:,.0f} ms"
    )


if __name__ == "__main__":
    main()
