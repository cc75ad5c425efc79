"""Text extraction: free text -> documents, entities, relations, attributes -> graph facts.

The public entry points, each called by one CLI command:

* :func:`extract_path` / :func:`extract_graph_text` with :func:`open_extractor` -- ``kg extract run``
* :func:`preview_text` -- ``kg extract preview``
* :func:`train_from_file` -- ``kg extract train``; :func:`evaluate_file` -- ``kg extract eval``
* :func:`import_encoder` -- ``kg extract import-encoder``
* :func:`kg.extract.resolve.resolve_graph`, :func:`kg.extract.resolve.decide_pair` -- ``kg resolve``
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from kg.config import Settings
from kg.errors import InputError
from kg.extract.bert_import import ImportedEncoder, import_bert
from kg.extract.conll04 import read_conll04
from kg.extract.documents import ReadOptions, documents_from_graph, read_documents
from kg.extract.extraction_metrics import EvaluationReport
from kg.extract.facts import DocumentFacts, DocumentRecord
from kg.extract.pipeline import Extractor, ExtractReport, run_extraction
from kg.extract.training import (
    EpochRecord,
    ExtractionModel,
    TrainingOptions,
    TrainingResult,
    check_run_name,
    evaluate_predictions,
    latest_run,
    train_extractor,
    train_final,
)
from kg.ids import is_folder_name
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import count_lines
from kg.progress import ProgressReporter, SilentProgress
from kg.store.base import GraphStore

__all__ = [
    "ExtractReport",
    "Extractor",
    "ReadOptions",
    "encoders_dir",
    "evaluate_file",
    "extract_graph_text",
    "extract_path",
    "extraction_models_dir",
    "find_model",
    "find_model_dir",
    "import_encoder",
    "open_extractor",
    "preview_text",
    "train_from_file",
]


def extraction_models_dir(settings: Settings) -> Path:
    """Where trained extraction models live (apart from the KGE model registry)."""
    return settings.data_dir / "extract-models"


def encoders_dir(settings: Settings) -> Path:
    """Where imported encoders live; ``kg extract train --encoder NAME`` looks here first."""
    return settings.data_dir / "encoders"


def import_encoder(
    settings: Settings, source: Path, name: str, *, replace_existing: bool = False
) -> ImportedEncoder:
    """Convert a TensorFlow BERT checkpoint into ``<data_dir>/encoders/<name>/``."""
    check_run_name(name)
    return import_bert(source, encoders_dir(settings) / name, replace_existing=replace_existing)


def find_model_dir(
    settings: Settings, model_dir: Path | None = None, *, required: bool = False
) -> Path | None:
    """The folder of the extraction model to use: ``model_dir``, else
    ``extract.relation_model``, else the newest trained run; ``None`` when there is none
    and it is not ``required``."""
    chosen = model_dir or settings.extract.relation_model
    if chosen is not None:
        return Path(chosen)
    root = extraction_models_dir(settings)
    if not required and not any(root.glob("*/config.json")):
        return None
    return latest_run(root)


def find_model(
    settings: Settings, model_dir: Path | None = None, *, required: bool = False
) -> ExtractionModel | None:
    """The extraction model :func:`find_model_dir` names, loaded."""
    found = find_model_dir(settings, model_dir, required=required)
    return ExtractionModel.load(found) if found is not None else None


@contextmanager
def open_extractor(
    settings: Settings,
    store: GraphStore,
    model_dir: Path | None = None,
    *,
    use_model: bool = True,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Iterator[Extractor]:
    """The extractor of a run, with the joint model if ``use_model`` and one is found
    (:func:`find_model_dir`): in this process, or with its analysis on a Dask cluster --
    the one whose scheduler is at ``scheduler``, or a local one of ``workers`` processes."""
    found = find_model_dir(settings, model_dir) if use_model or model_dir else None
    if scheduler is None and workers is None:
        yield Extractor(settings, store, ExtractionModel.load(found) if found is not None else None)
        return
    from kg.extract.distributed import cluster_extractor, dask_client

    with (
        dask_client(scheduler, workers) as client,
        cluster_extractor(client, settings, store, found) as extractor,
    ):
        yield extractor


def extract_path(
    store: GraphStore,
    settings: Settings,
    path: Path,
    options: ReadOptions | None = None,
    *,
    model: ExtractionModel | None = None,
    progress: ProgressReporter | None = None,
    extractor: Extractor | None = None,
) -> ExtractReport:
    """Extract facts from a text file, a folder of them, JSONL or CSV rows into ``store``."""
    options = options or ReadOptions()
    store.schema.node(options.about_label)
    problems = ProblemLog()
    documents = read_documents(path, problems, options)
    total = count_lines(path) if path.is_file() and options.format_of(path) != "text" else None
    return run_extraction(
        store,
        documents,
        settings,
        model=model,
        progress=progress,
        problems=problems,
        extractor=extractor,
        total=total,
    )


def extract_graph_text(
    store: GraphStore,
    settings: Settings,
    label: str = "Item",
    text_property: str = "description",
    *,
    model: ExtractionModel | None = None,
    progress: ProgressReporter | None = None,
    extractor: Extractor | None = None,
) -> ExtractReport:
    """Extract from a text property of stored nodes (product descriptions)."""
    total = store.counts().nodes.get(label)
    documents = documents_from_graph(store, label, text_property)
    return run_extraction(
        store, documents, settings, model=model, progress=progress, total=total, extractor=extractor
    )


def preview_text(
    text: str, settings: Settings, store: GraphStore | None = None, model: ExtractionModel | None = None
) -> DocumentFacts:
    """What extraction would find in ``text`` (with the store's catalogue, if given); writes nothing."""
    from kg.extract.documents import document_id

    extractor = Extractor(settings, store, model)
    document = DocumentRecord(id=document_id(text), text=text, source="preview")
    return next(iter(extractor.extract([document])))


def train_from_file(
    settings: Settings,
    data: Path,
    options: TrainingOptions,
    *,
    dev: Path | None = None,
    final: bool = False,
    progress: ProgressReporter | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    run_name: str | None = None,
) -> TrainingResult:
    """Train the joint extractor on a CoNLL04-format file and save it as a new run; with
    ``final``, choose the epochs on ``dev`` and save a model retrained on train+dev."""
    imported = encoders_dir(settings) / options.encoder
    if is_folder_name(options.encoder) and imported.is_dir():
        options = replace(options, encoder=str(imported.resolve()))
    train = read_conll04(data)
    dev_sentences = read_conll04(dev) if dev else None
    if final:
        if dev_sentences is None:
            raise InputError("--final needs --dev: the epoch count is chosen on it.")
        return train_final(
            train, dev_sentences, extraction_models_dir(settings), options, progress=progress,
            on_epoch=on_epoch, run_name=run_name,
        )  # fmt: skip
    return train_extractor(
        train, extraction_models_dir(settings), options, dev=dev_sentences, progress=progress,
        on_epoch=on_epoch, run_name=run_name,
    )  # fmt: skip


def evaluate_file(
    settings: Settings, data: Path, *, model_dir: Path | None = None, progress: ProgressReporter | None = None
) -> tuple[EvaluationReport, ExtractionModel]:
    """Strict entity and relation scores of a trained model on a labelled file."""
    gold = read_conll04(data)
    model = find_model(settings, model_dir, required=True)
    assert model is not None
    progress = progress or SilentProgress()
    with progress.task(f"Predicting {data.name}", len(gold)):
        predictions = model.predict([s.tokens for s in gold], progress=progress)
    return evaluate_predictions(gold, predictions), model
