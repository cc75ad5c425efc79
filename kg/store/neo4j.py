"""Neo4j 5 graph store over the official ``neo4j`` driver.

Works with a single server (``bolt://``), a cluster or Aura (``neo4j://``, ``neo4j+s://``
routing URIs; ``+s``/``+ssc`` for TLS) and any database name. Writes are ``UNWIND $rows``
batches with ``MERGE`` on uniquely-constrained keys, so an upsert is idempotent and safe
to repeat. The statements themselves live in :mod:`kg.store.neo4j_cypher`.

On first connection the adapter creates a uniqueness constraint per keyed label; when a
float-list property (an embedding) is written back, it creates a cosine vector index on
it, so ``db.index.vector.queryNodes`` works in the Browser.
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

from kg.errors import InputError, SchemaError, StoreError
from kg.schema import Schema
from kg.store import neo4j_cypher as cy
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
from kg.store.read_only_guard import NEO4J_RULES, refuse_outside_access

WRITE_CHUNK = 10_000
_DATABASE_NOT_FOUND = "Neo.ClientError.Database.DatabaseNotFound"


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
        self._vector_dims: dict[str, int] = {}
        self._driver: neo4j.Driver | None = None
        if password is None:
            raise StoreError("KG_STORE points at Neo4j; set KG_NEO4J_PASSWORD (and KG_NEO4J_USER).")
        try:
            self._driver = GraphDatabase.driver(uri, auth=(user, password))
            self._driver.verify_connectivity()
            self._driver.execute_query(cy.probe(), database_=database, routing_=RoutingControl.READ)
        except AuthError as exc:
            self.close()
            raise StoreError(
                f"Neo4j at {uri} refused the credentials of user {user!r}; check KG_NEO4J_USER "
                "and KG_NEO4J_PASSWORD."
            ) from exc
        except ClientError as exc:
            self.close()
            if exc.code == _DATABASE_NOT_FOUND:
                raise StoreError(
                    f"Neo4j at {uri} has no database {database!r}; set KG_NEO4J_DATABASE to an existing "
                    "one (Neo4j Community has only 'neo4j')."
                ) from exc
            raise StoreError(f"Neo4j at {uri} refused the connection ({exc.code}): {exc.message}") from exc
        except (ServiceUnavailable, OSError) as exc:
            self.close()
            raise StoreError(
                f"Cannot reach Neo4j at {uri}: is the server running and the port open? ({exc})"
            ) from exc
        except (ConfigurationError, ValueError) as exc:
            self.close()
            raise StoreError(f"Invalid Neo4j URI {uri!r}: {exc}") from exc
        except (Neo4jError, DriverError) as exc:
            self.close()
            raise StoreError(f"Cannot connect to Neo4j at {uri}: {exc}") from exc

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    # ------------------------------------------------------------------ low level
    @property
    def driver(self) -> neo4j.Driver:
        if self._driver is None:
            raise StoreError("The store is closed.")
        return self._driver

    def _execute(
        self, cypher: str, params: dict[str, Any] | None = None, *, read: bool = False
    ) -> neo4j.EagerResult:
        try:
            return self.driver.execute_query(
                cypher,
                parameters_=params or {},
                database_=self.database,
                routing_=RoutingControl.READ if read else RoutingControl.WRITE,
            )
        except ClientError as exc:
            raise StoreError(f"Neo4j rejected a statement ({exc.code}): {exc.message}") from exc
        except (Neo4jError, DriverError) as exc:
            raise StoreError(f"Neo4j error: {exc}") from exc

    def _write_chunks(self, cypher: str, rows: pd.DataFrame) -> list[neo4j.Record]:
        """Run ``cypher`` over ``rows`` in chunks, one transaction per chunk."""
        records: list[neo4j.Record] = []

        def work(tx: neo4j.ManagedTransaction, chunk: list[dict[str, Any]]) -> list[neo4j.Record]:
            return list(tx.run(cypher, rows=chunk))

        with self.driver.session(database=self.database) as session:
            for start in range(0, len(rows), WRITE_CHUNK):
                chunk = records_for_driver(rows.iloc[start : start + WRITE_CHUNK])
                try:
                    records.extend(session.execute_write(work, chunk))
                except ClientError as exc:
                    raise StoreError(f"Neo4j rejected a statement ({exc.code}): {exc.message}") from exc
                except (Neo4jError, DriverError) as exc:
                    raise StoreError(f"Neo4j error: {exc}") from exc
        return records

    def _require_endpoints(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> None:
        """Refuse a batch whose endpoints are not all there, before anything is written."""
        for label, column in ((from_label, FROM_ID), (to_label, TO_ID)):
            wanted = set(rows[column])
            missing = sorted(wanted - self.existing_node_ids(label, wanted))
            if missing:
                raise InputError(
                    f"{len(missing)} {rel_type} rows point at {label} nodes that do not exist "
                    f"(e.g. {', '.join(missing[:3])}); load those nodes first."
                )

    # ------------------------------------------------------------------ schema
    def ensure_schema(self) -> None:
        """A uniqueness constraint per keyed label; learn embedding properties that earlier
        runs indexed, so exports include them."""
        if not self.read_only:
            for label, node in self.schema.nodes.items():
                self._execute(cy.create_key_constraint(label, node.key))
        self._learn_vector_properties()

    def _vector_indexes(self) -> dict[str, tuple[str, str, int]]:
        """``name -> (label, property, dimensions)`` of the database's vector indexes."""
        found = {}
        for record in self._execute(cy.show_vector_indexes(), read=True).records:
            labels, props = record["labelsOrTypes"] or [], record["properties"] or []
            config = (record["options"] or {}).get("indexConfig", {})
            dims = config.get("vector.dimensions")
            if len(labels) == 1 and len(props) == 1 and dims is not None:
                found[record["name"]] = (labels[0], props[0], int(dims))
        return found

    def _learn_vector_properties(self) -> None:
        for name, (label, prop, dims) in self._vector_indexes().items():
            if label not in self.schema.nodes:
                continue
            try:
                self.schema.add_node_property(label, prop, "DOUBLE[]")
            except SchemaError:
                continue  # declared with another type: the declaration wins
            self._vector_dims[name] = dims

    def ensure_vector_index(self, label: str, prop: str, dimensions: int) -> None:
        """A cosine vector index over ``label.prop``; rebuilt when the dimension changed
        (a retrained model), since vectors of another length would silently go unindexed."""
        self.schema.check_node_properties(label, [prop])
        name = cy.vector_index_name(label, prop)
        if self._vector_dims.get(name) == dimensions:
            return
        existing = self._vector_indexes().get(name)
        if existing is not None and existing[2] != dimensions:
            self._execute(cy.drop_index(name))
        self._execute(cy.create_vector_index(label, prop, dimensions))
        self._vector_dims[name] = dimensions

    # ------------------------------------------------------------------ writes
    def upsert_nodes(self, label: str, rows: pd.DataFrame) -> UpsertResult:
        rows = prepare_node_batch(self.schema, label, rows)
        if rows.empty:
            return UpsertResult()
        key = self.schema.nodes[label].key
        props = [c for c in rows.columns if c != key]
        records = self._write_chunks(cy.upsert_nodes(label, key, props), rows)
        created = sum(r["created"] for r in records)
        return UpsertResult(created=created, updated=sum(r["total"] for r in records) - created)

    def upsert_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> UpsertResult:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        if rows.empty:
            return UpsertResult()
        self._require_endpoints(rel_type, from_label, to_label, rows)
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        records = self._write_chunks(
            cy.upsert_relationships(rel_type, from_label, fk, to_label, tk, props), rows
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
        types = node.all_properties()
        vectors = [n for n in names if types[n] == "DOUBLE[]"]
        rows = rows.assign(
            **{node.key: rows[node.key].astype(str)},
            **{n: rows[n].map(_float_list) for n in vectors},
        )
        for prop in vectors:
            dims = _vector_dimension(rows[prop], label, prop)
            if dims is not None:
                self.ensure_vector_index(label, prop, dims)
        records = self._write_chunks(cy.set_node_properties(label, node.key, names), rows)
        for prop in vectors:
            name = cy.vector_index_name(label, prop)
            if name in self._vector_dims:
                self._execute(cy.await_index(), {"name": name})
        return sum(r["n"] for r in records)

    def replace_relationships(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> int:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        self._require_endpoints(rel_type, from_label, to_label, rows)
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        delete = cy.delete_outgoing(rel_type, from_label, fk)
        create = cy.create_relationships(rel_type, from_label, fk, to_label, tk, props)

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(delete, ids=list(rows[FROM_ID].unique())).consume()
            tx.run(create, rows=records_for_driver(rows)).consume()

        with self.driver.session(database=self.database) as session:
            try:
                session.execute_write(work)
            except (Neo4jError, DriverError) as exc:
                raise StoreError(f"Neo4j could not replace {rel_type} relationships: {exc}") from exc
        return len(rows)

    def delete_relationships(self, rel_type: str) -> int:
        self.schema.rel(rel_type)
        deleted = 0
        while True:  # bounded transactions: a large type never needs one huge commit
            result = self._execute(cy.delete_relationships_batch(rel_type), {"n": WRITE_CHUNK})
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
                cy.existing_node_ids(label, key), {"ids": wanted[start : start + WRITE_CHUNK]}, read=True
            )
            found.update(r["id"] for r in result.records)
        return found

    def _stream(self, cypher: str, batch_size: int) -> Iterator[pd.DataFrame]:
        """Stream a read query in DataFrame chunks without holding all rows in memory."""
        with self.driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
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
        wanted = self.schema.node_export_properties(label, properties)
        yield from self._stream(cy.stream_nodes(label, node.key, wanted), batch_size)

    def iter_relationships(
        self,
        rel_type: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        rel = self.schema.rel(rel_type)
        wanted = self.schema.rel_export_properties(rel_type, properties)
        for from_label, to_label in rel.endpoints:
            fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
            yield from self._stream(
                cy.stream_relationships(rel_type, from_label, fk, to_label, tk, wanted), batch_size
            )

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pd.DataFrame:
        if not write:
            refuse_outside_access(cypher, NEO4J_RULES)
        access = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS

        def work(tx: neo4j.ManagedTransaction) -> pd.DataFrame:
            return tx.run(cypher, params or {}).to_df()

        with self.driver.session(database=self.database, default_access_mode=access) as session:
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
        def single(cypher: str) -> int:
            return int(self._execute(cypher, read=True).records[0]["n"])

        return GraphCounts(
            nodes={label: single(cy.count_nodes(label)) for label in sorted(self.schema.nodes)},
            relationships={rel: single(cy.count_relationships(rel)) for rel in sorted(self.schema.rels)},
        )


def _float_list(value: Any) -> list[float] | None:
    """An embedding as plain floats (numpy arrays and float32 items do not pack over Bolt)."""
    if value is None or (not hasattr(value, "__len__") and pd.isna(value)):
        return None
    return [float(x) for x in value]


def _vector_dimension(values: pd.Series, label: str, prop: str) -> int | None:
    """The one length of a column of vectors (None when all are missing)."""
    lengths = {len(v) for v in values if v is not None}
    if len(lengths) > 1:
        raise InputError(
            f"{label}.{prop} vectors have different lengths {sorted(lengths)}; a vector index needs one dimension."
        )
    return lengths.pop() if lengths else None
