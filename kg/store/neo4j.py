"""Neo4j 5 graph store over the official ``neo4j`` driver (Bolt, routing and TLS URIs).

Writes are ``UNWIND $rows`` batches with ``MERGE`` on uniquely-constrained keys, so an
upsert is idempotent and safe to repeat. Labels, relationship types and property names
are schema-validated identifiers placed in backticks; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import neo4j
import pandas as pd
from neo4j import GraphDatabase, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConfigurationError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
)

from kg.errors import InputError, StoreError
from kg.schema import Schema
from kg.store.base import (
    DEFAULT_EXPORT_BATCH,
    FROM_ID,
    TO_ID,
    GraphCounts,
    GraphStore,
    UpsertResult,
    declare_written_properties,
    prepare_node_batch,
    prepare_rel_batch,
    records_for_driver,
)

WRITE_CHUNK = 10_000


def q(name: str) -> str:
    """Backtick-quote an identifier that the schema has already validated."""
    return f"`{name}`"


class Neo4jStore(GraphStore):
    """A graph on a Neo4j 5 server, cluster or Aura instance."""

    name = "neo4j"

    def __init__(
        self,
        uri: str,
        schema: Schema,
        *,
        user: str,
        password: str | None,
        database: str = "neo4j",
        read_only: bool = False,
    ) -> None:
        self.schema = schema
        self.uri = uri
        self.database = database
        self.read_only = read_only
        if password is None:
            raise StoreError("KG_STORE points at Neo4j; set KG_NEO4J_PASSWORD (and KG_NEO4J_USER).")
        try:
            self._driver = GraphDatabase.driver(uri, auth=(user, password))
            self._driver.verify_connectivity()
        except AuthError as exc:
            self._driver.close()
            raise StoreError(
                f"Neo4j at {uri} refused the credentials of user {user!r}; check KG_NEO4J_USER "
                "and KG_NEO4J_PASSWORD."
            ) from exc
        except (ServiceUnavailable, OSError) as exc:
            raise StoreError(
                f"Cannot reach Neo4j at {uri}: is the server running and the port open? ({exc})"
            ) from exc
        except (ConfigurationError, ValueError) as exc:
            raise StoreError(f"Invalid Neo4j URI {uri!r}: {exc}") from exc
        except (Neo4jError, DriverError) as exc:
            raise StoreError(f"Cannot connect to Neo4j at {uri}: {exc}") from exc

    def close(self) -> None:
        driver = getattr(self, "_driver", None)
        if driver is not None:
            driver.close()
            self._driver = None

    # ------------------------------------------------------------------ low level
    def _execute(
        self, cypher: str, params: dict[str, Any] | None = None, *, read: bool = False
    ) -> neo4j.EagerResult:
        try:
            return self._driver.execute_query(
                cypher,
                parameters_=params or {},
                database_=self.database,
                routing_=RoutingControl.READ if read else RoutingControl.WRITE,
            )
        except ClientError as exc:
            raise StoreError(f"Neo4j rejected a statement ({exc.code}): {exc.message}") from exc
        except (Neo4jError, DriverError) as exc:
            raise StoreError(f"Neo4j error: {exc}") from exc

    def _write_chunks(
        self, cypher: str, rows: pd.DataFrame, *, require_all: str | None = None
    ) -> list[neo4j.Record]:
        """Run ``cypher`` over ``rows`` in chunks, one transaction per chunk.

        With ``require_all`` (an error message), a chunk whose ``total`` is smaller than
        its row count is rolled back and the message raised: some rows matched nothing.
        """
        records: list[neo4j.Record] = []

        def work(tx: neo4j.ManagedTransaction, chunk: list[dict[str, Any]]) -> list[neo4j.Record]:
            result = list(tx.run(cypher, rows=chunk))
            if require_all and sum(r["total"] for r in result) < len(chunk):
                raise InputError(require_all)
            return result

        with self._driver.session(database=self.database) as session:
            for start in range(0, len(rows), WRITE_CHUNK):
                chunk = records_for_driver(rows.iloc[start : start + WRITE_CHUNK])
                try:
                    records.extend(session.execute_write(work, chunk))
                except ClientError as exc:
                    raise StoreError(f"Neo4j rejected a statement ({exc.code}): {exc.message}") from exc
                except (Neo4jError, DriverError) as exc:
                    raise StoreError(f"Neo4j error: {exc}") from exc
        return records

    # ------------------------------------------------------------------ schema
    def ensure_schema(self) -> None:
        """A uniqueness constraint per keyed label (which also gives MERGE its index)."""
        if self.read_only:
            return
        for label, node in self.schema.nodes.items():
            self._execute(
                f"CREATE CONSTRAINT {q(_constraint_name(label))} IF NOT EXISTS "
                f"FOR (n:{q(label)}) REQUIRE n.{q(node.key)} IS UNIQUE"
            )

    def ensure_vector_index(self, label: str, prop: str, dimensions: int) -> None:
        """A cosine vector index over an embedding property (for db.index.vector.queryNodes)."""
        self.schema.check_node_properties(label, [prop])
        self._execute(
            f"CREATE VECTOR INDEX {q(f'{label}_{prop}_vector')} IF NOT EXISTS "
            f"FOR (n:{q(label)}) ON n.{q(prop)} "
            "OPTIONS {indexConfig: {`vector.dimensions`: $dims, `vector.similarity_function`: 'cosine'}}",
            {"dims": int(dimensions)},
        )

    # ------------------------------------------------------------------ writes
    def upsert_nodes(self, label: str, rows: pd.DataFrame) -> UpsertResult:
        rows = prepare_node_batch(self.schema, label, rows)
        if rows.empty:
            return UpsertResult()
        key = self.schema.nodes[label].key
        sets = "".join(
            f" SET n.{q(c)} = coalesce(row[{_lit(c)}], n.{q(c)})" for c in rows.columns if c != key
        )
        records = self._write_chunks(
            f"UNWIND $rows AS row MERGE (n:{q(label)} {{{q(key)}: row[{_lit(key)}]}}) "
            f"ON CREATE SET n.`_created` = true{sets} "
            "WITH n, coalesce(n.`_created`, false) AS created REMOVE n.`_created` "
            "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS created, count(*) AS total",
            rows,
        )
        created = sum(r["created"] for r in records)
        return UpsertResult(created=created, updated=sum(r["total"] for r in records) - created)

    def upsert_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> UpsertResult:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        if rows.empty:
            return UpsertResult()
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        sets = "".join(f" SET r.{q(c)} = coalesce(row[{_lit(c)}], r.{q(c)})" for c in props)
        records = self._write_chunks(
            f"UNWIND $rows AS row "
            f"MATCH (a:{q(from_label)} {{{q(fk)}: row.from_id}}) "
            f"MATCH (b:{q(to_label)} {{{q(tk)}: row.to_id}}) "
            f"MERGE (a)-[r:{q(rel_type)}]->(b) ON CREATE SET r.`_created` = true{sets} "
            "WITH r, coalesce(r.`_created`, false) AS created REMOVE r.`_created` "
            "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS created, count(*) AS total",
            rows,
            require_all=(
                f"Some {rel_type} rows point at {from_label} or {to_label} nodes that do not "
                "exist; load those nodes first."
            ),
        )
        created = sum(r["created"] for r in records)
        return UpsertResult(created=created, updated=sum(r["total"] for r in records) - created)

    def set_node_properties(self, label: str, rows: pd.DataFrame) -> int:
        node = self.schema.node(label)
        if node.key not in rows.columns:
            raise InputError(f"Write-back rows for {label} need a {node.key!r} column.")
        names = declare_written_properties(self.schema, label, rows)
        if rows.empty or not names:
            return 0
        sets = ", ".join(f"n.{q(c)} = row[{_lit(c)}]" for c in names)
        records = self._write_chunks(
            f"UNWIND $rows AS row MATCH (n:{q(label)} {{{q(node.key)}: row[{_lit(node.key)}]}}) "
            f"SET {sets} RETURN count(*) AS n",
            rows.assign(**{node.key: rows[node.key].astype(str)}),
        )
        return sum(r["n"] for r in records)

    def replace_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> int:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        sets = "".join(f" SET r.{q(c)} = row[{_lit(c)}]" for c in props)
        delete = (
            f"UNWIND $ids AS id MATCH (a:{q(from_label)} {{{q(fk)}: id}})-[r:{q(rel_type)}]->() DELETE r"
        )
        create = (
            f"UNWIND $rows AS row MATCH (a:{q(from_label)} {{{q(fk)}: row.from_id}}) "
            f"MATCH (b:{q(to_label)} {{{q(tk)}: row.to_id}}) CREATE (a)-[r:{q(rel_type)}]->(b){sets}"
        )

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(delete, ids=list(rows[FROM_ID].unique())).consume()
            tx.run(create, rows=records_for_driver(rows)).consume()

        with self._driver.session(database=self.database) as session:
            try:
                session.execute_write(work)
            except (Neo4jError, DriverError) as exc:
                raise StoreError(f"Neo4j could not replace {rel_type} relationships: {exc}") from exc
        return len(rows)

    def delete_relationships(self, rel_type: str) -> int:
        self.schema.rel(rel_type)
        deleted = 0
        while True:  # bounded transactions: a large type never needs one huge commit
            result = self._execute(
                f"MATCH ()-[r:{q(rel_type)}]->() WITH r LIMIT $n DELETE r RETURN count(*) AS n",
                {"n": WRITE_CHUNK},
            )
            batch = int(result.records[0]["n"])
            deleted += batch
            if batch < WRITE_CHUNK:
                return deleted

    # ------------------------------------------------------------------ reads
    def existing_node_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        key = self.schema.node(label).key
        wanted = [str(i) for i in ids]
        found: set[str] = set()
        for start in range(0, len(wanted), WRITE_CHUNK):
            result = self._execute(
                f"UNWIND $ids AS id MATCH (n:{q(label)} {{{q(key)}: id}}) RETURN n.{q(key)} AS id",
                {"ids": wanted[start : start + WRITE_CHUNK]},
                read=True,
            )
            found.update(r["id"] for r in result.records)
        return found

    def _stream(self, cypher: str, batch_size: int) -> Iterator[pd.DataFrame]:
        """Stream a read query in DataFrame chunks without holding all rows in memory."""
        with self._driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
            try:
                result = session.run(cypher)
                keys = result.keys()
                chunk: list[list[Any]] = []
                for record in result:
                    chunk.append(list(record.values()))
                    if len(chunk) >= batch_size:
                        yield pd.DataFrame(chunk, columns=keys)
                        chunk = []
                if chunk:
                    yield pd.DataFrame(chunk, columns=keys)
            except (Neo4jError, DriverError) as exc:
                raise StoreError(f"Neo4j export failed: {exc}") from exc

    def iter_nodes(
        self,
        label: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        node = self.schema.node(label)
        if properties is None:
            wanted = [p for p in node.all_properties() if p != node.key]
        else:
            self.schema.check_node_properties(label, properties)
            wanted = [p for p in properties if p != node.key]
        columns = ", ".join([f"n.{q(node.key)} AS {q(node.key)}"] + [f"n.{q(p)} AS {q(p)}" for p in wanted])
        yield from self._stream(f"MATCH (n:{q(label)}) RETURN {columns}", batch_size)

    def iter_relationships(
        self,
        rel_type: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        rel = self.schema.rel(rel_type)
        wanted = list(rel.properties) if properties is None else properties
        self.schema.check_rel_properties(rel_type, wanted)
        extra = "".join(f", r.{q(p)} AS {q(p)}" for p in wanted)
        for from_label, to_label in rel.endpoints:
            fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
            cypher = (
                f"MATCH (a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)}) "
                f"RETURN {_lit(from_label)} AS from_label, a.{q(fk)} AS from_id, "
                f"{_lit(to_label)} AS to_label, b.{q(tk)} AS to_id{extra}"
            )
            yield from self._stream(cypher, batch_size)

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pd.DataFrame:
        access = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS

        def work(tx: neo4j.ManagedTransaction) -> pd.DataFrame:
            return tx.run(cypher, params or {}).to_df()

        with self._driver.session(database=self.database, default_access_mode=access) as session:
            try:
                return session.execute_write(work) if write else session.execute_read(work)
            except ClientError as exc:
                if "AccessMode" in (exc.code or ""):
                    raise StoreError(
                        "This query writes to the graph; queries are read-only unless you pass --write."
                    ) from exc
                raise StoreError(f"Query failed ({exc.code}): {exc.message}") from exc
            except (Neo4jError, DriverError) as exc:
                raise StoreError(f"Query failed: {exc}") from exc

    def counts(self) -> GraphCounts:
        nodes = {
            label: int(self._execute(f"MATCH (n:{q(label)}) RETURN count(n) AS n", read=True).records[0]["n"])
            for label in sorted(self.schema.nodes)
        }
        rels = {
            rel_type: int(
                self._execute(f"MATCH ()-[r:{q(rel_type)}]->() RETURN count(r) AS n", read=True).records[0]["n"]
            )
            for rel_type in sorted(self.schema.rels)
        }
        return GraphCounts(nodes=nodes, relationships=rels)


def _constraint_name(label: str) -> str:
    return f"kg_{label.lower()}_key"


def _lit(name: str) -> str:
    """A validated identifier as a Cypher string literal (map keys in ``row[...]``)."""
    return f"'{name}'"
