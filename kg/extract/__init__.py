"""Text extraction: free text -> documents, entities, relations, attributes -> graph facts.

The public entry points, each called by one CLI command:

* :func:`extract_path` / :func:`extract_graph_text` -- ``kg extract run``
* :func:`preview_text` -- ``kg extract preview``
* :func:`train_from_file` -- ``kg extract train``; :func:`evaluate_file` -- ``kg extract eval``
* :func:`kg.extract.resolve.resolve_graph`, :func:`kg.extract.resolve.decide_pair` -- ``kg resolve``
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kg.config import Settings
from kg.extract.conll04 import read_conll04
from kg.extract.documents import documents_from_graph, guess_document_format, read_documents
from kg.extract.evaluate import EvaluationReport
from kg.extract.facts import DocumentFacts, DocumentRecord
from kg.extract.pipeline import Extractor, ExtractReport, run_extraction
from kg.extract.training import (
    EpochRecord,
    ExtractionModel,
    TrainingOptions,
    TrainingResult,
    evaluate_predictions,
    latest_run,
    train_extractor,
)
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import count_lines
from kg.progress import ProgressReporter
from kg.store.base import GraphStore

__all__ = [
    "ExtractReport",
    "Extractor",
    "evaluate_file",
    "extract_graph_text",
    "extract_path",
    "extraction_models_dir",
    "find_model",
    "preview_text",
    "train_from_file",
]


def extraction_models_dir(settings: Settings) -> Path:
    """Where trained extraction models live (apart from the KGE model registry)."""
    return settings.data_dir / "extract-models"


def find_model(
    settings: Settings, model_dir: Path | None = None, *, required: bool = False
) -> ExtractionModel | None:
    """The extraction model to use: ``model_dir``, else ``extract.relation_model``, else
    the newest trained run; ``None`` when there is none and it is not ``required``."""
    chosen = model_dir or settings.extract.relation_model
    if chosen is not None:
        return ExtractionModel.load(Path(chosen))
    root = extraction_models_dir(settings)
    if not required and not any(root.glob("*/config.json")):
        return None
    return ExtractionModel.load(latest_run(root))


def extract_path(
    store: GraphStore,
    settings: Settings,
    path: Path,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    about_field: str | None = None,
    about_label: str = "Item",
    encoding: str = "utf-8",
    model: ExtractionModel | None = None,
    progress: ProgressReporter | None = None,
    extractor: Extractor | None = None,
) -> ExtractReport:
    """Extract facts from a text file, a folder of them, JSONL or CSV rows into ``store``."""
    store.schema.node(about_label)
    problems = ProblemLog()
    documents = read_documents(
        path, problems, fmt=fmt, text_field=text_field, id_field=id_field,
        about_field=about_field, about_label=about_label, encoding=encoding,
    )  # fmt: skip
    total = count_lines(path) if path.is_file() and (fmt or guess_document_format(path)) != "text" else None
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
    progress: ProgressReporter | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    run_name: str | None = None,
) -> TrainingResult:
    """Train the joint extractor on a CoNLL04-format file and save it as a new run."""
    train = read_conll04(data)
    dev_sentences = read_conll04(dev) if dev else None
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
    if progress is not None:
        progress.start(f"Predicting {data.name}", len(gold))
    predictions = model.predict([s.tokens for s in gold], progress=progress)
    if progress is not None:
        progress.finish()
    return evaluate_predictions(gold, predictions), model
