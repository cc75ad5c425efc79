"""Bad input rows: reported with file and line, kept out of the graph, never fatal
unless the user asked for ``--strict``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kg.errors import InputError

KEEP_AT_MOST = 1_000


@dataclass(frozen=True)
class RowProblem:
    """One rejected row (or record) and why."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class ProblemLog:
    """Collects row problems; in strict mode the first one stops the run."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.count = 0
        self.kept: list[RowProblem] = []
        self.by_source: Counter[str] = Counter()

    def report(self, source: str, line: int, message: str) -> None:
        problem = RowProblem(source, line, message)
        if self.strict:
            raise InputError(f"{problem} (stopped because of --strict)")
        self.count += 1
        self.by_source[source] += 1
        if len(self.kept) < KEEP_AT_MOST:
            self.kept.append(problem)
