"""Progress reporting that library code can call without knowing about the terminal.

Library functions accept a ``ProgressReporter``; the CLI passes a rich progress bar,
tests and notebooks pass nothing and get the silent default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
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
    """Shows one task at a time: ``with reporter.task("Ingesting x", total): ... advance(n)``.

    The task is a context manager so that it ends however the work ends (a ``finally``
    in one place instead of a ``finish()`` after every loop)."""

    def task(self, description: str, total: float | None) -> AbstractContextManager[None]: ...

    def advance(self, amount: float = 1) -> None: ...


class SilentProgress:
    """The default reporter: does nothing."""

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[None]:
        yield

    def advance(self, amount: float = 1) -> None:
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

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[None]:
        """A bar filling towards ``total``; it stays on screen, drawn as far as it got,
        when the work ends, fails or is interrupted."""
        if self._task is None:
            self._progress.start()
        self._task = self._progress.add_task(description, total=total)
        try:
            yield
        finally:
            self._progress.refresh()

    def advance(self, amount: float = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def close(self) -> None:
        """Stop the display; a reporter that never showed a task prints nothing (rich
        would print an empty line, which then stood before every error message)."""
        if self._task is not None:
            self._progress.stop()

    def where(self) -> str | None:
        """The task under way, in words: ``Ingesting u.data (40,000 of 100,000)``."""
        if self._task is None:
            return None
        task = self._progress.tasks[-1]
        done = f"{task.completed:,.0f} of {task.total:,.0f}" if task.total else f"{task.completed:,.0f} done"
        return f"{task.description} ({done})"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying where the work stood so the message can say what was done."""

    def __init__(self, where: str | None) -> None:
        super().__init__(where)
        self.where = where


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[RichProgress]:
    """A rich reporter that is stopped cleanly even when the work fails; Ctrl-C comes out
    as ``Interrupted`` with the task it stopped."""
    reporter = RichProgress(console)
    try:
        yield reporter
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            raise
        raise Interrupted(reporter.where()) from exc
    finally:
        reporter.close()
