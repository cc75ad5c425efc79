"""The MovieLens-100K loader on the real files in ../shared/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg.errors import InputError
from kg.ingest import ingest_path
from kg.ingest.movielens import age_group, movie_year
from kg.store import GraphStore
from tests.helpers import MOVIELENS, RecordingProgress, require


def test_full_load_counts_and_idempotence(store: GraphStore) -> None:
    folder = require(MOVIELENS)
    progress = RecordingProgress()
    report = ingest_path(store, folder, fmt="movielens", progress=progress)
    assert progress.done == progress.total == 102_666, "every line, u.genre's blank last one too"
    assert (report.input_rows, report.loaded, report.rejected) == (102_665, 102_665, 0)
    counts = store.counts()
    assert counts.nodes["User"] == 943
    assert counts.nodes["Item"] == 1682, "every movie listed in u.item, 267|unknown included"
    assert counts.nodes["Genre"] == 19
    assert counts.nodes["Occupation"] == 21
    assert counts.relationships["RATED"] == 100_000
    assert counts.relationships["HAS_OCCUPATION"] == 943
    placeholders = store.query("MATCH (i:Item) WHERE i.placeholder = true RETURN count(*) AS n")["n"][0]
    assert placeholders == 0, "the original u.item lists every rated movie"
    assert report.summary_lines() == []
    unknown = store.query("MATCH (i:Item {id: '267'}) RETURN i.name AS name, i.year IS NULL AS no_year")
    assert unknown.to_dict("records") == [{"name": "unknown", "no_year": True}]

    ingest_path(store, folder, fmt="movielens")
    assert store.counts() == counts

    toy = store.query(
        "MATCH (i:Item {id: '1'})-[:HAS_GENRE]->(g:Genre) RETURN i.name AS name, i.year AS year, g.name AS genre ORDER BY genre"
    )
    assert toy["genre"].tolist() == ["Animation", "Children's", "Comedy"]
    assert (toy["name"][0], toy["year"][0]) == ("Toy Story (1995)", 1995)
    titles = store.query(
        "MATCH (i:Item) WHERE i.id IN ['235', '265'] RETURN i.name AS name, i.year AS year ORDER BY i.id"
    )
    assert titles.to_dict("records") == [
        {"name": "Mars Attacks! (1996)", "year": 1996},
        {"name": "Hunt for Red October, The (1990)", "year": 1990},
    ], "titles exactly as GroupLens wrote them"  # the damaged copy had "03s Attacks!", "Red 10ober"
    user = store.query(
        "MATCH (u:User {id: '1'})-[:HAS_OCCUPATION]->(o:Occupation) RETURN u.age AS age, u.age_group AS g, u.gender AS s, o.name AS job"
    )
    assert user.to_dict("records") == [{"age": 24, "g": "18-24", "s": "M", "job": "technician"}]
    rating = store.query(
        "MATCH (:User {id: '196'})-[r:RATED]->(:Item {id: '242'}) RETURN r.rating AS r, r.timestamp AS t"
    )
    assert rating.to_dict("records") == [{"r": 3.0, "t": 881250949}]


@pytest.fixture
def movielens_without_267(tmp_path: Path) -> Path:
    """The real files with movie 267 taken out of u.item, so that u.data's 9 ratings of it
    dangle: the shape of a catalogue that lags behind its interaction log."""
    folder = tmp_path / "ml-dangling"
    shutil.copytree(require(MOVIELENS), folder)
    item = folder / "u.item"
    lines = item.read_bytes().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(b"267|")]
    assert len(kept) == len(lines) - 1
    item.write_bytes(b"".join(kept))
    return folder


def test_dangling_ratings_become_one_placeholder(store: GraphStore, movielens_without_267: Path) -> None:
    report = ingest_path(store, movielens_without_267, fmt="movielens")
    listed = store.query("MATCH (i:Item) WHERE i.placeholder IS NULL RETURN count(*) AS n")["n"][0]
    assert listed == 1681
    placeholders = store.query("MATCH (i:Item) WHERE i.placeholder = true RETURN i.id AS id")["id"].tolist()
    assert placeholders == ["267"]
    assert store.counts().relationships["RATED"] == 100_000
    assert report.summary_lines() == [
        "u.data: 9 RATED row(s) refer to Item ids not in the input (267); "
        "created placeholder nodes (placeholder = true) so no row was lost."
    ]


def test_skip_policy_drops_dangling_ratings(store: GraphStore, movielens_without_267: Path) -> None:
    report = ingest_path(store, movielens_without_267, fmt="movielens", dangling="skip")
    assert store.counts().relationships["RATED"] == 100_000 - 9
    assert "skipped those rows" in report.summary_lines()[0]


def test_bad_rating_rows_are_reported_not_fatal(store: GraphStore, tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    shutil.copytree(require(MOVIELENS), folder)
    with (folder / "u.data").open("a", encoding="latin-1") as handle:
        handle.write("1\t1\tNaN\t881250949\n1\t2\tinf\t881250949\n1\t3\n")
    report = ingest_path(store, folder, fmt="movielens")
    assert [str(p) for p in report.problems.kept] == [
        "u.data:100001: 'NaN' is not a finite number",
        "u.data:100002: 'inf' is not a finite number",
        "u.data:100003: expected 4 fields, found 2",
    ]
    assert store.counts().relationships["RATED"] == 100_000


def test_not_a_movielens_folder(store: GraphStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing u\.data"):
        ingest_path(store, tmp_path, fmt="movielens")


@pytest.mark.parametrize(
    ("age", "group"),
    [(7, "Under 18"), (18, "18-24"), (34, "25-34"), (49, "45-49"), (56, "56+"), (None, None)],
)
def test_age_groups(age: int | None, group: str | None) -> None:
    assert age_group(age) == group


def test_movie_year_from_title_or_date() -> None:
    assert movie_year("Heat (1995)", "01-01-1995") == 1995
    assert movie_year("unknown", "01-Jan-1994") == 1994
    assert movie_year("unknown", "") is None
