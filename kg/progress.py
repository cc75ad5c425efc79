"""Progress reporting that library code can call without knowing about the terminal.

Library functions accept a ``ProgressReporter``; the CLI passes a rich progress bar,
tests and notebooks pass nothing and get the silent default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressReporter(Protocol):
    """Receives the size of a task up front and increments as work is done."""

    def start(self, description: str, total: float | None) -> None: ...

    def advance(self, amount: float = 1) -> None: ...

    def finish(self) -> None: ...


class SilentProgress:
    """The default reporter: does nothing."""

    def start(self, description: str, total: float | None) -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class RichProgress:
    """A rich progress bar per task, on stderr so piped output stays clean."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: int | None = None

    def start(self, description: str, total: float | None) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._progress.update(self._task, visible=True)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: float = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        if self._task is not None:
            self._progress.refresh()


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[RichProgress]:
    """A rich reporter that is stopped cleanly even when the work fails."""
    reporter = RichProgress(console)
    try:
        yield reporter
    finally:
        reporter._progress.stop()
