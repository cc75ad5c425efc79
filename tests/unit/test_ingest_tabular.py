"""CSV / JSONL ingest through mapping files, on the real embedded store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from kg.errors import ConfigError, InputError, SchemaError
from kg.ingest import ingest_path
from kg.ingest.problems import KEEP_AT_MOST
from kg.render import ingest_table
from kg.store import GraphStore
from tests.helpers import RecordingProgress

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


def test_strict_stops_at_first_bad_row_with_nothing_written(
    store: GraphStore, products: tuple[Path, Path]
) -> None:
    data, mapping = products
    with pytest.raises(InputError, match=r"products.csv:4: column 'price'.*--strict"):
        ingest_path(store, data, mapping=mapping, strict=True, batch_size=1)  # P1, P2 in batches before
    assert store.counts().total_nodes == 0
    assert not (data.parent / "products.csv.rejects.csv").exists()


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


def test_wrong_encoding_late_in_the_file_writes_nothing(store: GraphStore, tmp_path: Path) -> None:
    """The whole file is decoded before the first write; it used to be decoded as read,
    so the batches before a bad byte 600 kB in were already stored."""
    rows = "".join(f"P{i},Item {i},1,yes,Acme,Home\n" for i in range(20_000))
    data = tmp_path / "late.csv"
    data.write_bytes(
        ("sku,name,price,in_stock,brand,categories\n" + rows).encode() + b"X,Cr\xe8me,1,yes,Acme,Home\n"
    )
    mapping = write(tmp_path / "m.toml", PRODUCTS_MAPPING)
    with pytest.raises(InputError, match=r"not valid utf-8-sig \(line 20002, byte 6\d{5}: .*--encoding"):
        ingest_path(store, data, mapping=mapping, batch_size=5_000)
    assert store.counts().total_nodes == 0


def test_unknown_encoding_is_one_clear_error(store: GraphStore, products: tuple[Path, Path]) -> None:
    data, mapping = products
    for encoding in ("utf-9", "base64"):
        with pytest.raises(InputError, match=rf"Unknown text encoding '{encoding}'"):
            ingest_path(store, data, mapping=mapping, encoding=encoding)


ITEMS_MAPPING = '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { name = "name", price = "price" }\n'


def test_explicit_format_wins_over_extension_and_mapping(store: GraphStore, tmp_path: Path) -> None:
    """`kg ingest x.csv --format tsv` reads tabs; `j.txt --format jsonl` reads JSON Lines."""
    tabs = write(tmp_path / "x.csv", "sku\tname\tprice\nT1\tTab, separated\t2.5\n")
    mapping = write(tmp_path / "items.toml", ITEMS_MAPPING)
    report = ingest_path(store, tabs, fmt="tsv", mapping=mapping)
    assert report.problems.count == 0
    jsonl = write(tmp_path / "j.txt", json.dumps({"sku": "J1", "name": "Json", "price": 3}) + "\n")
    ingest_path(store, jsonl, fmt="jsonl", mapping=mapping)
    says_csv = write(tmp_path / "csv.toml", 'format = "csv"\n' + ITEMS_MAPPING)
    ingest_path(store, write(tmp_path / "y.tsv", "sku,name,price\nC1,From mapping,1\n"), mapping=says_csv)
    tabbed = write(tmp_path / "z.txt", "sku\tname\tprice\nC2\tFlag beats mapping\t4\n")
    ingest_path(store, tabbed, fmt="tsv", mapping=says_csv)
    assert store.query(
        "MATCH (i:Item) RETURN i.id AS id, i.name AS name, i.price AS price ORDER BY id"
    ).to_dict("records") == [
        {"id": "C1", "name": "From mapping", "price": 1.0},
        {"id": "C2", "name": "Flag beats mapping", "price": 4.0},
        {"id": "J1", "name": "Json", "price": 3.0},
        {"id": "T1", "name": "Tab, separated", "price": 2.5},
    ]


def test_semicolon_files_name_their_delimiter_in_the_mapping(store: GraphStore, tmp_path: Path) -> None:
    data = write(tmp_path / "export.csv", 'sku;name;price\nS1;"Pen; blue";1.5\nS2;Ink;2\n')
    mapping = write(tmp_path / "m.toml", 'delimiter = ";"\n' + ITEMS_MAPPING)
    assert ingest_path(store, data, mapping=mapping).problems.count == 0
    names = store.query("MATCH (i:Item) RETURN i.name AS name ORDER BY i.id")["name"].tolist()
    assert names == ["Pen; blue", "Ink"]
    for bad in ('";;"', '""', "'\"'"):
        refused = write(tmp_path / "bad.toml", f"delimiter = {bad}\n" + ITEMS_MAPPING)
        with pytest.raises(ConfigError, match="delimiter must be one character"):
            ingest_path(store, data, mapping=refused)


README_PURCHASES_MAPPING = """
[edges]
rel = "PURCHASED"
from = { label = "User", column = "user_id" }
to = { label = "Item", column = "sku" }
properties = { count = "quantity", amount = "amount", timestamp = "timestamp" }
"""  # as README.md, "Mapping files", shows it


def test_readme_edge_mapping_reads_iso_dates_as_epoch_seconds(store: GraphStore, tmp_path: Path) -> None:
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2"]}))
    store.upsert_nodes("Item", pd.DataFrame({"id": ["P1", "P2"]}))
    data = write(
        tmp_path / "purchases.csv",
        "user_id,sku,quantity,amount,timestamp\n"
        "u1,P1,1,9.5,2024-01-01\n"
        "u1,P2,2,19.0,2024-01-01T10:30:00Z\n"
        "u2,P1,1,9.5,2024-01-01 12:30:00+02:00\n"
        "u2,P2,3,28.5,1704067200\n"
        "u2,P1,1,9.5,01/02/2024\n",
    )
    mapping = write(tmp_path / "purchases.toml", README_PURCHASES_MAPPING)
    report = ingest_path(store, data, mapping=mapping)
    stamps = store.query(
        "MATCH (u:User)-[p:PURCHASED]->(i:Item) RETURN u.id AS user, i.id AS item, p.timestamp AS t ORDER BY user, item"
    )
    assert stamps.to_dict("records") == [
        {"user": "u1", "item": "P1", "t": 1_704_067_200},  # a date is midnight UTC
        {"user": "u1", "item": "P2", "t": 1_704_105_000},
        {"user": "u2", "item": "P1", "t": 1_704_105_000},  # 12:30+02:00 is 10:30Z
        {"user": "u2", "item": "P2", "t": 1_704_067_200},  # epoch seconds as before
    ]
    assert [str(p) for p in report.problems.kept] == [
        "purchases.csv:6: column 'timestamp': '01/02/2024' is neither epoch seconds nor an ISO 8601 date "
        "or date-time (2024-01-31, 2024-01-31T10:30:00Z)"
    ]


def test_integers_are_read_exactly_and_within_int64(store: GraphStore, tmp_path: Path) -> None:
    """Found by fuzzing: through a float, 2**53 + 1 lost its last digit, and 2**63 reached
    the store (which refused the whole batch)."""
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1"]}))
    store.upsert_nodes("Item", pd.DataFrame({"id": ["A", "B", "C"]}))
    data = write(
        tmp_path / "p.csv",
        "user,sku,qty,ts\nu1,A,9007199254740993,1\nu1,B,9223372036854775808,1\nu1,C,1e3,1\n",
    )
    report = ingest_path(store, data, mapping=write(tmp_path / "p.toml", PURCHASES_MAPPING))
    counts = store.query(
        "MATCH (:User)-[p:PURCHASED]->(i:Item) RETURN i.id AS item, p.count AS c ORDER BY item"
    )
    assert counts.to_dict("records") == [{"item": "A", "c": 9_007_199_254_740_993}, {"item": "C", "c": 1000}]
    assert [p.message for p in report.problems.kept] == [
        "column 'qty': '9223372036854775808' is out of the 64-bit integer range"
    ]


def test_rejects_file_holds_every_bad_row_with_line_reason_and_row(store: GraphStore, tmp_path: Path) -> None:
    bad = KEEP_AT_MOST + 200  # more than the report keeps in memory
    rows = ["sku,name,price", "G1,good,1"] + [f"B{i},bad,price{i}" for i in range(bad)] + ['Q,"open,1']
    data = write(tmp_path / "items.csv", "\n".join(rows) + "\n")
    mapping = write(tmp_path / "items.toml", ITEMS_MAPPING)
    report = ingest_path(store, data, mapping=mapping)

    rejects = tmp_path / "items.csv.rejects.csv"
    assert report.problems.rejects_path == rejects
    with rejects.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == bad + 1 == report.problems.count
    assert written[0] == {
        "file": "items.csv",
        "line": "3",
        "reason": "column 'price': 'price0' is not a number",
        "row": "B0,bad,price0",
    }
    assert written[-1] == {
        "file": "items.csv",
        "line": str(bad + 3),
        "reason": "unterminated quoted field",
        "row": 'Q,"open,1',
    }

    summary = report.summary_lines()
    assert summary[:2] == [
        "  items.csv:3: column 'price': 'price0' is not a number",
        "  items.csv:4: column 'price': 'price1' is not a number",
    ]
    assert (
        len(summary) == 6 and str(rejects) in summary[-1] and f"{bad + 1} bad row(s) skipped" in summary[-1]
    )

    write(tmp_path / "items.csv", "sku,name,price\nG1,good,1\n")
    assert ingest_path(store, data, mapping=mapping).problems.rejects_path is None
    assert not rejects.exists(), "a clean run leaves no outdated rejects file"


def test_rejects_file_goes_under_the_data_dir_when_the_input_folder_refuses_it(
    store: GraphStore, tmp_path: Path
) -> None:
    data = write(tmp_path / "items.csv", "sku,name,price\nA,ok,1\nB,bad,x\n")
    (tmp_path / "items.csv.rejects.csv").mkdir()  # unwritable there (file modes do not stop root)
    report = ingest_path(
        store, data, mapping=write(tmp_path / "m.toml", ITEMS_MAPPING), rejects_dir=tmp_path / "kg-data"
    )
    fallback = tmp_path / "kg-data" / "rejects" / "items.csv.rejects.csv"
    assert report.problems.rejects_path == fallback
    assert fallback.read_text().splitlines() == [
        "file,line,reason,row",
        "items.csv,3,column 'price': 'x' is not a number,\"B,bad,x\"",
    ]
    assert str(fallback) in report.summary_lines()[-1]


def test_input_rows_add_up_to_loaded_rejected_and_skipped(
    store: GraphStore, products: tuple[Path, Path], tmp_path: Path
) -> None:
    ingest_path(store, *products[:1], mapping=products[1])
    store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2"]}))
    purchases = write(
        tmp_path / "purchases.csv",
        "user,sku,qty,ts\nu1,P1,2,100\n\nu2,P1,x,101\nu1,P9,1,102\nu1,P2\nu2,P2,1,2024-01-01\n",
    )
    report = ingest_path(
        store, purchases, mapping=write(tmp_path / "p.toml", PURCHASES_MAPPING), dangling="skip", batch_size=2
    )
    assert (report.input_rows, report.loaded, report.rejected, report.skipped) == (5, 2, 2, 1)
    caption = str(ingest_table(report, "t").caption)
    assert caption.startswith("5 input rows: 2 loaded, 2 rejected, 1 skipped (dangling);")


def test_progress_ends_at_its_total(store: GraphStore, tmp_path: Path) -> None:
    """Counted in physical lines: the header, a blank line, a bad row, a quoted field over
    two lines and a last line without a line end all move the bar."""
    text = 'sku,name,price\nA,one,1\n\nB,bad,x\r\nC,"two\nlines",3\nD,"open,4\nE,last,5'
    data = write(tmp_path / "items.csv", text)
    for batch_size in (1, 50_000):
        progress = RecordingProgress()
        ingest_path(
            store,
            data,
            mapping=write(tmp_path / "m.toml", ITEMS_MAPPING),
            batch_size=batch_size,
            progress=progress,
        )
        assert progress.done == progress.total == 8
    jsonl = write(tmp_path / "items.jsonl", '{"sku": "J", "name": "x", "price": 1}\n\n{broken\n{"sku": "K"}')
    progress = RecordingProgress()
    ingest_path(store, jsonl, mapping=tmp_path / "m.toml", progress=progress)
    assert progress.done == progress.total == 4


def test_reingest_of_unchanged_rows_reports_no_updates(
    store: GraphStore, products: tuple[Path, Path]
) -> None:
    data, mapping = products
    first = ingest_path(store, data, mapping=mapping)
    again = ingest_path(store, data, mapping=mapping)
    assert sum(again.updated.values()) == 0, again.updated
    assert sum(again.unchanged.values()) == sum(first.created.values())
