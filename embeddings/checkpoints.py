"""Training checkpoints that survive a kill at any moment.

PyKEEN writes its checkpoint in place with ``torch.save`` after every epoch; a process
killed during that write leaves a truncated file, and ``kg train --resume`` then cannot
read it. The training loops here write the checkpoint beside it and rename it into
place, so the file on disk is always the last complete one.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from pykeen.training import SLCWATrainingLoop

from embeddings.lcwa import BatchedLCWATrainingLoop
from embeddings.regularization import BatchRegularized
from kg.errors import InputError

PARTIAL_SUFFIX = ".partial"


class AtomicCheckpoints:
    """Mixin for PyKEEN training loops: checkpoint writes are write-then-rename."""

    def _save_state(self, path: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(path, (str, os.PathLike)):  # a file object: nothing to rename
            super()._save_state(path, *args, **kwargs)  # type: ignore[misc]
            return
        partial = partial_path(Path(path))
        super()._save_state(partial, *args, **kwargs)  # type: ignore[misc]
        os.replace(partial, path)


class SLCWALoop(AtomicCheckpoints, BatchRegularized, SLCWATrainingLoop):
    """PyKEEN's sLCWA loop (negative sampling) with atomic checkpoints and an optional
    batch penalty (``embeddings.regularization``)."""


class LCWALoop(AtomicCheckpoints, BatchRegularized, BatchedLCWATrainingLoop):
    """The batched 1-N loop (``embeddings.lcwa``) with atomic checkpoints and an optional
    batch penalty (``embeddings.regularization``)."""


def partial_path(checkpoint: Path) -> Path:
    """Where a checkpoint is written before it replaces the previous one."""
    return checkpoint.with_name(checkpoint.name + PARTIAL_SUFFIX)


def check_checkpoint(checkpoint: Path) -> None:
    """Refuse, with what to do, a checkpoint that cannot be resumed from (damaged on disk,
    or written by a version whose files this one cannot read)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"The checkpoint {checkpoint} cannot be read ({type(exc).__name__}); run `kg train` without "
            "--resume to start over."
        ) from exc
    if not isinstance(state, dict) or "model_state_dict" not in state:
        raise InputError(
            f"{checkpoint} is not a training checkpoint; run `kg train` without --resume to start over."
        )
