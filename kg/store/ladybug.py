"""Embedded graph store on LadybugDB (the maintained fork of Kuzu), in-process.

Writes use bulk ``COPY`` for rows that are new and one set-based ``LOAD FROM ... MATCH
... SET`` for rows that exist: Ladybug's row-at-a-time ``MERGE`` on relationships runs at
a few hundred rows per second, ``COPY`` at several hundred thousand. Each batch runs in
one transaction, so readers never see half of it and an interrupted run can be repeated.

Generated Cypher only ever contains schema-validated identifiers, each in backticks;
values travel as parameters (Arrow tables for batches). Batch columns are renamed to
``k``, ``f``, ``t``, ``c0``, ``c1``... so that no property name can clash with a keyword.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ladybug
import numpy as np
import pandas as pd
import pyarrow as pa

from kg.errors import InputError, KGError, StoreError, StoreInUseError
from kg.schema import Schema
from kg.store.access_lock import StoreAccessLock
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
)
from kg.store.cypher_names import q
from kg.store.read_only_guard import EMBEDDED_RULES, refuse_outside_access

_ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "STRING[]": pa.list_(pa.string()),
    "DOUBLE[]": pa.list_(pa.float64()),
}


_OLD = "__stored"


class LadybugStore(GraphStore):
    """A graph in a local directory; one writer process at a time."""

    name = "ladybug"

    def __init__(self, path: str | Path, schema: Schema, *, read_only: bool = False) -> None:
        self.schema = schema
        self.path = Path(path).expanduser()
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(
                f"No graph at {self.path} yet; run `kg ingest` or `kg demo` first, or set KG_STORE."
            )
        self._lock = StoreAccessLock(self.path, exclusive=not read_only)
        self._lock.acquire()
        try:
            self._db = self._open_database()
        except RuntimeError as exc:
            self._lock.release()
            message = str(exc)
            if "lock" in message.lower():
                raise StoreInUseError(
                    f"The store at {self.path} is in use by another process; wait for it to "
                    "finish (only one kg process can write an embedded store at a time)."
                ) from exc
            raise StoreError(f"Cannot open the embedded store at {self.path}: {message}") from exc
        self._conn = ladybug.Connection(self._db)
        self._columns: dict[str, list[str]] = {}

    def _open_database(self) -> ladybug.Database:
        """Open the database; a reader that finds a killed writer's unfinished recovery
        completes it first (briefly as the writer), since a read-only open cannot."""
        try:
            return ladybug.Database(str(self.path), read_only=self.read_only)
        except RuntimeError as exc:
            if not (self.read_only and "recovery is pending" in str(exc)):
                raise
        self._lock.release()
        recovery = StoreAccessLock(self.path, exclusive=True)
        recovery.acquire()
        try:
            ladybug.Database(str(self.path)).close()
        finally:
            recovery.release()
            self._lock.acquire()
        return ladybug.Database(str(self.path), read_only=True)

    def close(self) -> None:
        conn, db = getattr(self, "_conn", None), getattr(self, "_db", None)
        if conn is not None:
            conn.close()
            self._conn = None  # type: ignore[assignment]
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def erase_deleted_data(self) -> bool:
        """Rewrite the database file without the free space deleted records leave: every
        node and relationship is copied into a new file beside it (bulk ``COPY``), the
        counts are checked, and the new file is renamed over the old one. The store's
        lock is held all along; a crash before the rename leaves the old file, after it
        the new one. (LadybugDB's ``EXPORT DATABASE`` cannot write relationship tables
        that connect several label pairs, which this schema has.)"""
        if self.read_only:
            raise StoreError("The store is open read-only; it cannot be rewritten.")
        before = self.counts()
        fresh = self.path.with_name(f".{self.path.name}.compact")
        _remove(fresh)
        with LadybugStore(fresh, self.schema) as copy:
            copy.ensure_schema()
            self._copy_into(copy)
            same = copy.counts() == before
        _remove(fresh.with_name(fresh.name + ".lock"))
        if not same:
            _remove(fresh)
            raise StoreError("The rewritten store lost records; the original was kept.")
        self._conn.close()
        self._db.close()
        try:
            fresh.replace(self.path)
            for suffix in (".wal", ".shadow"):
                _remove(self.path.with_name(self.path.name + suffix))
        finally:
            self._db = ladybug.Database(str(self.path))
            self._conn = ladybug.Connection(self._db)
        return True

    def _copy_into(self, other: GraphStore) -> None:
        for label in sorted(self.schema.nodes):
            for batch in self.iter_nodes(label):
                other.upsert_nodes(label, batch)
        for rel_type in sorted(self.schema.rels):
            for batch in self.iter_relationships(rel_type):
                for (from_label, to_label), pair in batch.groupby(["from_label", "to_label"], sort=True):
                    rows = pair.drop(columns=["from_label", "to_label"])
                    other.upsert_relationships(rel_type, str(from_label), str(to_label), rows)

    # ------------------------------------------------------------------ low level
    def _run(self, cypher: str, params: dict[str, Any] | None = None) -> ladybug.QueryResult:
        if self._conn is None:
            raise StoreError("The store is closed.")
        try:
            return self._conn.execute(cypher, params or {})
        except RuntimeError as exc:
            raise StoreError(f"Embedded store rejected a statement: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._run("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._rollback_quietly()
            raise
        self._run("COMMIT")

    def _rollback_quietly(self) -> None:
        with suppress(RuntimeError):  # a failed statement already rolled the transaction back
            self._conn.execute("ROLLBACK")

    def _table_columns(self, table: str) -> list[str]:
        info = self._run(f"CALL table_info('{table}') RETURN *").get_as_df()
        return list(info["name"])

    def _existing_tables(self) -> dict[str, str]:
        tables = self._run("CALL show_tables() RETURN *").get_as_df()
        return dict(zip(tables["name"], tables["type"], strict=True))

    # ------------------------------------------------------------------ schema
    def ensure_schema(self) -> None:
        """Create missing tables, add missing columns and endpoint pairs; learn columns
        that earlier runs added (write-back) so the in-memory schema matches the file."""
        existing = self._existing_tables()
        for label, node in self.schema.nodes.items():
            if label in existing:
                self._sync_node_columns(label)
            elif not self.read_only:
                columns = ", ".join(f"{q(n)} {t}" for n, t in node.all_properties().items())
                self._run(f"CREATE NODE TABLE {q(label)}({columns}, PRIMARY KEY({q(node.key)}))")
        for rel_type, rel in self.schema.rels.items():
            if rel_type in existing:
                self._sync_rel_table(rel_type)
            elif not self.read_only:
                pairs = ", ".join(f"FROM {q(a)} TO {q(b)}" for a, b in rel.endpoints)
                props = "".join(f", {q(n)} {t}" for n, t in rel.properties.items())
                self._run(f"CREATE REL TABLE {q(rel_type)}({pairs}{props})")
        self._columns.clear()

    def _sync_node_columns(self, label: str) -> None:
        info = self._run(f"CALL table_info('{label}') RETURN *").get_as_df()
        stored = dict(zip(info["name"], info["type"], strict=True))
        declared = self.schema.nodes[label].all_properties()
        for name, prop_type in stored.items():
            if name not in declared and prop_type in _ARROW_TYPES:
                self.schema.add_node_property(label, name, prop_type)
        if self.read_only:
            return
        for name, prop_type in declared.items():
            if name not in stored:
                self._run(f"ALTER TABLE {q(label)} ADD IF NOT EXISTS {q(name)} {prop_type}")

    def _sync_rel_table(self, rel_type: str) -> None:
        if self.read_only:
            return
        rel = self.schema.rels[rel_type]
        stored = set(self._table_columns(rel_type))
        for name, prop_type in rel.properties.items():
            if name not in stored:
                self._run(f"ALTER TABLE {q(rel_type)} ADD IF NOT EXISTS {q(name)} {prop_type}")
        pairs = self._run(f"CALL show_connection('{rel_type}') RETURN *").get_as_df()
        known = set(zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True))
        for from_label, to_label in rel.endpoints:
            if (from_label, to_label) not in known:
                self._run(f"ALTER TABLE {q(rel_type)} ADD FROM {q(from_label)} TO {q(to_label)}")

    def _property_columns(self, table: str) -> list[str]:
        """Stored property columns of a table in their physical order (keys excluded)."""
        if table not in self._columns:
            self._columns[table] = self._table_columns(table)
        key = self.schema.nodes[table].key if table in self.schema.nodes else None
        return [c for c in self._columns[table] if c != key]

    def _to_arrow(self, frame: pd.DataFrame, types: dict[str, str], names: dict[str, str]) -> pa.Table:
        """Arrow table with schema types; ``names`` maps original column -> parameter column."""
        arrays = {}
        for column, alias in names.items():
            values = frame[column] if column in frame.columns else pd.Series([None] * len(frame))
            arrays[alias] = _arrow_array(values, _ARROW_TYPES[types[column]])
        return pa.table(arrays)

    # ------------------------------------------------------------------ writes
    def upsert_nodes(self, label: str, rows: pd.DataFrame) -> UpsertResult:
        rows = prepare_node_batch(self.schema, label, rows)
        if rows.empty:
            return UpsertResult()
        node = self.schema.nodes[label]
        types = node.all_properties()
        given = [c for c in rows.columns if c != node.key]
        with self._transaction():
            stored = self._stored_nodes(label, rows, given)
            matched = rows.merge(stored, on=node.key, how="left", suffixes=("", _OLD), indicator=True)
            exists = (matched.pop("_merge") == "both").to_numpy()
            changed = exists & _changed(matched)
            if changed.any():  # only rows that change something are written: re-ingest stays cheap
                aliases = {node.key: "k", **{c: f"c{i}" for i, c in enumerate(given)}}
                sets = ", ".join(f"n.{q(c)} = coalesce({aliases[c]}, n.{q(c)})" for c in given)
                self._run(
                    f"LOAD FROM $rows MATCH (n:{q(label)} {{{q(node.key)}: k}}) SET {sets}",
                    {"rows": self._to_arrow(rows[changed], types, aliases)},
                )
            new_rows = rows[~exists]
            if not new_rows.empty:
                ordered = {node.key: node.key, **{c: c for c in self._property_columns(label)}}
                self._run(f"COPY {q(label)} FROM $rows", {"rows": self._to_arrow(new_rows, types, ordered)})
        updated = int(changed.sum())
        return UpsertResult(created=len(new_rows), updated=updated, unchanged=int(exists.sum()) - updated)

    def _stored_nodes(self, label: str, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """The batch's nodes that already exist, with the stored values of ``columns``
        (suffixed ``_OLD``), to tell changed rows from unchanged ones."""
        key = self.schema.nodes[label].key
        values = "".join(f", n.{q(c)} AS {q(c + _OLD)}" for c in columns)
        return self._run(
            f"LOAD FROM $rows MATCH (n:{q(label)} {{{q(key)}: k}}) RETURN k AS {q(key)}{values}",
            {"rows": pa.table({"k": _arrow_array(rows[key], pa.string())})},
        ).get_as_df()

    def upsert_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> UpsertResult:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        if rows.empty:
            return UpsertResult()
        given = [c for c in rows.columns if c not in (FROM_ID, TO_ID)]
        with self._transaction():
            stored = self._stored_rels(rel_type, from_label, to_label, rows, given)
            matched = rows.merge(stored, on=[FROM_ID, TO_ID], how="left", suffixes=("", _OLD), indicator=True)
            exists = (matched.pop("_merge") == "both").to_numpy()
            changed = exists & _changed(matched)
            self._rewrite_rels(rel_type, from_label, to_label, rows[changed])
            new_rows = rows[~exists]
            self._copy_rels(rel_type, from_label, to_label, new_rows)
        updated = int(changed.sum())
        return UpsertResult(created=len(new_rows), updated=updated, unchanged=int(exists.sum()) - updated)

    def _rel_pattern(self, rel_type: str, from_label: str, to_label: str) -> str:
        from_key, to_key = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
        return f"(a:{q(from_label)} {{{q(from_key)}: f}})-[r:{q(rel_type)}]->(b:{q(to_label)} {{{q(to_key)}: t}})"

    def _rel_keys(self, rows: pd.DataFrame) -> pa.Table:
        return pa.table(
            {"f": _arrow_array(rows[FROM_ID], pa.string()), "t": _arrow_array(rows[TO_ID], pa.string())}
        )

    def _stored_rels(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame, columns: list[str]
    ) -> pd.DataFrame:
        """The batch's relationships that already exist, with the stored values of ``columns``
        (suffixed ``_OLD``). Reading is an order of magnitude cheaper than a SET here."""
        values = "".join(f", r.{q(c)} AS {q(c + _OLD)}" for c in columns)
        return self._run(
            f"LOAD FROM $rows MATCH {self._rel_pattern(rel_type, from_label, to_label)} "
            f"RETURN f AS {FROM_ID}, t AS {TO_ID}{values}",
            {"rows": self._rel_keys(rows)},
        ).get_as_df()

    def _rewrite_rels(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> None:
        """Give existing relationships the row's values (a null keeps the stored value).

        Ladybug's relationship SET falls to ~15k rows/s on large tables, while a delete
        (~80k/s) plus COPY (~400k/s) stays fast: so the changed relationships are read whole,
        deleted and copied back with the new values, inside the caller's transaction.
        """
        if rows.empty:
            return
        stored = self._stored_rels(rel_type, from_label, to_label, rows, self._property_columns(rel_type))
        merged = rows.merge(stored, on=[FROM_ID, TO_ID], how="left")
        for column in self._property_columns(rel_type):
            old = merged.pop(column + _OLD)
            merged[column] = (
                merged[column].where(merged[column].notna(), old) if column in rows.columns else old
            )
        self._run(
            f"LOAD FROM $rows MATCH {self._rel_pattern(rel_type, from_label, to_label)} DELETE r",
            {"rows": self._rel_keys(rows)},
        )
        self._copy_rels(rel_type, from_label, to_label, merged)

    def _copy_rels(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        rel = self.schema.rels[rel_type]
        types = {FROM_ID: "STRING", TO_ID: "STRING", **rel.properties}
        ordered = {FROM_ID: FROM_ID, TO_ID: TO_ID, **{c: c for c in self._property_columns(rel_type)}}
        try:
            self._run(
                f"COPY {q(rel_type)} FROM $rows (from='{from_label}', to='{to_label}')",
                {"rows": self._to_arrow(rows, types, ordered)},
            )
        except StoreError as exc:
            if "primary key" in str(exc).lower():
                raise InputError(
                    f"{rel_type} rows point at nodes that do not exist: {exc}. "
                    f"Load the {from_label} and {to_label} nodes first."
                ) from exc
            raise

    def set_node_properties(self, label: str, rows: pd.DataFrame) -> int:
        node = self.schema.node(label)
        if node.key not in rows.columns:
            raise InputError(f"Write-back rows for {label} need a {node.key!r} column.")
        names = declare_written_properties(self.schema, label, rows)
        self._sync_node_columns(label)
        self._columns.pop(label, None)
        if rows.empty or not names:
            return 0
        aliases = {node.key: "k", **{c: f"c{i}" for i, c in enumerate(names)}}
        sets = ", ".join(f"n.{q(c)} = {aliases[c]}" for c in names)
        batch = self._to_arrow(
            rows.assign(**{node.key: rows[node.key].astype(str)}), node.all_properties(), aliases
        )
        with self._transaction():
            found = self._run(
                f"LOAD FROM $rows MATCH (n:{q(label)} {{{q(node.key)}: k}}) SET {sets} RETURN count(*)",
                {"rows": batch},
            ).get_next()
        return int(found[0])

    def replace_relationships(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> int:
        rows = prepare_rel_batch(self.schema, rel_type, from_label, to_label, rows)
        from_key = self.schema.nodes[from_label].key
        sources = pa.table({"k": pa.array(rows[FROM_ID].unique(), pa.string())})
        with self._transaction():
            self._run(
                f"LOAD FROM $ids MATCH (a:{q(from_label)} {{{q(from_key)}: k}})-[r:{q(rel_type)}]->() DELETE r",
                {"ids": sources},
            )
            self._copy_rels(rel_type, from_label, to_label, rows)
        return len(rows)

    def delete_relationships(self, rel_type: str) -> int:
        self.schema.rel(rel_type)
        deleted = self._run(f"MATCH ()-[r:{q(rel_type)}]->() DELETE r RETURN count(*)").get_next()
        return int(deleted[0])

    # ------------------------------------------------------------------ reads
    def existing_node_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        node = self.schema.node(label)
        wanted = pa.table({"k": pa.array([str(i) for i in ids], pa.string())})
        if wanted.num_rows == 0:
            return set()
        found = self._run(
            f"LOAD FROM $ids MATCH (n:{q(label)} {{{q(node.key)}: k}}) RETURN k", {"ids": wanted}
        ).get_as_arrow()
        return set(found.column(0).to_pylist())

    def iter_nodes(
        self,
        label: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        node = self.schema.node(label)
        wanted = self.schema.node_export_properties(label, properties)
        columns = ", ".join([f"n.{q(node.key)} AS {q(node.key)}"] + [f"n.{q(p)} AS {q(p)}" for p in wanted])
        for lo, hi in self._offset_ranges(label, batch_size):
            frame = self._run(
                f"MATCH (n:{q(label)}) WHERE offset(id(n)) >= $lo AND offset(id(n)) < $hi RETURN {columns}",
                {"lo": lo, "hi": hi},
            ).get_as_df()
            if not frame.empty:
                yield frame

    def iter_relationships(
        self,
        rel_type: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        rel = self.schema.rel(rel_type)
        wanted = self.schema.rel_export_properties(rel_type, properties)
        extra = "".join(f", r.{q(p)} AS {q(p)}" for p in wanted)
        for from_label, to_label in rel.endpoints:
            fk, tk = self.schema.nodes[from_label].key, self.schema.nodes[to_label].key
            pattern = f"(a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)})"
            # Ranges over the source node table keep each chunk bounded without a sort.
            for lo, hi in self._offset_ranges(from_label, max(1, batch_size // 8)):
                frame = self._run(
                    f"MATCH {pattern} WHERE offset(id(a)) >= $lo AND offset(id(a)) < $hi "
                    f"RETURN a.{q(fk)} AS from_id, b.{q(tk)} AS to_id{extra}",
                    {"lo": lo, "hi": hi},
                ).get_as_df()
                if frame.empty:
                    continue
                frame.insert(0, "from_label", from_label)
                frame.insert(2, "to_label", to_label)
                yield frame

    def _offset_ranges(self, label: str, size: int) -> Iterator[tuple[int, int]]:
        """Half-open ranges of internal node offsets of ``label``, ``size`` wide.

        Offsets are dense from 0 but deletions leave gaps, so the ranges span the
        highest offset rather than the count."""
        top = self._run(f"MATCH (n:{q(label)}) RETURN max(offset(id(n)))").get_next()[0]
        for lo in range(0, -1 if top is None else int(top) + 1, size):
            yield lo, lo + size

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pd.DataFrame:
        if self._conn is None:
            raise StoreError("The store is closed.")
        if not write:
            refuse_outside_access(cypher, EMBEDDED_RULES)
        _require_single_statement(self._conn, cypher)
        try:
            if write:
                return self._conn.execute(cypher, params or {}).get_as_df()
            self._conn.execute("BEGIN TRANSACTION READ ONLY")
            try:
                return self._conn.execute(cypher, params or {}).get_as_df()
            finally:
                self._rollback_quietly()
        except RuntimeError as exc:
            raise _query_error(str(exc)) from exc

    def counts(self) -> GraphCounts:
        tables = self._existing_tables()
        nodes = {
            label: int(self._run(f"MATCH (n:{q(label)}) RETURN count(*)").get_next()[0])
            if label in tables
            else 0
            for label in sorted(self.schema.nodes)
        }
        rels = {
            rel_type: int(self._run(f"MATCH ()-[r:{q(rel_type)}]->() RETURN count(*)").get_next()[0])
            if rel_type in tables
            else 0
            for rel_type in sorted(self.schema.rels)
        }
        return GraphCounts(nodes=nodes, relationships=rels)


def _require_single_statement(conn: ladybug.Connection, cypher: str) -> None:
    """Refuse text with several statements: ``COMMIT; CREATE ...`` must not escape the
    read-only transaction a query runs in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            prepared = conn.prepare(cypher)
        except RuntimeError as exc:
            raise _query_error(str(exc)) from exc
    if not prepared.is_success():
        raise _query_error(prepared.get_error_message())


def _remove(path: Path) -> None:
    """Delete a file or folder left by an earlier run, if any."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _query_error(message: str) -> KGError:
    """The user-facing error for a failed query."""
    if "multiple statements" in message:
        return InputError("Run one Cypher statement at a time.")
    if "read-only" in message or "read only" in message.lower():
        return StoreError("This query writes to the graph; queries are read-only unless you pass --write.")
    return StoreError(f"Query failed: {message}")


def _changed(matched: pd.DataFrame) -> np.ndarray:
    """Rows where some given (non-null) value differs from the stored one (``_OLD``); a
    stored null counts as different. Plain numeric columns compare as arrays; others
    (strings, lists, nullable dtypes that compare to NA) value by value."""
    changed = np.zeros(len(matched), dtype=bool)
    for column in [c for c in matched.columns if c + _OLD in matched.columns]:
        new, old = matched[column], matched[column + _OLD]
        given = new.notna().to_numpy(dtype=bool)
        if _plain_numeric(new) and _plain_numeric(old):
            differs = (new.to_numpy() != old.to_numpy()) | old.isna().to_numpy(dtype=bool)
        else:
            differs = np.fromiter((_differs(a, b) for a, b in zip(new, old, strict=True)), bool, len(new))
        changed |= given & differs
    return changed


def _plain_numeric(values: pd.Series) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf"


def _as_comparable(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else value


def _differs(new: Any, old: Any) -> bool:
    """Whether a given value differs from the stored one; a value not given (None, NaN,
    pd.NA from a nullable column) never counts, a stored null always does."""
    if _missing(new):
        return False
    if _missing(old):
        return True
    return bool(_as_comparable(new) != _as_comparable(old))


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _arrow_array(values: pd.Series, arrow_type: pa.DataType) -> pa.Array:
    """Convert a pandas column to Arrow: NaN/NA become nulls, 3.0 becomes 3 for INT64,
    anything else that does not fit the declared type is a clear input error."""
    try:
        return pa.array(values, type=arrow_type, from_pandas=True)
    except pa.ArrowTypeError:
        if not pa.types.is_string(arrow_type):
            raise InputError(f"Column {values.name!r} has values that are not {arrow_type}.") from None
        as_text = (
            values.astype(object).where(pd.notna(values), None).map(lambda v: v if v is None else str(v))
        )
        return pa.array(as_text, type=arrow_type)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise InputError(f"Column {values.name!r} has values that are not {arrow_type}: {exc}") from exc
