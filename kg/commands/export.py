"""``kg export``: the whole graph as files (the Neo4j bulk-import path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, state


def export(
    directory: Annotated[
        Optional[Path],
        typer.Argument(help="Folder to write the export into (with --user: a JSON file; default stdout)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="neo4j-admin: CSVs for `neo4j-admin database import full`.")
    ] = "neo4j-admin",
    array_delimiter: Annotated[
        Optional[str], typer.Option(help="Delimiter inside array fields (neo4j-admin; default ';').")
    ] = None,
    user: Annotated[
        Optional[str],
        typer.Option(
            "--user", help="Export everything the graph holds about this user as JSON (right of access)."
        ),
    ] = None,
) -> None:
    """Export the whole graph, e.g. as bulk-import files for a first load of a large Neo4j;
    or with --user, everything the graph holds about one user."""
    from kg.export import export_graph
    from kg.progress import rich_progress
    from kg.store import open_store

    if user is not None:
        record = json.dumps(state.platform().user_record(user), indent=2, ensure_ascii=False)
        if directory is None:
            print(record)
        else:
            directory.write_text(record + "\n", encoding="utf-8")
            console.print(f"Wrote everything about user {user} to {directory}", highlight=False, markup=False)
        return
    if directory is None:
        raise typer.BadParameter("give the folder to export into", param_hint="DIRECTORY")
    options = {"array_delimiter": array_delimiter} if array_delimiter else {}
    with open_store(state.settings(), read_only=True) as store, rich_progress(err_console) as progress:
        report = export_graph(store, fmt, directory, progress=progress, **options)
    for line in report.summary_lines():
        console.print(line, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
