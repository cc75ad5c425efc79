"""Bad input rows: reported with file and line, kept out of the graph, never fatal
unless the user asked for ``--strict``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kg.errors import InputError
from kg.ingest.rejects import RejectsFile

KEEP_AT_MOST = 1_000  # in memory; the rejects file holds every one


@dataclass(frozen=True)
class RowProblem:
    """One rejected row (or record) and why."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class ProblemLog:
    """Collects row problems; in strict mode the first one stops the run.

    With a ``RejectsFile`` every problem is also written there with the row as read,
    so a large file's bad rows can all be seen, not only the first thousand.
    """

    def __init__(self, *, strict: bool = False, rejects: RejectsFile | None = None) -> None:
        self.strict = strict
        self.rejects = rejects
        self.count = 0
        self.kept: list[RowProblem] = []
        self.by_source: Counter[str] = Counter()
        self.rejects_path: Path | None = None  # set by close() when rows were written

    def report(self, source: str, line: int, message: str, *, raw: str | None = None) -> None:
        problem = RowProblem(source, line, message)
        if self.strict:
            raise InputError(f"{problem} (stopped because of --strict)")
        self.count += 1
        self.by_source[source] += 1
        if len(self.kept) < KEEP_AT_MOST:
            self.kept.append(problem)
        if self.rejects is not None:
            self.rejects.write(source, line, message, raw)

    def close(self) -> None:
        """Finish the rejects file (if any); ``rejects_path`` then says where it is."""
        if self.rejects is not None:
            self.rejects_path = self.rejects.close()
