"""Bulk files for ``neo4j-admin database import full``: the fast path for a large first load.

One CSV per label (``<Label>.nodes.csv``) and per relationship type and label pair
(``<TYPE>.<From>.<To>.rels.csv``), each with its header on the first line in the form the
importer expects: ``id:ID(Label)``, typed properties (``price:double``,
``aliases:string[]``), ``:LABEL``; ``:START_ID(From)``, ``:END_ID(To)``, ``:TYPE``. ID
spaces are per label, so the same key under two labels never collides. Arrays are joined
with the array delimiter (``;`` by default, the importer's default too). Rows are streamed
from the store batch by batch, so the export needs no more memory than one batch.

The importer reads an empty field as "no property" and a quoted empty field (``""``) as
an empty string, so string fields are always quoted and missing values left empty: an
empty string comes back as one. An array field has no such form (``""`` in an array
column is no property as well), so an empty list -- or a list of one empty string --
comes back missing; the export counts those values and says so in its summary.

Beside the data go ``schema.cypher`` (the uniqueness constraints and vector indexes the
adapter would create: the importer creates none) and ``import.sh`` with the exact
import command for these files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kg.errors import InputError
from kg.progress import ProgressReporter, SilentProgress
from kg.store import neo4j_cypher as cy
from kg.store.base import DEFAULT_EXPORT_BATCH, FROM_ID, TO_ID, GraphStore

# Our property types -> the importer's header types.
HEADER_TYPES = {
    "STRING": "string",
    "INT64": "long",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "STRING[]": "string[]",
    "DOUBLE[]": "double[]",
}


@dataclass
class AdminExport:
    """What was written: files with their row counts, and how to import them."""

    directory: Path
    array_delimiter: str
    nodes: dict[str, tuple[Path, int]] = field(default_factory=dict)  # label -> (file, rows)
    relationships: dict[str, tuple[Path, int]] = field(default_factory=dict)  # "TYPE From->To" -> ...
    # "Label.property" (or "TYPE.property") -> how many values the importer drops: lists
    # that are empty or hold one empty string have no form in an array field
    unimportable_lists: dict[str, int] = field(default_factory=dict)

    def import_command(self, database: str = "neo4j", import_dir: str = "/import") -> str:
        """The ``neo4j-admin`` call for these files, as seen from ``import_dir`` (the
        folder's path inside the Neo4j container, or the folder itself on a host install)."""
        # The database goes right after `full`: since 5.19 --nodes/--relationships take
        # several values, so a name at the end would be read as one more file.
        parts = [
            f"neo4j-admin database import full {database}",
            "--overwrite-destination",
            "--multiline-fields=true",
            "--ignore-empty-strings=false",  # the default, relied on: "" is an empty string
        ]
        parts.append(f"--array-delimiter='{self.array_delimiter}'")
        parts += [f"--nodes={import_dir}/{path.name}" for path, _ in self.nodes.values()]
        parts += [f"--relationships={import_dir}/{path.name}" for path, _ in self.relationships.values()]
        return " \\\n  ".join(parts)

    def summary_lines(self) -> list[str]:
        lines = [
            f"{path.name}: {rows:,} rows"
            for path, rows in [*self.nodes.values(), *self.relationships.values()]
        ]
        if self.unimportable_lists:
            lost = ", ".join(
                f"{where} ({count:,})" for where, count in sorted(self.unimportable_lists.items())
            )
            lines.append(
                "Not imported: neo4j-admin reads an empty array field as no property, so empty lists "
                f"(and lists of one empty string) come back missing: {lost}. Set them after the "
                "import if you need them (SET n.property = [])."
            )
        lines.append(f"Constraints to create after the import: {self.directory / 'schema.cypher'}")
        lines.append(f"Import command (also in {self.directory / 'import.sh'}):")
        lines.append(self.import_command())
        return lines


def export_neo4j_admin(
    store: GraphStore,
    directory: Path,
    *,
    array_delimiter: str = ";",
    batch_size: int = DEFAULT_EXPORT_BATCH,
    progress: ProgressReporter | None = None,
) -> AdminExport:
    """Write the whole graph of ``store`` as neo4j-admin import files into ``directory``.

    Files of an earlier export in the folder are replaced; labels and types without data
    get no file (the importer needs none). A folder that holds other files and no earlier
    export is refused: replacing ``*.nodes.csv`` there could delete someone's data.
    """
    if len(array_delimiter) != 1 or array_delimiter in ',"\n':
        raise InputError("The array delimiter must be one character other than a comma, quote or newline.")
    _claim_folder(directory)
    for stale in [*directory.glob("*.nodes.csv"), *directory.glob("*.rels.csv")]:
        stale.unlink()
    reporter = progress or SilentProgress()
    counts = store.counts()
    export = AdminExport(directory, array_delimiter)
    dimensions: dict[tuple[str, str], int] = {}
    with reporter.task("Export for neo4j-admin", counts.total_nodes + counts.total_relationships):
        for label, node in sorted(store.schema.nodes.items()):
            if not counts.nodes.get(label):
                continue
            types = node.all_properties()
            path = directory / f"{label}.nodes.csv"
            header = {node.key: f"{node.key}:ID({label})"} | {
                p: f"{p}:{HEADER_TYPES[t]}" for p, t in types.items() if p != node.key
            }
            written = 0
            for batch in store.iter_nodes(label, batch_size=batch_size):
                frame = _csv_fields(batch, types, array_delimiter, label, export.unimportable_lists)
                _note_dimensions(batch, types, label, dimensions)
                frame = frame.rename(columns=header).assign(**{":LABEL": label})
                _append_csv(path, frame, first=written == 0)
                written += len(frame)
                reporter.advance(len(frame))
            if written:
                export.nodes[label] = (path, written)

        for rel_type, rel in sorted(store.schema.rels.items()):
            if not counts.relationships.get(rel_type):
                continue
            types = dict(rel.properties)
            written_per_pair: dict[tuple[str, str], int] = {}
            for batch in store.iter_relationships(rel_type, batch_size=batch_size):
                for (from_label, to_label), group in batch.groupby(["from_label", "to_label"], sort=False):
                    path = directory / f"{rel_type}.{from_label}.{to_label}.rels.csv"
                    frame = _csv_fields(
                        group.drop(columns=["from_label", "to_label"]),
                        types,
                        array_delimiter,
                        rel_type,
                        export.unimportable_lists,
                    )
                    header = {FROM_ID: f":START_ID({from_label})", TO_ID: f":END_ID({to_label})"} | {
                        p: f"{p}:{HEADER_TYPES[t]}" for p, t in types.items()
                    }
                    frame = frame.rename(columns=header).assign(**{":TYPE": rel_type})
                    done = written_per_pair.get((from_label, to_label), 0)
                    _append_csv(path, frame, first=done == 0)
                    written_per_pair[(from_label, to_label)] = done + len(frame)
                    reporter.advance(len(frame))
            for (from_label, to_label), rows in written_per_pair.items():
                path = directory / f"{rel_type}.{from_label}.{to_label}.rels.csv"
                export.relationships[f"{rel_type} {from_label}->{to_label}"] = (path, rows)
    _write_schema_script(store, directory / "schema.cypher", dimensions)
    (directory / "import.sh").write_text(
        "#!/bin/sh\n# Run inside the Neo4j container (or a host install) with the database stopped.\n"
        + export.import_command()
        + "\n",
        encoding="utf-8",
    )
    return export


def _csv_fields(
    frame: pd.DataFrame, types: dict[str, str], delimiter: str, owner: str, unimportable: dict[str, int]
) -> pd.DataFrame:
    """Each property column as the text of its CSV fields, as the importer parses them for
    the declared type: strings and arrays quoted (an empty string is ``""``), a missing
    value an empty field (no property). Scalars are converted column-wise; only arrays
    and booleans are formatted value by value. Lists the importer would drop are counted
    in ``unimportable`` under ``owner.column``."""
    out = {}
    for column in frame.columns:
        kind = types.get(column, "STRING")
        values = frame[column]
        if kind == "INT64":
            fields = pd.to_numeric(values, errors="raise").astype("Int64").astype("string").fillna("")
        elif kind == "DOUBLE":
            numbers = pd.to_numeric(values, errors="raise").astype("float64")
            fields = numbers.astype(str).where(numbers.notna(), "")  # shortest repr: 0.1, 1e-05
        elif kind == "STRING":
            fields = _quoted(values.astype(object).where(values.notna(), None))
        elif kind == "BOOLEAN":
            fields = pd.Series([_boolean(value) for value in values], index=values.index, dtype=object)
        else:
            joined = [_array(value, kind, delimiter, column, owner) for value in values]
            lost = sum(text == "" for text in joined)
            if lost:
                unimportable[f"{owner}.{column}"] = unimportable.get(f"{owner}.{column}", 0) + lost
            fields = _quoted(pd.Series(joined, index=values.index, dtype=object))
        out[column] = fields.astype(object)
    return pd.DataFrame(out, columns=list(frame.columns), index=frame.index)


def _quoted(values: pd.Series) -> pd.Series:
    """RFC 4180 fields: each string in quotes with its quotes doubled; None an empty field."""
    present = values.notna()
    text = values[present].astype(str)
    return ('"' + text.str.replace('"', '""', regex=False) + '"').reindex(values.index).where(present, "")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _boolean(value: Any) -> str:
    if _missing(value):
        return ""
    return "true" if bool(value) else "false"


def _array(value: Any, kind: str, delimiter: str, column: str, owner: str) -> str | None:
    """An array's elements joined by ``delimiter``; None when missing. An empty list joins
    to "" -- the importer reads that as no property."""
    if _missing(value):
        return None
    if kind == "DOUBLE[]":
        return delimiter.join(repr(float(x)) for x in value)
    parts = [str(x) for x in value]
    clash = next((p for p in parts if delimiter in p), None)
    if clash is not None:
        raise InputError(
            f"{owner}: {column} value {clash!r} contains the array delimiter {delimiter!r}; "
            "choose another with --array-delimiter."
        )
    return delimiter.join(parts)


def _note_dimensions(
    batch: pd.DataFrame, types: dict[str, str], label: str, seen: dict[tuple[str, str], int]
) -> None:
    for column in batch.columns:
        if types.get(column) == "DOUBLE[]" and (label, column) not in seen:
            sample = next((v for v in batch[column] if hasattr(v, "__len__") and len(v)), None)
            if sample is not None:
                seen[(label, column)] = len(sample)


def _append_csv(path: Path, fields: pd.DataFrame, *, first: bool) -> None:
    """Append rows of ready CSV fields (``_csv_fields``), after the header on the first
    call; the header names are identifiers and need no quoting."""
    columns = list(fields.columns)
    rows = fields[columns[0]].str.cat([fields[c] for c in columns[1:]], sep=",")
    with path.open("w" if first else "a", encoding="utf-8", newline="") as handle:
        if first:
            handle.write(",".join(columns) + "\n")
        if len(rows):
            handle.write("\n".join(rows) + "\n")


def _write_schema_script(store: GraphStore, path: Path, dimensions: dict[tuple[str, str], int]) -> None:
    """Constraints (and vector indexes) to run once after the import, e.g. with cypher-shell."""
    statements: Iterable[str] = [
        cy.create_key_constraint(label, node.key) for label, node in sorted(store.schema.nodes.items())
    ] + [cy.create_vector_index(label, prop, dims) for (label, prop), dims in sorted(dimensions.items())]
    path.write_text("".join(f"{statement};\n" for statement in statements), encoding="utf-8")


EXPORT_MARKER = ".kg-export"


def _claim_folder(directory: Path) -> None:
    """Create ``directory`` or accept it when empty or holding an earlier export (marked
    by ``EXPORT_MARKER``); anything else is an ``InputError`` before a file is touched."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} is a file; give a folder to export into.")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / EXPORT_MARKER).is_file():
        raise InputError(
            f"{directory} is not empty and holds no earlier `kg export`; export into a new or empty folder."
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / EXPORT_MARKER).write_text("written by `kg export`; a later export may replace these files\n")
