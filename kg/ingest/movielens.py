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
from kg.ingest.convert import to_float, to_int
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import count_lines, read_delimited
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
    """Streams a MovieLens-100K folder as batches: vocabularies, users, movies, ratings."""

    def __init__(self, folder: Path, problems: ProblemLog, *, batch_size: int = 50_000) -> None:
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise InputError(f"{folder} is not a MovieLens-100K folder: missing {', '.join(missing)}.")
        self.folder = folder
        self.problems = problems
        self.batch_size = batch_size

    def estimated_rows(self) -> int:
        return sum(count_lines(self.folder / name) for name in REQUIRED_FILES)

    def _rows(self, name: str, columns: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
        delimiter = "\t" if name == "u.data" else "|"
        return read_delimited(
            self.folder / name, self.problems, delimiter=delimiter, encoding=ENCODING, header=columns
        )

    def batches(self) -> Iterator[Batch]:
        yield from self._occupations()
        genres = yield from self._genres()
        yield from self._users()
        yield from self._movies(genres)
        yield from self._ratings()

    def _occupations(self) -> Iterator[Batch]:
        names = [row["name"].strip() for _, row in self._rows("u.occupation", ["name"])]
        yield NodeBatch(
            "Occupation",
            pd.DataFrame({"id": [slugify(n) for n in names], "name": names}),
            input_rows=len(names),
        )

    def _genres(self) -> Iterator[Batch]:
        genres: dict[int, str] = {}
        for line, row in self._rows("u.genre", ["name", "index"]):
            index = row["index"].strip()
            if not index.isdigit():
                self.problems.report("u.genre", line, f"genre index {index!r} is not a number")
                continue
            genres[int(index)] = row["name"].strip()
        yield NodeBatch(
            "Genre",
            pd.DataFrame({"id": [slugify(n) for n in genres.values()], "name": list(genres.values())}),
            input_rows=len(genres),
        )
        return genres

    def _users(self) -> Iterator[Batch]:
        users, jobs = [], []
        for line, row in self._rows("u.user", ["id", "age", "gender", "occupation", "zip_code"]):
            try:
                age = to_int(row["age"])
            except ValueError as exc:
                self.problems.report("u.user", line, f"age: {exc}")
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
        yield from _nodes_with_links("User", users, ("HAS_OCCUPATION", "Occupation"), jobs, "u.user")

    def _movies(self, genres: dict[int, str]) -> Iterator[Batch]:
        flags = [f"g{i}" for i in range(len(genres))]
        columns = ["id", "title", "release_date", "video_release_date", "url", *flags]
        movies, movie_genres = [], []
        for _, row in self._rows("u.item", columns):
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
        yield from _nodes_with_links("Item", movies, ("HAS_GENRE", "Genre"), movie_genres, "u.item")

    def _ratings(self) -> Iterator[Batch]:
        rows: list[dict[str, object]] = []
        for line, row in self._rows("u.data", ["user", "item", "rating", "timestamp"]):
            try:
                rating, timestamp = to_float(row["rating"]), to_int(row["timestamp"])
            except ValueError as exc:
                self.problems.report("u.data", line, str(exc))
                continue
            if rating is None:
                self.problems.report("u.data", line, "missing rating")
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
                yield RelBatch(
                    "RATED", "User", "Item", pd.DataFrame(rows), source="u.data", input_rows=len(rows)
                )
                rows = []
        if rows:
            yield RelBatch("RATED", "User", "Item", pd.DataFrame(rows), source="u.data", input_rows=len(rows))


def _nodes_with_links(
    label: str,
    nodes: list[dict[str, object]],
    link: tuple[str, str],
    pairs: list[tuple[str, str]],
    source: str,
) -> Iterator[Batch]:
    """One file's nodes, then their links to a vocabulary (occupations, genres)."""
    rel_type, to_label = link
    yield NodeBatch(label, pd.DataFrame(nodes), input_rows=len(nodes))
    yield RelBatch(rel_type, label, to_label, pd.DataFrame(pairs, columns=[FROM_ID, TO_ID]), source=source)
