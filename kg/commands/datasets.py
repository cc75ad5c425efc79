"""``kg datasets list|load``: public and generated datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, state

datasets_app = typer.Typer(help="List, download and load public datasets.", no_args_is_help=True)


@datasets_app.command("list")
def datasets_list() -> None:
    """Datasets the platform can load."""
    from kg.datasets import DATASETS
    from kg.render import datasets_table

    console.print(datasets_table(DATASETS.values()))


@datasets_app.command("load")
def datasets_load(
    name: Annotated[str, typer.Argument(help="Dataset name (see `kg datasets list`).")],
    path: Annotated[
        Optional[Path], typer.Option(help="Use this local folder instead of downloading (offline machines).")
    ] = None,
    url: Annotated[Optional[str], typer.Option(help="Download from this mirror instead.")] = None,
) -> None:
    """Download (or take from --path) a dataset and ingest it into the store."""
    from kg.progress import rich_progress
    from kg.render import counts_table, ingest_table, with_notes

    platform = state.platform()
    with rich_progress(err_console) as progress:
        loaded = platform.load_dataset(name, path=path, url=url, progress=progress)
    for data, report in loaded:
        console.print(with_notes(ingest_table(report, f"Ingested {data}"), report.summary_lines()))
    console.print(counts_table(platform.stats()))


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
