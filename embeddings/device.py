"""Where torch runs (the GPU when there is one, else the free CPU threads) and how quietly."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# PyKEEN logs per evaluation and warns about seeds on every model it builds (a loaded
# model's weights come from its file); torch warns that CPUs cannot pin memory.
_CHATTY_LOGGERS = ("pykeen", "torch_max_mem")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The GPU when there is one, else the CPU (or what the caller asked for)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def free_cpu_threads() -> int:
    """CPU threads for torch: the cores not already kept busy by other processes.

    torch's intra-op threads wait for each other at every operation, so a thread that
    shares its core with another busy process slows every step down. Measured on a
    2-core machine with a load of ~5: an Adam step took 9 ms with one thread and 84 ms
    with two; a MovieLens epoch 1.2 s against 9.2 s. On an idle machine all cores are used.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return cores
    return max(1, min(cores, int(cores - busy + 0.5)))


def use_cpu_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads (``None``: :func:`free_cpu_threads`); returns the number."""
    chosen = threads or free_cpu_threads()
    torch.set_num_threads(chosen)
    return chosen


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence library chatter that says nothing to a kg user; errors still surface."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
