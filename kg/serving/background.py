"""A child process for the server's heavy background work: the refit and the graph writes.

Both hold the GIL for long stretches (a fit for minutes; opening the embedded store and
writing a batch for a few hundred milliseconds, in pieces of up to ~100 ms), and in the
serving process every request would wait behind them: p99 latency is set by such stalls,
not by the cost of an answer. In a spawned child at a lower CPU priority they cost the
server nothing but the pickling of their inputs and outputs.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

BACKGROUND_NICENESS = 10


def _lower_priority() -> None:
    os.nice(BACKGROUND_NICENESS)


def background_process() -> ProcessPoolExecutor:
    """One spawned worker process at a lower priority (started on the first submit).

    Spawned, not forked: the server holds threads (uvicorn's, the writer's, BLAS pools)
    that a fork would copy in whatever state they were in."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
    )
