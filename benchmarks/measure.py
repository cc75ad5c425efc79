"""Timing and peak-memory measurement shared by the benchmarks.

Peak memory is the process's resident set size sampled every 20 ms while a stage runs,
so it includes native allocations (LadybugDB, PyTorch) that ``tracemalloc`` misses.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Measurement:
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_mib: float = 0.0
    start_mib: float = 0.0

    @property
    def added_mib(self) -> float:
        return self.peak_mib - self.start_mib


@contextmanager
def measure() -> Iterator[Measurement]:
    """Wall time, CPU time (all threads of this process) and peak RSS of the block.

    CPU time shows how much of the wall time other processes on a shared machine took.
    """
    result = Measurement(start_mib=rss_mib())
    result.peak_mib = result.start_mib
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            result.peak_mib = max(result.peak_mib, rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        result.cpu_seconds = time.process_time() - cpu_started
        stop.set()
        sampler.join()
        result.peak_mib = max(result.peak_mib, rss_mib())
