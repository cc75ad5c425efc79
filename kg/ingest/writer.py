"""Writes loader batches into a store: endpoints checked, dangling references handled,
counts and problems collected into one report."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from kg.ingest.batches import Batch, NodeBatch, RelBatch
from kg.ingest.problems import ProblemLog
from kg.progress import ProgressReporter, SilentProgress
from kg.store.base import FROM_ID, TO_ID, GraphStore, UpsertResult

DanglingPolicy = Literal["placeholder", "skip"]
_EXAMPLES = 5


@dataclass
class IngestReport:
    """What one ingest run did.

    Input rows are the data records read (header and blank lines are not records); each
    was loaded, refused as a bad row (``problems``), or skipped for a dangling reference
    under ``--dangling skip``: ``input_rows == loaded + rejected + skipped``.
    """

    created: Counter[str] = field(default_factory=Counter)  # by label or relationship type
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    relationship_types: set[str] = field(default_factory=set)
    dangling: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # rows, by (source, rel, label)
    dangling_ids: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    dangling_policy: DanglingPolicy = "placeholder"
    problems: ProblemLog = field(default_factory=ProblemLog)
    input_rows: int = 0
    loaded: int = 0
    skipped: int = 0  # input rows dropped by --dangling skip
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return self.problems.count

    @property
    def relationships_written(self) -> int:
        return sum(
            v
            for k, v in (self.created + self.updated + self.unchanged).items()
            if k in self.relationship_types
        )

    def summary_lines(self) -> list[str]:
        """One line per kind of outcome a user must know about; bad rows are shown by
        the first few, and all of them are in the rejects file."""
        lines = []
        for (source, rel_type, label), count in sorted(self.dangling.items()):
            missing = sorted(self.dangling_ids[(source, rel_type, label)])
            ids = ", ".join(missing[:_EXAMPLES]) + (
                f" and {len(missing) - _EXAMPLES} more" if len(missing) > _EXAMPLES else ""
            )
            action = (
                "created placeholder nodes (placeholder = true) so no row was lost"
                if self.dangling_policy == "placeholder"
                else "skipped those rows (--dangling skip)"
            )
            lines.append(
                f"{source}: {count} {rel_type} row(s) refer to {label} ids not in the input "
                f"({ids}); {action}."
            )
        if self.problems.count:
            shown = self.problems.kept[:_EXAMPLES]
            lines.extend(f"  {problem}" for problem in shown)
            more = (
                f" ({self.problems.count - len(shown)} more not shown)"
                if self.problems.count > len(shown)
                else ""
            )
            rejects = self.problems.rejects
            if self.problems.rejects_path is not None:
                where = f"every one, with its line, reason and row, is in {self.problems.rejects_path}"
            elif rejects is not None and rejects.error:
                where = f"no rejects file could be written ({rejects.error})"
            else:
                where = "the lines above say which"
            lines.append(
                f"{self.problems.count} bad row(s) skipped{more}; {where}. "
                "Use --strict to stop at the first one."
            )
        return lines


def write_batches(
    store: GraphStore,
    batches: Iterable[Batch],
    *,
    problems: ProblemLog,
    dangling: DanglingPolicy = "placeholder",
    progress: ProgressReporter | None = None,
) -> IngestReport:
    """Write every batch; relationships whose endpoints are unknown follow ``dangling``."""
    progress = progress or SilentProgress()
    report = IngestReport(problems=problems, dangling_policy=dangling)
    started = time.perf_counter()
    for batch in batches:
        rows = batch.rows
        if isinstance(batch, NodeBatch):
            name = batch.label
            if not rows.empty:
                _count(report, name, store.upsert_nodes(batch.label, rows))
        else:
            name = batch.rel_type
            report.relationship_types.add(name)
            if not rows.empty:
                rows = _resolve_dangling(store, batch, dangling, report)
                if batch.input_rows:
                    report.skipped += len(batch.rows) - len(rows)
                _count(
                    report,
                    name,
                    store.upsert_relationships(batch.rel_type, batch.from_label, batch.to_label, rows),
                )
        report.created[name] += 0  # every label and type the input names shows in the table
        if batch.input_rows:
            report.input_rows += batch.input_rows
            report.loaded += len(rows)
        progress.advance(batch.lines)
    report.seconds = time.perf_counter() - started
    return report


def _count(report: IngestReport, name: str, result: UpsertResult) -> None:
    report.created[name] += result.created
    report.updated[name] += result.updated
    report.unchanged[name] += result.unchanged


def _resolve_dangling(
    store: GraphStore, batch: RelBatch, policy: DanglingPolicy, report: IngestReport
) -> pd.DataFrame:
    """Apply the dangling policy to rows whose endpoints are unknown.

    Ids already turned into placeholders earlier in this run still count as dangling,
    so the summary covers every such row, not only those of the first batch."""
    rows = batch.rows
    for column, label in ((FROM_ID, batch.from_label), (TO_ID, batch.to_label)):
        if rows.empty:
            break
        key = (batch.source or batch.rel_type, batch.rel_type, label)
        known_dangling = report.dangling_ids[key]
        wanted = rows[column].astype(str).unique()
        missing = store.missing_node_ids(label, wanted)
        dangling_rows = rows[column].isin(missing | known_dangling)
        if not dangling_rows.any():
            continue
        report.dangling[key] += int(dangling_rows.sum())
        known_dangling.update(missing)
        if policy == "skip":
            rows = rows[~dangling_rows]
        elif missing:
            node = store.schema.nodes[label]
            placeholder = {"placeholder": True} if "placeholder" in node.properties else {}
            store.upsert_nodes(label, pd.DataFrame({node.key: sorted(missing), **placeholder}))
            report.created[label] += len(missing)
    return rows
