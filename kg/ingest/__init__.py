"""Structured ingest: files -> batches (loaders) -> store (writer).

Loaders are chosen by format name from ``LOADERS``; each yields node and relationship
batches and reports bad rows to a ``ProblemLog``. The writer upserts them, so running
the same ingest twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from kg.errors import InputError
from kg.ingest.batches import Batch
from kg.ingest.mapping import load_mapping
from kg.ingest.movielens import MovieLensLoader
from kg.ingest.problems import ProblemLog
from kg.ingest.tabular import TabularLoader
from kg.ingest.writer import DanglingPolicy, IngestReport, write_batches
from kg.progress import ProgressReporter, SilentProgress
from kg.store.base import GraphStore

__all__ = ["FORMATS", "IngestReport", "ingest_path"]


class Loader(Protocol):
    def estimated_rows(self) -> int: ...

    def batches(self) -> Iterator[Batch]: ...


LoaderFactory = Callable[..., Loader]


def _mapped(path: Path, store: GraphStore, problems: ProblemLog, *, mapping: Path | None, batch_size: int, encoding: str | None) -> Loader:
    if mapping is None:
        raise InputError(f"Ingesting {path.name} needs a mapping file: pass --mapping FILE (see README, 'Mapping files').")
    if not path.is_file():
        raise InputError(f"{path} is not a file.")
    return TabularLoader(path, load_mapping(mapping), store.schema, problems, batch_size=batch_size, encoding=encoding)


def _movielens(path: Path, store: GraphStore, problems: ProblemLog, *, mapping: Path | None, batch_size: int, encoding: str | None) -> Loader:
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; --format movielens expects the ml-100k folder.")
    return MovieLensLoader(path, problems, batch_size=batch_size)


LOADERS: dict[str, LoaderFactory] = {"csv": _mapped, "tsv": _mapped, "jsonl": _mapped, "movielens": _movielens}
FORMATS = tuple(LOADERS)


def ingest_path(
    store: GraphStore,
    path: Path,
    *,
    fmt: str = "csv",
    mapping: Path | None = None,
    strict: bool = False,
    dangling: DanglingPolicy = "placeholder",
    batch_size: int = 50_000,
    encoding: str | None = None,
    progress: ProgressReporter | None = None,
) -> IngestReport:
    """Load one file (or MovieLens folder) into ``store`` and report what happened."""
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    try:
        factory = LOADERS[fmt]
    except KeyError:
        raise InputError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.") from None
    problems = ProblemLog(strict=strict)
    loader = factory(path, store, problems, mapping=mapping, batch_size=batch_size, encoding=encoding)
    progress = progress or SilentProgress()
    progress.start(f"Ingesting {path.name}", loader.estimated_rows())
    try:
        return write_batches(store, loader.batches(), problems=problems, dangling=dangling, progress=progress)
    finally:
        progress.finish()
