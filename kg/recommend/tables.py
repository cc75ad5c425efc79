"""Rich tables for recommendations, audiences, segments and evaluations (CLI and demo)."""

from __future__ import annotations

import math

import pandas as pd
from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from kg.recommend.evaluate import Evaluation

METRIC_COLUMNS = ("P@{k}", "R@{k}", "nDCG@{k}", "MAP@{k}", "HR@{k}", "coverage", "novelty")


HIDDEN = ("cypher", "signal")  # printed separately (cypher_panel) or internal
RIGHT_ALIGNED = ("rank", "score", "rank_for_user")


def recommendations_table(frame: pd.DataFrame, title: str, empty: str = "nothing to show") -> Table:
    """The frame's columns in its order (recommendations, similar items, audiences), with
    rows separated when there are reasons to read; an empty frame keeps its headers and
    says why it is empty (``empty``) instead of printing a blank line."""
    table = Table(title=title, show_lines="reason" in frame)
    columns = [c for c in frame.columns if c not in HIDDEN and (frame.empty or frame[c].notna().any())]
    for column in columns:
        justify = "right" if column in RIGHT_ALIGNED else "left"
        table.add_column(column.replace("_", " "), justify=justify, overflow="fold")
    for row in frame.itertuples(index=False):
        values = row._asdict()
        table.add_row(*(Text(_cell(values[c])) for c in columns))  # names and reasons are data, not markup
    if frame.empty:
        table.caption = empty
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


def evaluation_table(evaluation: Evaluation) -> Group:
    """The metrics table, then each model's settings as a note under it.

    Built to read at 80 columns: numbers never wrap (their columns are sized to them and
    the table has no outer padding); the model column carries the kind on a second line
    and folds; the long settings text lives below the table, not in a column."""
    k = evaluation.k
    metrics = [c.format(k=k) for c in METRIC_COLUMNS]
    table = _compact_table(
        f"Offline evaluation, K={k}: {evaluation.users:,} test users, {evaluation.items:,} items, "
        f"{evaluation.train_interactions:,} train / {evaluation.test_interactions:,} test interactions "
        f"(seed {evaluation.seed}; {evaluation.protocol})"
    )
    table.add_column("model", overflow="fold", ratio=1, min_width=8)
    for column in [*metrics, "val\nnDCG"]:
        table.add_column(column, justify="right", no_wrap=True)
    best = {m: evaluation.table[m].max() for m in metrics}
    settings = Text()
    for _, row in evaluation.table.iterrows():
        model = Text(str(row["model"]), style="bold" if row["kind"] == "fused" else "")
        if row["kind"] != "fused":
            model.append(f"\n{row['kind']}", style="dim")
        cells: list[Text] = [model]
        for metric in metrics:
            text = _metric(row[metric], metric)
            cells.append(Text(text, style="bold green" if row[metric] == best[metric] else ""))
        cells.append(Text(_metric(row["validation nDCG"], "val nDCG")))
        table.add_row(*cells)
        if str(row["settings"]):
            settings.append(f"\n{row['model']}: ", style="bold")
            settings.append(str(row["settings"]))
    margin = evaluation.winner_margin()
    verdict = "beats" if margin > 0 else "does NOT beat"
    table.caption = (
        f"fused {verdict} the best baseline on nDCG@{k} by {margin:+.4f}; {evaluation.seconds:.0f}s in all"
    )
    notes = Text("Settings (fusion weights for the fused rows):", style="dim")
    if evaluation.ranker_importance:
        shares = sorted(evaluation.ranker_importance.items(), key=lambda x: -x[1])
        settings.append("\nlearned ranker, share of split gain: ", style="bold")
        settings.append(", ".join(f"{name} {share:.0%}" for name, share in shares))
    return Group(table, notes + settings if settings else Text(""), ablation_table(evaluation))


def ablation_table(evaluation: Evaluation) -> Table | Text:
    """The fused nDCG@K with each signal removed and the fusion refit, worst loss first."""
    if evaluation.ablation.empty:
        return Text("")
    metric = f"nDCG@{evaluation.k}"
    table = _compact_table(f"Ablation: fused {metric} with each signal removed (fusion refit)")
    table.add_column("without", overflow="fold", ratio=1, min_width=8)
    for column in (metric, "change", "val\nnDCG"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in evaluation.ablation.to_dict("records"):
        table.add_row(
            Text(str(row["without"])),
            _metric(row[metric], metric),
            f"{row['change']:+.1%}",
            _metric(row["validation nDCG"], "val nDCG"),
        )
    return table


def segments_table(frame: pd.DataFrame, title: str) -> Table:
    """``segments.segment_table``'s rows, built to read at 80 columns: the counts in narrow
    columns that never wrap, the name with what it over-indexes on and its typical member
    below it in one folding column."""
    table = _compact_table(title)
    table.add_column("segment", overflow="fold", ratio=1, min_width=16)
    for header in ("size", "share", "median\nactivity", "median\nage"):
        table.add_column(header, justify="right", no_wrap=True)
    for values in frame.to_dict("records"):
        described = Text(str(values["name"]), style="bold")
        for key in ("over-indexes on", "typical"):
            if values.get(key):
                described.append(f"\n{key}: ", style="dim")
                described.append(str(values[key]))
        age = values.get("median age")
        table.add_row(
            described,
            f"{values['size']:,}",
            str(values["share"]),
            str(values["median interactions"]),
            "" if age is None or age != age else f"{age:g}",
        )
    return table


def _compact_table(title: str) -> Table:
    """A table without outer padding and with lines between rows, so narrow terminals
    keep every number whole."""
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_lines=True)


def _metric(value: object, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2f}" if metric == "novelty" else f"{value:.4f}"


def print_notes(console: Console, notes: list[str]) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
