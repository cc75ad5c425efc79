"""The plain records a loader hands to the writer: one label or type per batch."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class NodeBatch:
    """Nodes of one label: a key column plus property columns.

    ``input_rows`` counts the input records the batch stands for: its own rows plus the
    bad records refused since the previous batch, so that across a run input rows =
    loaded + refused + skipped. It is 0 for nodes derived from other rows (a brand named
    by a product). ``lines`` counts the physical lines read since the previous batch
    (header and blank lines included), the unit of the progress bar.
    """

    label: str
    rows: pd.DataFrame
    input_rows: int = 0
    lines: int = 0


@dataclass(frozen=True)
class RelBatch:
    """Relationships of one type between two labels: ``from_id``, ``to_id`` + properties.
    ``input_rows`` and ``lines`` as for ``NodeBatch``."""

    rel_type: str
    from_label: str
    to_label: str
    rows: pd.DataFrame
    source: str = ""  # file the rows came from, for dangling-reference reports
    input_rows: int = 0
    lines: int = 0


Batch = NodeBatch | RelBatch
