"""Rich renderings shared by the CLI and the demo: tables of counts, reports, results."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kg.ingest.writer import IngestReport
from kg.schema import PRIVACY_MARKS
from kg.store.base import GraphCounts

if TYPE_CHECKING:
    from cypher import CypherQuery
    from kg.datasets import DatasetInfo
    from kg.privacy.forget import ForgetReport
    from kg.schema import NodeType, Schema


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


def with_notes(report: RenderableType, lines: Iterable[str]) -> Group:
    """A report followed by its notes in yellow. Notes quote the input (rejected rows,
    ``[sections]``, names), so they are plain text, never rich markup."""
    return Group(report, *(Text(line, style="yellow") for line in lines))


def schema_tables(schema: Schema) -> Group:
    """Node labels with their properties, then relationship types with their endpoints."""
    nodes = Table(title="Node labels (key: id)")
    for column in ("label", "properties", "description"):
        nodes.add_column(column)
    for label, node in sorted(schema.nodes.items()):
        nodes.add_row(
            label + (" (key names a person)" if node.personal_key else ""),
            ", ".join(f"{k}: {v}{_privacy_marks(node, k)}" for k, v in node.properties.items()),
            node.description,
        )
    rels = Table(title="Relationship types")
    for column in ("type", "from -> to", "properties"):
        rels.add_column(column)
    for name, rel in sorted(schema.rels.items()):
        rels.add_row(
            name,
            "\n".join(f"{a} -> {b}" for a, b in rel.endpoints),
            ", ".join(f"{k}: {v}" for k, v in rel.properties.items()),
        )
    return Group(nodes, rels)


def _privacy_marks(node: NodeType, name: str) -> str:
    """`` [pii, identifier]`` after a property the schema marks as personal data."""
    marks = [mark for mark in PRIVACY_MARKS if name in getattr(node, mark)]
    return escape(f" [{', '.join(marks)}]") if marks else ""


def forget_table(report: ForgetReport) -> Table:
    """What ``kg forget`` removed, one row per kind."""
    table = Table(title=f"Forgotten: {', '.join(report.found) or '(no user left in the graph)'}")
    table.add_column("what")
    table.add_column("removed", justify="right")
    for label, n in sorted(report.nodes.items()):
        table.add_row(f"{label} nodes", f"{n:,}")
    for rel_type, n in sorted(report.relationships.items()):
        table.add_row(f"{rel_type} relationships", f"{n:,}")
    table.add_row("cached model inputs and outputs", f"{report.cache_entries:,}")
    table.add_row("embedding runs rewritten (now stale)", f"{len(report.embedding_runs):,}")
    table.add_row("fitted recommender discarded", "yes" if report.recommender_discarded else "no")
    table.add_row("pseudonym vault entries", f"{report.pseudonyms:,}")
    table.add_row("store file rewritten without deleted bytes", "yes" if report.store_rewritten else "no")
    return table


def query_library_table(queries: Iterable[CypherQuery]) -> Table:
    table = Table(title="cypher/ query library")
    for column in ("name", "parameters", "portable", "description"):
        table.add_column(column)
    for item in queries:
        params = ", ".join(f"{p.name}={p.default}" if p.default else p.name for p in item.params.values())
        table.add_row(item.name, params, "yes" if item.portable else "Neo4j only", item.description)
    return table


def datasets_table(datasets: Iterable[DatasetInfo]) -> Table:
    table = Table(title="Datasets")
    for column in ("name", "source", "description"):
        table.add_column(column)
    for info in datasets:
        table.add_row(info.name, info.url or "generated", info.description)
    return table
