"""Rich tables for embedding results, shared by the CLI and the demo."""

from __future__ import annotations

from rich.table import Table

from embeddings.artifact import TrainedModel
from embeddings.enrich import EnrichReport
from embeddings.runs import RunSummary

HEADLINE = ("mrr", "hits_at_1", "hits_at_3", "hits_at_10")
# narrow two-column tables with a caption would wrap it onto many short lines
CAPTIONED_WIDTH = 60


def metrics_table(trained: TrainedModel, title: str | None = None) -> Table:
    """Filtered test metrics, held-out recommendation metrics, and how training went."""
    metrics = trained.metrics
    table = Table(title=title or f"Model {trained.run_id}", min_width=CAPTIONED_WIDTH)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in (*HEADLINE, "head_mrr", "tail_mrr", "hr_at_10", "ndcg_at_10", "holdout_mrr"):
        if name in metrics:
            table.add_row(name, f"{metrics[name]:.4f}")
    for name in ("test_triples", "holdout_triples", "epochs", "best_epoch"):
        if name in metrics:
            table.add_row(name, f"{metrics[name]:,}")
    if "seconds_per_epoch" in metrics:
        table.add_row("seconds / epoch", f"{metrics['seconds_per_epoch']:.2f}")
        table.add_row("training seconds", f"{metrics['train_seconds']:.0f}")
    table.caption = (
        f"{trained.model_name}{' + text' if trained.text_aware else ''}, {len(trained.entities):,} entities, "
        f"{len(trained.relation_to_id)} relations; filtered test ranks"
    )
    return table


def runs_table(runs: list[RunSummary]) -> Table:
    table = Table(title="Trained models (kg models use RUN selects one)")
    # The run id is what `kg models use/remove` needs: never cut or folded. The creation
    # time (also inside the id) is the column that gives way at 80 columns.
    for column in ("", "run", "model", "text", "MRR", "Hits@10", "created"):
        table.add_column(
            column,
            justify="right" if column in ("MRR", "Hits@10") else "left",
            no_wrap=column != "created",
            overflow="fold",
        )
    for run in runs:
        if run.problem:
            table.add_row("!", run.run_id, "[red]damaged", "", "", "", run.problem)
            continue
        table.add_row(
            "*" if run.selected else "",
            run.run_id,
            run.model_name,
            "yes" if run.text else "",
            f"{run.metrics.get('mrr', float('nan')):.4f}",
            f"{run.metrics.get('hits_at_10', float('nan')):.4f}",
            run.created_at,
        )
    table.caption = "* selected (otherwise the newest run is used)"
    return table


def run_details_table(trained: TrainedModel, fingerprint_status: str) -> Table:
    table = Table(title=f"Run {trained.run_id}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    recipe = trained.recipe
    rows = {
        "model": f"{trained.model_name}{' + text' if trained.text_aware else ''}",
        "entities / relations": f"{len(trained.entities):,} / {len(trained.relation_to_id)}",
        "relations": ", ".join(sorted(trained.relation_to_id)),
        "dimension": str(recipe.embedding_dim),
        "training": f"{recipe.training_loop}, loss {recipe.loss}, {recipe.optimizer} lr {recipe.lr}, "
        f"batch {recipe.batch_size}, up to {recipe.num_epochs} epochs",
        "seed / device": f"{trained.info.get('seed')} / {trained.info.get('device')}",
        "splits": ", ".join(f"{k} {v:,}" for k, v in trained.info.get("splits", {}).items()),
        "graph": fingerprint_status,
        "created": str(trained.info.get("created_at", "")),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return table


def enrich_table(report: EnrichReport) -> Table:
    source = report.backend if report.model == report.backend else f"{report.backend}: {report.model}"
    table = Table(title=f"Node text ({source})", min_width=CAPTIONED_WIDTH)
    table.add_column("label")
    table.add_column("nodes", justify="right")
    for label, count in report.nodes.items():
        table.add_row(label, f"{count:,}")
    table.caption = (
        f"{report.total_nodes:,} nodes in {report.seconds:.1f}s; model calls {report.model_calls:,}; "
        f"descriptions {report.descriptions_new:,} new / {report.descriptions_cached:,} cached; "
        f"vectors {report.vectors_new:,} new / {report.vectors_cached:,} cached"
    )
    return table
