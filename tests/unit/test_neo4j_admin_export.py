"""``kg export --format neo4j-admin``: files the importer reads back to the same graph.

The files are read here by the rules ``neo4j-admin database import full`` applies
(RFC 4180 quoting with doubled quotes, multi-line fields, typed headers, ``;`` arrays,
empty field = no property), independently of the exporter's code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kg.config import Settings
from kg.errors import InputError
from kg.export import export_neo4j_admin
from kg.store import GraphStore, open_store

TRICKY = 'Line one, with a comma\nand "quotes"; and a semicolon'


def _read_import_file(path: Path, delimiter: str = ";") -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = []
        for fields in reader:
            row = {}
            for column, raw in zip(header, fields, strict=True):
                name, _, kind = column.partition(":")
                if raw == "" or kind in ("LABEL", "TYPE"):
                    continue
                kind = kind.split("(")[0]
                parse = {"long": int, "double": float, "boolean": lambda v: {"true": True, "false": False}[v]}
                if kind.endswith("[]"):
                    item = parse.get(kind[:-2], str)
                    row[name or kind] = [item(v) for v in raw.split(delimiter)]
                else:
                    row[name or kind] = parse.get(kind, str)(raw)
            rows.append(row)
    return header, rows


@pytest.fixture
def small_graph(store: GraphStore) -> GraphStore:
    store.upsert_nodes(
        "Item",
        pd.DataFrame(
            {
                "id": ["i1", "i2"],
                "name": ["Tent", "Lamp"],
                "description": [TRICKY, None],
                "price": [99.5, np.nan],
                "year": [2024, None],
                "in_stock": [True, False],
            }
        ),
    )
    store.upsert_nodes(
        "Brand",
        pd.DataFrame({"id": ["b1"], "name": ["Northpeak"], "aliases": [["NorthPeak Inc.", "NORTHPEAK"]]}),
    )
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "i1"], "name": ["Ann", "Same key as an item"]}))
    store.upsert_relationships(
        "HAS_BRAND", "Item", "Brand", pd.DataFrame({"from_id": ["i1", "i2"], "to_id": ["b1", "b1"]})
    )
    store.upsert_relationships(
        "PURCHASED",
        "User",
        "Item",
        pd.DataFrame(
            {"from_id": ["u1", "i1"], "to_id": ["i1", "i2"], "count": [2, None], "amount": [199.0, 5.5]}
        ),
    )
    store.set_node_properties(
        "Item",
        pd.DataFrame({"id": ["i2"], "embedding_test": [[1.0, 0.0, 0.25]]}),  # i1 has no vector
    )
    return store


def test_headers_follow_the_importer_format(small_graph: GraphStore, tmp_path: Path) -> None:
    export = export_neo4j_admin(small_graph, tmp_path / "out", batch_size=1)
    item_header, _ = _read_import_file(export.nodes["Item"][0])
    assert item_header[0] == "id:ID(Item)" and item_header[-1] == ":LABEL"
    assert {"name:string", "price:double", "year:long", "in_stock:boolean", "embedding_test:double[]"} <= set(
        item_header
    )
    assert "aliases:string[]" in _read_import_file(export.nodes["Brand"][0])[0]
    rel_header, _ = _read_import_file(export.relationships["PURCHASED User->Item"][0])
    assert rel_header[:2] == [":START_ID(User)", ":END_ID(Item)"] and rel_header[-1] == ":TYPE"
    assert {"count:long", "amount:double", "timestamp:long"} <= set(rel_header)
    assert set(export.nodes) == {"Item", "Brand", "User"}  # empty labels get no file


def test_files_read_back_to_the_same_graph(small_graph: GraphStore, tmp_path: Path) -> None:
    export = export_neo4j_admin(small_graph, tmp_path / "out", batch_size=1)
    for label, (path, rows) in export.nodes.items():
        _, parsed = _read_import_file(path)
        assert len(parsed) == rows == small_graph.counts().nodes[label]
        stored = pd.concat(list(small_graph.iter_nodes(label)), ignore_index=True)
        for record in stored.to_dict("records"):
            present = {
                k: v
                for k, v in record.items()
                if v is not None and not (isinstance(v, float) and np.isnan(v))
            }
            present = {k: (list(v) if isinstance(v, (list, np.ndarray)) else v) for k, v in present.items()}
            assert present in parsed, f"{label} {record['id']}"
    _, items = _read_import_file(export.nodes["Item"][0])
    assert next(r for r in items if r["id"] == "i1")["description"] == TRICKY
    _, bought = _read_import_file(export.relationships["PURCHASED User->Item"][0])
    assert sorted((r["START_ID"], r["END_ID"], r.get("count")) for r in bought) == [
        ("i1", "i2", None),
        ("u1", "i1", 2),
    ]


def test_schema_script_and_import_command(small_graph: GraphStore, tmp_path: Path) -> None:
    export = export_neo4j_admin(small_graph, tmp_path / "out")
    schema = (tmp_path / "out" / "schema.cypher").read_text("utf-8")
    assert schema.count("CREATE CONSTRAINT") == len(small_graph.schema.nodes)
    assert "CREATE VECTOR INDEX `item_embedding_test`" in schema and "`vector.dimensions`: 3" in schema
    command = export.import_command()
    # the database follows `full`: --nodes/--relationships take several values since 5.19
    assert command.startswith("neo4j-admin database import full neo4j ") and command.rstrip().endswith(".csv")
    assert (
        "--nodes=/import/Item.nodes.csv" in command
        and "--relationships=/import/PURCHASED.User.Item.rels.csv" in command
    )
    assert command in (tmp_path / "out" / "import.sh").read_text("utf-8")


def test_array_values_containing_the_delimiter_are_refused(store: GraphStore, tmp_path: Path) -> None:
    store.upsert_nodes("Brand", pd.DataFrame({"id": ["b1"], "name": ["A;B"], "aliases": [["A;B"]]}))
    with pytest.raises(InputError, match="array-delimiter"):
        export_neo4j_admin(store, tmp_path / "out")
    assert export_neo4j_admin(store, tmp_path / "out", array_delimiter="|").nodes["Brand"][1] == 1


def test_cli_export(small_graph: GraphStore, settings: Settings, tmp_path: Path) -> None:
    from cli import app

    small_graph.close()
    result = CliRunner().invoke(
        app, ["--store", settings.store, "export", "--format", "neo4j-admin", str(tmp_path / "cli")]
    )
    assert result.exit_code == 0, result.output
    assert "neo4j-admin database import full" in result.output
    assert (tmp_path / "cli" / "Item.nodes.csv").exists()
    with open_store(settings, read_only=True) as reopened:
        assert reopened.counts().nodes["Item"] == 2
