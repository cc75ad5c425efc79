"""Exports of the whole graph, chosen by format name (``kg export --format NAME DIR``).

An exporter takes the store and a folder (plus its own keyword options and a progress
reporter) and returns a report with ``summary_lines()`` for the CLI to print.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kg.export.neo4j_admin import AdminExport, export_neo4j_admin
from kg.progress import ProgressReporter
from kg.registry import Registry
from kg.store.base import GraphStore

__all__ = ["EXPORTERS", "AdminExport", "ExportReport", "export_graph", "export_neo4j_admin"]


class ExportReport(Protocol):
    directory: Path

    def summary_lines(self) -> list[str]: ...


EXPORTERS: Registry[Callable[..., ExportReport]] = Registry(
    "export format", {"neo4j-admin": export_neo4j_admin}
)


def export_graph(
    store: GraphStore,
    fmt: str,
    directory: Path,
    *,
    progress: ProgressReporter | None = None,
    **options: Any,
) -> ExportReport:
    """Run the exporter registered under ``fmt`` with its ``options``."""
    return EXPORTERS.get(fmt)(store, directory, progress=progress, **options)
