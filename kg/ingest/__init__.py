"""Structured ingest: files -> batches (loaders) -> store (writer).

Loaders are chosen by format name from ``LOADERS``; each checks its input when made
(``plan_ingest``, before any store is opened) and then yields node and relationship
batches, reporting bad rows to a ``ProblemLog``. The writer upserts them, so running the
same ingest twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kg.errors import InputError
from kg.ingest.batches import Batch
from kg.ingest.mapping import load_mapping
from kg.ingest.movielens import MovieLensLoader
from kg.ingest.problems import ProblemLog
from kg.ingest.rejects import RejectsFile, rejects_path_for
from kg.ingest.sources import check_encoding
from kg.ingest.tabular import TabularLoader
from kg.ingest.writer import DanglingPolicy, IngestReport, write_batches
from kg.progress import ProgressReporter, SilentProgress
from kg.registry import Registry
from kg.schema import Schema
from kg.store.base import GraphStore

__all__ = ["FORMATS", "IngestPlan", "IngestReport", "ingest_path", "plan_ingest", "run_ingest"]


BatchRewrite = Callable[[Iterator[Batch]], Iterator[Batch]]


class Loader(Protocol):
    def estimated_rows(self) -> int: ...

    def batches(self, problems: ProblemLog) -> Iterator[Batch]: ...


LoaderFactory = Callable[..., Loader]


def _mapped(
    path: Path,
    schema: Schema,
    *,
    fmt: str | None,
    mapping: Path | None,
    batch_size: int,
    encoding: str | None,
) -> Loader:
    if mapping is None:
        raise InputError(
            f"Ingesting {path.name} needs a mapping file: pass --mapping FILE (see README, 'Mapping files')."
        )
    if not path.is_file():
        raise InputError(f"{path} is not a file.")
    return TabularLoader(
        path, load_mapping(mapping), schema, fmt=fmt, batch_size=batch_size, encoding=encoding
    )


def _movielens(
    path: Path,
    schema: Schema,
    *,
    fmt: str | None,
    mapping: Path | None,
    batch_size: int,
    encoding: str | None,
) -> Loader:
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; --format movielens expects the ml-100k folder.")
    return MovieLensLoader(path, batch_size=batch_size)


LOADERS: Registry[LoaderFactory] = Registry(
    "format", {"csv": _mapped, "tsv": _mapped, "jsonl": _mapped, "movielens": _movielens}
)
FORMATS = tuple(LOADERS)


@dataclass(frozen=True)
class IngestPlan:
    """An input that passed every check that needs no store: its loader, ready to run."""

    path: Path
    loader: Loader
    strict: bool = False


def plan_ingest(
    path: Path,
    schema: Schema,
    *,
    fmt: str | None = None,
    mapping: Path | None = None,
    strict: bool = False,
    batch_size: int = 50_000,
    encoding: str | None = None,
) -> IngestPlan:
    """Check an input before any store is opened, so that input which cannot be loaded
    (a missing file, a MovieLens folder without ``u.data``, the wrong encoding, a mapping
    the schema refuses) stops the run with nothing created.

    ``fmt`` is the user's explicit choice and wins; without it a folder is MovieLens and a
    file takes its mapping's ``format``, else its extension.
    """
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    if encoding is not None:
        check_encoding(encoding)
    factory = LOADERS.get(fmt or ("movielens" if path.is_dir() else "csv"))
    loader = factory(path, schema, fmt=fmt, mapping=mapping, batch_size=batch_size, encoding=encoding)
    return IngestPlan(path, loader, strict)


def run_ingest(
    store: GraphStore,
    plan: IngestPlan,
    *,
    dangling: DanglingPolicy = "placeholder",
    progress: ProgressReporter | None = None,
    rejects_dir: Path | None = None,
    rewrite: BatchRewrite | None = None,
) -> IngestReport:
    """Load a planned input into ``store`` and report what happened.

    ``rewrite`` changes batches between the loader and the store (the pseudonymiser of
    ``kg ingest --pseudonymise``).

    With ``strict`` the whole input is checked first, so the first bad row stops the run
    before anything is written. Otherwise bad rows are skipped and written, with their
    line and reason, to ``<input>.rejects.csv`` beside the input (under ``rejects_dir``
    when that folder is read-only).
    """
    progress = progress or SilentProgress()
    total = plan.loader.estimated_rows()
    if plan.strict:
        with progress.task(f"Checking {plan.path.name}", total):
            for batch in plan.loader.batches(ProblemLog(strict=True)):
                progress.advance(batch.lines)
        problems = ProblemLog(strict=True)
    else:
        problems = ProblemLog(rejects=RejectsFile(rejects_path_for(plan.path), fallback_dir=rejects_dir))
    try:
        with progress.task(f"Ingesting {plan.path.name}", total):
            batches = plan.loader.batches(problems)
            return write_batches(
                store,
                rewrite(batches) if rewrite is not None else batches,
                problems=problems,
                dangling=dangling,
                progress=progress,
            )
    finally:
        problems.close()


def ingest_path(
    store: GraphStore,
    path: Path,
    *,
    fmt: str | None = None,
    mapping: Path | None = None,
    strict: bool = False,
    dangling: DanglingPolicy = "placeholder",
    batch_size: int = 50_000,
    encoding: str | None = None,
    progress: ProgressReporter | None = None,
    rejects_dir: Path | None = None,
    rewrite: BatchRewrite | None = None,
) -> IngestReport:
    """Load one file (or MovieLens folder) into ``store``: ``plan_ingest`` then ``run_ingest``."""
    plan = plan_ingest(
        path, store.schema, fmt=fmt, mapping=mapping, strict=strict, batch_size=batch_size, encoding=encoding
    )
    return run_ingest(
        store, plan, dangling=dangling, progress=progress, rejects_dir=rejects_dir, rewrite=rewrite
    )
