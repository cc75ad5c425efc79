"""Scoring off the event loop, on a few threads of its own.

An answer computed afresh is a few milliseconds of numpy and Python that holds the GIL
most of the time. Handed to anyio's shared pool (40 threads), a burst of them would
run as 40 threads taking turns at the GIL, and the event loop, which answers every
reused answer and health check, would get one turn in 41: every response slowed
together. On a small pool of its own the burst queues instead, each fresh answer takes
its own few milliseconds, and the loop keeps answering reused ones between them. Two
threads, so that one slow question (an audience over every user) does not hold up the
rest, and numpy's GIL-free stretches can use a second core.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

SCORING_THREADS = 2
T = TypeVar("T")


class Compute:
    """The scoring threads of one server."""

    def __init__(self, threads: int = SCORING_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kg-scoring")

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` on a scoring thread; its exceptions are raised here."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
