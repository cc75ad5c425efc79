"""The bad-input catalogue for structured ingest: every case gives a clear outcome.

Cases covered elsewhere: malformed JSONL, non-numeric values, wrong field counts,
missing ids, unknown mapping columns and labels (test_ingest_tabular.py); NaN/inf
ratings in MovieLens (test_ingest_movielens.py); dangling references
(test_ingest_tabular.py, test_ingest_movielens.py); hostile identifiers at the store
(test_schema.py, test_store_contract.py). The README's "Robustness" table lists them all.
The `kg` cases run the command in-process through Typer's CliRunner.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kg.errors import InputError
from kg.ingest import ingest_path
from kg.store import GraphStore
from tests.helpers import assert_clean_error, invoke

ITEMS = '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { name = "name", description = "description", price = "price" }\n'


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "items.toml"
    path.write_text(ITEMS)
    return path


def items(store: GraphStore) -> list[dict[str, object]]:
    frame = store.query("MATCH (i:Item) RETURN i.id AS id, i.name AS name, i.price AS price ORDER BY id")
    return frame.to_dict("records")


USERS = (
    '[nodes]\nlabel = "User"\nid = "id"\nproperties = { age = "age", gender = "gender", zip_code = "zip" }\n'
)


def zips(store: GraphStore) -> dict[str, str]:
    frame = store.query("MATCH (u:User) RETURN u.id AS id, u.zip_code AS zip ORDER BY id")
    return dict(zip(frame["id"], frame["zip"], strict=True))


def test_unterminated_quote_costs_only_its_own_row(store: GraphStore, tmp_path: Path) -> None:
    """It used to swallow the rest of the file into one zip code, and report "1 input rows"."""
    mapping = tmp_path / "users.toml"
    mapping.write_text(USERS)
    data = tmp_path / "users.csv"
    data.write_text('id,age,gender,zip\nU10,30,M,"12345\nU11,31,F,02139\nU12,32,M,10001\n')
    report = ingest_path(store, data, mapping=mapping)
    assert zips(store) == {"U11": "02139", "U12": "10001"}
    assert [str(p) for p in report.problems.kept] == ["users.csv:2: unterminated quoted field"]
    assert (report.input_rows, report.loaded, report.rejected) == (3, 2, 1)

    last = tmp_path / "last.csv"
    last.write_text('id,age,gender,zip\nU13,33,F,"02139\n')
    assert [str(p) for p in ingest_path(store, last, mapping=mapping).problems.kept] == [
        "last.csv:2: unterminated quoted field"
    ]
    assert "U13" not in zips(store), 'not stored as "02139\\n"'


def test_unterminated_quote_closed_by_a_later_row_is_found(
    store: GraphStore, tmp_path: Path, mapping: Path
) -> None:
    """The open quote meets the next row's quote: still one bad row, the rows after it load."""
    data = tmp_path / "items.csv"
    data.write_text(
        'sku,name,description,price\nA,ok,fine,1\nB,"broken,desc,2\nC,"lost, or not",x,3\nD,ok,y,4\n'
    )
    report = ingest_path(store, data, mapping=mapping)
    assert [row["id"] for row in items(store)] == ["A", "C", "D"]
    assert [str(p) for p in report.problems.kept] == [
        "items.csv:3: unterminated quoted field (the quote opened here is closed on line 4 by text that "
        "is not a delimiter)"
    ]


def test_strict_stops_at_an_unterminated_quote_with_nothing_written(
    store: GraphStore, tmp_path: Path
) -> None:
    mapping = tmp_path / "users.toml"
    mapping.write_text(USERS)
    data = tmp_path / "users.csv"
    data.write_text('id,age,gender,zip\nU9,29,F,02139\nU10,30,M,"12345\nU11,31,F,02139\n')
    with pytest.raises(
        InputError, match=r"users.csv:3: unterminated quoted field \(stopped because of --strict\)"
    ):
        ingest_path(store, data, mapping=mapping, strict=True)
    assert store.counts().total_nodes == 0


def test_a_stray_quote_inside_a_quoted_field_is_reported(
    store: GraphStore, tmp_path: Path, mapping: Path
) -> None:
    data = tmp_path / "items.csv"
    data.write_text('sku,name,description,price\nA,"say "hi"",x,1\nB,"say ""hi""",x,2\n')
    report = ingest_path(store, data, mapping=mapping)
    assert items(store) == [{"id": "B", "name": 'say "hi"', "price": 2.0}]
    assert [p.line for p in report.problems.kept] == [2]
    assert 'a quote inside a quoted field is written twice ("")' in report.problems.kept[0].message


def test_duplicate_ids_last_row_wins(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("sku,name,description,price\nA,first,,1\nB,b,,2\nA,second,,\n")
    ingest_path(store, data, mapping=mapping)
    # the second A row wins for name; its empty price does not erase the earlier 1.0
    assert items(store) == [
        {"id": "A", "name": "second", "price": 1.0},
        {"id": "B", "name": "b", "price": 2.0},
    ]
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
def test_empty_and_header_only_files_write_nothing(
    store: GraphStore, tmp_path: Path, mapping: Path, content: str
) -> None:
    data = tmp_path / "items.csv"
    data.write_text(content)
    report = ingest_path(store, data, mapping=mapping)
    assert store.counts().total_nodes == 0 and report.problems.count == 0


def test_nul_bytes_and_control_characters(store: GraphStore, tmp_path: Path, mapping: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_bytes(
        b"sku,name,description,price\nA,tab\there,,1\nB,nul\x00byte,,2\nC,bell\x07 `tick` 'q',,3\n"
    )
    report = ingest_path(store, data, mapping=mapping)
    names = {row["id"]: row["name"] for row in items(store)}
    assert names["A"] == "tab\there" and names["C"] == "bell\x07 `tick` 'q'"
    assert "B" not in names and "NUL" in str(report.problems.kept[0])


RATINGS = (
    '[edges]\nrel = "RATED"\nfrom = { label = "User", column = "user" }\n'
    'to = { label = "Item", column = "item" }\nproperties = { rating = "rating" }\n'
)


def ratings(store: GraphStore) -> dict[tuple[str, str], float]:
    frame = store.query("MATCH (u:User)-[r:RATED]->(i:Item) RETURN u.id AS u, i.id AS i, r.rating AS rating")
    return {(row.u, row.i): row.rating for row in frame.itertuples()}


def ingest_ratings(store: GraphStore, data: Path, text: str, batch_size: int = 50_000) -> list[str]:
    """Write ``text`` to ``data``, load it as RATED edges; the problems reported."""
    data.write_text(text)
    mapping = data.with_suffix(".toml")
    mapping.write_text(RATINGS)
    return [str(p) for p in ingest_path(store, data, mapping=mapping, batch_size=batch_size).problems.kept]


def test_nan_and_inf_ratings_in_csv_are_skipped_and_reported(store: GraphStore, tmp_path: Path) -> None:
    text = "user,item,rating\nu1,i1,4\nu1,i2,nan\nu1,i3,inf\nu1,i4,-Infinity\nu1,i5,1e400\nu2,i1,NaN\nu2,i2, 3 \n"
    problems = ingest_ratings(store, tmp_path / "ratings.csv", text)
    assert ratings(store) == {("u1", "i1"): 4.0, ("u2", "i2"): 3.0}
    assert problems == [
        "ratings.csv:3: column 'rating': 'nan' is not a finite number",
        "ratings.csv:4: column 'rating': 'inf' is not a finite number",
        "ratings.csv:5: column 'rating': '-Infinity' is not a finite number",
        "ratings.csv:6: column 'rating': '1e400' is not a finite number",  # overflows to inf
        "ratings.csv:7: column 'rating': 'NaN' is not a finite number",
    ]


def test_nan_and_infinity_literals_in_jsonl_are_invalid_json(store: GraphStore, tmp_path: Path) -> None:
    """Python's json reads NaN, which JSON does not allow; taken as a missing value, the
    edge would load without its rating."""
    rows = [
        '{"user": "u1", "item": "i1", "rating": NaN}',
        '{"user": "u1", "item": "i2", "rating": -Infinity}',
    ]
    rows += [
        json.dumps({"user": "u1", "item": "i3", "rating": 4.5}),
        '{"user": "u1", "item": "i4", "rating": 1e400}',
    ]
    problems = ingest_ratings(store, tmp_path / "ratings.jsonl", "\n".join(rows) + "\n")
    assert ratings(store) == {("u1", "i3"): 4.5}
    assert problems == [
        "ratings.jsonl:1: invalid JSON: NaN is not a JSON value (numbers must be finite)",
        "ratings.jsonl:2: invalid JSON: -Infinity is not a JSON value (numbers must be finite)",
        "ratings.jsonl:4: column 'rating': inf is not a finite number",
    ]


def test_ids_that_are_not_scalars_are_reported(store: GraphStore, tmp_path: Path) -> None:
    rows = [{"user": ["u1"], "item": "i1", "rating": 1}, {"user": {"id": "u1"}, "item": "i1", "rating": 1}]
    rows += [{"user": 7, "item": "i1", "rating": 2}]
    problems = ingest_ratings(
        store, tmp_path / "ratings.jsonl", "".join(json.dumps(row) + "\n" for row in rows)
    )
    assert ratings(store) == {("7", "i1"): 2.0}
    assert problems == [
        "ratings.jsonl:1: id in column 'user' must be a string or number, not a list",
        "ratings.jsonl:2: id in column 'user' must be a string or number, not a dict",
    ]


def test_duplicate_relationships_last_row_wins_across_batches(store: GraphStore, tmp_path: Path) -> None:
    text = "user,item,rating\nu1,i1,4\nu1,i2,2\nu2,i1,1\nu1,i1,5\nu1,i2,\n"
    ingest_ratings(store, tmp_path / "ratings.csv", text, batch_size=2)  # the repeats land in later batches
    # one edge per (user, item); the later 5 wins, the later empty rating erases nothing
    assert ratings(store) == {("u1", "i1"): 5.0, ("u1", "i2"): 2.0, ("u2", "i1"): 1.0}
    assert store.counts().relationships["RATED"] == 3


HOSTILE = ["x'}) DETACH DELETE n //", 'say "hi"', "tick`]->() DELETE r //", "back\\slash $param {x}"]


def test_quotes_and_backticks_in_values_round_trip_as_data(tmp_path: Path) -> None:
    data = tmp_path / "items.csv"
    with data.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["sku", "name", "brand"])
        out.writerows([value, value, value] for value in HOSTILE)
    mapping = tmp_path / "items.toml"
    mapping.write_text(
        '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { name = "name" }\n'
        'links = [{ rel = "HAS_BRAND", label = "Brand", column = "brand" }]\n'
    )
    store = ["--store", str(tmp_path / "graph")]
    loaded = invoke(*store, "ingest", str(data), "--mapping", str(mapping))
    assert loaded.exit_code == 0, loaded.stderr
    for value in HOSTILE:
        found = invoke(
            *store,
            "query",
            "MATCH (i:Item {id: $id})-[:HAS_BRAND]->(b:Brand) RETURN i.name, b.name",
            "-p",
            f"id={value}",
        )
        assert found.exit_code == 0, found.stderr
        assert found.stdout.count(value) == 2, found.stdout  # the item name and the brand name
    stats = invoke(*store, "stats")
    assert "8 nodes" in " ".join(stats.stdout.split())  # 4 items, 4 brands: nothing deleted


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        (
            '[nodes]\nlabel = "Item`) DETACH DELETE n //"\nid = "sku"\n',
            "Label 'Item`) DETACH DELETE n //' is not allowed",
        ),
        (
            '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { "name` = 1 DETACH DELETE n //" = "name" }\n',
            "are not declared for Item",
        ),
        (
            '[nodes]\nlabel = "Item"\nid = "sku"\nlinks = [{ rel = "HAS_BRAND", label = "Brand`]->() DELETE n //", column = "brand" }]\n',
            "Label 'Brand`]->() DELETE n //' is not allowed",
        ),
        (
            '[edges]\nrel = "X`]->() DETACH DELETE n//"\nfrom = { label = "User", column = "sku" }\nto = { label = "Item", column = "name" }\n',
            "Relationship type 'X`]->() DETACH DELETE n//' is not allowed",
        ),
        (
            '[nodes]\nlabel = "Item"\nid = "sku"\nconstants = { "kind`: 1}) DELETE n //" = "x" }\n',
            "are not declared for Item",
        ),
    ],
    ids=["node label", "property", "link label", "relationship type", "constant"],
)
def test_hostile_names_in_a_mapping_are_refused_before_writing(
    tmp_path: Path, mapping: str, fragment: str
) -> None:
    data = tmp_path / "items.csv"
    data.write_text("sku,name,brand\nA,Lamp,Voltix\n")
    hostile = tmp_path / "hostile.toml"
    hostile.write_text(mapping)
    store = ["--store", str(tmp_path / "graph")]
    assert_clean_error(invoke(*store, "ingest", str(data), "--mapping", str(hostile)), fragment)
    assert not (tmp_path / "graph").exists(), "refused before any store was opened"


@pytest.mark.parametrize(
    "extension",
    [
        '[schema_extension.nodes."Shop`) DETACH DELETE n //"]\nproperties = { name = "STRING" }\n',
        '[schema_extension.nodes.Shop]\nproperties = { "name` STRING, evil" = "STRING" }\n',
        '[schema_extension.rels."SOLD`]->() DELETE r //"]\nendpoints = [["Item", "Item"]]\n',
    ],
    ids=["label", "property", "relationship type"],
)
def test_hostile_names_in_the_schema_extension_are_refused(tmp_path: Path, extension: str) -> None:
    config = tmp_path / "kg.toml"
    config.write_text(extension)
    assert_clean_error(
        invoke("--config", str(config), "--store", str(tmp_path / "graph"), "stats"), "is not allowed"
    )
    assert not (tmp_path / "graph").exists()


def test_text_that_looks_like_terminal_markup_is_shown_as_written(tmp_path: Path) -> None:
    """Values are printed as data: ``[red]`` stays visible and ``[/]`` cannot break the output."""
    data = tmp_path / "items.csv"
    data.write_text("sku,name,price\nA,[red]Lamp[/red],1\nB,oops [/] x,2\nC,x,[/x]\n")
    mapping = tmp_path / "items.toml"
    mapping.write_text(
        '[nodes]\nlabel = "Item"\nid = "sku"\nproperties = { name = "name", price = "price" }\n'
    )
    store = ["--store", str(tmp_path / "graph")]
    loaded = invoke(*store, "ingest", str(data), "--mapping", str(mapping))
    assert loaded.exit_code == 0, loaded.stderr
    assert "items.csv:4: column 'price': '[/x]' is not a number" in " ".join(loaded.stdout.split())
    shown = invoke(*store, "query", "MATCH (i:Item) RETURN i.name AS name ORDER BY i.id")
    assert shown.exit_code == 0, shown.stderr
    assert "[red]Lamp[/red]" in shown.stdout and "oops [/] x" in shown.stdout


def test_values_json_escapes_but_the_graph_cannot_hold_are_reported(
    store: GraphStore, tmp_path: Path
) -> None:
    """Found by fuzzing: JSON may escape a NUL or half a surrogate pair, nest lists past
    the parser's limit, or write an integer too large for a float; each used to stop the
    whole run with a traceback (or reach the store)."""
    rows = [
        '{"user": "u1", "item": "i1", "rating": 1, "note": "nul \\u0000 here"}',
        '{"user": "u\\ud800", "item": "i1", "rating": 1}',
        '{"user": "u1", "item": "i2", "rating": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"user": "u1", "item": "i3", "rating": 1' + "0" * 400 + "}",
        '{"user": true, "item": "i4", "rating": 1}',
        '{"user": "u1", "item": "i5", "rating": 5}',
    ]
    problems = ingest_ratings(store, tmp_path / "ratings.jsonl", "\n".join(rows) + "\n")
    assert ratings(store) == {("u1", "i5"): 5.0}
    assert [p.split(": ", 1)[0] for p in problems] == [f"ratings.jsonl:{n}" for n in (1, 2, 3, 4, 5)]
    assert "NUL" in problems[0] and "surrogate" in problems[1] and "nested too deeply" in problems[2]
    assert "not a finite number" in problems[3] and "not a bool" in problems[4]


def test_failed_input_checks_create_no_store_and_print_no_blank_line(tmp_path: Path) -> None:
    """A folder that is not MovieLens, a file in the wrong encoding, an unknown format or
    encoding: one error line first thing on stderr, and no store folder left behind."""
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "u.data").write_text("1\t1\t5\t881250949\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"sku,name,description,price\nA,Cr\xe8me,,1\n")
    mapping = tmp_path / "items.toml"
    mapping.write_text(ITEMS)
    graph = tmp_path / "graph"
    for args, fragment in [
        ((str(tmp_path / "ml"), "--format", "movielens"), "missing u.item"),
        ((str(latin), "--mapping", str(mapping)), "pass --encoding"),
        ((str(latin), "--mapping", str(mapping), "--format", "xlsx"), "Unknown format 'xlsx'"),
        ((str(latin), "--mapping", str(mapping), "--encoding", "utf-9"), "Unknown text encoding 'utf-9'"),
    ]:
        result = invoke("--store", str(graph), "ingest", *args)
        assert_clean_error(result, fragment)
        assert result.stderr.startswith("error:"), repr(result.stderr[:80])
        assert not graph.exists(), args


def test_kg_ingest_honours_format_and_shows_bad_rows_and_the_rejects_file(tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text("sku\tname\tdescription\tprice\nA\tLamp\t\t1\nB\tBad\t\tcheap\nC\tRug\t\t3\n")
    mapping = tmp_path / "items.toml"
    mapping.write_text(ITEMS)
    result = invoke(
        "--store", str(tmp_path / "graph"), "ingest", str(data), "--mapping", str(mapping), "--format", "tsv"
    )
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert "3 input rows: 2 loaded, 1 rejected;" in shown
    assert "x.csv:3: column 'price': 'cheap' is not a number" in shown
    assert f"{tmp_path / 'x.csv.rejects.csv'}" in result.stdout.replace("\n", "")
