"""`kg serve` under load, measured from a second process on loopback with wrk.

Two catalogues, each served by `kg serve`'s own code (one uvicorn worker, as the
embedded store requires) in a process of its own:

  * MovieLens-100k (943 users, 1,682 movies; needs ../shared/data/movielens-100k), the
    full default fused model as `kg serve` fits it (tuned), top-10 of genre Drama;
  * the synthetic shop of benchmarks/scale.py with 100,000 items (20,000 users by
    default), the signals that scale to 100k items (rp3beta, spectral, attributes,
    popularity; tuned), top-10 at most 50 in price.

Each graph is built once into the work folder and kept there untouched; every run serves
a fresh copy of it, so the model fitted at the first run is current again at the next
(the events a run writes would otherwise make the next run refit first).

wrk (Debian package `wrk`) drives the server with a Lua script: 90% GET
/recommendations/<random user>?k=10&<filter>, 10% POST /events (the user viewed a random
item; folded into their next answer at once, batch-written to the graph). Each
connection waits a pause before each request (wrk's ``delay()``), so ``connections``
connections offer ``--rate`` requests/s in total (200/s: 250 ms on average at 50
connections, 1 s at 200), at 50, 100 and 200 connections; then once without pauses at 50
connections, for the most the server sustains. The pauses are drawn at random
(exponential, ``--pauses exponential``, the default), as independent visitors' would be,
so the requests arrive about as a Poisson stream; with ``--pauses fixed`` every
connection waits the same pause, and connections that were answered together come back
together, every cycle: the first requests of a row (all at once) and any stall turn into
bursts of up to ``connections`` requests that never spread out again, and the p99 measures
the bursts (a burst of 200 requests at ~2.5 ms of server CPU each is 500 ms). The 1-minute load average
of the machine is printed beside each row (other work on a shared machine shows there),
with the CPU time the server process spent per request.

Baseline in the same run: one `kg recommend` CLI call for the same question (process
start, store open, model load, one answer), which a shop would pay per page view without
a server.

Usage: python benchmarks/serve.py [--duration 60] [--rate 200] [--pauses exponential|fixed]
       [--connections 50,100,200]
       [--catalogues movielens,synthetic] [--synthetic-users 20000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
KEY = "benchmark-read-key-0123456789"
WRITE_KEY = "benchmark-write-key-0123456789"
SYNTHETIC_ITEMS = 100_000
WRK_SCRIPT = textwrap.dedent(
    """
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    local users, user_base, user_prefix = %(users)d, %(user_base)d, "%(user_prefix)s"
    local items, item_base, item_prefix = %(items)d, %(item_base)d, "%(item_prefix)s"
    local pause = %(pause)d
    local headers = {["X-API-Key"] = "%(key)s", ["Content-Type"] = "application/json"}
    request = function()
      local user = user_prefix .. (user_base + math.random(users) - 1)
      if math.random() < %(writes)f then
        local item = item_prefix .. (item_base + math.random(items) - 1)
        local body = string.format('{"user":"%%s","item":"%%s","type":"VIEWED"}', user, item)
        return wrk.format("POST", "/events", headers, body)
      end
      return wrk.format("GET", "/recommendations/" .. user .. "?k=10&%(query)s", headers)
    end
    delay = function()
      if %(exponential)s then return math.floor(-math.log(1 - math.random()) * pause) end
      return pause
    end
    done = function(summary, latency, requests)
      local e = summary.errors
      io.write(string.format('RESULT {"requests":%%d,"seconds":%%f,"p50_ms":%%f,"p99_ms":%%f,"max_ms":%%f,' ..
        '"non_2xx":%%d,"socket_errors":%%d}\\n', summary.requests, summary.duration / 1e6,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        e.status, e.connect + e.read + e.write + e.timeout))
    end
    """
)


@dataclass(frozen=True)
class Catalogue:
    """One served graph: how to build it, its ids, the question asked, the CLI baseline."""

    name: str
    title: str
    build: Callable[[Path, argparse.Namespace], None]
    env: dict[str, str]  # settings of the fit (KG_RECOMMEND__*), for the server and the CLI
    users: tuple[int, int, str]  # how many, first number, prefix: ids are prefix + number
    items: tuple[int, int, str]
    query: str  # the filter of GET /recommendations
    cli: list[str]  # the same question as `kg recommend` arguments


def build_movielens(graph: Path, _: argparse.Namespace) -> None:
    from kg.config import load_settings
    from kg.ingest import ingest_path
    from kg.store import open_store

    if not MOVIELENS.exists():
        raise SystemExit(f"needs {MOVIELENS}")
    with open_store(load_settings(store=str(graph))) as store:
        ingest_path(store, MOVIELENS)


def build_synthetic(graph: Path, args: argparse.Namespace) -> None:
    from benchmarks.scale import ShopScale, generate_and_ingest
    from kg.config import load_settings
    from kg.store import open_store

    with open_store(load_settings(store=str(graph))) as store:
        generate_and_ingest(store, ShopScale(users=args.synthetic_users, items=SYNTHETIC_ITEMS), seed=0)


def catalogues(args: argparse.Namespace) -> dict[str, Catalogue]:
    from benchmarks.scale import SCALE_SIGNALS

    return {
        "movielens": Catalogue(
            "movielens",
            "MovieLens-100k (943 users, 1,682 items; full default fused model), top-10 of genre Drama",
            build_movielens,
            {},
            (943, 1, ""),
            (1682, 1, ""),
            "genre=Drama",
            ["1", "--k", "10", "--genre", "Drama"],
        ),
        "synthetic": Catalogue(
            "synthetic",
            f"synthetic shop ({args.synthetic_users:,} users, {SYNTHETIC_ITEMS:,} items; "
            f"{', '.join(SCALE_SIGNALS)}), top-10 at most 50 in price",
            build_synthetic,
            {"KG_RECOMMEND__SIGNALS": json.dumps(SCALE_SIGNALS)},
            (args.synthetic_users, 0, "U"),
            (SYNTHETIC_ITEMS, 0, "P"),
            "max_price=50",
            ["U1", "--k", "10", "--max-price", "50"],
        ),
    }


def graph_files(folder: Path) -> list[Path]:
    """The embedded store's files in ``folder`` (the database and its write-ahead log)."""
    return [path for path in folder.glob("graph*") if not path.name.endswith(".lock")]


def prepare(catalogue: Catalogue, args: argparse.Namespace) -> dict[str, str]:
    """A fresh copy of the catalogue's graph (built once) and a fitted model (fitted at
    the first run, then current at every run); the env that points at them."""
    from kg.config import load_settings
    from kg.serving.refit import load_snapshot

    work = args.work / catalogue.name
    pristine, served = work / "pristine", work / "served"
    if not (pristine / "graph").exists():
        started = time.perf_counter()
        shutil.rmtree(pristine, ignore_errors=True)
        pristine.mkdir(parents=True)
        catalogue.build(pristine / "graph", args)
        print(f"  graph built in {time.perf_counter() - started:.0f} s (once; kept in {pristine})")
    served.mkdir(parents=True, exist_ok=True)
    for stale in graph_files(served):
        stale.unlink()
    for path in graph_files(pristine):
        shutil.copy2(path, served / path.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env |= catalogue.env | {"KG_STORE": str(served / "graph"), "KG_DATA_DIR": str(work / "kg-data")}
    started = time.perf_counter()
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        load_snapshot(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    print(
        f"  recommender ready in {time.perf_counter() - started:.1f} s (fitted at the first run, then loaded)"
    )
    return env


def cli_call_ms(catalogue: Catalogue, env: dict[str, str], runs: int = 3) -> float:
    """Median wall time of one `kg recommend` process asking the benchmark's question."""
    kg = shutil.which("kg", path=str(Path(sys.executable).parent)) or "kg"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([kg, "recommend", *catalogue.cli], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    code = (
        "from kg.config import load_settings; from kg.serving.config import ServeSettings; "
        "from kg.serving.server import run_server; "
        f"run_server(load_settings(), ServeSettings(), host='127.0.0.1', port={port}, announce=lambda _: None)"
    )
    server_env = env | {"KG_API_KEYS": KEY, "KG_API_WRITE_KEYS": WRITE_KEY}
    process = subprocess.Popen([sys.executable, "-c", code], env=server_env)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    catalogue: Catalogue, args: argparse.Namespace, server: int, connections: int, seconds: int, paced: bool
) -> dict[str, float]:
    """One load level; wrk's figures plus the load average and the server's CPU time."""
    pause = int(connections * 1000 / args.rate) if paced else 0
    (users, user_base, user_prefix), (items, item_base, item_prefix) = catalogue.users, catalogue.items
    script = WRK_SCRIPT % {
        "users": users,
        "user_base": user_base,
        "user_prefix": user_prefix,
        "items": items,
        "item_base": item_base,
        "item_prefix": item_prefix,
        "pause": pause,
        "exponential": "true" if args.pauses == "exponential" else "false",
        "key": WRITE_KEY,  # a write key may also read
        "writes": args.writes,
        "query": catalogue.query,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", handle.name]
    load_before, cpu_before = os.getloadavg()[0], cpu_seconds(server)
    slow_before = server_slow(args.port)
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{args.port}"], capture_output=True, text=True, check=True
    )
    load_after, cpu_after = os.getloadavg()[0], cpu_seconds(server)
    slow_after = server_slow(args.port)
    os.unlink(handle.name)
    line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    result["cpu_ms"] = (cpu_after - cpu_before) * 1000 / max(result["requests"], 1)
    result["load"] = max(load_before, load_after)
    result["server_slow"] = slow_after[0] - slow_before[0]
    result["server_counted"] = slow_after[1] - slow_before[1]
    return result


def server_slow(port: int) -> tuple[float, float]:
    """Requests the server itself took over 50 ms to answer (its latency histogram, all
    routes), and all requests: wrk's tail minus this is time spent outside the server's
    handlers (the socket, the event loop's queue, wrk, other processes on the CPUs)."""
    figures = server_figures(port)
    within = sum(
        v for k, v in figures.items() if k.startswith("kg_http_request_seconds_bucket") and 'le="0.05"' in k
    )
    counted = sum(v for k, v in figures.items() if k.startswith("kg_http_request_seconds_count"))
    return counted - within, counted


def server_figures(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"X-API-Key": KEY}).text
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.startswith("kg_")}


def measure(catalogue: Catalogue, args: argparse.Namespace) -> None:
    print(f"\n{catalogue.title}")
    env = prepare(catalogue, args)
    cli = cli_call_ms(catalogue, env)
    server = start_server(env, args.port)
    rows = []
    try:
        run_wrk(catalogue, args, server.pid, 10, 3, paced=False)  # warm-up: filter masks, first answers
        for connections in [int(c) for c in args.connections.split(",")]:
            rows.append(
                (
                    connections,
                    f"{args.rate:g}/s {args.pauses}",
                    run_wrk(catalogue, args, server.pid, connections, args.duration, True),
                )
            )
        rows.append((50, "none", run_wrk(catalogue, args, server.pid, 50, args.duration, paced=False)))
        figures = server_figures(args.port)
    finally:
        server.terminate()
        server.wait(timeout=120)
    print(f"\n{catalogue.title}; {args.duration} s per row, {args.writes:.0%} POST /events")
    print(
        "| connections | pacing | requests/s | p50 ms | p99 ms | max ms | errors | server CPU ms/request | over 50 ms in server | load (1 min) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for connections, pacing, r in rows:
        errors = int(r["non_2xx"] + r["socket_errors"])
        print(
            f"| {connections} | {pacing} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['max_ms']:.0f} | {errors} | {r['cpu_ms']:.2f} "
            f"| {r['server_slow'] / max(r['server_counted'], 1):.2%} | {r['load']:.1f} |"
        )
    hits, misses = figures.get("kg_answer_cache_hits", 0), figures.get("kg_answer_cache_misses", 0)
    print(
        f"\none `kg recommend {' '.join(catalogue.cli)}` CLI call: {cli:,.0f} ms (median of 3); "
        f"events folded in: {int(figures.get('kg_events_applied_total', 0)):,}, "
        f"written to the graph: {int(figures.get('kg_events_written_total', 0)):,}; "
        f"answers reused: {hits / max(hits + misses, 1):.0%} of {int(hits + misses):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60, help="Seconds per load level.")
    parser.add_argument("--rate", type=float, default=200.0, help="Offered requests/s in total (paced rows).")
    parser.add_argument("--connections", default="50,100,200", help="Open connections per paced row.")
    parser.add_argument(
        "--pauses",
        choices=["exponential", "fixed"],
        default="exponential",
        help="Pauses between a connection's requests: random (Poisson-like arrivals) or all equal.",
    )
    parser.add_argument("--writes", type=float, default=0.10, help="Share of requests that POST /events.")
    parser.add_argument("--catalogues", default="movielens,synthetic", help="Which to serve, in order.")
    parser.add_argument("--synthetic-users", type=int, default=20_000, help="Users of the 100k-item shop.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kg-serve-bench")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    print(f"$ {' '.join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    print(f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    known = catalogues(args)
    for name in args.catalogues.split(","):
        measure(known[name], args)


if __name__ == "__main__":
    main()
