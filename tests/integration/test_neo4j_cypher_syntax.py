"""Every Cypher statement we send to Neo4j, checked by Neo4j's own Cypher language support.

``@neo4j-cypher/language-support`` (npm, pinned in ``tests/cypher_check/package-lock.json``)
parses with the ANTLR grammar of Cypher 5 and runs Neo4j's semantic analysis (compiled to
JavaScript): syntax, undefined variables, wrong clause order, undeclared parameters,
unknown functions and procedures (against a Neo4j 5 + APOC signature list), deprecations,
and labels, types and properties missing from our schema. It does not run the statements,
so it cannot catch a wrong result or a runtime type error; the contract tests against a
live server (``KG_NEO4J_URI``) do that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from cypher import list_queries
from cypher.guide import guide_statements
from kg.schema import Schema
from kg.store.neo4j_cypher import EXAMPLE_VECTOR, adapter_statements
from tests.helpers import ROOT

CHECK_DIR = ROOT / "tests" / "cypher_check"
ADAPTER_PARAMS = {"columns": {"id": ["x"]}, "ids": ["x"], "n": 1, "name": "x"}


@pytest.fixture(scope="session")
def lint() -> Any:
    """A function linting ``[(id, text, params)]`` with the real parser (installed on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs node and npm to run Neo4j's Cypher parser (@neo4j-cypher/language-support)")
    with FileLock(str(Path(tempfile.gettempdir()) / "kg-cypher-check.lock")):
        marker = CHECK_DIR / "node_modules" / ".package-lock.json"
        lock = CHECK_DIR / "package-lock.json"
        if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=CHECK_DIR,
                check=True,
                timeout=600,
            )

    schema = Schema.default()
    _, prop, _ = EXAMPLE_VECTOR
    properties = {p for n in schema.nodes.values() for p in n.all_properties()}
    properties |= {p for r in schema.rels.values() for p in r.properties} | {"_created", prop}
    db_schema = {
        "labels": sorted(schema.nodes),
        "relationshipTypes": sorted(schema.rels),
        "propertyKeys": sorted(properties),
    }

    seen: dict[str, list[dict[str, Any]]] = {}  # text + params -> diagnostics (linting is slow)

    def run(statements: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        keyed = {key: json.dumps([text, params], sort_keys=True) for key, text, params in statements}
        todo = {k: (t, p) for k, t, p in statements if keyed[k] not in seen}
        items = [{"id": k, "text": t, "parameters": p} for k, (t, p) in todo.items()]
        workers = max(1, min(len(items), os.cpu_count() or 1, 4))  # semantic analysis is CPU-bound
        chunks = [items[i::workers] for i in range(workers)]
        procs = [
            subprocess.Popen(
                [node, "lint.mjs"], cwd=CHECK_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for _ in chunks
        ]
        for proc, chunk in zip(procs, chunks, strict=True):  # node reads all input before working
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"schema": db_schema, "statements": chunk}))
            proc.stdin.close()
        for proc in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            assert proc.wait(timeout=600) == 0, "the Cypher linter failed"
            for result in json.loads(out):
                seen[keyed[result["id"]]] = result["diagnostics"]
        return {key: seen[keyed[key]] for key, _, _ in statements}

    return run


def _problems(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [f"{key}: line {d['line']}: {d['message']}" for key, diags in results.items() for d in diags]


def test_every_adapter_statement_is_valid_neo4j5_cypher(lint: Any) -> None:
    """Every statement template, and every label and (type, from, to) pair quoted in one
    of them: the upserts are linted for every name, the other kinds once each (they are
    the same templates over the same quoted names; linting all 369 took 80 s)."""
    schema = Schema.default()
    every = [(what, text, ADAPTER_PARAMS) for what, text in adapter_statements(schema)]
    assert len(every) > 150  # every label and every (type, from, to) pair
    kinds: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for statement in every:
        kinds.setdefault(statement[0].split()[0], statement)
    upserts = [s for s in every if s[0].split()[0] == "upsert"]
    assert len(upserts) == len(schema.nodes) + sum(len(r.endpoints) for r in schema.rels.values())
    assert _problems(lint([*upserts, *kinds.values()])) == []


def test_every_library_query_is_valid_neo4j5_cypher(lint: Any) -> None:
    queries = list_queries()
    results = lint([(q.name, q.text, q.bind({})) for q in queries])
    assert len(results) == len(queries)
    assert _problems(results) == []


def test_every_browser_guide_statement_is_valid_neo4j5_cypher(lint: Any) -> None:
    statements = guide_statements()
    assert statements
    results = lint([(f"guide {i}", text, params) for i, (text, params) in enumerate(statements)])
    assert _problems(results) == []


def test_the_parser_rejects_what_neo4j_rejects(lint: Any) -> None:
    """The check is not vacuous: Kuzu-only functions, typos, undeclared parameters,
    undefined variables and unknown labels are all reported."""
    results = lint(
        [
            ("kuzu label()", "MATCH (n:User) RETURN label(n) AS l", {}),
            ("typo", "MATCH (n:User) RETRN n", {}),
            ("parameter", "MATCH (n:User {id: $user}) RETURN n.id", {}),
            ("variable", "MATCH (n:User) RETURN m.id", {}),
            ("label", "MATCH (n:Usr) RETURN n.id", {}),
        ]
    )
    assert all(results[key] for key in results), results
