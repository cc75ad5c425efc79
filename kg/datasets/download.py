"""Downloading a dataset archive once, with progress, and unpacking it safely."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import httpx

from kg.errors import InputError
from kg.progress import ProgressReporter, SilentProgress


def download_and_extract(
    url: str, dest: Path, *, member_dir: str, progress: ProgressReporter | None = None
) -> Path:
    """Fetch a zip from ``url`` and unpack its ``member_dir`` folder into ``dest``.

    Returns ``dest / member_dir``. Nothing is left half-written: the archive is unpacked
    in a temporary folder and moved into place at the end.
    """
    target = dest / member_dir
    if target.is_dir():
        return target
    progress = progress or SilentProgress()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / "download.zip"
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as response:
                response.raise_for_status()
                with (
                    progress.task(
                        f"Downloading {url.rsplit('/', 1)[-1]}",
                        float(response.headers.get("content-length", 0)) or None,
                    ),
                    archive.open("wb") as handle,
                ):
                    for chunk in response.iter_bytes(1 << 16):
                        handle.write(chunk)
                        progress.advance(len(chunk))
        except httpx.HTTPError as exc:
            raise InputError(
                f"Cannot download {url} ({exc}). If this machine is offline, download it elsewhere "
                "and pass the unpacked folder with --path."
            ) from exc
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise InputError(f"Refusing archive {url}: unsafe member path {member!r}.")
                bundle.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise InputError(f"{url} did not return a zip archive: {exc}") from exc
        unpacked = Path(tmp) / member_dir
        if not unpacked.is_dir():
            raise InputError(f"The archive from {url} has no {member_dir}/ folder.")
        shutil.move(str(unpacked), target)
    return target
