"""CSV / TSV / JSONL files turned into node and relationship batches by a mapping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kg.errors import InputError
from kg.ids import slugify
from kg.ingest.batches import Batch, NodeBatch, RelBatch
from kg.ingest.convert import converter_for, withheld
from kg.ingest.mapping import Mapping
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import DelimitedReader, JsonlReader, SourceRecord, read_header, scan_text
from kg.schema import Schema
from kg.store.base import FROM_ID, TO_ID

TABULAR_FORMATS = ("csv", "tsv", "jsonl")
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_EXTENSIONS = {"jsonl": "jsonl", "ndjson": "jsonl", "tsv": "tsv", "tab": "tsv"}


def detect_format(path: Path, mapping: Mapping) -> str:
    """The mapping's ``format``, else the file extension (CSV when it says nothing)."""
    if mapping.format:
        return mapping.format
    return _EXTENSIONS.get(path.suffix.lower().lstrip("."), "csv")


class TabularLoader:
    """Streams one mapped file as batches; bad rows go to the problem log.

    Everything that can be checked before a row is written is checked here: the mapping
    against the schema, the encoding against the whole file, the header against the
    mapping. ``batches`` can then be run more than once (a ``--strict`` check, then the
    load).
    """

    def __init__(
        self,
        path: Path,
        mapping: Mapping,
        schema: Schema,
        *,
        fmt: str | None = None,
        batch_size: int = 50_000,
        encoding: str | None = None,
    ) -> None:
        mapping.check_schema(schema)
        self.path = path
        self.mapping = mapping
        self.schema = schema
        self.batch_size = batch_size
        self.encoding = encoding or mapping.encoding
        self.format = fmt or detect_format(path, mapping)  # an explicit --format wins
        if self.format not in TABULAR_FORMATS:
            raise InputError(
                f"Format {self.format!r} is not one of {', '.join(TABULAR_FORMATS)} for {path.name}."
            )
        self.delimiter = mapping.delimiter or _DELIMITERS.get(self.format, ",")
        self._personal: set[str] = set()  # properties whose values a problem report withholds
        if mapping.nodes is not None:
            columns, types = mapping.nodes.properties, schema.nodes[mapping.nodes.label].all_properties()
            self._personal = schema.nodes[mapping.nodes.label].personal
        else:
            assert mapping.edges is not None
            columns, types = mapping.edges.properties, schema.rels[mapping.edges.rel].properties
        # (property, column, conversion), chosen once rather than per row
        self._conversions = [
            (prop, column, converter_for(prop, types[prop])) for prop, column in columns.items()
        ]
        self.lines = scan_text(path, self.encoding, universal_newlines=self.format != "jsonl")
        if self.format != "jsonl":
            header = read_header(path, delimiter=self.delimiter, encoding=self.encoding)
            if header:  # an empty file has no columns to check, and no rows to load
                mapping.check_columns(header, path.name)
                _refuse_repeated_columns(header, mapping.columns(), path.name)

    def estimated_rows(self) -> int:
        """The progress total: physical lines, the unit of ``Batch.lines``."""
        return self.lines

    def _reader(self, problems: ProblemLog) -> DelimitedReader | JsonlReader:
        if self.format == "jsonl":
            return JsonlReader(self.path, problems, encoding=self.encoding)
        return DelimitedReader(self.path, problems, delimiter=self.delimiter, encoding=self.encoding)

    def batches(self, problems: ProblemLog) -> Iterator[Batch]:
        """Convert each record as it is read (so problems are reported in file order)
        and flush every ``batch_size`` rows, and once at the end even if empty, so the
        batches account for every record and every line."""
        convert = self._node_row if self.mapping.nodes is not None else self._edge_row
        flush = self._node_batches if self.mapping.nodes is not None else self._edge_batches
        reader = self._reader(problems)
        rows: list[dict[str, Any]] = []
        records = lines = 0  # accounted for by earlier batches
        for record in reader:
            row = convert(record, problems)
            if row is not None:
                rows.append(row)
            if len(rows) >= self.batch_size:
                yield from flush(rows, reader.records - records, reader.lines - lines)
                rows, records, lines = [], reader.records, reader.lines
        yield from flush(rows, reader.records - records, reader.lines - lines)

    # ------------------------------------------------------------------ conversion
    def _typed(self, record: SourceRecord, problems: ProblemLog) -> dict[str, Any] | None:
        """``{property: typed value}`` for one record, or None after reporting a problem."""
        values: dict[str, Any] = {}
        for prop, column, convert in self._conversions:
            try:
                values[prop] = convert(record.values.get(column))
            except ValueError as exc:
                reason = withheld(str(exc), record.values.get(column)) if prop in self._personal else str(exc)
                problems.report(self.path.name, record.line, f"column {column!r}: {reason}", raw=record.raw)
                return None
        return values

    def _key(self, record: SourceRecord, problems: ProblemLog, column: str) -> str | None:
        raw = record.values.get(column)
        if isinstance(raw, (list, dict, bool)):
            kind = type(raw).__name__
            problems.report(
                self.path.name,
                record.line,
                f"id in column {column!r} must be a string or number, not a {kind}",
                raw=record.raw,
            )
            return None
        key = None if raw is None else str(raw).strip()
        if not key:
            problems.report(self.path.name, record.line, f"missing id in column {column!r}", raw=record.raw)
            return None
        return key

    def _node_row(self, record: SourceRecord, problems: ProblemLog) -> dict[str, Any] | None:
        """The node's properties plus, under ``_links``, the raw values of each link column."""
        spec = self.mapping.nodes
        assert spec is not None
        node = self.schema.nodes[spec.label]
        key = self._key(record, problems, spec.id)
        values = self._typed(record, problems) if key else None
        if values is None:
            return None
        links = [_split(record.values.get(link.column), link.split) for link in spec.links]
        return {node.key: key, **values, **spec.constants, "_links": links}

    def _node_batches(self, rows: list[dict[str, Any]], records: int, lines: int) -> Iterator[Batch]:
        spec = self.mapping.nodes
        assert spec is not None
        node_key = self.schema.nodes[spec.label].key
        columns = [node_key, *spec.properties, *spec.constants]
        types = self.schema.nodes[spec.label].all_properties()
        yield NodeBatch(spec.label, _typed_frame(rows, columns, types), input_rows=records, lines=lines)
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

    def _edge_row(self, record: SourceRecord, problems: ProblemLog) -> dict[str, Any] | None:
        spec = self.mapping.edges
        assert spec is not None
        source = self._key(record, problems, spec.source.column)
        target = self._key(record, problems, spec.target.column) if source else None
        values = self._typed(record, problems) if target else None
        return None if values is None else {FROM_ID: source, TO_ID: target, **values}

    def _edge_batches(self, rows: list[dict[str, Any]], records: int, lines: int) -> Iterator[Batch]:
        spec = self.mapping.edges
        assert spec is not None
        frame = _typed_frame(rows, [FROM_ID, TO_ID, *spec.properties], self.schema.rels[spec.rel].properties)
        yield RelBatch(
            spec.rel,
            spec.source.label,
            spec.target.label,
            frame,
            source=self.path.name,
            input_rows=records,
            lines=lines,
        )


def _typed_frame(rows: list[dict[str, Any]], columns: list[str], types: dict[str, str]) -> pd.DataFrame:
    """The batch as a DataFrame whose INT64 columns are pandas' nullable Int64: a plain
    frame makes a column holding a gap and a large integer float64, and
    9007199254740993 became ...992 (found by test_fuzz_ingest)."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if types.get(column) == "INT64":
            frame[column] = pd.array([row.get(column) for row in rows], dtype="Int64")
    return frame


def _split(raw: Any, separator: str | None) -> list[str]:
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else str(raw).split(separator) if separator else [str(raw)]
    return [v.strip() for v in map(str, values) if v and v.strip()]


def _refuse_repeated_columns(header: list[str], used: list[str], source: str) -> None:
    """A column the mapping reads must be named once: with two, which one is meant?"""
    repeated = sorted(name for name, count in Counter(header).items() if count > 1 and name in used)
    if repeated:
        raise InputError(
            f"{source} names the column(s) {repeated} more than once in its header; rename them."
        )
