"""The `kg` command as a user runs it: real processes, real store, clear errors."""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cypher import list_queries
from tests.helpers import MOVIELENS, assert_clean_error, kg, require
from tests.neo4j_server import neo4j_env


@pytest.fixture
def mapped_file(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "users.csv"
    data.write_text("user_id,name,age\nu1,Ada,36\nu2,Alan,41\nu3,Grace,oops\n")
    mapping = tmp_path / "users.toml"
    mapping.write_text(
        '[nodes]\nlabel = "User"\nid = "user_id"\nproperties = { name = "name", age = "age" }\n'
    )
    return data, mapping


def test_ingest_stats_query_round_trip(tmp_path: Path, mapped_file: tuple[Path, Path]) -> None:
    data, mapping = mapped_file
    store = ["--store", str(tmp_path / "g")]
    first = kg(*store, "ingest", str(data), "--mapping", str(mapping))
    assert first.returncode == 0, first.stderr
    shown = " ".join(first.stdout.split())
    assert "users.csv:4: column 'age': the value (personal data, not shown) is not an integer" in shown
    assert "oops" not in shown  # age is personal data: its value is never printed
    second = kg(*store, "ingest", str(data), "--mapping", str(mapping))
    assert second.returncode == 0
    stats = kg(*store, "stats")
    assert stats.returncode == 0 and "│ User " in stats.stdout and "2 nodes" in stats.stdout

    found = kg(*store, "query", "MATCH (u:User) WHERE u.age > $a RETURN u.name AS name", "-p", "a=40")
    assert found.returncode == 0 and "Alan" in found.stdout and "Ada" not in found.stdout

    write_refused = kg(*store, "query", "MATCH (u:User) SET u.name = 'x'")
    assert_clean_error(write_refused, "read-only unless you pass --write")
    written = kg(*store, "query", "MATCH (u:User {id: 'u1'}) SET u.name = 'Ada L.' RETURN u.name", "--write")
    assert written.returncode == 0 and "Ada L." in written.stdout


def test_library_queries_listed_and_run(tmp_path: Path, mapped_file: tuple[Path, Path]) -> None:
    listing = kg("query", "--list")
    assert listing.returncode == 0, listing.stderr
    listed = re.findall(r"^│ (\S+)\s+│[^│]*│ (yes|Neo4j only)\s+│", listing.stdout, re.M)
    assert listed == [(q.name, "yes" if q.portable else "Neo4j only") for q in list_queries()], listing.stdout
    store = ["--store", str(tmp_path / "g")]
    assert kg(*store, "ingest", str(mapped_file[0]), "--mapping", str(mapped_file[1])).returncode == 0
    purchases, edges = tmp_path / "purchases.csv", tmp_path / "purchases.toml"
    purchases.write_text("user,item,amount\nu2,i1,5.0\nu2,i2,7.5\nu1,i1,30.0\nu3,i3,1.0\n")
    edges.write_text(
        '[edges]\nrel = "PURCHASED"\nfrom = { label = "User", column = "user" }\n'
        'to = { label = "Item", column = "item" }\nproperties = { amount = "amount" }\n'
    )
    assert kg(*store, "ingest", str(purchases), "--mapping", str(edges)).returncode == 0
    top = kg(*store, "query", "top-customers", "-p", "k=2")
    assert top.returncode == 0, top.stderr
    rows = re.findall(r"│\s*(u\d)\s*│\s*(\w*)\s*│\s*(\d+)\s*│\s*([\d.]+)\s*│", top.stdout)
    assert rows == [("u2", "Alan", "2", "12.5"), ("u1", "Ada", "1", "30")], top.stdout
    assert_clean_error(kg(*store, "query", "top-customers", "-p", "k=many"), "Parameter k", "not an integer")
    assert_clean_error(kg(*store, "query", "no-such-query"), "No query named 'no-such-query'")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["ingest", "missing.csv", "--mapping", "m.toml"], ["missing.csv does not exist"]),
        (["ingest", "USERS", "--format", "xml"], ["Unknown format 'xml'"]),
        (["ingest", "USERS"], ["needs a mapping file"]),
        (["query", "MATCH (n:`Bad`) RETURN n"], ["Query failed"]),
        (["query", "MATCH (n) RETURN n; MATCH (n) DETACH DELETE n", "--write"], ["one Cypher statement"]),
        (["query", "x", "-p", "novalue"], ["must look like name=value"]),
        (["datasets", "load", "imagenet"], ["Unknown dataset 'imagenet'"]),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, mapped_file: tuple[Path, Path], args: list[str], fragments: list[str]
) -> None:
    args = [str(mapped_file[0]) if a == "USERS" else a for a in args]
    kg("--store", str(tmp_path / "g"), "ingest", str(mapped_file[0]), "--mapping", str(mapped_file[1]))
    assert_clean_error(kg("--store", str(tmp_path / "g"), *args, cwd=tmp_path), *fragments)


def test_reading_a_store_that_does_not_exist(tmp_path: Path) -> None:
    assert_clean_error(kg("--store", str(tmp_path / "nothing"), "stats"), "No graph at", "kg ingest")


def test_unreachable_neo4j_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = kg("stats", env={"KG_STORE": f"bolt://127.0.0.1:{port}", "KG_NEO4J_PASSWORD": "pw"})
    assert_clean_error(result, f"Cannot reach Neo4j at bolt://127.0.0.1:{port}")
    assert "pw" not in result.stderr.replace("pw'", "")


def test_neo4j_without_password_says_which_variable() -> None:
    assert_clean_error(kg("stats", env={"KG_STORE": "neo4j://127.0.0.1:1"}), "set KG_NEO4J_PASSWORD")


def test_wrong_neo4j_password_is_a_clear_error() -> None:
    result = kg("stats", env=neo4j_env(KG_NEO4J_PASSWORD="definitely-wrong-password"))
    assert_clean_error(result, "refused the credentials")
    assert "definitely-wrong-password" not in result.stderr


def test_schema_and_help() -> None:
    schema = kg("schema", "--json")
    assert schema.returncode == 0 and '"RATED"' in schema.stdout
    help_text = kg("--help")
    assert help_text.returncode == 0
    for command in ("demo", "ingest", "stats", "schema", "query", "datasets"):
        assert command in help_text.stdout
    ingest_help = kg("ingest", "--help")
    assert "--dangling" in ingest_help.stdout and "--strict" in ingest_help.stdout


@pytest.fixture
def movielens_zip_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving an ml-100k.zip, as GroupLens does."""
    archive = tmp_path / "site" / "ml-100k.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in ("u.data", "u.item", "u.user", "u.genre", "u.occupation"):
            bundle.write(require(MOVIELENS) / name, f"ml-100k/{name}")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(archive.parent))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ml-100k.zip"
    server.shutdown()


def test_datasets_download_and_local_path(tmp_path: Path, movielens_zip_server: str) -> None:
    downloaded = kg(
        "--store",
        str(tmp_path / "a"),
        "datasets",
        "load",
        "movielens-100k",
        "--url",
        movielens_zip_server,
        cwd=tmp_path,
    )
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "kg-data" / "datasets" / "ml-100k" / "u.data").is_file()
    assert "100,000" in downloaded.stdout

    local = tmp_path / "copy"
    shutil.copytree(require(MOVIELENS), local)
    from_path = kg("--store", str(tmp_path / "b"), "datasets", "load", "movielens-100k", "--path", str(local))
    assert from_path.returncode == 0 and "943" in from_path.stdout

    offline = kg(
        "--store",
        str(tmp_path / "c"),
        "datasets",
        "load",
        "movielens-100k",
        "--url",
        "http://127.0.0.1:9/none.zip",
        cwd=tmp_path / "copy",
    )
    assert_clean_error(offline, "Cannot download", "--path")
