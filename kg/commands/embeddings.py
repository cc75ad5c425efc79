"""Knowledge-graph embeddings: ``kg train``, ``kg models list|show|use|remove``,
``kg enrich`` (node text), ``kg embed`` (write-back) and ``kg predict`` (links)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, state
from kg.errors import InputError

models_app = typer.Typer(help="Trained embedding models: list, show, select, remove.", no_args_is_help=True)


def train(
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model", "-m", help="transe, distmult or complex (default: embeddings.model in the config)."
        ),
    ] = None,
    text: Annotated[
        bool, typer.Option("--text", help="Fuse node text embeddings (run `kg enrich` first).")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")
    ] = False,
    epochs: Annotated[
        Optional[int], typer.Option(min=1, help="Maximum epochs (early stopping may end sooner).")
    ] = None,
    dim: Annotated[Optional[int], typer.Option(min=2, help="Embedding dimension.")] = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0, help="Learning rate.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Training batch size.")] = None,
    holdout: Annotated[
        Optional[str],
        typer.Option(help="Hold out user-item links for HR@10/NDCG@10: leave-one-out or ratio."),
    ] = None,
    holdout_relation: Annotated[
        Optional[str],
        typer.Option(help="The user-item relation to hold out (default: the first interaction type)."),
    ] = None,
    write: Annotated[
        Optional[bool], typer.Option("--write/--no-write", help="Write embedding_<model> onto nodes.")
    ] = None,
    option: Annotated[
        Optional[list[str]],
        typer.Option(
            "--option",
            "-o",
            help='Any recipe field as name=value (JSON values), e.g. loss="nssa", '
            'regularizer="n3" with regularizer_weight=0.01, entity_dropout=0.1.',
        ),
    ] = None,
) -> None:
    """Train knowledge-graph embeddings on the graph; evaluate, register and write them back."""
    from embeddings.tables import metrics_table
    from embeddings.workflow import train_from_store
    from kg.progress import rich_progress
    from kg.store import open_store

    given = {"num_epochs": epochs, "embedding_dim": dim, "lr": lr, "batch_size": batch_size}
    overrides = {k: v for k, v in given.items() if v is not None} | _parse_options(option or [])
    settings = state.settings()
    with open_store(settings) as store, rich_progress(err_console) as progress:
        report = train_from_store(
            settings, store, model=model, text=text, resume=resume, write=write, holdout=holdout,  # type: ignore[arg-type]
            holdout_relation=holdout_relation, progress=progress, **overrides,
        )  # fmt: skip
    console.print(
        metrics_table(report.trained, f"Trained {report.trained.run_id} on {report.triples:,} triples")
    )
    if report.resumed:
        console.print("[green]Resumed[/] the interrupted run.")
    if report.written:
        console.print("Wrote embeddings: " + ", ".join(f"{k} {v:,}" for k, v in report.written.items()))
    console.print(f"Saved to {report.path}. Next: kg predict User:1 RATED (or any entity and relation).")


def _parse_options(items: list[str]) -> dict[str, object]:
    """``name=value`` pairs; a value that parses as JSON is taken as such (numbers, lists)."""
    options: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--option {item!r} must look like name=value.")
        try:
            options[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[name.strip()] = value
    return options


@models_app.command("list")
def models_list() -> None:
    """Trained runs, newest first; the selected one is marked."""
    from embeddings.runs import list_runs
    from embeddings.tables import runs_table

    console.print(runs_table(list_runs(state.settings())))


@models_app.command("show")
def models_show(
    run: Annotated[
        Optional[str], typer.Argument(help="Run id (default: the selected or newest run).")
    ] = None,
) -> None:
    """Configuration, metrics and graph status of one run."""
    from embeddings.runs import graph_status, load_model
    from embeddings.tables import metrics_table, run_details_table

    settings = state.settings()
    trained = load_model(settings, run)
    console.print(run_details_table(trained, graph_status(settings, trained)))
    console.print(metrics_table(trained))


@models_app.command("use")
def models_use(run: Annotated[str, typer.Argument(help="Run id (see `kg models list`).")]) -> None:
    """Select the run that predict, write-back and recommendations use."""
    from embeddings.runs import use_run

    path = use_run(state.settings(), run)
    console.print(f"Selected {path.name}.")


@models_app.command("remove")
def models_remove(
    runs: Annotated[list[str], typer.Argument(help="Run id(s), exactly as `kg models list` shows them.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before removing several runs or the newest.")
    ] = False,
) -> None:
    """Delete trained runs (for example a damaged one). Only run folders inside the models directory."""
    from embeddings.runs import removal_warning, remove_run

    settings = state.settings()
    warning = removal_warning(settings, runs)
    if warning and not yes:
        if not sys.stdin.isatty():
            raise InputError(f"{warning} Add --yes to confirm.")
        typer.confirm(f"{warning} Remove?", abort=True)
    for run in dict.fromkeys(runs):
        console.print(f"Removed {remove_run(settings, run)}.", markup=False, highlight=False)


def enrich(
    backend: Annotated[
        Optional[str],
        typer.Option(help="template (no model), hf (local model dir) or openai (HTTP endpoint)."),
    ] = None,
    label: Annotated[
        Optional[list[str]], typer.Option("--label", "-l", help="Only these labels; repeatable.")
    ] = None,
) -> None:
    """Describe every node from its neighbourhood and store the text and its embedding."""
    from embeddings.enrich import enrich_store
    from embeddings.tables import enrich_table
    from kg.progress import rich_progress
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings) as store, rich_progress(err_console) as progress:
        report = enrich_store(settings, store, backend=backend, labels=label, progress=progress)
    console.print(enrich_table(report))


def embed(
    run: Annotated[Optional[str], typer.Option(help="Run id (default: the selected or newest run).")] = None,
) -> None:
    """Write a run's embeddings onto nodes; with a --text model, nodes added since get text-derived ones."""
    from embeddings.runs import load_model
    from embeddings.writeback import write_entity_embeddings
    from kg.progress import rich_progress
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings) as store, rich_progress(err_console) as progress:
        trained = load_model(settings, run, store=store)
        written = write_entity_embeddings(store, trained, progress=progress)
    console.print(
        f"Wrote embeddings of {trained.run_id}: " + ", ".join(f"{k} {v:,}" for k, v in written.items())
    )


def predict(
    head: Annotated[str, typer.Argument(help="Head entity as Label:id, or '?' to predict heads.")],
    relation: Annotated[str, typer.Argument(help="Relationship type, e.g. RATED.")],
    tail: Annotated[Optional[str], typer.Argument(help="Tail entity when HEAD is '?'.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many links to list.")] = 10,
    run: Annotated[Optional[str], typer.Option(help="Run id (default: the selected or newest run).")] = None,
) -> None:
    """Top-k predicted links that are not in the graph yet: `kg predict User:1 RATED`, `kg predict '?' RATED Item:50`."""
    from embeddings.predict import predict_links
    from embeddings.runs import load_model
    from kg.render import frame_table
    from kg.store import open_store

    if (head == "?") == (tail is None or tail == "?"):
        raise InputError("Give HEAD RELATION to predict tails, or '?' RELATION TAIL to predict heads.")
    settings = state.settings()
    with open_store(settings, read_only=True) as store:
        trained = load_model(settings, run, store=store)
        frame = predict_links(
            trained,
            store,
            relation=relation,
            head=None if head == "?" else head,
            tail=tail if head == "?" else None,
            k=k,
        )
    console.print(frame_table(frame, title=f"{head} {relation} {tail or '?'} ({trained.run_id})"))


def register(app: typer.Typer) -> None:
    for command in (train, enrich, embed, predict):
        app.command()(command)
    app.add_typer(models_app, name="models")
