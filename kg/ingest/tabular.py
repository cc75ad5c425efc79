"""CSV / TSV / JSONL files turned into node and relationship batches by a mapping."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kg.ingest.batches import Batch, NodeBatch, RelBatch
from kg.ingest.convert import CONVERTERS
from kg.ingest.mapping import Mapping
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import count_lines, read_delimited, read_header, read_jsonl
from kg.ids import slugify
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
            mapping.check_columns(
                read_header(path, delimiter=self.delimiter, encoding=self.encoding), path.name
            )

    def estimated_rows(self) -> int:
        return count_lines(self.path)

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.format == "jsonl":
            return read_jsonl(self.path, self.problems, encoding=self.encoding)
        return read_delimited(self.path, self.problems, delimiter=self.delimiter, encoding=self.encoding)

    def batches(self) -> Iterator[Batch]:
        chunk: list[tuple[int, dict[str, Any]]] = []
        for line, record in self._records():
            chunk.append((line, record))
            if len(chunk) >= self.batch_size:
                yield from self._convert(chunk)
                chunk = []
        if chunk:
            yield from self._convert(chunk)

    # ------------------------------------------------------------------ conversion
    def _typed(self, line: int, record: dict[str, Any], columns: dict[str, str], types: dict[str, str]) -> dict[str, Any] | None:
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
        key = None if raw is None else str(raw).strip()
        if not key:
            self.problems.report(self.path.name, line, f"missing id in column {column!r}")
            return None
        return key

    def _convert(self, chunk: list[tuple[int, dict[str, Any]]]) -> Iterator[Batch]:
        if self.mapping.nodes is not None:
            yield from self._convert_nodes(chunk)
        else:
            yield from self._convert_edges(chunk)

    def _convert_nodes(self, chunk: list[tuple[int, dict[str, Any]]]) -> Iterator[Batch]:
        spec = self.mapping.nodes
        assert spec is not None
        node = self.schema.nodes[spec.label]
        types = node.all_properties()
        rows: list[dict[str, Any]] = []
        linked: dict[int, dict[str, str]] = defaultdict(dict)  # link -> target key -> name
        links: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for line, record in chunk:
            key = self._key(line, record, spec.id)
            values = self._typed(line, record, spec.properties, types) if key else None
            if key is None or values is None:
                continue
            rows.append({node.key: key, **values, **spec.constants})
            for index, link in enumerate(spec.links):
                for name in _split(record.get(link.column), link.split):
                    target = slugify(name) if link.key == "slug" else name
                    linked[index].setdefault(target, name)
                    links[index].append((key, target))
        yield NodeBatch(spec.label, pd.DataFrame(rows, columns=[node.key, *spec.properties, *spec.constants]), input_rows=len(chunk))
        for index, link in enumerate(spec.links):
            targets = linked[index]
            target_key = self.schema.nodes[link.label].key
            # A slug key means the column held a name; a value key is a bare id whose
            # name (if any) comes from that node's own file.
            names_known = link.key == "slug" and "name" in self.schema.nodes[link.label].properties
            name_column = {"name": list(targets.values())} if names_known else {}
            yield NodeBatch(link.label, pd.DataFrame({target_key: list(targets), **name_column}))
            pairs = pd.DataFrame(links[index], columns=[FROM_ID, TO_ID])
            if link.direction == "in":
                pairs = pairs.rename(columns={FROM_ID: TO_ID, TO_ID: FROM_ID})
            from_label, to_label = (spec.label, link.label) if link.direction == "out" else (link.label, spec.label)
            yield RelBatch(link.rel, from_label, to_label, pairs, source=self.path.name)

    def _convert_edges(self, chunk: list[tuple[int, dict[str, Any]]]) -> Iterator[Batch]:
        spec = self.mapping.edges
        assert spec is not None
        types = self.schema.rels[spec.rel].properties
        rows: list[dict[str, Any]] = []
        for line, record in chunk:
            source = self._key(line, record, spec.source.column)
            target = self._key(line, record, spec.target.column) if source else None
            values = self._typed(line, record, spec.properties, types) if target else None
            if values is not None:
                rows.append({FROM_ID: source, TO_ID: target, **values})
        frame = pd.DataFrame(rows, columns=[FROM_ID, TO_ID, *spec.properties])
        yield RelBatch(spec.rel, spec.source.label, spec.target.label, frame, source=self.path.name, input_rows=len(chunk))


def _split(raw: Any, separator: str | None) -> list[str]:
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else str(raw).split(separator) if separator else [str(raw)]
    return [v.strip() for v in map(str, values) if v and v.strip()]
