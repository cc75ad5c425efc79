"""`kg query` is read-only unless --write, and credentials are never printed or logged.

The credential checks run everywhere: the real neo4j driver talks to a stand-in Bolt
server on loopback that answers the login the way Neo4j does when the password is wrong.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.config import load_settings
from kg.errors import ConfigError, StoreError
from kg.store import open_store
from tests.helpers import assert_clean_error, kg, kg_ingest

PASSWORD = "Sup3r-s3cret-pw"


WRITES = [
    "CREATE (:User {id: 'intruder'})",
    "MERGE (u:User {id: 'intruder'}) RETURN u.id",
    "MATCH (n) DETACH DELETE n",
    "MATCH (u:User) SET u.name = 'x' RETURN u.id",
    "COPY User FROM 'USERS'",
    "DROP TABLE User",
    "ALTER TABLE User ADD evil STRING",
]


def user_names(options: list[str]) -> str:
    result = kg(*options, "query", "MATCH (u:User) RETURN u.id AS id, u.name AS name ORDER BY id")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_kg_query_is_read_only_unless_write(tmp_path: Path) -> None:
    mapping = '[nodes]\nlabel = "User"\nid = "user_id"\nproperties = { name = "name" }\n'
    options = kg_ingest(tmp_path, "user_id,name\nu1,Ada\nu2,Alan\n", mapping)
    before = user_names(options)
    for statement in WRITES:
        refused = kg(*options, "query", statement.replace("USERS", str(tmp_path / "rows.csv")))
        assert_clean_error(refused, "read-only unless you pass --write")
    assert user_names(options) == before and "u1 │ Ada" in before and "u2 │ Alan" in before
    # not graph writes, so a read-only transaction would run them: downloading or loading
    # native code, writing files
    for statement in (
        "INSTALL json",
        "/* a comment */ LOAD EXTENSION '/tmp/x.so'",
        f"EXPORT DATABASE '{tmp_path}/dump'",
    ):
        assert_clean_error(kg(*options, "query", statement), "reaches outside the graph", "--write")
    assert not (tmp_path / "dump").exists()
    read = kg(*options, "query", f"LOAD FROM '{tmp_path / 'rows.csv'}' (header = true) RETURN count(*) AS n")
    assert_clean_error(read, "reaches outside the graph", "--write")  # reading files too (issue 11)
    created = kg(*options, "query", "CREATE (:User {id: 'u3', name: 'Grace'})", "--write")
    assert created.returncode == 0, created.stderr
    assert "u3 │ Grace" in user_names(options)


# ---------------------------------------------------------------------- credentials
def _pack_string(text: str) -> bytes:
    data = text.encode()
    return bytes([0x80 | len(data)]) + data if len(data) < 16 else bytes([0xD0, len(data)]) + data


def _failure(code: str, message: str) -> bytes:
    """A Bolt FAILURE message, chunked: struct 0x7F holding {code, message}."""
    body = bytes([0xB1, 0x7F, 0xA2]) + b"".join(map(_pack_string, ("code", code, "message", message)))
    return struct.pack(">H", len(body)) + body + b"\x00\x00"


def _refuse_logins(server: socket.socket, received: list[bytes]) -> None:
    """Agree on Bolt 4.4, read HELLO (which carries the credentials), answer Unauthorized."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # closed at the end of the test
            return
        with conn:
            conn.recv(20, socket.MSG_WAITALL)  # magic preamble + four proposed versions
            conn.sendall(b"\x00\x00\x04\x04")
            hello = b""
            while size := struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))[0]:
                hello += conn.recv(size, socket.MSG_WAITALL)
            received.append(hello)
            conn.sendall(
                _failure(
                    "Neo.ClientError.Security.Unauthorized",
                    "The client is unauthorized due to authentication failure.",
                )
            )
            conn.recv(1024)


@pytest.fixture
def bolt_refusing_logins() -> Iterator[tuple[str, list[bytes]]]:
    """A bolt:// URI whose server turns every login down, and the HELLO messages it got."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    received: list[bytes] = []
    threading.Thread(target=_refuse_logins, args=(server, received), daemon=True).start()
    yield f"bolt://127.0.0.1:{server.getsockname()[1]}", received
    server.close()


def test_a_wrong_neo4j_password_is_one_line_without_the_password(
    bolt_refusing_logins: tuple[str, list[bytes]],
) -> None:
    uri, received = bolt_refusing_logins
    result = kg("stats", env={"KG_STORE": uri, "KG_NEO4J_PASSWORD": PASSWORD, "KG_DEBUG": ""})
    assert_clean_error(result, f"Neo4j at {uri} refused the credentials of user 'neo4j'", "KG_NEO4J_PASSWORD")
    assert PASSWORD not in result.stdout + result.stderr
    assert received and PASSWORD.encode() in received[0], "the password did reach the server"


def test_the_driver_log_masks_the_password(
    bolt_refusing_logins: tuple[str, list[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    uri, _ = bolt_refusing_logins
    caplog.set_level(logging.DEBUG)  # everything the driver logs, HELLO included
    with pytest.raises(StoreError, match="refused the credentials") as refused:
        open_store(load_settings(store=uri, neo4j_password=PASSWORD))
    assert "HELLO" in caplog.text and PASSWORD not in caplog.text
    assert PASSWORD not in str(refused.value) and PASSWORD not in repr(refused.value.__cause__)


def test_credentials_inside_a_neo4j_uri_are_refused_without_echoing_them() -> None:
    uri = f"neo4j+s://neo4j:{PASSWORD}@example.databases.neo4j.io"
    with pytest.raises(ConfigError, match="must not hold credentials") as refused:
        load_settings(store=uri)
    assert PASSWORD not in str(refused.value)
    result = kg("stats", env={"KG_STORE": uri})
    assert_clean_error(result, "must not hold credentials", "KG_NEO4J_PASSWORD")
    assert PASSWORD not in result.stdout + result.stderr


def test_a_password_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text(f'store = "bolt://localhost:7687"\nneo4j_password = "{PASSWORD}"\n')
    with pytest.raises(ConfigError, match="KG_NEO4J_PASSWORD environment variable") as refused:
        load_settings(config)
    assert PASSWORD not in str(refused.value)
