"""The plain records a loader hands to the writer: one label or type per batch."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class NodeBatch:
    """Nodes of one label: a key column plus property columns."""

    label: str
    rows: pd.DataFrame
    input_rows: int = 0  # input records this batch accounts for (progress)


@dataclass(frozen=True)
class RelBatch:
    """Relationships of one type between two labels: ``from_id``, ``to_id`` + properties."""

    rel_type: str
    from_label: str
    to_label: str
    rows: pd.DataFrame
    source: str = ""  # file the rows came from, for dangling-reference reports
    input_rows: int = 0


Batch = NodeBatch | RelBatch
