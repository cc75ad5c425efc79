"""Where a Neo4j server spends its CPU on a relationship write, by statement form.

The adapter's Bolt ingest is bounded by the server's CPU per relationship (see
benchmarks/README.md). This isolates that cost: the same fresh relationships (a new type
per case, so nothing exists yet) between existing, key-constrained nodes, written with
each statement form below in 50,000-row transactions, and the server's CPU seconds per
relationship read from /proc before and after. The adapter's own statement
(kg.store.neo4j_cypher.upsert_relationships) is the baseline, in the same process.

Forms: the adapter's (OPTIONAL MATCH of the old edge, MERGE, coalesce per property);
MATCH-MATCH-MERGE with plain SETs; MATCH-MATCH-CREATE; endpoints by internal id (no index
seek) with MERGE and with CREATE; CREATE between one fixed pair of nodes (no endpoint work
at all: the floor). `--sorted` orders rows by start node first, as a caller could.

Needs a running server: KG_NEO4J_URI, KG_NEO4J_USER, KG_NEO4J_PASSWORD (`make neo4j`,
then `set -a; . ./.neo4j-local.env; set +a`). It creates and deletes nodes labelled
BenchUser and BenchItem and leaves the rest of the database alone.

Usage: python benchmarks/neo4j_write_forms.py [--relationships 200000] [--sorted]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import time
from collections.abc import Iterator

from neo4j import Driver, GraphDatabase

from kg.store import neo4j_cypher

USERS, ITEMS, BATCH = 20_000, 100_000, 50_000
COLUMNS = "UNWIND range(0, size($columns.from_id) - 1) AS i WITH {from_id: $columns.from_id[i], to_id: $columns.to_id[i], rating: $columns.rating[i], ts: $columns.ts[i]} AS row "
BY_KEY = "MATCH (a:BenchUser {id: row.from_id}) MATCH (b:BenchItem {id: row.to_id}) "
BY_ID = "UNWIND $rows AS row MATCH (a) WHERE id(a) = row[0] MATCH (b) WHERE id(b) = row[1] "


def forms(rel_type: str) -> Iterator[tuple[str, str]]:
    """(name, statement) for one relationship type; each reads `$columns` or `$rows`."""
    adapter = neo4j_cypher.upsert_relationships(
        rel_type, "BenchUser", "id", "BenchItem", "id", ["rating", "ts"]
    )
    by_key, by_id = f"{COLUMNS}{BY_KEY}", BY_ID
    properties = "{rating: row.rating, ts: row.ts}"
    listed = "{rating: row[2], ts: row[3]}"
    fixed_pair = "MATCH (a:BenchUser {id: 'u0'}), (b:BenchItem {id: 'i0'}) UNWIND $rows AS row "
    yield "adapter: OPTIONAL MATCH + MERGE + coalesce", adapter
    yield "MATCH, MATCH, MERGE, SET", f"{by_key}MERGE (a)-[r:{rel_type}]->(b) SET r += {properties}"
    yield "MATCH, MATCH, CREATE", f"{by_key}CREATE (a)-[:{rel_type} {properties}]->(b)"
    yield "internal ids, MERGE", f"{by_id}MERGE (a)-[r:{rel_type}]->(b) SET r += {listed}"
    yield "internal ids, CREATE", f"{by_id}CREATE (a)-[:{rel_type} {listed}]->(b)"
    yield "one fixed pair, CREATE (the floor)", f"{fixed_pair}CREATE (a)-[:{rel_type} {listed}]->(b)"


def server_cpu_seconds(pid: str) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_server_pid() -> str:
    """The local Neo4j server's process id: its CPU is read from /proc, so it must run here."""
    found = subprocess.run(["pgrep", "-f", "java.*neo4j"], capture_output=True, text=True).stdout.split()
    return found[0] if found else ""


def fresh_rows(count: int, sort: bool) -> dict[str, list]:
    """``count`` distinct (user, item) pairs with two properties, one list per column."""
    rng = random.Random(1)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < count:
        pairs.add((rng.randrange(USERS), rng.randrange(ITEMS)))
    ordered = sorted(pairs) if sort else rng.sample(sorted(pairs), len(pairs))
    return {
        "from_id": [f"u{u}" for u, _ in ordered],
        "to_id": [f"i{i}" for _, i in ordered],
        "rating": [rng.randrange(1, 6) for _ in ordered],
        "ts": [rng.randrange(10**9) for _ in ordered],
    }


def create_nodes(driver: Driver) -> dict[str, int]:
    """The benchmark's users and items, key-constrained; their internal ids by key."""
    with driver.session() as session:
        for label, count, prefix in (("BenchUser", USERS, "u"), ("BenchItem", ITEMS, "i")):
            session.run(
                f"CREATE CONSTRAINT {label}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            ).consume()
            session.run(
                f"UNWIND range(0, $n - 1) AS i MERGE (:{label} {{id: $p + i}})", n=count, p=prefix
            ).consume()
        query = "MATCH (n) WHERE n:BenchUser OR n:BenchItem RETURN n.id AS k, id(n) AS i"
        return {record["k"]: record["i"] for record in session.run(query)}


def remove_nodes(driver: Driver) -> None:
    """Delete what create_nodes made, its constraints included."""
    with driver.session() as session:
        session.run(
            "MATCH (n) WHERE n:BenchUser OR n:BenchItem "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS"
        ).consume()
        for label in ("BenchUser", "BenchItem"):
            session.run(f"DROP CONSTRAINT {label}_id IF EXISTS").consume()


def time_forms(driver: Driver, pid: str, columns: dict[str, list], rows: list[list]) -> None:
    """Each form once, after a warm-up on 2,000 rows of a throw-away type."""
    total = len(rows)
    for case, (name, statement) in enumerate(forms("PLACEHOLDER")):
        with driver.session() as session:
            warm = statement.replace("PLACEHOLDER", f"BenchWarm{case}")
            session.run(warm, columns={c: v[:2000] for c, v in columns.items()}, rows=rows[:2000]).consume()
        statement = statement.replace("PLACEHOLDER", f"BenchRel{case}")
        cpu, started = server_cpu_seconds(pid), time.perf_counter()
        with driver.session() as session:
            for start in range(0, total, BATCH):
                batch = {c: v[start : start + BATCH] for c, v in columns.items()}
                session.execute_write(
                    lambda tx, q=statement, b=batch, s=start: tx.run(
                        q, columns=b, rows=rows[s : s + BATCH]
                    ).consume()
                )
        wall, cpu = time.perf_counter() - started, server_cpu_seconds(pid) - cpu
        print(f"{name:44s} {total / wall:8,.0f} rels/s   server {cpu / total * 1e6:6.1f} us/rel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relationships", type=int, default=200_000)
    parser.add_argument("--sorted", action="store_true", help="Order rows by start node first.")
    parser.add_argument("--server-pid", default="", help="The server's process id (default: found by pgrep).")
    args = parser.parse_args()
    pid = args.server_pid or local_server_pid()
    if not pid or not os.path.exists(f"/proc/{pid}/stat"):
        parser.error("no local Neo4j server process: start one (make neo4j) or pass --server-pid")
    if not os.environ.get("KG_NEO4J_URI") or not os.environ.get("KG_NEO4J_PASSWORD"):
        parser.error("set KG_NEO4J_URI, KG_NEO4J_USER and KG_NEO4J_PASSWORD (. ./.neo4j-local.env)")
    auth = (os.environ.get("KG_NEO4J_USER", "neo4j"), os.environ["KG_NEO4J_PASSWORD"])
    columns = fresh_rows(args.relationships, args.sorted)
    order = "sorted by start node" if args.sorted else "in random order"
    print(f"{args.relationships:,} fresh relationships per form, {BATCH:,}-row transactions, rows {order}")
    with GraphDatabase.driver(
        os.environ["KG_NEO4J_URI"], auth=auth, notifications_min_severity="OFF"
    ) as driver:
        try:
            node_ids = create_nodes(driver)
            rows = [[node_ids[a], node_ids[b], r, t] for a, b, r, t in zip(*columns.values(), strict=True)]
            time_forms(driver, pid, columns, rows)
        finally:
            remove_nodes(driver)


if __name__ == "__main__":
    main()
