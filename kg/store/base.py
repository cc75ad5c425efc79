"""The small interface every graph store implements.

Batches travel as pandas DataFrames: a node batch has the label's key column (``id``)
plus property columns; a relationship batch has ``from_id`` and ``to_id`` plus property
columns. Upserts are idempotent: a relationship is identified by its type and its two
endpoint keys, a node by its label and key. A ``None``/NaN property value leaves the
stored value unchanged, so a partial row never erases what an earlier row said.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg.errors import InputError
from kg.schema import Schema, check_identifier, infer_property_type

FROM_ID = "from_id"
TO_ID = "to_id"
DEFAULT_EXPORT_BATCH = 100_000


@dataclass(frozen=True)
class UpsertResult:
    """How many rows of a batch created something new, changed a stored value, or matched
    what was stored already (a re-ingest of the same file is all ``unchanged``)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged
        )


@dataclass(frozen=True)
class GraphCounts:
    """Counts per node label and per relationship type (zero counts included)."""

    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)

    @property
    def total_nodes(self) -> int:
        return sum(self.nodes.values())

    @property
    def total_relationships(self) -> int:
        return sum(self.relationships.values())


class GraphStore(ABC):
    """A property graph that holds exactly the declared ``schema``."""

    schema: Schema
    name: str = "store"

    # ------------------------------------------------------------------ lifecycle
    @abstractmethod
    def ensure_schema(self) -> None:
        """Create tables / constraints / indexes for every declared label and type."""

    @abstractmethod
    def close(self) -> None:
        """Release the database handle or driver."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    @abstractmethod
    def upsert_nodes(self, label: str, rows: pd.DataFrame) -> UpsertResult:
        """Create or update nodes keyed by the label's key column."""

    @abstractmethod
    def upsert_relationships(
        self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
    ) -> UpsertResult:
        """Create or update relationships keyed by (type, from_id, to_id).

        Both endpoints must already exist; see :meth:`existing_node_ids`.
        """

    @abstractmethod
    def set_node_properties(self, label: str, rows: pd.DataFrame) -> int:
        """Write computed values (scores, embeddings) onto existing nodes.

        Columns other than the key that the schema does not know yet are declared on
        the fly with a type inferred from the values. Returns the number of nodes set.
        """

    @abstractmethod
    def replace_relationships(self, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame) -> int:
        """Atomically replace all ``rel_type`` relationships leaving the ``from_id`` nodes
        of ``rows`` with exactly ``rows`` (used for recommendations and segments)."""

    @abstractmethod
    def delete_relationships(self, rel_type: str) -> int:
        """Remove every relationship of one type (for example stale segments)."""

    # ------------------------------------------------------------------ reads
    @abstractmethod
    def existing_node_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` that exist as ``label`` nodes."""

    def missing_node_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` with no ``label`` node: the endpoint check before a
        relationship batch. A store whose round trips cost per returned row answers it
        without sending the (usually all) existing ids back."""
        wanted = {str(i) for i in ids}
        return wanted - self.existing_node_ids(label, wanted)

    @abstractmethod
    def iter_nodes(
        self,
        label: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        """Stream nodes of one label as DataFrames (key column first)."""

    @abstractmethod
    def iter_relationships(
        self,
        rel_type: str,
        properties: list[str] | None = None,
        batch_size: int = DEFAULT_EXPORT_BATCH,
    ) -> Iterator[pd.DataFrame]:
        """Stream relationships of one type: ``from_label, from_id, to_label, to_id`` +
        properties."""

    @abstractmethod
    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pd.DataFrame:
        """Run one Cypher statement with parameters. Read-only unless ``write``."""

    def erase_deleted_data(self) -> bool:
        """Make deleted values unreadable from the store's files (after ``kg forget``).

        A database marks deleted records free and reuses them later; their bytes stay in
        its files until then. Returns True when the store rewrote its files. A server
        (Neo4j) manages its own files: this is False there, and the README says how to
        compact a Neo4j database offline."""
        return False

    @abstractmethod
    def counts(self) -> GraphCounts:
        """Number of nodes per label and relationships per type."""

    # ------------------------------------------------------------------ derived
    def iter_triples(
        self, rel_types: Iterable[str] | None = None, batch_size: int = DEFAULT_EXPORT_BATCH
    ) -> Iterator[pd.DataFrame]:
        """Stream ``head, relation, tail`` string triples; entities are ``Label:id``.

        Deterministic: the same graph gives the same strings in any store.
        """
        wanted = sorted(rel_types) if rel_types is not None else sorted(self.schema.rels)
        for rel_type in wanted:
            self.schema.rel(rel_type)
            for batch in self.iter_relationships(rel_type, properties=[], batch_size=batch_size):
                if batch.empty:
                    continue
                yield pd.DataFrame(
                    {
                        "head": batch["from_label"] + ":" + batch[FROM_ID],
                        "relation": rel_type,
                        "tail": batch["to_label"] + ":" + batch[TO_ID],
                    }
                )


# ---------------------------------------------------------------------- batch helpers
def prepare_node_batch(schema: Schema, label: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Validate a node batch against the schema; merge rows with the same key."""
    node = schema.node(label)
    if node.key not in rows.columns:
        raise InputError(f"A {label} batch needs a {node.key!r} column; got {list(rows.columns)}.")
    schema.check_node_properties(label, rows.columns)
    keys = rows[node.key]
    if keys.isna().any():
        raise InputError(f"A {label} batch has rows without a {node.key!r}.")
    rows = rows.assign(**{node.key: keys.astype(str)})
    return _merge_duplicates(rows, [node.key])


def prepare_rel_batch(
    schema: Schema, rel_type: str, from_label: str, to_label: str, rows: pd.DataFrame
) -> pd.DataFrame:
    """Validate a relationship batch; merge rows with the same (from_id, to_id)."""
    schema.check_endpoints(rel_type, from_label, to_label)
    missing = {FROM_ID, TO_ID} - set(rows.columns)
    if missing:
        raise InputError(f"A {rel_type} batch needs columns {sorted(missing)}.")
    schema.check_rel_properties(rel_type, [c for c in rows.columns if c not in (FROM_ID, TO_ID)])
    if rows[FROM_ID].isna().any() or rows[TO_ID].isna().any():
        raise InputError(f"A {rel_type} batch has rows without an endpoint id.")
    rows = rows.assign(**{FROM_ID: rows[FROM_ID].astype(str), TO_ID: rows[TO_ID].astype(str)})
    return _merge_duplicates(rows, [FROM_ID, TO_ID])


def _merge_duplicates(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key, as if the rows had been upserted in order: for each column the
    last non-missing value wins (a missing value never erases an earlier one)."""
    if not rows.duplicated(subset=keys).any():
        return rows.reset_index(drop=True)
    return rows.groupby(keys, sort=False, as_index=False, dropna=False).last()


def declare_written_properties(schema: Schema, label: str, rows: pd.DataFrame) -> list[str]:
    """Declare columns of a write-back batch the schema does not know; return all names."""
    node = schema.node(label)
    names = [c for c in rows.columns if c != node.key]
    for name in names:
        check_identifier(name, "Property")
        schema.add_node_property(label, name, infer_property_type(rows[name]))
    return names


def columns_for_driver(rows: pd.DataFrame, types: dict[str, str] | None = None) -> dict[str, list[Any]]:
    """Each column as a list of plain Python values, ``None`` for missing ones (NaN/NaT/pd.NA).

    ``types`` (column -> declared schema type) casts each value to its declared type: a
    pandas INT64 column with a gap is float (``31.0``) and a DOUBLE column of whole
    numbers may be int, and a server stores exactly the Python type it receives."""
    columns: dict[str, list[Any]] = {}
    for column in rows.columns:
        values = rows[column]
        cast = _CASTS.get((types or {}).get(column, ""))
        plain = values.astype(object).where(values.notna(), None).tolist()
        for position, value in enumerate(plain):
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, np.generic):
                value = value.item()
            if value is not None and cast is not None:
                value = cast(column, value)
            plain[position] = value
        columns[str(column)] = plain
    return columns


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise InputError(f"{name} is declared INT64 but a row holds a fraction.")
    return int(value)


_CASTS: dict[str, Any] = {
    "INT64": _to_int,
    "DOUBLE": lambda _name, value: float(value),
    "BOOLEAN": lambda _name, value: bool(value),
    "STRING": lambda _name, value: value if isinstance(value, str) else str(value),
    "DOUBLE[]": lambda _name, value: [float(x) for x in value],
    "STRING[]": lambda _name, value: [str(x) for x in value],
}
