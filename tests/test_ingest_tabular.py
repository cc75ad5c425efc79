"""CSV / JSONL ingest through mapping files, on the real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kg.errors import ConfigError, InputError, SchemaError
from kg.ingest import ingest_path
from kg.store import GraphStore

PRODUCTS_MAPPING = """
[nodes]
label = "Item"
id = "sku"
properties = { name = "name", price = "price", in_stock = "in_stock" }
constants = { kind = "product" }
links = [
  { rel = "HAS_BRAND", label = "Brand", column = "brand" },
  { rel = "IN_CATEGORY", label = "Category", column = "categories", split = "|" },
]
"""

PURCHASES_MAPPING = """
[edges]
rel = "PURCHASED"
from = { label = "User", column = "user" }
to = { label = "Item", column = "sku" }
properties = { count = "qty", timestamp = "ts" }
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def products(tmp_path: Path) -> tuple[Path, Path]:
    data = write(
        tmp_path / "products.csv",
        "sku,name,price,in_stock,brand,categories\n"
        'P1,"Trail Shoe, v2",89.5,yes,Northpeak,Footwear|Running\n'
        "P2,Rain Jacket,120,no,NORTHPEAK ,Apparel\n"
        "P3,Speaker,abc,yes,Voltix,Electronics\n"
        "P4,Lamp,45,true,Casa Verde\n"
        ",Nameless,10,yes,Voltix,Home\n",
    )
    return data, write(tmp_path / "products.toml", PRODUCTS_MAPPING)


def test_nodes_links_and_bad_rows(store: GraphStore, products: tuple[Path, Path]) -> None:
    data, mapping = products
    report = ingest_path(store, data, mapping=mapping)

    items = store.query(
        "MATCH (i:Item) RETURN i.id AS id, i.name AS name, i.price AS price, i.in_stock AS s, i.kind AS kind ORDER BY id"
    )
    assert items.to_dict("records") == [
        {"id": "P1", "name": "Trail Shoe, v2", "price": 89.5, "s": True, "kind": "product"},
        {"id": "P2", "name": "Rain Jacket", "price": 120.0, "s": False, "kind": "product"},
    ]
    brands = store.query("MATCH (i:Item)-[:HAS_BRAND]->(b:Brand) RETURN DISTINCT b.id AS id")
    assert brands["id"].tolist() == ["northpeak"], "brand spellings differing in case/space are one node"
    cats = store.query(
        "MATCH (:Item {id: 'P1'})-[:IN_CATEGORY]->(c:Category) RETURN c.name AS name ORDER BY name"
    )
    assert cats["name"].tolist() == ["Footwear", "Running"]

    problems = [str(p) for p in report.problems.kept]
    assert problems == [
        "products.csv:4: column 'price': 'abc' is not a number",
        "products.csv:5: expected 6 fields, found 5",
        "products.csv:6: missing id in column 'sku'",
    ]
    assert "3 bad row(s) skipped" in report.summary_lines()[-1]


def test_second_run_changes_nothing(store: GraphStore, products: tuple[Path, Path]) -> None:
    data, mapping = products
    ingest_path(store, data, mapping=mapping)
    before = store.counts()
    again = ingest_path(store, data, mapping=mapping)
    assert store.counts() == before
    assert sum(again.created.values()) == 0


def test_strict_stops_at_first_bad_row(store: GraphStore, products: tuple[Path, Path]) -> None:
    data, mapping = products
    with pytest.raises(InputError, match=r"products.csv:4: column 'price'.*--strict"):
        ingest_path(store, data, mapping=mapping, strict=True)


def test_edges_with_dangling_references(
    store: GraphStore, products: tuple[Path, Path], tmp_path: Path
) -> None:
    ingest_path(store, *products[:1], mapping=products[1])
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2"]}))
    purchases = write(
        tmp_path / "purchases.csv", "user,sku,qty,ts\nu1,P1,2,100\nu2,P1,1,101\nu1,P9,1,102\nu3,P2,1,103\n"
    )
    mapping = write(tmp_path / "purchases.toml", PURCHASES_MAPPING)

    skipped = ingest_path(store, purchases, mapping=mapping, dangling="skip")
    assert store.counts().relationships["PURCHASED"] == 2
    assert [line.split(";")[0] for line in skipped.summary_lines()] == [
        "purchases.csv: 1 PURCHASED row(s) refer to Item ids not in the input (P9)",
        "purchases.csv: 1 PURCHASED row(s) refer to User ids not in the input (u3)",
    ]
    ingest_path(store, purchases, mapping=mapping)  # default: placeholders, nothing lost
    assert store.counts().relationships["PURCHASED"] == 4
    placeholders = store.query("MATCH (n:Item) WHERE n.placeholder = true RETURN n.id AS id")
    assert placeholders["id"].tolist() == ["P9"]
    qty = store.query(
        "MATCH (:User {id: 'u1'})-[p:PURCHASED]->(:Item {id: 'P1'}) RETURN p.count AS c, p.timestamp AS t"
    )
    assert qty.to_dict("records") == [{"c": 2, "t": 100}]


def test_jsonl_with_malformed_lines(store: GraphStore, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"sku": "J1", "name": 'Quote " and `backtick` and \u0007 bell', "price": 3, "brand": "Acme"}
        ),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"sku": "J2", "name": "NaN price", "price": "NaN", "brand": "Acme"}),
        json.dumps({"sku": "J3", "name": "Huge", "price": 1.5, "brand": "Acme", "extra": "ignored"}),
        "",
    ]
    data = write(tmp_path / "items.jsonl", "\n".join(lines) + "\n")
    mapping = write(tmp_path / "items.toml", PRODUCTS_MAPPING.replace(', in_stock = "in_stock"', ""))
    report = ingest_path(store, data, fmt="jsonl", mapping=mapping)
    names = store.query("MATCH (i:Item) RETURN i.id AS id, i.name AS name ORDER BY id")
    assert names["id"].tolist() == ["J1", "J3"]
    assert names["name"][0] == 'Quote " and `backtick` and \u0007 bell'
    assert [p.line for p in report.problems.kept] == [2, 3, 4]
    assert "not a finite number" in report.problems.kept[2].message


def test_mapping_errors_are_caught_before_writing(
    store: GraphStore, products: tuple[Path, Path], tmp_path: Path
) -> None:
    data, _ = products
    unknown_column = write(tmp_path / "a.toml", PRODUCTS_MAPPING.replace('price = "price"', 'price = "cost"'))
    with pytest.raises(ConfigError, match=r"columns that products.csv does not have: \['cost'\]"):
        ingest_path(store, data, mapping=unknown_column)
    unknown_label = write(tmp_path / "b.toml", PRODUCTS_MAPPING.replace('label = "Item"', 'label = "Gadget"'))
    with pytest.raises(SchemaError, match="Gadget"):
        ingest_path(store, data, mapping=unknown_label)
    hostile = write(
        tmp_path / "c.toml", PRODUCTS_MAPPING.replace('rel = "HAS_BRAND"', 'rel = "X`]->() DELETE n //"')
    )
    with pytest.raises(SchemaError, match="not allowed"):
        ingest_path(store, data, mapping=hostile)
    broken = write(tmp_path / "d.toml", "[nodes\n")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        ingest_path(store, data, mapping=broken)
    with pytest.raises(InputError, match="needs a mapping"):
        ingest_path(store, data)
    assert store.counts().total_nodes == 0


def test_wrong_encoding_names_the_fix(store: GraphStore, tmp_path: Path) -> None:
    data = write(
        tmp_path / "latin.csv",
        "sku,name,price,in_stock,brand,categories\nL1,Crème brûlée set,9,yes,Casa,Home\n",
        encoding="latin-1",
    )
    mapping = write(tmp_path / "m.toml", PRODUCTS_MAPPING)
    with pytest.raises(InputError, match=r"not valid utf-8-sig.*--encoding"):
        ingest_path(store, data, mapping=mapping)
    ingest_path(store, data, mapping=mapping, encoding="latin-1")
    assert store.query("MATCH (i:Item) RETURN i.name AS n")["n"].tolist() == ["Crème brûlée set"]
