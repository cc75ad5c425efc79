"""The CLI's assembly (every command module registered) and the progress task contract."""

from __future__ import annotations

import importlib
import io
import pkgutil

import pytest
from rich.console import Console
from typer.testing import CliRunner

import kg.commands
from cli import COMMANDS, app
from kg.progress import Interrupted, SilentProgress, rich_progress


def test_every_command_module_is_registered() -> None:
    """A module dropped into kg/commands/ but left out of cli.COMMANDS would vanish from `kg`."""
    modules = {
        name
        for _, name, _ in pkgutil.iter_modules(kg.commands.__path__)
        if hasattr(importlib.import_module(f"kg.commands.{name}"), "register")
    }
    assert modules == {module.__name__.rsplit(".", 1)[-1] for module in COMMANDS}
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    for command in ("demo", "ingest", "stats", "query", "datasets", "export", "extract", "train", "models"):
        assert f" {command} " in shown, command
    for command in ("recommend", "similar", "audience", "segment", "evaluate", "resolve", "enrich"):
        assert f" {command} " in shown, command


def test_a_task_ends_when_its_work_fails_and_ctrl_c_names_it() -> None:
    screen = io.StringIO()
    with pytest.raises(Interrupted) as stopped, rich_progress(Console(file=screen, width=120)) as progress:
        with pytest.raises(ValueError), progress.task("Checking a.csv", 3):
            progress.advance()
            raise ValueError("bad row")
        with progress.task("Ingesting a.csv", 10):
            progress.advance(4)
            raise KeyboardInterrupt
    assert stopped.value.where == "Ingesting a.csv (4 of 10)"
    assert "Checking a.csv" in screen.getvalue() and "Ingesting a.csv" in screen.getvalue()


def test_the_silent_reporter_runs_the_same_code() -> None:
    progress = SilentProgress()
    with progress.task("Exporting", None):
        progress.advance(5)
    with pytest.raises(RuntimeError), progress.task("Writing", 1):
        raise RuntimeError("store gone")
