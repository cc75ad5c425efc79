"""Property-based tests of structured ingest: generated CSV and JSON Lines files.

Each example is a list of rows drawn from a model -- well-formed rows with their
expected typed values, and malformed rows of known kinds (wrong field count, bad
number, missing id, NUL, stray or unterminated quote, broken JSON, ...) -- written with
a drawn delimiter, line ending, encoding and batch size, plus blank lines, duplicate
ids and huge fields. For every file exactly one of two things must hold:

- every well-formed row is stored exactly (duplicates: the last present value wins) and
  every malformed row is reported on the line it starts, and nothing else; the counts
  add up and the progress bar ends at its total; or
- the run stops with an ``InputError`` (``--strict`` with a bad row, or the wrong
  encoding) and the store holds nothing.

A third test feeds unstructured text (quotes, delimiters, line breaks and NULs in any
order) and checks the invariants that need no model. Every example gets a fresh store;
the Neo4j half runs when KG_NEO4J_URI names a server.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kg.errors import InputError
from kg.ingest import IngestReport, ingest_path
from kg.store import GraphStore, open_store
from tests.helpers import RecordingProgress
from tests.neo4j_server import NEO4J_URI, SKIP_REASON, empty_store_settings

STORES = ["ladybug", pytest.param("neo4j", marks=pytest.mark.skipif(not NEO4J_URI, reason=SKIP_REASON))]
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

COLUMNS = ["id", "name", "price", "year", "in_stock"]
MAPPING = '[nodes]\nlabel = "Item"\nid = "id"\nproperties = { name = "name", price = "price", year = "year", in_stock = "in_stock" }\n'
PROPERTIES = COLUMNS[1:]
INT64 = (-(2**63), 2**63 - 1)
BOOLEANS = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "T": True,
    "F": False,
    "1": True,
    "0": False,
}
SPECIAL = [*"\",;\t|\r\n '`\\{}[]$", "\u2028", "\x85", "\x0c", "é", "東", "😀"]
HUGE = "A long description. " * 10_000 + "é"  # 200,001 characters; in Latin-1, not UTF-8, at the end


@dataclass
class Row:
    """One generated row: its text as written, and either its expected node or why it is bad."""

    text: str
    node: dict[str, Any] | None = None  # id + expected property values (None: missing)
    reason: str = ""  # a fragment of the problem a bad row must be reported with
    line: int = 0  # first physical line, set once the file is laid out


@dataclass
class Case:
    """A generated file and how to read it."""

    name: str
    data: bytes
    text: str  # what the file says, as the loader should decode it
    rows: list[Row] = field(default_factory=list)
    encoding: str | None = None  # passed to the ingest (None: the default, UTF-8)
    mapping: str = MAPPING
    fmt: str | None = None


# ---------------------------------------------------------------------- values
def text_values(codec: str, max_size: int = 12) -> st.SearchStrategy[str]:
    plain = st.characters(codec=codec, exclude_categories=("Cs",), exclude_characters="\x00")
    special = st.sampled_from([c for c in SPECIAL if c.encode(codec, "ignore")])
    return st.text(st.one_of(special, plain), max_size=max_size)


def ids(codec: str) -> st.SearchStrategy[str]:
    """A few ids that repeat (duplicates), and arbitrary ones; never blank."""
    fixed = st.sampled_from(["a", "b", "Ü-1", "x y", "comma,id", 'q"id', "semi;c"])
    return st.one_of(fixed, text_values(codec, 6).map(lambda tail: "k" + tail))


@st.composite
def good_values(draw: st.DrawFn, codec: str) -> dict[str, Any]:
    """Typed values of a well-formed row (None: the cell is left empty)."""
    return {
        "id": draw(ids(codec)),
        "name": draw(st.one_of(st.none(), text_values(codec, 20))),
        "price": draw(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))),
        "year": draw(st.one_of(st.none(), st.integers(*INT64))),
        "in_stock": draw(st.one_of(st.none(), st.sampled_from(sorted(BOOLEANS)))),
    }


def expected_node(values: dict[str, Any]) -> dict[str, Any]:
    """What the store must hold for a row: the id trimmed, blank text missing, types read."""
    name = values["name"]
    flag = values["in_stock"]
    return {
        "id": str(values["id"]).strip(),
        "name": None if name is None or not str(name).strip() else name,
        "price": None if values["price"] is None else float(values["price"]),
        "year": values["year"],
        "in_stock": None if flag is None else BOOLEANS[flag] if isinstance(flag, str) else flag,
    }


# ---------------------------------------------------------------------- CSV
def csv_field(value: Any, delimiter: str) -> str:
    """RFC 4180 quoting (csv.writer leaves a lone \\r unquoted, which no reader reads back)."""
    text = "" if value is None else repr(value) if isinstance(value, float) else str(value)
    if any(c in text for c in (delimiter, '"', "\r", "\n")):
        return '"' + text.replace('"', '""') + '"'
    return text


CSV_BAD_KINDS = ("fields", "number", "missing_id", "nul", "stray_quote", "unterminated")
BAD_NUMBERS = [
    ("price", "abc", "is not a number"),
    ("price", "nan", "is not a finite number"),
    ("price", "1e400", "is not a finite number"),
    ("year", "1.5", "is not an integer"),
    ("year", str(2**63), "is out of the 64-bit integer range"),
    ("in_stock", "maybe", "is not true/false"),
]


def good_csv_row(values: dict[str, Any], delimiter: str, end: str) -> Row:
    return Row(
        delimiter.join(csv_field(values[c], delimiter) for c in COLUMNS) + end, node=expected_node(values)
    )


@st.composite
def csv_row(draw: st.DrawFn, codec: str, delimiter: str, end: str, quote_free: bool) -> Row:
    """A well-formed row, or a malformed one of a drawn kind. ``quote_free`` rows follow an
    unterminated quote, which must stay open to the end of the file."""
    values = draw(good_values(codec))
    kind = draw(st.sampled_from(("good",) * 4 + CSV_BAD_KINDS))
    if quote_free and kind in ("stray_quote", "unterminated"):
        kind = "fields"
    cells = {column: csv_field(values[column], delimiter) for column in COLUMNS}
    plain = ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]
    if kind == "good":
        row = good_csv_row(values, delimiter, end)
    elif kind == "fields":
        count = draw(st.sampled_from([2, 3, 4, 6, 7]))
        row = Row(delimiter.join(plain[:count]) + end, reason=f"expected 5 fields, found {count}")
    elif kind == "number":
        column, bad, reason = draw(st.sampled_from(BAD_NUMBERS))
        cells[column] = bad
        row = Row(delimiter.join(cells.values()) + end, reason=f"column '{column}': '{bad}' {reason}")
    elif kind == "missing_id":
        cells["id"] = draw(st.sampled_from(["", "  "]))
        row = Row(delimiter.join(cells.values()) + end, reason="missing id in column 'id'")
    elif kind == "nul":
        cells["name"] = "nul\x00here"
        row = Row(delimiter.join(cells.values()) + end, reason="NUL")
    elif kind == "stray_quote":
        row = Row(delimiter.join(["s1", '"ab"cd', "1", "2", "yes"]) + end, reason="stray quote")
    else:
        row = Row(delimiter.join(["u1", '"open', "1", "2", "yes"]) + end, reason="unterminated quoted field")
    if quote_free and '"' in row.text:  # a good row whose values needed quotes
        row = Row(delimiter.join(plain[:3]) + end, reason="expected 5 fields, found 3")
    return row


@st.composite
def csv_cases(draw: st.DrawFn) -> Case:
    written = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    codec = "utf-8" if written.startswith("utf") else written
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    rows: list[Row] = []
    quote_free = False
    for _ in range(draw(st.integers(0, 12))):
        row = draw(csv_row(codec, delimiter, end, quote_free))
        quote_free = quote_free or row.reason == "unterminated quoted field"
        rows.append(row)
    if rows and draw(st.integers(0, 9)) == 0:  # now and then a huge field
        index = draw(st.integers(0, len(rows) - 1))
        if rows[index].node is not None:
            huge = {**draw(good_values(codec)), "name": HUGE}
            rows[index] = good_csv_row(huge, delimiter, end)
    text = lay_out(
        delimiter.join(COLUMNS) + end, rows, end, draw(st.lists(st.integers(0, len(rows)), max_size=3))
    )
    if rows and draw(st.booleans()):
        text = text.removesuffix(end)  # the last line without a line end
    passed = written if draw(st.booleans()) else None
    delimiter_line = "" if delimiter == "," else f"delimiter = {json.dumps(delimiter)}\n"
    return Case("items.csv", text.encode(written), text, rows, passed, delimiter_line + MAPPING)


def lay_out(header: str, rows: list[Row], end: str, blank_before: list[int]) -> str:
    """Join the rows (with blank lines before the drawn positions), numbering each row's
    first physical line as the reader counts them: \\r\\n, \\r and \\n each end a line."""
    text = header
    for index, row in enumerate(rows):
        text += end * blank_before.count(index)
        row.line = physical_lines(text) + 1
        text += row.text
    return text + end * blank_before.count(len(rows))


def physical_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# ---------------------------------------------------------------------- JSON Lines
JSON_BAD = [
    ('{"id": "j", "name": ', "invalid JSON"),
    ('["a", "list"]', "expected a JSON object, found list"),
    ("42", "expected a JSON object, found int"),
    ('{"id": "j", "price": NaN}', "NaN is not a JSON value"),
    ('{"id": "j", "price": -Infinity}', "-Infinity is not a JSON value"),
    ('{"id": "j", "name": "nul \\u0000"}', "NUL"),
    ('{"id": "j\\ud800"}', "unpaired surrogate"),
    ('{"name": "no id"}', "missing id in column 'id'"),
    ('{"id": null}', "missing id in column 'id'"),
    ('{"id": "   "}', "missing id in column 'id'"),
    ('{"id": ["j"]}', "must be a string or number, not a list"),
    ('{"id": true}', "must be a string or number, not a bool"),
    ('{"id": "j", "price": "abc"}', "column 'price': 'abc' is not a number"),
    ('{"id": "j", "price": 1' + "0" * 400 + "}", "is not a finite number"),
    ('{"id": "j", "year": 1.5}', "column 'year': 1.5 is not an integer"),
    ('{"id": "j", "year": 9223372036854775808}', "64-bit integer range"),
    ('{"id": "j", "in_stock": "maybe"}', "is not true/false"),
    ('{"id": "j", "price": ' + "[" * 5_000 + "]" * 5_000 + "}", "nested too deeply"),
]


@st.composite
def jsonl_row(draw: st.DrawFn, end: str) -> Row:
    if draw(st.integers(0, 3)) == 0:
        text, reason = draw(st.sampled_from(JSON_BAD))
        return Row(text + end, reason=reason)
    values = draw(good_values("utf-8"))
    values["id"] = draw(st.one_of(st.just(values["id"]), st.integers(0, 5)))
    values["in_stock"] = draw(st.one_of(st.just(values["in_stock"]), st.booleans()))
    record = {key: value for key, value in values.items() if value is not None or draw(st.booleans())}
    return Row(json.dumps(record, ensure_ascii=draw(st.booleans())) + end, node=expected_node(values))


@st.composite
def jsonl_cases(draw: st.DrawFn) -> Case:
    written = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    rows = draw(st.lists(jsonl_row(end), max_size=12))
    text = lay_out("", rows, end, draw(st.lists(st.integers(0, len(rows)), max_size=3)))
    passed = written if written == "utf-16" and draw(st.booleans()) else None
    return Case("items.jsonl", text.encode(written), text, rows, passed)


# ---------------------------------------------------------------------- running
@contextmanager
def fresh_store(kind: str) -> Iterator[tuple[GraphStore, Path]]:
    """An empty store of ``kind`` and a folder for the input, both for one example."""
    with (
        tempfile.TemporaryDirectory() as folder,
        open_store(empty_store_settings(kind, Path(folder))) as store,
    ):
        yield store, Path(folder)


def run_case(
    store: GraphStore, folder: Path, case: Case, *, strict: bool, batch_size: int
) -> tuple[IngestReport | None, InputError | None, RecordingProgress]:
    data = folder / case.name
    data.write_bytes(case.data)
    mapping = folder / "items.toml"
    mapping.write_text(case.mapping)
    progress = RecordingProgress()
    try:
        report = ingest_path(
            store,
            data,
            mapping=mapping,
            encoding=case.encoding,
            strict=strict,
            batch_size=batch_size,
            progress=progress,
            fmt=case.fmt,
        )
    except InputError as error:
        return None, error, progress
    return report, None, progress


def stored_items(store: GraphStore) -> dict[str, dict[str, Any]]:
    """Every Item with its properties, read one property at a time so that no column
    with a null turns 64-bit integers into floats."""
    found = {key: dict.fromkeys(PROPERTIES) for key in store.query("MATCH (i:Item) RETURN i.id AS id")["id"]}
    for prop in PROPERTIES:
        frame = store.query(f"MATCH (i:Item) WHERE i.{prop} IS NOT NULL RETURN i.id AS id, i.{prop} AS v")
        for key, value in zip(frame["id"], frame["v"], strict=True):
            found[key][prop] = value.item() if hasattr(value, "item") else value
    return found


def expected_items(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """The rows folded in file order: a later present value overwrites, a missing one never erases."""
    items: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.node is None:
            continue
        item = items.setdefault(row.node["id"], dict.fromkeys(PROPERTIES))
        item.update({k: v for k, v in row.node.items() if k != "id" and v is not None})
    return items


def decodes_as_read(case: Case) -> bool | None:
    """Whether the file decodes with the encoding the ingest uses: True as generated,
    False not at all (an InputError is due), None to a different text (skip it)."""
    try:
        text = case.data.decode(case.encoding or "utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True if text == case.text else None


def check_outcome(store: GraphStore, folder: Path, case: Case, strict: bool, batch_size: int) -> None:
    readable = decodes_as_read(case)
    assume(readable is not None)
    bad = [row for row in case.rows if row.node is None]
    report, error, progress = run_case(store, folder, case, strict=strict, batch_size=batch_size)
    if not readable or (strict and bad):
        assert error is not None, "the run should have stopped"
        assert store.counts().total_nodes == 0, "a stopped run writes nothing"
        expected = "--encoding" if not readable else f"{case.name}:{bad[0].line}: "
        assert expected in str(error)
        return
    assert error is None, error
    assert report is not None
    assert [p.line for p in report.problems.kept] == [row.line for row in bad]
    for problem, row in zip(report.problems.kept, bad, strict=True):
        assert row.reason in problem.message, (problem, row.reason)
    assert stored_items(store) == expected_items(case.rows)
    assert store.counts().total_nodes == len(expected_items(case.rows)), "nothing but the items"
    assert (report.input_rows, report.loaded, report.rejected) == (
        len(case.rows),
        len(case.rows) - len(bad),
        len(bad),
    )
    assert (
        progress.done
        == progress.total
        == physical_lines(case.text) + (not case.text.endswith(("\n", "\r")) and case.text != "")
    )
    rejects = folder / f"{case.name}.rejects.csv"
    if bad:
        with rejects.open(newline="", encoding="utf-8") as handle:
            assert [int(r["line"]) for r in csv.DictReader(handle)] == [row.line for row in bad]
    else:
        assert not rejects.exists()


# ---------------------------------------------------------------------- the properties
@pytest.mark.parametrize("kind", STORES)
@FUZZ
@given(case=csv_cases(), strict=st.booleans(), batch_size=st.sampled_from([1, 2, 50_000]))
def test_csv_rows_are_stored_exactly_or_reported_with_their_line(
    kind: str, case: Case, strict: bool, batch_size: int
) -> None:
    with fresh_store(kind) as (store, folder):
        check_outcome(store, folder, case, strict, batch_size)


@pytest.mark.parametrize("kind", STORES)
@FUZZ
@given(case=jsonl_cases(), strict=st.booleans(), batch_size=st.sampled_from([1, 3, 50_000]))
def test_jsonl_records_are_stored_exactly_or_reported_with_their_line(
    kind: str, case: Case, strict: bool, batch_size: int
) -> None:
    with fresh_store(kind) as (store, folder):
        check_outcome(store, folder, case, strict, batch_size)


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize(
    ("name", "text", "nodes"),
    [
        (  # CI find: a later row without a year compared pd.NA with the stored 0
            "items.csv",
            "id,name,price,year,in_stock\na,,,0,\na,,,,\n",
            [{"id": "a", "year": 0}, {"id": "a"}],
        ),
        (
            "items.jsonl",
            '{"id": 0, "year": 0}\n{"id": 0, "in_stock": "0"}\n',
            [{"id": "0", "year": 0}, {"id": "0", "in_stock": False}],
        ),
    ],
)
def test_a_later_row_without_an_integer_keeps_the_stored_one(
    kind: str, name: str, text: str, nodes: list[dict[str, Any]]
) -> None:
    """Found by the fuzzing in CI: a missing value in a nullable Int64 column, one row per
    batch, crashed the change check of the embedded store instead of being skipped."""
    header = name.endswith(".csv")
    rows = [
        Row(line, node={p: None for p in PROPERTIES} | node)
        for line, node in zip(text.splitlines(True)[header:], nodes, strict=True)
    ]
    for number, row in enumerate(rows, start=1 + header):
        row.line = number
    case = Case(name, text.encode("utf-8"), text, rows=rows)
    with fresh_store(kind) as (store, folder):
        check_outcome(store, folder, case, strict=False, batch_size=1)


NOISE = st.text(
    st.one_of(
        st.sampled_from([*'"",,;\r\n\n\t \x00', "a", "1", "é"]),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=200,
)


@pytest.mark.parametrize("kind", STORES)
@FUZZ
@given(body=NOISE, delimiter=st.sampled_from([",", ";"]))
def test_any_text_is_loaded_or_reported_never_a_crash(kind: str, body: str, delimiter: str) -> None:
    """No model: whatever the text, the run ends in a report whose counts add up, whose
    problems point at real lines in order, and whose every stored item came from a loaded
    row -- or in an InputError with nothing stored."""
    text = delimiter.join(COLUMNS) + "\n" + body
    mapping = ("" if delimiter == "," else f'delimiter = "{delimiter}"\n') + MAPPING
    case = Case("noise.csv", text.encode("utf-8"), text, mapping=mapping)
    with fresh_store(kind) as (store, folder):
        report, error, progress = run_case(store, folder, case, strict=False, batch_size=2)
        if error is not None:
            assert store.counts().total_nodes == 0
            return
        assert report is not None
        lines = [p.line for p in report.problems.kept]
        assert lines == sorted(lines) and all(2 <= line <= physical_lines(text) + 1 for line in lines)
        assert report.input_rows == report.loaded + report.rejected
        assert store.counts().total_nodes <= report.loaded
        assert progress.done == progress.total
        assert all(key and key == key.strip() for key in stored_items(store))
