"""`kg query` without --write: nothing outside the graph is read or written, on either store.

One case per statement kind the embedded engine accepts that touches files, native code,
other databases or engine settings (issue 11, item 2: `COPY (...) TO` overwrote a file
and `LOAD FROM` read /etc/hostname while a query was "read-only")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kg.config import Settings
from kg.errors import StoreError
from kg.store import open_store
from kg.store.cypher_tokens import code_words, parameter_names
from kg.store.read_only_guard import EMBEDDED_RULES, NEO4J_RULES, refuse_outside_access
from tests.neo4j_server import empty_store_settings

PRECIOUS = "precious user data\n"

# statement kind -> statement; {dir} is a scratch folder holding precious.csv
EMBEDDED_OUTSIDE = {
    "copy to a file": "COPY (MATCH (u:User) RETURN u.id LIMIT 2) TO '{dir}/precious.csv'",
    "copy from a file": "COPY User FROM '{dir}/precious.csv'",
    "load from a file": "LOAD FROM '/etc/hostname' (header = false) RETURN *",
    "load from after match": "MATCH (u:User) WITH u LOAD FROM '{dir}/precious.csv' RETURN *",
    "table function reading a file": "CALL read_csv_serial('{dir}/precious.csv') RETURN *",
    "file info": "CALL file_info('{dir}/precious.csv') RETURN *",
    "install an extension": "INSTALL json",
    "load an extension": "/* comment first */ LOAD EXTENSION '{dir}/x.so'",
    "uninstall an extension": "UNINSTALL json",
    "update an extension": "UPDATE json",
    "export the database": "EXPORT DATABASE '{dir}/dump'",
    "import a database": "IMPORT DATABASE '{dir}/dump'",
    "attach a database": "ATTACH '{dir}/other' AS other (dbtype lbug)",
    "detach a database": "DETACH other",
    "use a database": "USE other",
    "change a setting": "CALL threads = 1",
    "checkpoint": "CHECKPOINT",
    "create a macro": "CREATE MACRO m(x) AS x + 1",
    "create a sequence": "CREATE SEQUENCE s",
    "comment on a table": "COMMENT ON TABLE User IS 'x'",
    "begin a transaction": "BEGIN TRANSACTION",
}


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.csv").write_text(PRECIOUS)
    return folder


@pytest.mark.parametrize("kind", sorted(EMBEDDED_OUTSIDE))
def test_embedded_read_only_query_refuses(kind: str, settings: Settings, scratch: Path) -> None:
    statement = EMBEDDED_OUTSIDE[kind].format(dir=scratch)
    with open_store(settings) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ["u1", "u2"], "name": ["Ada", "Alan"]}))
        with pytest.raises(StoreError, match="--write"):
            store.query(statement)
        assert store.query("MATCH (u:User) RETURN count(*) AS n")["n"][0] == 2
    assert (scratch / "precious.csv").read_text() == PRECIOUS
    assert sorted(p.name for p in scratch.iterdir()) == ["precious.csv"], "nothing written beside it"


@pytest.mark.parametrize(
    "statement",
    [
        "MATCH (u:User) WHERE u.name = 'LOAD FROM /etc/hostname' RETURN u.id",  # keywords inside data
        "MATCH (u:User) RETURN u.id AS `COPY` // COPY (x) TO 'y'",
        "CALL show_tables() RETURN name",
        "EXPLAIN MATCH (u:User) RETURN u.id",
        "UNWIND [1, 2] AS x RETURN x",
    ],
)
def test_embedded_read_queries_still_run(statement: str, settings: Settings) -> None:
    with open_store(settings) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ["u1"], "name": ["Ada"]}))
        assert isinstance(store.query(statement), pd.DataFrame)


@pytest.mark.parametrize("kind", ["ladybug", "neo4j"])
def test_the_same_statements_are_allowed_with_write(kind: str, tmp_path: Path, scratch: Path) -> None:
    with open_store(empty_store_settings(kind, tmp_path)) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ["u1"], "name": ["Ada"]}))
        statement = "MATCH (u:User) RETURN u.id AS id"
        assert store.query(statement, write=True)["id"].tolist() == ["u1"]


NEO4J_OUTSIDE = [
    "LOAD CSV FROM 'file:///etc/hostname' AS row RETURN row",
    "CALL apoc.load.json('file:///etc/hostname') YIELD value RETURN value",
    "CALL apoc.export.csv.all('/tmp/x.csv', {})",
    "CALL apoc.import.csv([], [], {})",
    "RETURN apoc . load . jsonParams('http://example.invalid', {}, null)",
    "CREATE (:User {id: 'x'})",
]


@pytest.mark.parametrize("statement", NEO4J_OUTSIDE)
def test_neo4j_rules_refuse_files_and_urls(statement: str) -> None:
    with pytest.raises(StoreError, match="--write"):
        refuse_outside_access(statement, NEO4J_RULES)


def test_neo4j_rules_allow_reads_and_vector_search() -> None:
    for statement in (
        "MATCH (n) RETURN count(n)",
        "CALL db.index.vector.queryNodes('idx', 5, $v) YIELD node, score RETURN node.id, score",
        "SHOW INDEXES",
        "MATCH (n {name: 'LOAD CSV'}) RETURN n",
    ):
        refuse_outside_access(statement, NEO4J_RULES)


def test_tokens_skip_strings_comments_and_quoted_names() -> None:
    words = code_words("MATCH (n {name: 'LOAD \\' FROM'}) // COPY\nRETURN n.`COPY` /* INSTALL */, \"EXPORT\"")
    assert words == ["MATCH", "n", "name", "'", "RETURN", "n", "'", "'"]
    assert parameter_names("MATCH (n) WHERE n.id = $id AND n.y < $`y` RETURN '$not' LIMIT $k") == {
        "id",
        "y",
        "k",
    }
    refuse_outside_access("", EMBEDDED_RULES)  # nothing to refuse
