"""Reader/writer access to an embedded store across processes.

LadybugDB lets one process write a database file, but it also lets a read-only process
open the file while a writer is working, and such a reader could observe the file in
the middle of a checkpoint. A lock file beside the store closes that gap: writers take
it exclusively, readers shared, so a ``kg stats`` during a ``kg ingest`` gets a clear
"store is in use" instead of a half-written view.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from kg.errors import StoreInUseError


class StoreAccessLock:
    """An ``flock`` on ``<store>.lock``: shared for readers, exclusive for the writer."""

    def __init__(self, store_path: Path, *, exclusive: bool) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        self.exclusive = exclusive
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise ``StoreInUseError``; never waits."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            doing = "writing to" if not self.exclusive else "using"
            raise StoreInUseError(
                f"The store at {self.path.with_suffix('')} is in use: another kg process{holder} is "
                f"{doing} it. Run this again when it has finished (one writer, or any number "
                "of readers, at a time)."
            ) from None
        if self.exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    """`` (pid N)`` when the writer recorded its pid, else empty."""
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
