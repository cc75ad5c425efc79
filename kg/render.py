"""Rich renderings shared by the CLI and the demo: tables of counts, reports, results."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table
from rich.text import Text

from kg.ingest.writer import IngestReport
from kg.store.base import GraphCounts


def counts_table(counts: GraphCounts, *, show_empty: bool = False) -> Table:
    table = Table(title="Graph contents", show_lines=False)
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for kind, values in (("node", counts.nodes), ("relationship", counts.relationships)):
        for name, count in values.items():
            if count or show_empty:
                table.add_row(kind, name, f"{count:,}")
    table.caption = f"{counts.total_nodes:,} nodes, {counts.total_relationships:,} relationships"
    return table


def ingest_table(report: IngestReport, title: str) -> Table:
    """Nodes and relationships written per label and type; the caption accounts for every
    input row (loaded + rejected + skipped = input rows)."""
    table = Table(title=title)
    table.add_column("label / type")
    table.add_column("created", justify="right")
    table.add_column("updated", justify="right")
    table.add_column("unchanged", justify="right")
    for name in dict.fromkeys([*report.created, *report.updated, *report.unchanged]):
        table.add_row(
            name, f"{report.created[name]:,}", f"{report.updated[name]:,}", f"{report.unchanged[name]:,}"
        )
    rate = report.relationships_written / report.seconds if report.seconds else 0.0
    outcome = f"{report.loaded:,} loaded, {report.rejected:,} rejected"
    if report.skipped:
        outcome += f", {report.skipped:,} skipped (dangling)"
    table.caption = (
        f"{report.input_rows:,} input rows: {outcome}; {report.seconds:.1f}s ({rate:,.0f} relationships/s)"
    )
    return table


def frame_table(frame: pd.DataFrame, title: str | None = None, max_rows: int = 50) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*(Text(_cell(v)) for v in row))  # values are data, never rich markup
    if len(frame) > max_rows:
        table.caption = f"first {max_rows} of {len(frame):,} rows"
    return table


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"[{', '.join(_cell(v) for v in value[:6])}, ... {len(value)} values]"
    return str(value)
