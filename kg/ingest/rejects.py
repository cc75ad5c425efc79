"""The rejects file: every row an ingest refused, with its line and reason.

The screen shows the first few problems; this file holds all of them, as CSV
(``file, line, reason, row``) that a spreadsheet opens, so bad rows can be fixed and
re-ingested. It is written beside the input as ``<input>.rejects.csv``, or under the
data directory when the input's folder is read-only, and only once a row is refused.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

HEADER = ["file", "line", "reason", "row"]


def rejects_path_for(source: Path) -> Path:
    """``products.csv`` -> ``products.csv.rejects.csv``; a MovieLens folder gets one beside it."""
    return source.parent / f"{source.name}.rejects.csv"


class RejectsFile:
    """Opened on the first refused row; a clean run removes the file an earlier run left."""

    def __init__(self, path: Path, *, fallback_dir: Path | None = None) -> None:
        self.path = path
        self.fallback_dir = fallback_dir
        self.written: Path | None = None  # where rows went, once one was written
        self.error: str | None = None  # why no file could be written at all
        self._handle: TextIO | None = None
        self._writer: csv.writer | None = None  # type: ignore[valid-type]

    def write(self, source: str, line: int, reason: str, raw: str | None) -> None:
        if self._writer is None and not self._open():
            return
        assert self._writer is not None
        self._writer.writerow([source, line, reason, "" if raw is None else raw.rstrip("\r\n")])

    def close(self) -> Path | None:
        """Flush and close; return the file's path when rows were written."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        elif self.error is None:
            _remove_if_ours(self.path)
        return self.written

    def _open(self) -> bool:
        candidates = [self.path]
        if self.fallback_dir is not None:
            candidates.append(self.fallback_dir / "rejects" / self.path.name)
        failures = []
        for path in candidates:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = path.open("w", newline="", encoding="utf-8")
            except OSError as exc:
                failures.append(f"{path}: {exc.strerror or exc}")
                continue
            self._writer = csv.writer(self._handle)
            self._writer.writerow(HEADER)
            self.written = path
            return True
        self.error = "; ".join(failures)
        return False


def _remove_if_ours(path: Path) -> None:
    """Remove a rejects file of an earlier run (recognised by its header), so a clean
    run never leaves an outdated list of bad rows beside the input."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return
    if first.rstrip("\r\n") == ",".join(HEADER):
        path.unlink(missing_ok=True)
