"""``kg``: the command line of the knowledge-graph recommendation platform.

Thin by design: each command parses its options, calls one library function and prints
the result with rich. Errors a user can fix are one red line and exit code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from kg.command_errors import KGGroup, run_app
from kg.config import Settings, load_settings
from kg.errors import InputError, NotFoundError

app = typer.Typer(
    name="kg",
    help="Turn catalogs, customers, interactions and text into a knowledge graph, and use it "
    "to recommend and to target. The embedded store needs no setup; set KG_STORE to a "
    "bolt:// or neo4j:// URI to use Neo4j.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=KGGroup,
)
datasets_app = typer.Typer(help="List, download and load public datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

console = Console()
err_console = Console(stderr=True)


class _State:
    """Options given before the command, resolved into settings on first use."""

    config: Path | None = None
    store: str | None = None

    def settings(self, **overrides: object) -> Settings:
        return load_settings(self.config, store=self.store, **overrides)


state = _State()


@app.callback()
def _global_options(
    store: Annotated[
        Optional[str],
        typer.Option("--store", help="Embedded store path or Neo4j URI (overrides KG_STORE)."),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", help="TOML config file (overrides KG_CONFIG and ./kg.toml)."),
    ] = None,
) -> None:
    """Global options. Credentials come from KG_NEO4J_USER / KG_NEO4J_PASSWORD only."""
    state.store = store
    state.config = config


# ---------------------------------------------------------------------- demo
@app.command()
def demo(
    users: Annotated[int, typer.Option(min=10, help="Users in the generated shop.")] = 1000,
    items: Annotated[int, typer.Option(min=20, help="Products in the generated shop.")] = 400,
    seed: Annotated[int, typer.Option(help="Random seed of the generated shop.")] = 7,
) -> None:
    """Generate a shop, load it into the store and run the platform end to end."""
    from kg.datasets.synthetic_shop import ShopSize
    from kg.demo import run_demo

    run_demo(state.settings(), console, size=ShopSize(users=users, items=items), seed=seed)


# ---------------------------------------------------------------------- ingest
@app.command()
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
) -> None:
    """Load structured rows into the graph. Idempotent: a second run changes nothing."""
    from kg.ingest import plan_ingest, run_ingest
    from kg.progress import rich_progress
    from kg.render import counts_table, ingest_table
    from kg.schema import Schema
    from kg.store import open_store

    if dangling not in ("placeholder", "skip"):
        raise InputError("--dangling must be 'placeholder' or 'skip'.")
    settings = state.settings(batch_size=batch_size)
    # Checked before the store is opened: input that cannot be loaded leaves no store behind.
    plan = plan_ingest(
        path,
        Schema.default(settings.schema_extension),
        fmt=fmt,
        mapping=mapping,
        strict=strict,
        batch_size=settings.batch_size,
        encoding=encoding,
    )
    with open_store(settings) as store, rich_progress(err_console) as progress:
        report = run_ingest(
            store,
            plan,
            dangling=dangling,
            progress=progress,
            rejects_dir=settings.data_dir,  # type: ignore[arg-type]
        )
        counts = store.counts()
    console.print(ingest_table(report, f"Ingested {path}"))
    for line in report.summary_lines():
        console.print(line, style="yellow", markup=False)
    console.print(counts_table(counts))


# ---------------------------------------------------------------------- inspect
@app.command()
def stats(
    all_: Annotated[bool, typer.Option("--all", help="Also list empty labels and types.")] = False,
) -> None:
    """Counts per node label and relationship type."""
    from kg.render import counts_table
    from kg.store import open_store

    with open_store(state.settings(), read_only=True) as store:
        console.print(counts_table(store.counts(), show_empty=all_))


@app.command()
def schema(
    as_json: Annotated[bool, typer.Option("--json", help="Print the schema as JSON.")] = False,
) -> None:
    """The declared graph schema (the default plus \\[schema_extension] from the config)."""
    from rich.table import Table

    from kg.schema import Schema

    declared = Schema.default(state.settings().schema_extension)
    if as_json:
        console.print_json(json.dumps(declared.to_dict()))
        return
    nodes = Table(title="Node labels (key: id)")
    for column in ("label", "properties", "description"):
        nodes.add_column(column)
    for label, node in sorted(declared.nodes.items()):
        nodes.add_row(label, ", ".join(f"{k}: {v}" for k, v in node.properties.items()), node.description)
    rels = Table(title="Relationship types")
    for column in ("type", "from -> to", "properties"):
        rels.add_column(column)
    for name, rel in sorted(declared.rels.items()):
        rels.add_row(
            name,
            "\n".join(f"{a} -> {b}" for a, b in rel.endpoints),
            ", ".join(f"{k}: {v}" for k, v in rel.properties.items()),
        )
    console.print(nodes, rels)


@app.command()
def query(
    what: Annotated[
        Optional[str], typer.Argument(help="A query name from cypher/, a .cypher file, or Cypher text.")
    ] = None,
    param: Annotated[
        Optional[list[str]], typer.Option("--param", "-p", help="Query parameter as name=value; repeatable.")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow the query to change the graph.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the queries of the library.")] = False,
    max_rows: Annotated[int, typer.Option(min=1, help="Rows to print.")] = 50,
) -> None:
    """Run a Cypher query. Read-only unless --write; values go in as parameters.

    Parameter values are typed: -p k=10 is an integer, -p x=1.5 a float, -p flag=true a
    boolean, -p v=null null; -p zip:str=02139 (or a quoted '02139') keeps text."""
    from rich.table import Table

    from cypher import list_queries, load_query, parse_query
    from kg.render import frame_table
    from kg.store import open_store

    if list_:
        table = Table(title="cypher/ query library")
        for column in ("name", "parameters", "portable", "description"):
            table.add_column(column)
        for item in list_queries():
            params = ", ".join(f"{p.name}={p.default}" if p.default else p.name for p in item.params.values())
            table.add_row(item.name, params, "yes" if item.portable else "Neo4j only", item.description)
        console.print(table)
        return
    if not what:
        raise InputError("Give a query name, a .cypher file or Cypher text (or --list).")
    given = _parse_params(param or [])
    if what.endswith(".cypher"):
        if not Path(what).is_file():
            raise NotFoundError(f"{what}: file not found.")
        chosen = parse_query(Path(what).read_text("utf-8"), name=Path(what).stem, path=Path(what))
    elif _looks_like_name(what):
        chosen = load_query(what)
        if not chosen.portable and not state.settings().uses_neo4j:
            raise InputError(
                f"Query {chosen.name!r} uses Neo4j-only Cypher; run it with KG_STORE set to a Neo4j URI "
                "(README, 'Use Neo4j')."
            )
    else:
        chosen = parse_query(what, name="inline")
    with open_store(state.settings(), read_only=not write, ensure_schema=write) as store:
        frame = store.query(chosen.text, chosen.bind(given), write=write)
    console.print(frame_table(frame, title=chosen.description or None, max_rows=max_rows))


def _looks_like_name(text: str) -> bool:
    return all(ch.isalnum() or ch in "-_" for ch in text)


def _parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r} must look like name=value.")
        if name.strip() in params:
            raise InputError(f"--param {name.strip()} is given twice.")
        params[name.strip()] = value
    return params


# ---------------------------------------------------------------------- datasets
@datasets_app.command("list")
def datasets_list() -> None:
    """Datasets the platform can load."""
    from rich.table import Table

    from kg.datasets import DATASETS

    table = Table(title="Datasets")
    for column in ("name", "source", "description"):
        table.add_column(column)
    for info in DATASETS.values():
        table.add_row(info.name, info.url or "generated", info.description)
    console.print(table)


@datasets_app.command("load")
def datasets_load(
    name: Annotated[str, typer.Argument(help="Dataset name (see `kg datasets list`).")],
    path: Annotated[
        Optional[Path], typer.Option(help="Use this local folder instead of downloading (offline machines).")
    ] = None,
    url: Annotated[Optional[str], typer.Option(help="Download from this mirror instead.")] = None,
) -> None:
    """Download (or take from --path) a dataset and ingest it into the store."""
    from kg.datasets import DATASETS
    from kg.datasets.download import download_and_extract
    from kg.datasets.synthetic_shop import generate_shop
    from kg.ingest import ingest_path
    from kg.progress import rich_progress
    from kg.render import counts_table, ingest_table
    from kg.store import open_store

    if name not in DATASETS:
        raise InputError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
    info = DATASETS[name]
    settings = state.settings()
    with rich_progress(err_console) as progress:
        if name == "synthetic-shop":
            jobs = generate_shop(path or settings.data_dir / "datasets" / name)
        else:
            folder = path or download_and_extract(
                url or info.url or "", settings.data_dir / "datasets", member_dir="ml-100k", progress=progress
            )
            jobs = [(folder, None)]
        with open_store(settings) as store:
            for data, mapping in jobs:
                report = ingest_path(
                    store,
                    data,
                    fmt="movielens" if mapping is None else "csv",
                    mapping=mapping,
                    progress=progress,
                )
                console.print(ingest_table(report, f"Ingested {data}"))
                for line in report.summary_lines():
                    console.print(line, style="yellow", markup=False)
            console.print(counts_table(store.counts()))


# ---------------------------------------------------------------------- export (Neo4j bulk path)
@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the export into.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="neo4j-admin: CSVs for `neo4j-admin database import full`.")
    ] = "neo4j-admin",
    array_delimiter: Annotated[
        Optional[str], typer.Option(help="Delimiter inside array fields (neo4j-admin; default ';').")
    ] = None,
) -> None:
    """Export the whole graph, e.g. as bulk-import files for a first load of a large Neo4j."""
    from kg.export import export_graph
    from kg.progress import rich_progress
    from kg.store import open_store

    options = {"array_delimiter": array_delimiter} if array_delimiter else {}
    with open_store(state.settings(), read_only=True) as store, rich_progress(err_console) as progress:
        report = export_graph(store, fmt, directory, progress=progress, **options)
    for line in report.summary_lines():
        console.print(line, highlight=False, markup=False)


# ---------------------------------------------------------------------- extract (text -> facts)
extract_app = typer.Typer(help="Extract entities, relations and attributes from text.", no_args_is_help=True)
app.add_typer(extract_app, name="extract")


@extract_app.command("run")
def extract_run(
    path: Annotated[
        Optional[Path], typer.Argument(help="A text file, a folder of .txt/.md files, JSONL or CSV/TSV rows.")
    ] = None,
    from_graph: Annotated[
        Optional[str],
        typer.Option(
            "--from-graph",
            help="Extract from a text property of stored nodes instead, e.g. Item.description.",
        ),
    ] = None,
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="text, jsonl, csv or tsv (default: from the path)."),
    ] = None,
    text_field: Annotated[str, typer.Option(help="Field/column holding the text (JSONL, CSV).")] = "text",
    id_field: Annotated[str, typer.Option(help="Field/column holding a document id (JSONL, CSV).")] = "id",
    about_field: Annotated[
        Optional[str], typer.Option(help="Field holding the key of the node the text describes (e.g. sku).")
    ] = None,
    about_label: Annotated[str, typer.Option(help="Label of the node --about-field points at.")] = "Item",
    encoding: Annotated[str, typer.Option(help="Text encoding of the input.")] = "utf-8",
    model: Annotated[
        Optional[Path], typer.Option(help="Trained extraction model folder (default: the newest).")
    ] = None,
    use_model: Annotated[bool, typer.Option(help="Use a trained joint model if one exists.")] = True,
    n_process: Annotated[Optional[int], typer.Option(min=1, help="spaCy worker processes.")] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(min=1, help="Analyse on a local Dask cluster of this many worker processes."),
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            help="Analyse on the Dask cluster whose scheduler is at this address (tcp://host:8786)."
        ),
    ] = None,
) -> None:
    """Extract facts from text into the graph. Idempotent: unchanged documents are skipped."""
    from kg.extract import ReadOptions, extract_graph_text, extract_path, open_extractor
    from kg.extract.report import extract_table
    from kg.progress import rich_progress
    from kg.store import open_store

    if (path is None) == (from_graph is None):
        raise InputError("Give either a PATH or --from-graph LABEL.PROPERTY.")
    settings = state.settings()
    if n_process:
        settings.extract.n_process = n_process
    with (
        open_store(settings) as store,
        open_extractor(
            settings, store, model, use_model=use_model, scheduler=scheduler, workers=workers
        ) as extractor,
        rich_progress(err_console) as progress,
    ):
        if from_graph is not None:
            label, _, prop = from_graph.partition(".")
            report = extract_graph_text(
                store, settings, label, prop or "description", progress=progress, extractor=extractor
            )
        else:
            assert path is not None
            options = ReadOptions(fmt, text_field, id_field or None, about_field, about_label, encoding)
            report = extract_path(store, settings, path, options, progress=progress, extractor=extractor)
    console.print(extract_table(report, f"Extracted from {from_graph or path}"))
    for line in report.summary_lines():
        console.print(line, style="yellow", markup=False)  # lines quote [sections] and rejected names


@extract_app.command("preview")
def extract_preview(
    text: Annotated[str, typer.Argument(help="The text to analyse.")],
    model: Annotated[
        Optional[Path], typer.Option(help="Trained extraction model folder (default: the newest).")
    ] = None,
    use_model: Annotated[bool, typer.Option(help="Use a trained joint model if one exists.")] = True,
) -> None:
    """Show what extraction would write for TEXT, without writing anything."""
    from kg.extract import find_model, preview_text
    from kg.extract.report import preview_tables
    from kg.store import open_store

    settings = state.settings()
    chosen = find_model(settings, model) if use_model or model else None
    if settings.uses_neo4j or Path(settings.store).exists():
        with open_store(settings, read_only=True) as store:
            facts = preview_text(text, settings, store, chosen)
    else:
        facts = preview_text(text, settings, None, chosen)
    for table in preview_tables(facts):
        console.print(table)
    if facts.note or facts.rejected:
        console.print(f"{facts.note or ''} {'; '.join(facts.rejected)}".strip(), style="yellow", markup=False)


@extract_app.command("train")
def extract_train(
    data: Annotated[Path, typer.Option("--data", help="Training data in the CoNLL04 JSON format.")],
    dev: Annotated[
        Optional[Path], typer.Option(help="Labelled data to watch per epoch (not used for selection).")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 25,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
    threads: Annotated[int, typer.Option(min=1, help="Torch CPU threads.")] = 1,
    name: Annotated[Optional[str], typer.Option(help="Run folder name (default: joint-<timestamp>).")] = None,
) -> None:
    """Train the joint entity + relation model; saves it under <data_dir>/extract-models/."""
    from kg.extract import train_from_file
    from kg.extract.training import TrainingOptions
    from kg.progress import rich_progress

    def show(record) -> None:  # type: ignore[no-untyped-def]
        dev_part = (
            f"  dev entity F1 {record.dev_entity_f1:.3f}  relation F1 {record.dev_relation_f1:.3f}"
            if record.dev_entity_f1 is not None
            else ""
        )
        console.print(f"epoch {record.epoch:>3}  loss {record.loss:.4f}  {record.seconds:.1f}s{dev_part}")

    options = TrainingOptions(epochs=epochs, seed=seed, threads=threads)
    with rich_progress(err_console) as progress:
        result = train_from_file(
            state.settings(), data, options, dev=dev, progress=progress, on_epoch=show, run_name=name
        )
    console.print(
        f"[green]Saved[/] {result.run_dir} ({result.seconds:.0f}s). Evaluate: kg extract eval --data FILE"
    )


@extract_app.command("eval")
def extract_eval(
    data: Annotated[Path, typer.Option("--data", help="Labelled data in the CoNLL04 JSON format.")],
    model: Annotated[Optional[Path], typer.Option(help="Trained model folder (default: the newest).")] = None,
) -> None:
    """Entity P/R/F1 (exact span and type) and strict relation P/R/F1 of a trained model."""
    from kg.extract import evaluate_file
    from kg.extract.report import evaluation_table
    from kg.progress import rich_progress

    with rich_progress(err_console) as progress:
        report, chosen = evaluate_file(state.settings(), data, model_dir=model, progress=progress)
    console.print(evaluation_table(report, f"{data.name} with {chosen.run_dir}"))


@app.command()
def resolve(
    review: Annotated[
        bool, typer.Option("--review", help="List SAME_AS candidates awaiting review; change nothing.")
    ] = False,
    accept: Annotated[
        Optional[tuple[str, str]],
        typer.Option(help="Merge the first node (Label:id, extracted) into the second (Label:id)."),
    ] = None,
    reject: Annotated[
        Optional[tuple[str, str]], typer.Option(help="Record that two nodes (Label:id Label:id) differ.")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 50,
) -> None:
    """Entity resolution over the graph: merge clear duplicates, list the doubtful ones."""
    from kg.extract.resolve import decide_pair, resolve_graph, review_candidates
    from kg.render import frame_table
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=review) as store:
        if accept or reject:
            first, second = accept or reject  # type: ignore[misc]
            console.print(decide_pair(store, first, second, accept=accept is not None))
        elif not review:
            found = resolve_graph(store, settings.extract)
            console.print(
                f"Compared {found.compared:,} entities: merged {len(found.merged):,} at or above "
                f"{settings.extract.fuzzy_threshold:g}; {len(found.candidates):,} candidate pair(s) at or above "
                f"{settings.extract.review_threshold:g} ({found.written:,} new) wait for review."
            )
        frame = review_candidates(store)
    console.print(frame_table(frame, title="SAME_AS candidates to review", max_rows=max_rows))


# ---------------------------------------------------------------------- embeddings (train, models, enrich, predict)
models_app = typer.Typer(help="Trained embedding models: list, show, select, remove.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command()
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
            "--option", "-o", help='Any recipe field as name=value (JSON values), e.g. loss="nssa".'
        ),
    ] = None,
) -> None:
    """Train knowledge-graph embeddings on the graph; evaluate, register and write them back."""
    from embeddings.report import metrics_table
    from embeddings.workflow import train_from_store
    from kg.progress import rich_progress
    from kg.store import open_store

    if holdout not in (None, "leave-one-out", "ratio"):
        raise InputError("--holdout must be leave-one-out or ratio.")
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
    from embeddings.report import runs_table
    from embeddings.runs import list_runs

    console.print(runs_table(list_runs(state.settings())))


@models_app.command("show")
def models_show(
    run: Annotated[
        Optional[str], typer.Argument(help="Run id (default: the selected or newest run).")
    ] = None,
) -> None:
    """Configuration, metrics and graph status of one run."""
    from embeddings.report import metrics_table, run_details_table
    from embeddings.runs import graph_status, load_model

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


@app.command()
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
    from embeddings.report import enrich_table
    from kg.progress import rich_progress
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings) as store, rich_progress(err_console) as progress:
        report = enrich_store(settings, store, backend=backend, labels=label, progress=progress)
    console.print(enrich_table(report))


@app.command()
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


@app.command()
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


# ---------------------------------------------------------------------- recommend and target
CategoryOption = Annotated[
    Optional[str], typer.Option(help="Only items in this category or its sub-categories (id or name).")
]
BrandOption = Annotated[Optional[str], typer.Option(help="Only items of this brand (id or name).")]
GenreOption = Annotated[Optional[str], typer.Option(help="Only items of this genre (id or name).")]
MinPriceOption = Annotated[Optional[float], typer.Option(help="Lowest price.")]
MaxPriceOption = Annotated[Optional[float], typer.Option(help="Highest price.")]
InStockOption = Annotated[bool, typer.Option("--in-stock", help="Only items marked in stock.")]


def _item_filter(
    category: Optional[str],
    brand: Optional[str],
    genre: Optional[str],
    min_price: Optional[float],
    max_price: Optional[float],
    in_stock: bool,
):
    from kg.recommend.filters import ItemFilter

    return ItemFilter(category, brand, genre, min_price, max_price, in_stock)


@app.command()
def recommend(
    user: Annotated[Optional[str], typer.Argument(help="User id (leave out with --all).")] = None,
    k: Annotated[
        Optional[int], typer.Option("--k", "-k", min=1, help="How many items (default: recommend.k).")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the strongest graph path behind each item.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Write them as RECOMMENDED edges (replacing the user's).")
    ] = False,
    all_users: Annotated[bool, typer.Option("--all", help="Every user (with --write).")] = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="Refit the recommender even if the graph looks unchanged.")
    ] = False,
    category: CategoryOption = None,
    brand: BrandOption = None,
    genre: GenreOption = None,
    min_price: MinPriceOption = None,
    max_price: MaxPriceOption = None,
    in_stock: InStockOption = False,
) -> None:
    """Top-k items a user has not seen yet, fused from graph paths, link prediction, text and popularity."""
    from kg.progress import rich_progress
    from kg.recommend.report import cypher_panel, print_notes, recommendations_table
    from kg.recommend.service import load_recommender, write_all_recommendations
    from kg.recommend.writeback import write_recommendations
    from kg.store import open_store

    if all_users == bool(user):
        raise InputError("Give one USER id, or --all --write for every user.")
    if all_users and not write:
        raise InputError("--all writes recommendations for every user; add --write.")
    chosen = _item_filter(category, brand, genre, min_price, max_price, in_stock)
    settings = state.settings()
    with open_store(settings, read_only=not write) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, refit=refit, progress=progress)
        if all_users:
            written = write_all_recommendations(store, recommender, k, chosen, progress=progress)
            console.print(
                f"[green]Wrote[/] {written:,} RECOMMENDED edges for {recommender.graph.n_users:,} users ({recommender.name})."
            )
            return
        frame = recommender.recommend(user, k, chosen, explain=explain or write)  # type: ignore[arg-type]
        if write:
            write_recommendations(store, frame, recommender.name)
    print_notes(err_console, recommender.notes)
    shown = frame.drop(
        columns=["user"] if explain else ["user", "reason", "signal", "cypher"], errors="ignore"
    )
    among = "every item that passes the filters" if chosen.active else "every item in the graph"
    console.print(
        recommendations_table(
            shown,
            f"Recommendations for user {user}",
            empty=f"nothing to recommend: user {user} has already interacted with {among}",
        )
    )
    if explain and not frame.empty:
        console.print(cypher_panel(frame))
    if write:
        console.print(f"[green]Wrote[/] {len(frame)} RECOMMENDED edges for user {user} ({recommender.name}).")


@app.command()
def similar(
    item: Annotated[str, typer.Argument(help="Item id.")],
    k: Annotated[Optional[int], typer.Option("--k", "-k", min=1, help="How many items.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show the path behind each item.")] = False,
    category: CategoryOption = None,
    brand: BrandOption = None,
    genre: GenreOption = None,
    min_price: MinPriceOption = None,
    max_price: MaxPriceOption = None,
    in_stock: InStockOption = False,
) -> None:
    """Items to show next to ITEM ("customers who bought this also bought", shared attributes, text)."""
    from kg.progress import rich_progress
    from kg.recommend.report import cypher_panel, recommendations_table
    from kg.recommend.service import load_recommender
    from kg.store import open_store

    chosen = _item_filter(category, brand, genre, min_price, max_price, in_stock)
    settings = state.settings()
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, progress=progress)
    frame = recommender.similar_items(item, k, chosen, explain=True)
    title = f"Similar to {recommender.graph.item_name(recommender.graph.item_index(item))} ({item})"
    empty = "no other item passes the filters" if chosen.active else "the graph has no other item"
    console.print(
        recommendations_table(
            frame if explain else frame.drop(columns=["reason", "signal", "cypher"]), title, empty=empty
        )
    )
    if explain and not frame.empty:
        console.print(cypher_panel(frame))


@app.command()
def audience(
    target: Annotated[
        str,
        typer.Argument(help="Item id, or a category/brand/genre id or name (Label:name to disambiguate)."),
    ],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many users.")] = 20,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Say why each user is in.")] = True,
) -> None:
    """The users most likely to convert on an item, category or brand (precision targeting)."""
    from kg.progress import rich_progress
    from kg.recommend.audience import audience as find_audience
    from kg.recommend.audience import resolve_target
    from kg.recommend.report import recommendations_table
    from kg.recommend.service import load_recommender
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, progress=progress)
        frame = find_audience(recommender, target, k, explain=explain, progress=progress)
    description = resolve_target(recommender.graph, target).description
    console.print(
        recommendations_table(
            frame[[c for c in ("rank", "user", "score", "name", "rank_for_user", "reason") if c in frame]],
            f"Audience for {description}",
            empty="no user left to target: every user has already interacted with it",
        )
    )


@app.command()
def segment(
    k: Annotated[int, typer.Option("--k", "-k", min=2, help="Number of segments.")] = 8,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write Segment nodes and IN_SEGMENT edges.")
    ] = True,
) -> None:
    """Cluster users on their embeddings and behaviour; write and profile the segments."""
    from kg.progress import rich_progress
    from kg.recommend.report import print_notes, segments_table
    from kg.recommend.segments import segment_graph
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=not write) as store, rich_progress(err_console) as progress:
        segmentation, table, notes = segment_graph(store, settings, k, write=write, progress=progress)
    print_notes(err_console, notes)
    console.print(segments_table(table, f"{k} segments ({segmentation.model})"))
    if write:
        console.print("[green]Wrote[/] Segment nodes and IN_SEGMENT edges; try: kg query segment-profiles")


@app.command()
def evaluate(
    k: Annotated[
        Optional[int], typer.Option("--k", "-k", min=1, help="Cut-off K (default: recommend.k).")
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option(help="Seed of the per-user split (default: recommend.seed).")
    ] = None,
    signals: Annotated[
        Optional[str], typer.Option(help="Comma-separated signals to fuse (default: recommend.signals).")
    ] = None,
) -> None:
    """Offline evaluation: fused recommender, each signal and the baselines on one seeded 75/25 split."""
    from kg.progress import rich_progress
    from kg.recommend.evaluate import evaluate_graph
    from kg.recommend.report import evaluation_table, print_notes
    from kg.store import open_store

    settings = state.settings()
    overrides = {"seed": seed, "signals": signals.split(",") if signals else None}
    config = settings.recommend.model_copy(update={key: v for key, v in overrides.items() if v is not None})
    settings = settings.model_copy(update={"recommend": config})
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        evaluation, saved = evaluate_graph(store, settings, k=k, progress=progress)
    print_notes(err_console, evaluation.notes)
    console.print(evaluation_table(evaluation))
    console.print(f"Saved {saved}")


# ---------------------------------------------------------------------- entry point
def main() -> None:
    """Console-script entry (``kg``)."""
    run_app(app)


if __name__ == "__main__":
    main()
