"""Streaming readers for delimited text and JSON Lines, with line numbers.

Readers yield ``(line_number, record)`` and report unreadable records to the problem
log instead of raising, so one bad line never costs the rest of the file.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kg.errors import InputError
from kg.ingest.problems import ProblemLog

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long descriptions are data, not errors


def count_lines(path: Path) -> int:
    """Fast line count (for progress totals); reads bytes, never decodes."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _decode_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> InputError:
    return InputError(
        f"{path} is not valid {encoding} (byte {exc.start}: {exc.object[exc.start:exc.start + 4]!r}); "
        "pass --encoding (for example latin-1 or cp1252)."
    )


def read_delimited(
    path: Path,
    problems: ProblemLog,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
    header: list[str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a delimited file as dicts keyed by the header (or the given names).

    A row with the wrong number of fields or an unparseable quote is reported with its
    line number and skipped.
    """
    source = path.name
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            names = header
            if names is None:
                names = next(reader, None)
                if names is None:
                    return
                names = [n.strip() for n in names]
            width = len(names)
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    problems.report(source, reader.line_num, f"unreadable row: {exc}")
                    continue
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != width:
                    problems.report(
                        source, reader.line_num, f"expected {width} fields, found {len(fields)}"
                    )
                    continue
                if any("\x00" in field for field in fields):
                    problems.report(
                        source, reader.line_num, "contains NUL bytes (UTF-16 text? pass --encoding utf-16)"
                    )
                    continue
                yield reader.line_num, dict(zip(names, fields, strict=True))
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc


def read_header(path: Path, *, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[str]:
    """The column names of a delimited file (empty for an empty file)."""
    try:
        with path.open(newline="", encoding=encoding) as handle:
            first = next(csv.reader(handle, delimiter=delimiter), [])
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc
    return [n.strip() for n in first]


def read_jsonl(
    path: Path, problems: ProblemLog, *, encoding: str = "utf-8-sig"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a JSON Lines file; malformed lines and non-objects are reported."""
    source = path.name
    try:
        with path.open(encoding=encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_constant=_refuse_constant)
                except json.JSONDecodeError as exc:
                    problems.report(source, number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                    continue
                except ValueError as exc:
                    problems.report(source, number, f"invalid JSON: {exc}")
                    continue
                if not isinstance(record, dict):
                    problems.report(source, number, f"expected a JSON object, found {type(record).__name__}")
                    continue
                yield number, record
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc


def _refuse_constant(name: str) -> float:
    """Python's json reads NaN and Infinity, which JSON does not allow; a NaN would
    otherwise pass for a missing value and an edge would load without its rating."""
    raise ValueError(f"{name} is not a JSON value (numbers must be finite)")
