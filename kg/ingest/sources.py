"""Streaming readers for delimited text and JSON Lines, with line numbers.

Readers yield one ``SourceRecord`` per data record -- its first line, its values and the
text it was read from -- and report unreadable records to the problem log instead of
raising, so one bad record never costs the rest of the file. They count the physical
lines they consume, in the unit ``scan_text`` counts, so a progress bar ends at its total.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from kg.errors import InputError
from kg.ingest.problems import ProblemLog

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long descriptions are data, not errors

_CHUNK = 1 << 20


class SourceRecord(NamedTuple):
    """One data record: the line it starts on, its fields, and its text as written."""

    line: int
    values: dict[str, Any]
    raw: str


def count_lines(path: Path) -> int:
    """Fast line count (for progress totals); reads bytes, never decodes."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b""))


def check_encoding(encoding: str) -> None:
    """Refuse an encoding Python does not know, or one that does not decode text
    (``base64``), with the fix, before any file is opened with it."""
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    except LookupError:
        raise InputError(
            f"Unknown text encoding {encoding!r}; pass --encoding with one such as utf-8, latin-1 or cp1252."
        ) from None


def scan_text(path: Path, encoding: str, *, universal_newlines: bool) -> int:
    """Physical lines of a text file, after checking that all of it decodes.

    Run before anything is written, so a file in the wrong encoding stops the ingest with
    nothing stored rather than halfway. ``universal_newlines`` counts ``\\r\\n``, ``\\r``
    and ``\\n`` as one line end each, as the CSV reader splits lines; otherwise only
    ``\\n`` ends a line, as in JSON Lines. A last line without a line end counts.
    """
    check_encoding(encoding)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines, offset, last = 0, 0, ""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                before = exc.object[: exc.start].decode(encoding, "replace")
                raise _decode_error(path, encoding, exc, offset, lines + 1 + before.count("\n")) from exc
            if text:
                lines += text.count("\n")
                if universal_newlines:
                    lines += text.count("\r") - text.count("\r\n") - (last == "\r" and text[0] == "\n")
                last = text[-1]
            offset += len(chunk)
            if final:
                break
    return lines + (last not in ("", "\n", "\r" if universal_newlines else "\n"))


def _decode_error(
    path: Path, encoding: str, exc: UnicodeDecodeError, offset: int = 0, line: int | None = None
) -> InputError:
    where = f"line {line}, " if line is not None else ""
    return InputError(
        f"{path} is not valid {encoding} ({where}byte {offset + exc.start}: "
        f"{exc.object[exc.start : exc.start + 4]!r}); pass --encoding (for example latin-1 or cp1252)."
    )


class _LineFeed:
    """The physical lines of a text file, numbered, keeping those of the record being
    parsed so that parsing can restart on the line after a bad record's first line."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._replay: list[str] = []  # lines to hand out again, last first
        self._pending: list[str] = []  # lines of the record being parsed
        self.line = 0  # physical lines handed out so far

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        text = self._replay.pop() if self._replay else next(self._handle)
        self.line += 1
        self._pending.append(text)
        return text

    @property
    def spans_lines(self) -> int:
        return len(self._pending)

    def take_record(self) -> str:
        """The text of the record just parsed."""
        pending, self._pending = self._pending, []
        return pending[0] if len(pending) == 1 else "".join(pending)

    def reject_first_line(self) -> str:
        """Give back every line of a record that failed to parse except its first (which
        is returned): a quote left open on one line must not cost the lines after it."""
        first, rest = self._pending[0], self._pending[1:]
        self._replay.extend(reversed(rest))
        self.line -= len(rest)
        self._pending = []
        return first


class DelimitedReader:
    """Records of a delimited file as dicts keyed by the header (or the given names).

    Quotes are read strictly: a quoted field still open at the end of the file is an
    "unterminated quoted field", reported on the line it opens, and reading resumes on
    the next line, so one stray quote costs one row. A row with the wrong number of
    fields or a NUL is reported and skipped. Blank lines are not records.
    """

    def __init__(
        self,
        path: Path,
        problems: ProblemLog,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8-sig",
        header: list[str] | None = None,
    ) -> None:
        self.path = path
        self.problems = problems
        self.delimiter = delimiter
        self.encoding = encoding
        self.header = header
        self.lines = 0  # physical lines consumed so far
        self.records = 0  # data records seen so far, good and bad

    def __iter__(self) -> Iterator[SourceRecord]:
        try:
            with self.path.open(newline="", encoding=self.encoding) as handle:
                yield from self._records(_LineFeed(handle))
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, self.encoding, exc) from exc

    def _records(self, feed: _LineFeed) -> Iterator[SourceRecord]:
        source, names = self.path.name, self.header
        reader = csv.reader(feed, delimiter=self.delimiter, strict=True)
        while True:
            start = feed.line + 1
            try:
                fields = next(reader)
            except StopIteration:
                self.lines = feed.line
                return
            except csv.Error as exc:
                reason = _quote_problem(exc, feed.spans_lines, start)
                raw = feed.reject_first_line()
                self.lines = feed.line
                if names is None:
                    raise InputError(f"{source}:{start}: the header row cannot be read: {reason}.") from exc
                self.records += 1
                self.problems.report(source, start, reason, raw=raw)
                reader = csv.reader(feed, delimiter=self.delimiter, strict=True)
                continue
            raw = feed.take_record()
            self.lines = feed.line
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if names is None:
                names = [n.strip() for n in fields]
                continue
            self.records += 1
            if len(fields) != len(names):
                self.problems.report(
                    source, start, f"expected {len(names)} fields, found {len(fields)}", raw=raw
                )
                continue
            if any("\x00" in field for field in fields):
                self.problems.report(
                    source, start, "contains NUL bytes (UTF-16 text? pass --encoding utf-16)", raw=raw
                )
                continue
            yield SourceRecord(start, dict(zip(names, fields, strict=True)), raw)


def _quote_problem(exc: csv.Error, spans_lines: int, start: int) -> str:
    """Say what a strict CSV parse error means for the person fixing the file."""
    if "unexpected end of data" in str(exc):
        return "unterminated quoted field"
    if spans_lines > 1:
        return (
            f"unterminated quoted field (the quote opened here is closed on line "
            f"{start + spans_lines - 1} by text that is not a delimiter)"
        )
    return f'stray quote ({exc}); a quote inside a quoted field is written twice ("")'


class JsonlReader:
    """Objects of a JSON Lines file; malformed lines, non-objects and values the stores
    cannot hold (NUL, unpaired surrogates) are reported. Only ``\\n`` ends a line."""

    def __init__(self, path: Path, problems: ProblemLog, *, encoding: str = "utf-8-sig") -> None:
        self.path = path
        self.problems = problems
        self.encoding = encoding
        self.lines = 0
        self.records = 0

    def __iter__(self) -> Iterator[SourceRecord]:
        source = self.path.name
        try:
            with self.path.open(encoding=self.encoding, newline="\n") as handle:
                for number, line in enumerate(handle, start=1):
                    self.lines = number
                    if not line.strip():
                        continue
                    self.records += 1
                    record, problem = _parse_object(line)
                    if problem is not None:
                        self.problems.report(source, number, problem, raw=line)
                        continue
                    assert record is not None
                    yield SourceRecord(number, record, line)
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, self.encoding, exc) from exc


def _parse_object(line: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object on one line, or why it is not one."""
    try:
        record = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, found {type(record).__name__}"
    unstorable = _unstorable_text(record)
    return (None, unstorable) if unstorable else (record, None)


def _unstorable_text(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored as text, if it cannot: JSON may escape a
    NUL (\\u0000) or half a surrogate pair (\\ud800), which neither store can hold."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character (\\u0000), which the graph cannot store"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains an unpaired surrogate (\\ud800-\\udfff), which is not text"
    return None


def read_delimited(
    path: Path,
    problems: ProblemLog,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
    header: list[str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, record)`` pairs of a delimited file (see ``DelimitedReader``)."""
    for record in DelimitedReader(path, problems, delimiter=delimiter, encoding=encoding, header=header):
        yield record.line, record.values


def read_jsonl(
    path: Path, problems: ProblemLog, *, encoding: str = "utf-8-sig"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, object)`` pairs of a JSON Lines file (see ``JsonlReader``)."""
    for record in JsonlReader(path, problems, encoding=encoding):
        yield record.line, record.values


def read_header(path: Path, *, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[str]:
    """The column names of a delimited file (empty for an empty file).

    Its first record that is not blank, read as strictly as the rows after it.
    """
    check_encoding(encoding)
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            for fields in reader:
                if fields and (len(fields) > 1 or fields[0].strip()):
                    return [n.strip() for n in fields]
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc
    except csv.Error as exc:
        raise InputError(f"{path.name}: the header row cannot be read: {exc}.") from exc
    return []


def _refuse_constant(name: str) -> float:
    """Python's json reads NaN and Infinity, which JSON does not allow; a NaN would
    otherwise pass for a missing value and an edge would load without its rating."""
    raise ValueError(f"{name} is not a JSON value (numbers must be finite)")
