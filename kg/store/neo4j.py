"""Neo4j 5 graph store over the official ``neo4j`` driver.

Works with a single server (``bolt://``), a cluster or Aura (``neo4j://``, ``neo4j+s://``
routing URIs; ``+s``/``+ssc`` for TLS) and any database name. Writes are ``UNWIND``
batches (one list per column) with ``MERGE`` on uniquely-constrained keys, so an upsert
is idempotent and safe to repeat. The statements themselves live in :mod:`kg.store.neo4j_cypher`.

On first connection the adapter creates a uniqueness constraint per keyed label; when a
float-list property (an embedding) is written back, it creates a cosine vector index on
it, so ``db.index.vector.queryNodes`` works in the Browser.
"""

from __future__ import annotations

import logging
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
from kg.schema import Schema, check_identifier
from kg.store import neo4j_cypher as cy
from kg.store.base import (
    DEFAULT_EXPORT_BATCH,
    FROM_ID,
    TO_ID,
    GraphCounts,
    GraphStore,
    UpsertResult,
    columns_for_driver,
    declare_written_properties,
    prepare_node_batch,
    prepare_rel_batch,
)
from kg.store.cypher_tokens import code_words
from kg.store.read_only_guard import NEO4J_RULES, refuse_outside_access

# Rows per write transaction. 50,000 rather than 10,000: on 2 cores the upsert of
# MovieLens' 100,000 ratings ran at 3,300 rels/s in 10k chunks and 6,000 in 50k chunks
# (the per-transaction cost of planning and the existence checks dominates small chunks);
# 50k-row transactions ran within the local server's 1.5 GB heap.
WRITE_CHUNK = 50_000
# Server notifications (an unknown label or property in an analyst's query, and the like)
# are not errors, and the driver logs each one as a warning on stderr. They are silenced
# here, on the driver side: server-side filtering (notifications_min_severity) needs Bolt
# 5.2+, and a 4.4 server would refuse the connection.
logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
_DATABASE_NOT_FOUND = "Neo.ClientError.Database.DatabaseNotFound"
# Neo4j's names for property types (db.schema.nodeTypeProperties) -> schema types.
_NEO4J_TYPES = {
    "String": "STRING",
    "Long": "INT64",
    "Integer": "INT64",
    "Double": "DOUBLE",
    "Float": "DOUBLE",
    "Boolean": "BOOLEAN",
    "StringArray": "STRING[]",
    "DoubleArray": "DOUBLE[]",
    "FloatArray": "DOUBLE[]",
}


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
        self._vector_dims: dict[tuple[str, str], int] = {}
        self._vector_index_names: dict[tuple[str, str], str] = {}
        self._driver: neo4j.Driver | None = None
        if password is None:
            raise StoreError("KG_STORE points at Neo4j; set KG_NEO4J_PASSWORD (and KG_NEO4J_USER).")
        try:
            self._driver = GraphDatabase.driver(uri, auth=(user, password), warn_notification_severity="OFF")
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

    def _session(self, *, read: bool = False) -> neo4j.Session:
        """A session sharing ``execute_query``'s bookmark manager: on a cluster, a read
        after a write -- through either path -- waits until it sees that write."""
        return self.driver.session(
            database=self.database,
            default_access_mode=neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS,
            bookmark_manager=self.driver.execute_query_bookmark_manager,
        )

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

    def _write_chunks(
        self, cypher: str, rows: pd.DataFrame, types: dict[str, str] | None = None
    ) -> tuple[list[neo4j.Record], dict[str, int]]:
        """Run ``cypher`` over ``rows`` in chunks, one transaction per chunk; the records
        and the summed counters (what was created, which no marker property has to say)."""
        records: list[neo4j.Record] = []
        created = {"nodes": 0, "relationships": 0}

        def work(tx: neo4j.ManagedTransaction, chunk: dict[str, list[Any]]) -> tuple[list[neo4j.Record], Any]:
            result = tx.run(cypher, columns=chunk)  # a retried transaction runs this again: no side effects
            return list(result), result.consume().counters

        with self._session() as session:
            for start in range(0, len(rows), WRITE_CHUNK):
                chunk = columns_for_driver(rows.iloc[start : start + WRITE_CHUNK], types)
                try:
                    chunk_records, counters = session.execute_write(work, chunk)
                except ClientError as exc:
                    raise StoreError(f"Neo4j rejected a statement ({exc.code}): {exc.message}") from exc
                except (Neo4jError, DriverError) as exc:
                    raise StoreError(f"Neo4j error: {exc}") from exc
                records.extend(chunk_records)
                created["nodes"] += counters.nodes_created
                created["relationships"] += counters.relationships_created
        return records, created

    def _require_endpoints(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> None:
        """Refuse a batch whose endpoints are not all there, before anything is written."""
        for label, column in ((from_label, FROM_ID), (to_label, TO_ID)):
            missing = sorted(self.missing_node_ids(label, rows[column].unique()))
            if missing:
                raise InputError(
                    f"{len(missing)} {rel_type} rows point at {label} nodes that do not exist "
                    f"(e.g. {', '.join(missing[:3])}); load those nodes first."
                )

    # ------------------------------------------------------------------ schema
    def ensure_schema(self) -> None:
        """A uniqueness constraint per keyed label, created only where missing (a user
        without schema rights can write once they exist); learn the properties earlier
        runs wrote (embeddings, run ids, extracted attributes), so exports include them."""
        if not self.read_only:
            constrained = self._unique_keys()
            for label, node in self.schema.nodes.items():
                if (label, node.key) not in constrained:
                    self._execute(cy.create_key_constraint(label, node.key))
        self._learn_vector_properties()
        self._learn_scalar_properties()

    def _unique_keys(self) -> set[tuple[str, str]]:
        """``(label, property)`` pairs that a uniqueness or key constraint covers."""
        found = set()
        for record in self._execute(cy.show_constraints(), read=True).records:
            labels, props = record["labelsOrTypes"] or [], record["properties"] or []
            kind = str(record["type"])
            if (
                record["entityType"] == "NODE"
                and len(labels) == 1
                and len(props) == 1
                and ("UNIQUENESS" in kind or "KEY" in kind)
            ):
                found.add((labels[0], props[0]))
        return found

    def _vector_indexes(self) -> dict[tuple[str, str], tuple[str, int]]:
        """``(label, property) -> (index name, dimensions)`` of the vector indexes."""
        found = {}
        for record in self._execute(cy.show_vector_indexes(), read=True).records:
            labels, props = record["labelsOrTypes"] or [], record["properties"] or []
            config = (record["options"] or {}).get("indexConfig", {})
            dims = config.get("vector.dimensions")
            if len(labels) == 1 and len(props) == 1 and dims is not None:
                found[(labels[0], props[0])] = (record["name"], int(dims))
        return found

    def _learn_vector_properties(self) -> None:
        for (label, prop), (name, dims) in self._vector_indexes().items():
            if label not in self.schema.nodes:
                continue
            try:
                self.schema.add_node_property(label, prop, "DOUBLE[]")
            except SchemaError:
                continue  # declared with another type: the declaration wins
            self._vector_index_names[(label, prop)] = name
            self._vector_dims[(label, prop)] = dims

    def _learn_scalar_properties(self) -> None:
        """Declare the properties stored on schema labels that the schema lacks, with the
        type Neo4j reports: the embedded store learns them from its table columns."""
        for record in self._execute(cy.node_type_properties(), read=True).records:
            kinds = {_NEO4J_TYPES.get(t) for t in record["propertyTypes"] or []}
            name = record["propertyName"]
            if len(kinds) != 1 or None in kinds or not name:
                continue
            for label in record["nodeLabels"] or []:
                if label in self.schema.nodes and name not in self.schema.nodes[label].all_properties():
                    try:
                        self.schema.add_node_property(label, check_identifier(name, "Property"), kinds.pop())
                    except SchemaError:
                        continue
                    break

    def ensure_vector_index(self, label: str, prop: str, dimensions: int) -> None:
        """A cosine vector index over ``label.prop``; rebuilt when the dimension changed
        (a retrained model), since vectors of another length would silently go unindexed.
        An index an analyst made on the same property under another name is used as it is
        (Neo4j allows one, and ``CREATE ... IF NOT EXISTS`` would silently do nothing)."""
        self.schema.check_node_properties(label, [prop])
        if self._vector_dims.get((label, prop)) == dimensions:
            return
        existing = self._vector_indexes().get((label, prop))
        if existing is not None and existing[1] == dimensions:
            name = existing[0]
        else:
            if existing is not None:
                self._execute(cy.drop_index(existing[0]))
            name = cy.vector_index_name(label, prop)
            try:
                self._execute(cy.create_vector_index(label, prop, dimensions))
            except StoreError as exc:
                if cy.QUANTIZATION_OPTION not in str(exc):
                    raise
                self._execute(cy.create_vector_index(label, prop, dimensions, exact=False))  # before 5.23
        self._vector_index_names[(label, prop)] = name
        self._vector_dims[(label, prop)] = dimensions

    # ------------------------------------------------------------------ writes
    def upsert_nodes(self, label: str, rows: pd.DataFrame) -> UpsertResult:
        rows = prepare_node_batch(self.schema, label, rows)
        if rows.empty:
            return UpsertResult()
        node = self.schema.nodes[label]
        props = [c for c in rows.columns if c != node.key]
        records, counters = self._write_chunks(
            cy.upsert_nodes(label, node.key, props), rows, node.all_properties()
        )
        return _upsert_result(records, counters["nodes"])

    def upsert_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> UpsertResult:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        if rows.empty:
            return UpsertResult()
        self._require_endpoints(rel_type, from_label, to_label, rows)
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        records, counters = self._write_chunks(
            cy.upsert_relationships(rel_type, from_label, fk, to_label, tk, props),
            rows,
            self.schema.rel(rel_type).properties,
        )
        return _upsert_result(records, counters["relationships"])

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
        records, _ = self._write_chunks(cy.set_node_properties(label, node.key, names), rows, types)
        for prop in vectors:
            name = self._vector_index_names.get((label, prop))
            if name is not None:
                self._execute(cy.await_index(), {"name": name})
        return sum(r["n"] for r in records)

    def replace_relationships(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> int:
        """Replace the ``rel_type`` edges of each source node in ``rows``.

        Bounded transactions of about ``WRITE_CHUNK`` rows, each holding whole source
        nodes: every user's old edges go and new ones come in one commit (a reader never
        sees a user half-replaced), and ``recommend --all --write`` on a large graph never
        needs one transaction bigger than the server's transaction memory."""
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        self._require_endpoints(rel_type, from_label, to_label, rows)
        fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        props = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        delete = cy.delete_outgoing(rel_type, from_label, fk)
        create = cy.create_relationships(rel_type, from_label, fk, to_label, tk, props)
        types = self.schema.rel(rel_type).properties

        def work(tx: neo4j.ManagedTransaction, ids: list[str], chunk: pd.DataFrame) -> None:
            tx.run(delete, ids=ids).consume()
            tx.run(create, columns=columns_for_driver(chunk, types)).consume()

        with self._session() as session:
            for ids, chunk in _whole_groups(rows, FROM_ID, WRITE_CHUNK):
                try:
                    session.execute_write(work, ids, chunk)
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
    def missing_node_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        key = self.schema.node(label).key
        wanted = sorted({str(i) for i in ids})
        missing: set[str] = set()
        for start in range(0, len(wanted), WRITE_CHUNK):
            result = self._execute(
                cy.missing_node_ids(label, key), {"ids": wanted[start : start + WRITE_CHUNK]}, read=True
            )
            missing.update(r["id"] for r in result.records)
        return missing

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
        with self._session(read=True) as session:
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

        def work(tx: neo4j.ManagedTransaction) -> pd.DataFrame:
            return tx.run(cypher, params or {}).to_df()

        with self._session(read=not write) as session:
            try:
                if write and _runs_in_own_transactions(cypher):
                    # CALL { ... } IN TRANSACTIONS commits its own transactions: Neo4j
                    # accepts it only in an auto-commit (implicit) transaction.
                    return session.run(cypher, params or {}).to_df()
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


def _upsert_result(records: list[neo4j.Record], created: int) -> UpsertResult:
    """Created (summary counters), changed and unchanged rows of an upsert."""
    total = sum(r["total"] for r in records)
    updated = sum(r["changed"] for r in records)
    return UpsertResult(created=created, updated=updated, unchanged=total - created - updated)


def _runs_in_own_transactions(cypher: str) -> bool:
    """True for ``CALL { ... } IN TRANSACTIONS`` (also ``IN 4 CONCURRENT TRANSACTIONS``)."""
    words = [w.upper() for w in code_words(cypher)]
    return any(
        word == "IN" and "TRANSACTIONS" in words[position + 1 : position + 4]
        for position, word in enumerate(words)
    )


def _whole_groups(rows: pd.DataFrame, column: str, size: int) -> Iterator[tuple[list[str], pd.DataFrame]]:
    """Chunks of about ``size`` rows that never split the rows of one ``column`` value."""
    ids: list[str] = []
    parts: list[pd.DataFrame] = []
    count = 0
    for value, group in rows.groupby(column, sort=False):
        ids.append(str(value))
        parts.append(group)
        count += len(group)
        if count >= size:
            yield ids, pd.concat(parts)
            ids, parts, count = [], [], 0
    if ids:
        yield ids, pd.concat(parts)


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
