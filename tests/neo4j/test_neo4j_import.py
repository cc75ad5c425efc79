"""``kg export --format neo4j-admin`` through the real ``neo4j-admin database import full``
(issue 12, item 7; defect 16).

The shop graph, plus values that CSV makes hard (empty strings, empty lists, quotes,
commas, newlines and the array delimiter inside strings, a key with a comma), is built in
the embedded store and exported by the CLI. The command that the export writes to
``import.sh`` runs as written, ``/import`` read as the export folder
(``neo4j-local/bin/neo4j-admin`` on PATH), into a fresh run folder; a second local
server then serves that database (``NEO4J_LOCAL_KEEP_DATA=1``), ``schema.cypher`` is
applied over Bolt, and every node and relationship is read back with plain Cypher and
compared with the source, property by property.

The importer reads an empty field as "no property". Empty strings are written quoted
(``""``), which it keeps as empty strings; an array field has no such form (``""`` in a
``string[]`` column is no property as well), so empty lists, and lists holding one empty
string, come back missing: the export says so in its summary, and the test checks that.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from neo4j import GraphDatabase
from typer.testing import CliRunner

from cli import app
from kg.config import load_settings
from kg.export import export_neo4j_admin
from kg.store import GraphCounts, GraphStore, open_store
from kg.store.cypher_names import q
from tests.helpers import ROOT
from tests.neo4j_server import require_neo4j
from tests.shop_graph import build_shop_graph

NEO4J_LOCAL = ROOT / "neo4j-local"
TRICKY = 'Line one, with a comma\nand "quotes"; and a semicolon'
# A small second server: the test's database is tiny.
SERVER_MEMORY = {
    "NEO4J_LOCAL_HEAP_INITIAL": "256m",
    "NEO4J_LOCAL_HEAP_MAX": "512m",
    "NEO4J_LOCAL_PAGECACHE": "64m",
}


@dataclass
class Imported:
    source: GraphStore
    counts: GraphCounts
    export_output: str
    driver: Any  # neo4j.Driver of the server that serves the imported database

    def cypher(self, statement: str) -> list[dict[str, Any]]:
        return [record.data() for record in self.driver.execute_query(statement).records]


def _add_hard_values(store: GraphStore) -> None:
    """Values on top of the shop that CSV export and import can get wrong."""
    store.upsert_nodes(
        "Brand",
        pd.DataFrame(
            {
                "id": ["brand-empty", "brand-one-blank", "brand-mixed", 'brand,with "quotes"'],
                "name": ["", TRICKY, "Mixed", "Quoted, Inc."],
                "aliases": [[], [""], ["", "x", 'with "quote", comma'], ["  padded  ", "é ü 中文"]],
            }
        ),
    )
    store.upsert_nodes(
        "Item",
        pd.DataFrame(
            {
                "id": ["item-hard-1", "item-hard-2"],
                "name": ["", "Lamp"],
                "description": ["", TRICKY],
                "price": [0.1, np.nan],
                "year": [2024, None],
                "in_stock": [False, True],
            }
        ),
    )
    store.upsert_relationships(
        "HAS_BRAND",
        "Item",
        "Brand",
        pd.DataFrame(
            {
                "from_id": ["item-hard-1", "item-hard-2"],
                "to_id": ["brand-empty", 'brand,with "quotes"'],
                "source": ["", TRICKY],
                "method": ["", None],
                "confidence": [0.0, 1e-05],
            }
        ),
    )
    store.set_node_properties(
        "Item", pd.DataFrame({"id": ["item-hard-2"], "embedding_test": [[1.0, 0.0, 0.25]]})
    )


def _run(command: list[str], env: dict[str, str], what: str, cwd: Path, timeout: int = 300) -> str:
    """Run in ``cwd``: the importer writes its ``import.report`` into the current folder."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    require_neo4j()
    base = tmp_path_factory.mktemp("neo4j-import")
    export_dir, run_dir = base / "export", base / "server"
    with pytest.MonkeyPatch.context() as patch:  # the per-test fixture has not run yet
        for name in [n for n in os.environ if n.startswith("KG_")]:
            patch.delenv(name)
        patch.chdir(base)
        settings = load_settings(store=str(base / "graph"), data_dir=base / "kg-data")
        with open_store(settings) as store:
            build_shop_graph(store, base / "shop")
            _add_hard_values(store)
        result = CliRunner().invoke(
            app, ["--store", settings.store, "export", "--format", "neo4j-admin", str(export_dir)]
        )
        assert result.exit_code == 0, result.output

    # The command the export wrote, as is, with the files where they are.
    script = (export_dir / "import.sh").read_text("utf-8")
    command = script.replace("/import/", f"{export_dir}/")
    assert "neo4j-admin database import full neo4j " in command
    server_env = {k: v for k, v in os.environ.items() if not k.startswith(("KG_", "NEO4J_LOCAL_"))} | {
        "PATH": f"{NEO4J_LOCAL / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "NEO4J_LOCAL_RUN": str(run_dir),
        "NEO4J_LOCAL_ENV": str(run_dir / "env"),
        **SERVER_MEMORY,
    }
    report = _run(["sh", "-c", command], server_env, "neo4j-admin database import full", base)
    assert "IMPORT DONE" in report, report
    _run(
        ["bash", str(NEO4J_LOCAL / "start.sh")], server_env | {"NEO4J_LOCAL_KEEP_DATA": "1"}, "start.sh", base
    )
    try:
        env = dict(line.split("=", 1) for line in (run_dir / "env").read_text().splitlines() if "=" in line)
        driver = GraphDatabase.driver(
            env["KG_NEO4J_URI"], auth=(env["KG_NEO4J_USER"], env["KG_NEO4J_PASSWORD"])
        )
        try:
            for statement in (export_dir / "schema.cypher").read_text("utf-8").split(";\n"):
                if statement.strip():
                    driver.execute_query(statement)
            with open_store(settings, read_only=True) as source:
                yield Imported(source, source.counts(), result.output, driver)
        finally:
            driver.close()
    finally:
        _run(["bash", str(NEO4J_LOCAL / "stop.sh")], server_env, "stop.sh", base, timeout=120)
        shutil.rmtree(run_dir, ignore_errors=True)


def _plain(value: Any) -> Any:
    """A stored value as the Python value Neo4j returns; None when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _unimportable(value: Any) -> bool:
    """A list that the importer cannot represent: empty, or one empty string."""
    return isinstance(value, list) and (value == [] or value == [""])


def _expected(record: dict[str, Any], dropped: set[str] | None = None) -> dict[str, Any]:
    properties = {k: _plain(v) for k, v in record.items() if k not in (dropped or set())}
    return {k: v for k, v in properties.items() if v is not None and not _unimportable(v)}


def test_the_imported_graph_has_the_counts_of_the_source(imported: Imported) -> None:
    for label, count in imported.counts.nodes.items():
        got = imported.cypher(f"MATCH (n:{q(label)}) RETURN count(n) AS n")[0]["n"]
        assert got == count, label
    for rel_type, count in imported.counts.relationships.items():
        got = imported.cypher(f"MATCH ()-[r:{q(rel_type)}]->() RETURN count(r) AS n")[0]["n"]
        assert got == count, rel_type
    assert imported.cypher("MATCH (n) RETURN count(n) AS n")[0]["n"] == imported.counts.total_nodes
    total = imported.cypher("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    assert total == imported.counts.total_relationships
    assert imported.counts.relationships["PURCHASED"] > 100


def test_every_node_comes_back_with_all_its_properties(imported: Imported) -> None:
    compared = 0
    for label, node in imported.source.schema.nodes.items():
        if not imported.counts.nodes.get(label):
            continue
        stored = pd.concat(list(imported.source.iter_nodes(label)), ignore_index=True)
        expected = {row[node.key]: _expected(row) for row in stored.to_dict("records")}
        rows = imported.cypher(f"MATCH (n:{q(label)}) RETURN labels(n) AS labels, properties(n) AS p")
        assert all(row["labels"] == [label] for row in rows), label
        got = {row["p"][node.key]: row["p"] for row in rows}
        assert got.keys() == expected.keys(), label
        for key, properties in expected.items():
            assert got[key] == properties, f"{label} {key!r}"
        compared += len(expected)
    assert compared == imported.counts.total_nodes


def test_every_relationship_comes_back_with_all_its_properties(imported: Imported) -> None:
    schema = imported.source.schema
    compared = 0
    for rel_type in schema.rels:
        if not imported.counts.relationships.get(rel_type):
            continue
        frame = pd.concat(list(imported.source.iter_relationships(rel_type)), ignore_index=True)
        for (from_label, to_label), pair in frame.groupby(["from_label", "to_label"]):
            fk, tk = schema.nodes[from_label].key, schema.nodes[to_label].key
            expected = {
                (row["from_id"], row["to_id"]): _expected(row, {"from_label", "from_id", "to_label", "to_id"})
                for row in pair.to_dict("records")
            }
            rows = imported.cypher(
                f"MATCH (a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)}) "
                f"RETURN a.{q(fk)} AS a, b.{q(tk)} AS b, properties(r) AS p"
            )
            assert len(rows) == len(expected), f"{rel_type} {from_label}->{to_label}"
            got = {(row["a"], row["b"]): row["p"] for row in rows}
            for pair_key, properties in expected.items():
                assert got[pair_key] == properties, f"{rel_type} {pair_key}"
            compared += len(expected)
    assert compared == imported.counts.total_relationships


def test_16_empty_strings_survive_and_empty_lists_are_reported(imported: Imported) -> None:
    brands = {
        row["p"]["id"]: row["p"]
        for row in imported.cypher("MATCH (b:Brand) WHERE b.id STARTS WITH 'brand' RETURN properties(b) AS p")
    }
    assert brands["brand-empty"] == {"id": "brand-empty", "name": ""}  # aliases [] is gone
    assert brands["brand-one-blank"] == {"id": "brand-one-blank", "name": TRICKY}  # [""] is gone
    assert brands["brand-mixed"]["aliases"] == ["", "x", 'with "quote", comma']
    assert brands['brand,with "quotes"']["aliases"] == ["  padded  ", "é ü 中文"]
    item = imported.cypher("MATCH (i:Item {id: 'item-hard-1'}) RETURN properties(i) AS p")[0]["p"]
    assert item == {
        "id": "item-hard-1",
        "name": "",
        "description": "",
        "price": 0.1,
        "year": 2024,
        "in_stock": False,
    }
    edge = imported.cypher(
        "MATCH (:Item {id: 'item-hard-1'})-[r:HAS_BRAND]->(:Brand) RETURN properties(r) AS p"
    )[0]["p"]
    assert edge == {"source": "", "method": "", "confidence": 0.0}
    # the export says which values the importer cannot carry, and how many
    output = " ".join(imported.export_output.split())
    for where, count in _unimportable_values(imported).items():
        assert f"{where} ({count:,})" in output, (where, count, output)
    assert _unimportable_values(imported)["Brand.aliases"] == 2


def _unimportable_values(imported: Imported) -> dict[str, int]:
    """``Label.property`` -> how many of its values are empty lists (or ``[""]``) in the source."""
    found: dict[str, int] = {}
    for label in imported.source.schema.nodes:
        if imported.counts.nodes.get(label):
            for batch in imported.source.iter_nodes(label):
                for column in batch.columns:
                    lost = sum(_unimportable(_plain(v)) for v in batch[column])
                    if lost:
                        found[f"{label}.{column}"] = found.get(f"{label}.{column}", 0) + lost
    return found


def test_schema_cypher_gives_the_constraints_and_vector_index(imported: Imported) -> None:
    constraints = {row["name"] for row in imported.cypher("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {f"kg_{label.lower()}_key" for label in imported.source.schema.nodes} <= constraints
    indexes = imported.cypher("SHOW VECTOR INDEXES YIELD name, state RETURN name, state")
    assert [row["name"] for row in indexes] == ["item_embedding_test"]
    imported.cypher("CALL db.awaitIndexes(120)")
    nearest = imported.cypher(
        "CALL db.index.vector.queryNodes('item_embedding_test', 1, [1.0, 0.0, 0.25]) "
        "YIELD node RETURN node.id AS id"
    )
    assert nearest == [{"id": "item-hard-2"}]


def test_16_the_files_quote_empty_strings_and_count_empty_lists(store: GraphStore, tmp_path: Path) -> None:
    """Without a server: what the importer is given. ``""`` is an empty string, an empty
    field no property; the lists it cannot carry are named in the summary."""
    _add_hard_values_minimal(store)
    export = export_neo4j_admin(store, tmp_path / "out")
    lines = export.nodes["Brand"][0].read_text("utf-8").splitlines()
    assert lines[0].startswith("id:ID(Brand),name:string,aliases:string[],") and lines[0].endswith(",:LABEL")
    rows = {line.split(",", 1)[0]: line for line in lines[1:]}
    assert rows['"b-empty"'].startswith('"b-empty","","",')  # name "", aliases [] (the importer drops it)
    assert rows['"b-missing"'].startswith('"b-missing",,,')  # no name, no aliases
    assert rows['"b-mixed"'].startswith('"b-mixed","Mixed, ""Inc.""","""a"";",')
    assert export.unimportable_lists == {"Brand.aliases": 2}
    summary = " ".join(export.summary_lines())
    assert "empty lists (and lists of one empty string) come back missing: Brand.aliases (2)" in summary
    assert "--ignore-empty-strings=false" in export.import_command()


def _add_hard_values_minimal(store: GraphStore) -> None:
    store.upsert_nodes(
        "Brand",
        pd.DataFrame(
            {
                "id": ["b-empty", "b-blank", "b-missing", "b-mixed"],
                "name": ["", "Blank", None, 'Mixed, "Inc."'],
                "aliases": [[], [""], None, ['"a"', ""]],
            }
        ),
    )
