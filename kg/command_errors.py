"""How the ``kg`` command turns failures into what a user of a Click program expects.

- Usage mistakes (unknown command or option, missing argument, bad value) are Click's
  own: the usage line, the error, exit code 2 -- Typer prints them, we do not touch them.
- A ``KGError`` (bad input, missing model, unreachable server) is one red line, exit 1.
- Ctrl-C is one yellow line saying where the work stopped and that re-running the
  command completes it, exit 130 (128 + SIGINT, as shells report it).
- Anything else is a bug: "internal error" and exit 1, with the traceback on KG_DEBUG=1.

The handling lives in the command group (``KGGroup``), not around ``app()``, so tests that
run commands in-process with Typer's ``CliRunner`` see exactly what a user sees.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from kg.errors import KGError

INTERRUPTED_EXIT_CODE = 130


def error_console() -> Console:
    """stderr, soft-wrapped so a long message stays one line however wide the terminal."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


def interrupted_line(where: str | None) -> str:
    """The message for Ctrl-C: what was stopped, and that a re-run finishes the job."""
    stopped = f" during {where}" if where else ""
    return (
        f"Interrupted{stopped}. Every batch, epoch or run finished before that is committed; "
        "run the same command again to complete it."
    )


class KGGroup(TyperGroup):
    """The ``kg`` group: maps a command's ``KGError`` and Ctrl-C to a line and an exit code,
    and refuses empty arguments."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """An empty argument is a usage error: it comes from an unset shell variable, and
        as a path it would mean the current folder (``kg models remove ""`` once removed
        the newest run, ``kg export ""`` wrote into the working directory)."""
        if "" in args:
            raise typer.BadParameter(
                "an argument is empty (an unset shell variable?); give a value or leave the argument out.",
                ctx=ctx,
            )
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KGError as exc:
            error_console().print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            error_console().print(f"[yellow]{escape(interrupted_line(getattr(exc, 'where', None)))}[/]")
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None


def run_app(app: typer.Typer) -> None:
    """Console-script entry: Typer handles usage errors; only real bugs reach here."""
    try:
        app()
    except Exception as exc:  # never a bare traceback for a user
        if os.environ.get("KG_DEBUG"):
            raise
        error_console().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(a bug: please report it; set KG_DEBUG=1 for the traceback)"
        )
        sys.exit(1)
