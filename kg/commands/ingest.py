"""``kg ingest``: structured rows into the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, state


def ingest(
    path: Annotated[Path, typer.Argument(help="A CSV/TSV/JSONL file, or a MovieLens folder.")],
    fmt: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            "-f",
            help="csv, tsv, jsonl or movielens; wins over the mapping's format and the file "
            "extension (default: the mapping's, else from the path).",
        ),
    ] = None,
    mapping: Annotated[
        Optional[Path], typer.Option("--mapping", "-m", help="Mapping file (TOML/JSON) for CSV/TSV/JSONL.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Stop at the first bad row instead of skipping it.")] = False,
    dangling: Annotated[
        str,
        typer.Option(
            help="Relationships to unknown nodes: 'placeholder' creates a node marked "
            "placeholder=true, 'skip' drops the row."
        ),
    ] = "placeholder",
    encoding: Annotated[
        Optional[str], typer.Option(help="Text encoding of the file (default utf-8).")
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Rows per write batch.")] = None,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            "--pseudonymise",
            help="Replace user ids and identifier properties (schema mark) by keyed hashes; the "
            "key comes from KG_PSEUDONYM_KEY only. `kg lookup --reveal` maps one back.",
        ),
    ] = False,
) -> None:
    """Load structured rows into the graph. Idempotent: a second run changes nothing."""
    from kg.progress import rich_progress
    from kg.render import counts_table, ingest_table, with_notes

    platform = state.platform(batch_size=batch_size)
    with rich_progress(err_console) as progress:
        report = platform.ingest(
            path,
            fmt=fmt,
            mapping=mapping,
            strict=strict,
            dangling=dangling,
            encoding=encoding,
            pseudonymise=pseudonymise,
            progress=progress,
        )
    console.print(with_notes(ingest_table(report, f"Ingested {path}"), report.summary_lines()))
    console.print(counts_table(platform.stats()))


def register(app: typer.Typer) -> None:
    app.command()(ingest)
