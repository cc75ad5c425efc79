"""Rich tables for recommendations, audiences, segments and evaluations (CLI and demo)."""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console, Group
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from kg.recommend.evaluate import Evaluation

METRIC_COLUMNS = ("P@{k}", "R@{k}", "nDCG@{k}", "MAP@{k}", "HR@{k}", "coverage", "novelty")


HIDDEN = ("cypher", "signal")  # printed separately (cypher_panel) or internal
RIGHT_ALIGNED = ("rank", "score", "rank_for_user")


def recommendations_table(frame: pd.DataFrame, title: str) -> Table:
    """The frame's columns in its order (recommendations, similar items, audiences), with
    rows separated when there are reasons to read."""
    table = Table(title=title, show_lines="reason" in frame)
    columns = [c for c in frame.columns if c not in HIDDEN and frame[c].notna().any()]
    for column in columns:
        justify = "right" if column in RIGHT_ALIGNED else "left"
        table.add_column(column.replace("_", " "), justify=justify, overflow="fold")
    for row in frame.itertuples(index=False):
        values = row._asdict()
        table.add_row(*(Text(_cell(values[c])) for c in columns))  # names and reasons are data, not markup
    if frame.empty:
        table.caption = "no items pass the filters"
    return table


def cypher_panel(frame: pd.DataFrame) -> Group:
    """The Cypher of each explanation, numbered by rank, ready to paste into the Browser."""
    parts: list[Text | Syntax] = [
        Text("Cypher for each explanation (paste into Neo4j Browser or `kg query`):", style="bold")
    ]
    for row in frame.itertuples(index=False):
        parts.append(Text(f"#{row.rank} {row.name}", style="dim"))
        parts.append(
            Syntax(row.cypher, "cypher", word_wrap=True, theme="ansi_dark", background_color="default")
        )
    return Group(*parts)


def evaluation_table(evaluation: Evaluation) -> Table:
    k = evaluation.k
    metrics = [c.format(k=k) for c in METRIC_COLUMNS]
    table = Table(
        title=f"Offline evaluation, K={k}: {evaluation.users:,} test users, {evaluation.items:,} items, "
        f"{evaluation.train_interactions:,} train / {evaluation.test_interactions:,} test interactions (seed {evaluation.seed})"
    )
    for column in ("model", "kind", *metrics, "val nDCG", "settings"):
        table.add_column(
            column, justify="left" if column in ("model", "kind", "settings") else "right", overflow="fold"
        )
    best = {m: evaluation.table[m].max() for m in metrics}
    for _, row in evaluation.table.iterrows():
        cells = [str(row["model"]), str(row["kind"])]
        for metric in metrics:
            text = f"{row[metric]:.4f}" if metric != "novelty" else f"{row[metric]:.2f}"
            cells.append(f"[bold green]{text}[/]" if row[metric] == best[metric] else text)
        cells += [_cell(row["validation nDCG"]), str(row["settings"])]
        table.add_row(*cells, style="bold" if row["kind"] == "fused" else None)
    margin = evaluation.winner_margin()
    verdict = "beats" if margin > 0 else "does NOT beat"
    table.caption = (
        f"fused {verdict} the best baseline on nDCG@{k} by {margin:+.4f}; {evaluation.seconds:.0f}s in all"
    )
    return table


def print_notes(console: Console, notes: list[str]) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
