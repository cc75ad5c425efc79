"""The bad-input catalogue for structured ingest: every case gives a clear outcome.

Cases covered elsewhere: malformed JSONL, non-numeric and NaN/inf values, wrong field
counts, missing ids, unknown mapping columns and labels, hostile identifiers
(test_ingest_tabular.py, test_ingest_movielens.py, test_schema.py); dangling references
(test_ingest_tabular.py, test_ingest_movielens.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.errors import InputError
from kg.ingest import ingest_path
from kg.store import GraphStore

ITEMS = '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { name = "name", description = "description", price = "price" }\n'


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "items.toml"
    path.write_text(ITEMS)
    return path


def items(store: GraphStore) -> list[dict[str, object]]:
    frame = store.query("MATCH (i:Item) RETURN i.id AS id, i.name AS name, i.price AS price ORDER BY id")
    return frame.to_dict("records")


def test_unterminated_quote_costs_only_the_rest_of_the_file(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text('sku,name,description,price\nA,ok,fine,1\nB,"broken,desc,2\nC,lost,x,3\n')
    report = ingest_path(store, data, mapping=mapping)
    assert items(store) == [{"id": "A", "name": "ok", "price": 1.0}]
    assert [str(p) for p in report.problems.kept] == ["items.csv:4: expected 4 fields, found 2"]


def test_duplicate_ids_last_row_wins(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("sku,name,description,price\nA,first,,1\nB,b,,2\nA,second,,\n")
    ingest_path(store, data, mapping=mapping)
    # the second A row wins for name; its empty price does not erase the earlier 1.0
    assert items(store) == [{"id": "A", "name": "second", "price": 1.0}, {"id": "B", "name": "b", "price": 2.0}]
    later = tmp_path / "later.csv"
    later.write_text("sku,name,description,price\nA,third,,5\n")
    ingest_path(store, later, mapping=mapping)
    assert items(store)[0] == {"id": "A", "name": "third", "price": 5.0}


def test_extra_columns_are_ignored(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("sku,internal_code,name,description,price,notes\nA,x1,Lamp,,9.5,n\n")
    assert not ingest_path(store, data, mapping=mapping).problems.count
    assert items(store) == [{"id": "A", "name": "Lamp", "price": 9.5}]


def test_huge_text_field_is_kept_whole(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    text = "Very long description. " * 200_000  # 4.6 MB in one field
    data = tmp_path / "items.csv"
    data.write_text(f'sku,name,description,price\nA,Big,"{text}",1\n')
    ingest_path(store, data, mapping=mapping)
    stored = store.query("MATCH (i:Item {id: 'A'}) RETURN size(i.description) AS n")["n"][0]
    assert stored == len(text)


def test_utf16_file_names_the_encoding_fix(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("sku,name,description,price\nA,Lamp,,1\n", encoding="utf-16")
    with pytest.raises(InputError, match="--encoding"):
        ingest_path(store, data, mapping=mapping)
    ingest_path(store, data, mapping=mapping, encoding="utf-16")
    assert items(store) == [{"id": "A", "name": "Lamp", "price": 1.0}]


@pytest.mark.parametrize("content", ["", "sku,name,description,price\n"])
def test_empty_and_header_only_files_write_nothing(store: GraphStore, tmp_path: Path, mapping: Path, content: str) -> None:
    data = tmp_path / "items.csv"
    data.write_text(content)
    report = ingest_path(store, data, mapping=mapping)
    assert store.counts().total_nodes == 0 and report.problems.count == 0


def test_nul_bytes_and_control_characters(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_bytes(b"sku,name,description,price\nA,tab\there,,1\nB,nul\x00byte,,2\nC,bell\x07 `tick` 'q',,3\n")
    report = ingest_path(store, data, mapping=mapping)
    names = {row["id"]: row["name"] for row in items(store)}
    assert names["A"] == "tab\there" and names["C"] == "bell\x07 `tick` 'q'"
    assert "B" not in names and "NUL" in str(report.problems.kept[0])
