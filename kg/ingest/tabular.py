"""CSV / TSV / JSONL files turned into node and relationship batches by a mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kg.ids import slugify
from kg.ingest.batches import Batch, NodeBatch, RelBatch
from kg.ingest.convert import CONVERTERS
from kg.ingest.mapping import Mapping
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import count_lines, read_delimited, read_header, read_jsonl
from kg.schema import Schema
from kg.store.base import FROM_ID, TO_ID

_DELIMITERS = {"csv": ",", "tsv": "\t"}


def detect_format(path: Path, mapping: Mapping) -> str:
    """The mapping's ``format``, else the file extension."""
    if mapping.format:
        return mapping.format
    suffix = path.suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "ndjson": "jsonl", "tsv": "tsv", "tab": "tsv"}.get(suffix, "csv")


class TabularLoader:
    """Streams one mapped file as batches; bad rows go to the problem log."""

    def __init__(
        self,
        path: Path,
        mapping: Mapping,
        schema: Schema,
        problems: ProblemLog,
        *,
        batch_size: int = 50_000,
        encoding: str | None = None,
    ) -> None:
        mapping.check_schema(schema)
        self.path = path
        self.mapping = mapping
        self.schema = schema
        self.problems = problems
        self.batch_size = batch_size
        self.encoding = encoding or mapping.encoding
        self.format = detect_format(path, mapping)
        self.delimiter = mapping.delimiter or _DELIMITERS.get(self.format, ",")
        if self.format != "jsonl":
            header = read_header(path, delimiter=self.delimiter, encoding=self.encoding)
            if header:  # an empty file has no columns to check, and no rows to load
                mapping.check_columns(header, path.name)

    def estimated_rows(self) -> int:
        return count_lines(self.path)

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.format == "jsonl":
            return read_jsonl(self.path, self.problems, encoding=self.encoding)
        return read_delimited(self.path, self.problems, delimiter=self.delimiter, encoding=self.encoding)

    def batches(self) -> Iterator[Batch]:
        """Convert each record as it is read (so problems are reported in file order)
        and flush every ``batch_size`` records."""
        convert = self._node_row if self.mapping.nodes is not None else self._edge_row
        flush = self._node_batches if self.mapping.nodes is not None else self._edge_batches
        rows: list[dict[str, Any]] = []
        read = 0
        for line, record in self._records():
            read += 1
            row = convert(line, record)
            if row is not None:
                rows.append(row)
            if read >= self.batch_size:
                yield from flush(rows, read)
                rows, read = [], 0
        if read:
            yield from flush(rows, read)

    # ------------------------------------------------------------------ conversion
    def _typed(
        self, line: int, record: dict[str, Any], columns: dict[str, str], types: dict[str, str]
    ) -> dict[str, Any] | None:
        """``{property: typed value}`` for one record, or None after reporting a problem."""
        values: dict[str, Any] = {}
        for prop, column in columns.items():
            try:
                values[prop] = CONVERTERS[types[prop]](record.get(column))
            except ValueError as exc:
                self.problems.report(self.path.name, line, f"column {column!r}: {exc}")
                return None
        return values

    def _key(self, line: int, record: dict[str, Any], column: str) -> str | None:
        raw = record.get(column)
        if isinstance(raw, (list, dict)):
            kind = type(raw).__name__
            self.problems.report(
                self.path.name, line, f"id in column {column!r} must be a string or number, not a {kind}"
            )
            return None
        key = None if raw is None else str(raw).strip()
        if not key:
            self.problems.report(self.path.name, line, f"missing id in column {column!r}")
            return None
        return key

    def _node_row(self, line: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """The node's properties plus, under ``_links``, the raw values of each link column."""
        spec = self.mapping.nodes
        assert spec is not None
        node = self.schema.nodes[spec.label]
        key = self._key(line, record, spec.id)
        values = self._typed(line, record, spec.properties, node.all_properties()) if key else None
        if values is None:
            return None
        links = [_split(record.get(link.column), link.split) for link in spec.links]
        return {node.key: key, **values, **spec.constants, "_links": links}

    def _node_batches(self, rows: list[dict[str, Any]], read: int) -> Iterator[Batch]:
        spec = self.mapping.nodes
        assert spec is not None
        node_key = self.schema.nodes[spec.label].key
        columns = [node_key, *spec.properties, *spec.constants]
        yield NodeBatch(spec.label, pd.DataFrame(rows, columns=columns), input_rows=read)
        for index, link in enumerate(spec.links):
            targets: dict[str, str] = {}  # target key -> name as written
            pairs: list[tuple[str, str]] = []
            for row in rows:
                for name in row["_links"][index]:
                    target = slugify(name) if link.key == "slug" else name
                    targets.setdefault(target, name)
                    pairs.append((row[node_key], target))
            target_node = self.schema.nodes[link.label]
            # A slug key means the column held a name; a value key is a bare id whose
            # name (if any) comes from that node's own file.
            names_known = link.key == "slug" and "name" in target_node.properties
            name_column = {"name": list(targets.values())} if names_known else {}
            yield NodeBatch(link.label, pd.DataFrame({target_node.key: list(targets), **name_column}))
            frame = pd.DataFrame(pairs, columns=[FROM_ID, TO_ID])
            if link.direction == "out":
                yield RelBatch(link.rel, spec.label, link.label, frame, source=self.path.name)
            else:
                frame.columns = [TO_ID, FROM_ID]
                yield RelBatch(link.rel, link.label, spec.label, frame, source=self.path.name)

    def _edge_row(self, line: int, record: dict[str, Any]) -> dict[str, Any] | None:
        spec = self.mapping.edges
        assert spec is not None
        source = self._key(line, record, spec.source.column)
        target = self._key(line, record, spec.target.column) if source else None
        values = (
            self._typed(line, record, spec.properties, self.schema.rels[spec.rel].properties)
            if target
            else None
        )
        return None if values is None else {FROM_ID: source, TO_ID: target, **values}

    def _edge_batches(self, rows: list[dict[str, Any]], read: int) -> Iterator[Batch]:
        spec = self.mapping.edges
        assert spec is not None
        frame = pd.DataFrame(rows, columns=[FROM_ID, TO_ID, *spec.properties])
        yield RelBatch(
            spec.rel, spec.source.label, spec.target.label, frame, source=self.path.name, input_rows=read
        )


def _split(raw: Any, separator: str | None) -> list[str]:
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else str(raw).split(separator) if separator else [str(raw)]
    return [v.strip() for v in map(str, values) if v and v.strip()]
