"""Events into the graph: validated against the schema, then written as User->Item edges.

The embedded store admits one writer process at a time, so one thread of the server
collects events and writes them in batches (:class:`BatchingEventWriter`), opening the
store only for the write so that `kg` commands and the background refit can read it in
between; a batch that meets a busy store waits for the next round. The write itself runs
in a child process (:mod:`kg.serving.background`): opening the store and writing a batch
takes 150-400 ms, mostly holding the GIL, and in the server it stalled every request
every flush (p99 went from tens to hundreds of milliseconds). On Neo4j, which takes
concurrent writes, each request writes its events straight in (:class:`DirectEventWriter`).
Either way the events were already folded into the live model, so the next response
reflects them whether or not the write has happened yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from kg.config import Settings
from kg.errors import InputError, StoreInUseError
from kg.schema import Schema
from kg.serving.background import background_process
from kg.serving.schemas import Event
from kg.store import FROM_ID, TO_ID, GraphStore, open_store

log = logging.getLogger(__name__)

# The relationship property an event's ``value`` lands on, per interaction type.
VALUE_PROPERTIES = {"RATED": "rating", "PURCHASED": "amount"}
MODEL_OUTPUT = frozenset({"RECOMMENDED"})  # User->Item edges the platform writes itself
MAX_FAILED_ROUNDS = 20  # a batch the store keeps refusing (not merely busy) is dropped after this


def event_types(schema: Schema) -> list[str]:
    """Relationship types an event may have: User->Item interactions of the schema."""
    return sorted(
        name
        for name, rel in schema.rels.items()
        if ("User", "Item") in [tuple(pair) for pair in rel.endpoints] and name not in MODEL_OUTPUT
    )


def check_events(schema: Schema, events: list[Event]) -> None:
    """InputError for an event type the schema does not allow, or a value it cannot hold."""
    allowed = event_types(schema)
    for event in events:
        if event.type not in allowed:
            raise InputError(
                f"Event type {event.type!r} is not a User->Item relationship of the schema; "
                f"use one of {', '.join(allowed)} (or declare it under [schema_extension])."
            )
        if event.value is not None and event.type not in VALUE_PROPERTIES:
            kinds = ", ".join(f"{t} ({p})" for t, p in VALUE_PROPERTIES.items())
            raise InputError(f"A {event.type} event carries no value; only {kinds} do.")


def epoch_seconds(event: Event) -> int:
    when = event.timestamp
    if when is None:
        return int(time.time())
    if isinstance(when, datetime):
        return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    return int(when)


def write_events(store: GraphStore, events: list[Event]) -> int:
    """Create users the graph does not know yet, then upsert one edge per event."""
    users = sorted({event.user for event in events})
    new_users = sorted(set(users) - store.existing_node_ids("User", users))
    if new_users:
        store.upsert_nodes("User", pd.DataFrame({"id": new_users}))
    frame = pd.DataFrame(
        {
            "type": [e.type for e in events],
            FROM_ID: [e.user for e in events],
            TO_ID: [e.item for e in events],
            "timestamp": [epoch_seconds(e) for e in events],
            "value": [e.value for e in events],
        }
    )
    for rel_type, rows in frame.groupby("type", sort=True):
        columns = rows[[FROM_ID, TO_ID, "timestamp"]].copy()
        value_property = VALUE_PROPERTIES.get(str(rel_type))
        if value_property and rows["value"].notna().any():
            columns[value_property] = rows["value"].astype(float)
        store.upsert_relationships(str(rel_type), "User", "Item", columns.reset_index(drop=True))
    return len(events)


_SCHEMA_ENSURED: set[str] = set()  # stores this (child) process has checked the schema of


def write_in_child(values: dict[str, Any], events: list[Event]) -> int:
    """``write_events`` in the writer's child process, from the server's settings values.
    The schema is checked (tables created) on the first write only: that check is most
    of the time to open the store."""
    settings = Settings.model_validate(values)
    first = settings.store not in _SCHEMA_ENSURED
    with open_store(settings, ensure_schema=first) as store:
        written = write_events(store, events)
    _SCHEMA_ENSURED.add(settings.store)
    return written


class BatchingEventWriter:
    """One thread that writes queued events to the embedded store every ``interval`` s."""

    def __init__(self, settings: Settings, interval: float, on_written: Callable[[int], None]) -> None:
        self.settings = settings
        self.interval = interval
        self.on_written = on_written
        self._queue: list[tuple[int, Event]] = []
        self._lock = threading.Lock()  # guards the queue
        self._writing = threading.Lock()  # one write at a time: the store has one writer
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kg-event-writer", daemon=True)
        self._child: ProcessPoolExecutor | None = None  # started at the first write
        self.written_through = 0  # every event up to this sequence number is in the graph
        self.failed_rounds = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._thread.start()

    def submit(self, last_sequence: int, events: list[Event]) -> None:
        first = last_sequence - len(events) + 1
        with self._lock:
            self._queue.extend(zip(range(first, last_sequence + 1), events, strict=True))

    def flush(self) -> None:
        """Write everything queued now, after any write in progress (shutdown; tests)."""
        self._write_queued()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self._write_queued()
        if self._child is not None:
            self._child.shutdown()
            self._child = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._write_queued()

    def _write_queued(self) -> None:
        with self._writing:
            self._write_batch()

    def _write_batch(self) -> None:
        with self._lock:
            batch = list(self._queue)
        if not batch:
            return
        if self._child is None:
            self._child = background_process()
        # Settings built by load_settings do not pickle; their validated values do
        values = self.settings.model_dump()
        try:
            self._child.submit(write_in_child, values, [event for _, event in batch]).result()
        except StoreInUseError:
            return  # a reader (the refit, a `kg` command) has it: next round
        except Exception as exc:  # the store refused the batch: keep it a while, then drop it
            self.failed_rounds += 1
            log.error("writing %d events failed (%s): %s", len(batch), type(exc).__name__, exc)
            if self.failed_rounds < MAX_FAILED_ROUNDS:
                return
        self.failed_rounds = 0
        with self._lock:
            del self._queue[: len(batch)]
        self.written_through = batch[-1][0]
        self.on_written(len(batch))


class DirectEventWriter:
    """Neo4j: each request's events are written before it returns."""

    def __init__(self, settings: Settings, interval: float, on_written: Callable[[int], None]) -> None:
        self.settings = settings
        self.on_written = on_written
        self._store: GraphStore | None = None
        self._lock = threading.Lock()
        self.written_through = 0
        self.pending = 0

    def start(self) -> None:
        self._store = open_store(self.settings)

    def submit(self, last_sequence: int, events: list[Event]) -> None:
        assert self._store is not None, "start() the writer first"
        with self._lock:
            write_events(self._store, events)
            self.written_through = max(self.written_through, last_sequence)
        self.on_written(len(events))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


EventWriter = BatchingEventWriter | DirectEventWriter
WRITERS: dict[bool, type[BatchingEventWriter] | type[DirectEventWriter]] = {
    False: BatchingEventWriter,  # keyed by Settings.uses_neo4j
    True: DirectEventWriter,
}


def make_writer(settings: Settings, interval: float, on_written: Callable[[int], None]) -> EventWriter:
    return WRITERS[settings.uses_neo4j](settings, interval, on_written)
