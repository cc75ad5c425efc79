"""``kg``: the command line of the knowledge-graph recommendation platform.

Thin by design: each command parses its options, calls one library function and prints
the result with rich. Errors a user can fix are one red line and exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console

from kg.config import Settings, load_settings
from kg.errors import InputError, KGError

app = typer.Typer(
    name="kg",
    help="Turn catalogs, customers, interactions and text into a knowledge graph, and use it "
    "to recommend and to target. The embedded store needs no setup; set KG_STORE to a "
    "bolt:// or neo4j:// URI to use Neo4j.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
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
        typer.Option("--format", "-f", help="csv, tsv, jsonl or movielens (default: from the path)."),
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
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the file (default utf-8).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Rows per write batch.")] = None,
) -> None:
    """Load structured rows into the graph. Idempotent: a second run changes nothing."""
    from kg.ingest import FORMATS, ingest_path
    from kg.progress import rich_progress
    from kg.render import counts_table, ingest_table
    from kg.store import open_store

    if dangling not in ("placeholder", "skip"):
        raise InputError("--dangling must be 'placeholder' or 'skip'.")
    chosen = fmt or _guess_format(path)
    if chosen not in FORMATS:
        raise InputError(f"Unknown format {chosen!r}; choose one of {', '.join(FORMATS)}.")
    settings = state.settings(batch_size=batch_size)
    with open_store(settings) as store, rich_progress(err_console) as progress:
        report = ingest_path(
            store,
            path,
            fmt=chosen,
            mapping=mapping,
            strict=strict,
            dangling=dangling,  # type: ignore[arg-type]
            batch_size=settings.batch_size,
            encoding=encoding,
            progress=progress,
        )
        counts = store.counts()
    console.print(ingest_table(report, f"Ingested {path}"))
    for line in report.summary_lines():
        console.print(f"[yellow]{line}")
    console.print(counts_table(counts))


def _guess_format(path: Path) -> str:
    if path.is_dir():
        return "movielens"
    suffix = path.suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".tsv": "tsv"}.get(suffix, "csv")


# ---------------------------------------------------------------------- inspect
@app.command()
def stats(all_: Annotated[bool, typer.Option("--all", help="Also list empty labels and types.")] = False) -> None:
    """Counts per node label and relationship type."""
    from kg.render import counts_table
    from kg.store import open_store

    with open_store(state.settings(), read_only=True) as store:
        console.print(counts_table(store.counts(), show_empty=all_))


@app.command()
def schema(as_json: Annotated[bool, typer.Option("--json", help="Print the schema as JSON.")] = False) -> None:
    """The declared graph schema (default plus [schema_extension] from the config)."""
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
        rels.add_row(name, "\n".join(f"{a} -> {b}" for a, b in rel.endpoints), ", ".join(f"{k}: {v}" for k, v in rel.properties.items()))
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
    max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 50,
) -> None:
    """Run a Cypher query. Read-only unless --write; values go in as parameters."""
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
    if what.endswith(".cypher") and Path(what).is_file():
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
                report = ingest_path(store, data, fmt="movielens" if mapping is None else "csv", mapping=mapping, progress=progress)
                console.print(ingest_table(report, f"Ingested {data}"))
                for line in report.summary_lines():
                    console.print(f"[yellow]{line}")
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
) -> None:
    """Extract facts from text into the graph. Idempotent: unchanged documents are skipped."""
    from kg.extract import extract_graph_text, extract_path, find_model
    from kg.extract.report import extract_table
    from kg.progress import rich_progress
    from kg.store import open_store

    if (path is None) == (from_graph is None):
        raise InputError("Give either a PATH or --from-graph LABEL.PROPERTY.")
    settings = state.settings()
    if n_process:
        settings.extract.n_process = n_process
    chosen = find_model(settings, model) if use_model or model else None
    with open_store(settings) as store, rich_progress(err_console) as progress:
        if from_graph is not None:
            label, _, prop = from_graph.partition(".")
            report = extract_graph_text(
                store, settings, label, prop or "description", model=chosen, progress=progress
            )
        else:
            assert path is not None
            report = extract_path(
                store, settings, path, fmt=fmt, text_field=text_field, id_field=id_field or None,
                about_field=about_field, about_label=about_label, encoding=encoding, model=chosen, progress=progress,
            )  # fmt: skip
    console.print(extract_table(report, f"Extracted from {from_graph or path}"))
    for line in report.summary_lines():
        console.print(f"[yellow]{line}")


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
        console.print(f"[yellow]{facts.note or ''} {'; '.join(facts.rejected)}".strip())


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
    max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 50,
) -> None:
    """Entity resolution: find nodes that may be one entity and record SAME_AS candidates."""
    from kg.extract.resolve import find_duplicate_candidates, review_candidates
    from kg.render import frame_table
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=review, ensure_schema=not review) as store:
        if not review:
            found = find_duplicate_candidates(store, settings.extract)
            console.print(
                f"Compared {found.compared:,} entities: {len(found.candidates):,} candidate pair(s) at or above "
                f"{settings.extract.review_threshold:g}, {found.written:,} new. Nothing was merged."
            )
        frame = review_candidates(store)
    console.print(frame_table(frame, title="SAME_AS candidates to review", max_rows=max_rows))


# ---------------------------------------------------------------------- entry point
def main() -> None:
    """Console-script entry: run the app, turning known errors into one clear line."""
    try:
        app(standalone_mode=False)
    except KGError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except click.exceptions.Abort:
        err_console.print("[yellow]Interrupted.[/] Work already written is kept; run the command again to finish.")
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/] Work already written is kept; run the command again to finish.")
        sys.exit(130)
    except Exception as exc:  # last resort: never a bare traceback
        if os.environ.get("KG_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (set KG_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
