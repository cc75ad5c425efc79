"""Background refit: on a schedule or after a count of written events, fit the recommender
on the graph as it now is and swap it in.

The fit runs in a child process at a lower CPU priority: it takes seconds to minutes
(tuning on a validation split), and in the serving process it would hold the GIL and
slow every request. The child returns the fitted model; the swap is one assignment in
:class:`LiveModel`, so no request fails or waits on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from kg.config import Settings
from kg.errors import StoreInUseError
from kg.privacy.consent import refused_users
from kg.recommend.model import Recommender
from kg.recommend.service import load_recommender
from kg.serving.background import background_process
from kg.serving.live import LiveModel, Snapshot, read_segments
from kg.serving.scores import served
from kg.store import open_store

log = logging.getLogger(__name__)
STORE_BUSY_RETRIES = 30  # the event writer holds the embedded store for a moment at a time


def load_snapshot(settings: Settings, *, score_table_mb: float = 0, refit: bool = False) -> Snapshot:
    """The current recommender (fitted now if the graph changed) with its score table
    when that fits in ``score_table_mb`` (:mod:`kg.serving.scores`), and the segments."""
    for attempt in range(STORE_BUSY_RETRIES):
        try:
            with open_store(settings, read_only=True) as store:
                recommender: Recommender = load_recommender(store, settings, refit=refit)
                segments, refused = read_segments(store), refused_users(store, settings)
            return Snapshot(served(recommender, int(score_table_mb * 2**20)), segments, refused)
        except StoreInUseError:
            if attempt == STORE_BUSY_RETRIES - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _load_snapshot_from(values: dict[str, Any], score_table_mb: float) -> Snapshot:
    """``load_snapshot`` in the child process, from the parent's settings values (the
    score table is computed there too, and arrives with the model)."""
    return load_snapshot(Settings.model_validate(values), score_table_mb=score_table_mb)


class Refitter:
    """A thread that refits when ``interval`` seconds or ``every_events`` writes have passed."""

    def __init__(
        self,
        settings: Settings,
        live: LiveModel,
        written_through: Callable[[], int],
        *,
        interval: float,
        every_events: int,
        score_table_mb: float,
        on_refit: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.score_table_mb = score_table_mb
        self.live = live
        self.written_through = written_through
        self.interval = interval
        self.every_events = every_events
        self.on_refit = on_refit
        self._written_since = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kg-refit", daemon=True)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._thread.start()

    def events_written(self, count: int) -> None:
        with self._lock:
            self._written_since += count
            due = self._written_since >= self.every_events
        if due:
            self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def refit_now(self) -> None:
        """Fit in the child process and swap the result in (the thread's one job)."""
        with self._lock:
            counted = self._written_since
        through = self.written_through()
        if self._pool is None:
            self._pool = background_process()
        # Settings built by load_settings do not pickle; their validated values do
        values = self.settings.model_dump()
        snapshot = self._pool.submit(_load_snapshot_from, values, self.score_table_mb).result()
        self.live.swap(snapshot, through)
        with self._lock:
            self._written_since -= counted

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refit_now()
                self.on_refit("swapped")
            except Exception as exc:  # the old model keeps serving; try again next time
                log.error("background refit failed (%s): %s", type(exc).__name__, exc)
                self.on_refit("failed")
