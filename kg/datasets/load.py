"""Where a known dataset's files come from: generated, downloaded, or a folder given.

Each dataset names its source in ``SOURCES``; ``dataset_inputs`` returns the files to
ingest, in load order, with their mapping (``None`` for a MovieLens folder, which needs
none). ``Platform.load_dataset`` and ``kg datasets load`` ingest them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kg.datasets import DATASETS, DatasetInfo
from kg.progress import ProgressReporter

DatasetInputs = list[tuple[Path, Path | None]]
Source = Callable[[DatasetInfo, Path, Path | None, str | None, ProgressReporter | None], DatasetInputs]


def _movielens(
    info: DatasetInfo, root: Path, path: Path | None, url: str | None, progress: ProgressReporter | None
) -> DatasetInputs:
    """A local folder if given, else the archive downloaded (once) under ``root``."""
    from kg.datasets.download import download_and_extract

    folder = path or download_and_extract(
        url or info.url or "", root, member_dir="ml-100k", progress=progress
    )
    return [(folder, None)]


def _synthetic_shop(
    info: DatasetInfo, root: Path, path: Path | None, url: str | None, progress: ProgressReporter | None
) -> DatasetInputs:
    """Generated files with their mappings (into ``path`` if given): nothing to download."""
    from kg.datasets.synthetic_shop import generate_shop

    return list(generate_shop(path or root / info.name))


SOURCES: dict[str, Source] = {"movielens-100k": _movielens, "synthetic-shop": _synthetic_shop}


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS.get(name)


def dataset_inputs(
    name: str,
    data_dir: Path,
    *,
    path: Path | None = None,
    url: str | None = None,
    progress: ProgressReporter | None = None,
) -> DatasetInputs:
    """The (file, mapping) pairs to ingest for dataset ``name``; downloads and generated
    files go under ``data_dir/datasets``."""
    info = dataset_info(name)
    return SOURCES[name](info, data_dir / "datasets", path, url, progress)
