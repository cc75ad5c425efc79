"""Putting a fully written folder in place of another, so a crash never loses both.

Why: trained extraction runs and imported encoders are written into a staging folder
beside their final place; the one already there (a run or an encoder of the same name)
must survive until the new one is complete, not be deleted first.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def replace_folder(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; a folder already at ``target`` is renamed aside
    first and removed only once the new one is in place."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)
