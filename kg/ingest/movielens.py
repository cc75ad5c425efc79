"""MovieLens 100K folders (``u.user``, ``u.item``, ``u.genre``, ``u.occupation``, ``u.data``).

Users get age, age group, gender, zip code and an occupation; movies (label ``Item``,
``kind = "movie"``) get title, year, release date, IMDb URL and genres; ratings become
``RATED`` with rating and timestamp. Keys are the MovieLens ids as strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from kg.errors import InputError
from kg.ids import slugify
from kg.ingest.batches import Batch, NodeBatch, RelBatch
from kg.ingest.convert import to_epoch_seconds, to_float, to_int
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import DelimitedReader, scan_text
from kg.store.base import FROM_ID, TO_ID

REQUIRED_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation")
ENCODING = "latin-1"  # GroupLens ships u.item in ISO-8859-1
_YEAR = re.compile(r"\((\d{4})\)\s*$")
_AGE_GROUPS = ((18, "Under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))


def age_group(age: int | None) -> str | None:
    """The MovieLens-1M age bands, so cohorts compare across datasets."""
    if age is None:
        return None
    return next((label for upper, label in _AGE_GROUPS if age < upper), "56+")


def movie_year(title: str, release_date: str) -> int | None:
    match = _YEAR.search(title)
    if match:
        return int(match.group(1))
    tail = release_date.strip()[-4:]
    return int(tail) if tail.isdigit() else None


class MovieLensLoader:
    """Streams a MovieLens-100K folder as batches: vocabularies, users, movies, ratings.

    The folder is checked when the loader is made, before any store is opened.
    """

    def __init__(self, folder: Path, *, batch_size: int = 50_000) -> None:
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise InputError(f"{folder} is not a MovieLens-100K folder: missing {', '.join(missing)}.")
        self.folder = folder
        self.batch_size = batch_size
        self.lines = sum(
            scan_text(folder / name, ENCODING, universal_newlines=True) for name in REQUIRED_FILES
        )

    def estimated_rows(self) -> int:
        """The progress total: physical lines of the five files, the unit of ``Batch.lines``."""
        return self.lines

    def _reader(self, name: str, columns: list[str], problems: ProblemLog) -> DelimitedReader:
        delimiter = "\t" if name == "u.data" else "|"
        return DelimitedReader(
            self.folder / name, problems, delimiter=delimiter, encoding=ENCODING, header=columns
        )

    def batches(self, problems: ProblemLog) -> Iterator[Batch]:
        yield from self._occupations(problems)
        genres = yield from self._genres(problems)
        yield from self._users(problems)
        yield from self._movies(genres, problems)
        yield from self._ratings(problems)

    def _occupations(self, problems: ProblemLog) -> Iterator[Batch]:
        reader = self._reader("u.occupation", ["name"], problems)
        names = [record.values["name"].strip() for record in reader]
        yield NodeBatch(
            "Occupation",
            pd.DataFrame({"id": [slugify(n) for n in names], "name": names}),
            input_rows=reader.records,
            lines=reader.lines,
        )

    def _genres(self, problems: ProblemLog) -> Iterator[Batch]:
        listed: list[tuple[int, str]] = []  # (index, name), one per good row
        reader = self._reader("u.genre", ["name", "index"], problems)
        for record in reader:
            index = record.values["index"].strip()
            if not index.isdigit():
                problems.report(
                    "u.genre", record.line, f"genre index {index!r} is not a number", raw=record.raw
                )
                continue
            listed.append((int(index), record.values["name"].strip()))
        names = [name for _, name in listed]
        yield NodeBatch(
            "Genre",
            pd.DataFrame({"id": [slugify(n) for n in names], "name": names}),
            input_rows=reader.records,
            lines=reader.lines,
        )
        return dict(listed)

    def _users(self, problems: ProblemLog) -> Iterator[Batch]:
        users, jobs = [], []
        reader = self._reader("u.user", ["id", "age", "gender", "occupation", "zip_code"], problems)
        for record in reader:
            row = record.values
            try:
                age = to_int(row["age"])
            except ValueError as exc:
                problems.report("u.user", record.line, f"age: {exc}", raw=record.raw)
                continue
            uid = row["id"].strip()
            users.append(
                {
                    "id": uid,
                    "age": age,
                    "age_group": age_group(age),
                    "gender": row["gender"].strip(),
                    "zip_code": row["zip_code"].strip(),
                }
            )
            jobs.append((uid, slugify(row["occupation"].strip())))
        yield from _nodes_with_links("User", users, ("HAS_OCCUPATION", "Occupation"), jobs, "u.user", reader)

    def _movies(self, genres: dict[int, str], problems: ProblemLog) -> Iterator[Batch]:
        flags = [f"g{i}" for i in range(len(genres))]
        columns = ["id", "title", "release_date", "video_release_date", "url", *flags]
        movies, movie_genres = [], []
        reader = self._reader("u.item", columns, problems)
        for record in reader:
            row = record.values
            mid, title = row["id"].strip(), row["title"].strip()
            movies.append(
                {
                    "id": mid,
                    "name": title,
                    "kind": "movie",
                    "year": movie_year(title, row["release_date"]),
                    "release_date": row["release_date"].strip() or None,
                    "url": row["url"].strip() or None,
                }
            )
            movie_genres.extend(
                (mid, slugify(genres[i])) for i, flag in enumerate(flags) if row[flag].strip() == "1"
            )
        yield from _nodes_with_links("Item", movies, ("HAS_GENRE", "Genre"), movie_genres, "u.item", reader)

    def _ratings(self, problems: ProblemLog) -> Iterator[Batch]:
        rows: list[dict[str, object]] = []
        records = lines = 0  # accounted for by earlier batches
        reader = self._reader("u.data", ["user", "item", "rating", "timestamp"], problems)
        for record in reader:
            row = record.values
            try:
                rating, timestamp = to_float(row["rating"]), to_epoch_seconds(row["timestamp"])
            except ValueError as exc:
                problems.report("u.data", record.line, str(exc), raw=record.raw)
                continue
            if rating is None:
                problems.report("u.data", record.line, "missing rating", raw=record.raw)
                continue
            rows.append(
                {
                    FROM_ID: row["user"].strip(),
                    TO_ID: row["item"].strip(),
                    "rating": rating,
                    "timestamp": timestamp,
                }
            )
            if len(rows) >= self.batch_size:
                yield _ratings_batch(rows, reader.records - records, reader.lines - lines)
                rows, records, lines = [], reader.records, reader.lines
        yield _ratings_batch(rows, reader.records - records, reader.lines - lines)


def _ratings_batch(rows: list[dict[str, object]], records: int, lines: int) -> RelBatch:
    frame = pd.DataFrame(rows, columns=[FROM_ID, TO_ID, "rating", "timestamp"])
    return RelBatch("RATED", "User", "Item", frame, source="u.data", input_rows=records, lines=lines)


def _nodes_with_links(
    label: str,
    nodes: list[dict[str, object]],
    link: tuple[str, str],
    pairs: list[tuple[str, str]],
    source: str,
    reader: DelimitedReader,
) -> Iterator[Batch]:
    """One file's nodes, then their links to a vocabulary (occupations, genres)."""
    rel_type, to_label = link
    yield NodeBatch(label, pd.DataFrame(nodes), input_rows=reader.records, lines=reader.lines)
    yield RelBatch(rel_type, label, to_label, pd.DataFrame(pairs, columns=[FROM_ID, TO_ID]), source=source)
