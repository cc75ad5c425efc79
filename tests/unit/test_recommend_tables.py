"""The recommender's tables as a user reads them in an 80-column terminal."""

from __future__ import annotations

import pandas as pd
import pytest
from rich.console import Console

from kg.recommend.evaluate import Evaluation
from kg.recommend.tables import evaluation_table, segments_table

MODELS = [
    ("fused", "fused", "ease=1, spectral=0.5, user_knn=0.2, rp3beta=0.1, kge=0.03, cohort=0.03"),
    ("fused, new-user mode", "fused", "cohort=1, popularity=0.3"),
    ("ease", "signal", "l2=500.0"),
    ("popularity", "signal + baseline", ""),
    ("item_knn", "signal + baseline", "neighbours=400, shrink=10.0"),
    ("als", "baseline", "factors=32, regularization=50.0, alpha=10.0, iterations=15"),
]


def _evaluation(k: int) -> Evaluation:
    rows = []
    for n, (model, kind, settings) in enumerate(MODELS):
        value = 0.1 + n / 10 + 0.0123
        rows.append(
            {
                "model": model,
                "kind": kind,
                **{f"{m}@{k}": value + i / 1000 for i, m in enumerate(("P", "R", "nDCG", "MAP", "HR"))},
                "coverage": 0.2021 + n / 100,
                "novelty": 12.1 - n,
                "validation nDCG": 0.2861 if kind != "baseline" else float("nan"),
                "settings": settings,
            }
        )
    return Evaluation(pd.DataFrame(rows), k, 42, 943, 1682, 74_992, 25_008, 78.0)


def _render(renderable: object) -> list[str]:
    console = Console(width=80, record=True)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("k", [10, 100])
def test_evaluation_table_keeps_every_number_whole_at_80_columns(k: int) -> None:
    evaluation = _evaluation(k)
    lines = _render(evaluation_table(evaluation))
    assert max(len(line) for line in lines) <= 80
    tokens = {token for line in lines for token in line.split()}
    table = evaluation.table
    for metric in (f"P@{k}", f"R@{k}", f"nDCG@{k}", f"MAP@{k}", f"HR@{k}", "coverage", "validation nDCG"):
        for value in table[metric].dropna():
            assert f"{value:.4f}" in tokens, (metric, value)
    for value in table["novelty"]:
        assert f"{value:.2f}" in tokens
    for header in (f"P@{k}", f"nDCG@{k}", f"MAP@{k}", f"HR@{k}", "coverage", "novelty"):
        assert header in tokens, header
    # the settings moved under the table, one model per entry, each readable in full
    joined = " ".join(" ".join(lines).split())
    for model, _, settings in MODELS:
        if settings:
            assert f"{model}: {settings}" in joined


def test_segments_table_keeps_every_number_whole_at_80_columns() -> None:
    frame = pd.DataFrame(
        [
            {
                "segment": f"segment-{n}",
                "name": f"S{n}: Children's & Animation",
                "size": 12_345 * n,
                "share": f"{n * 7}%",
                "over-indexes on": "Children's (genre, x2.4), Animation (genre, x2.42), Adventure (genre, x1.54)",
                "median interactions": "231.5",
                "median age": 29.5 if n % 2 else None,
                "typical": "25-34 (39%); M (75%); student (25%)",
            }
            for n in range(1, 4)
        ]
    )
    lines = _render(segments_table(frame, "3 segments (kmeans-k3-spectral+behaviour)"))
    assert max(len(line) for line in lines) <= 80
    for n in range(1, 4):
        row = next(line for line in lines if f"S{n}: Children's & Animation" in line)
        numbers = [f"{12_345 * n:,}", f"{n * 7}%", "231.5", *(["29.5"] if n % 2 else [])]
        assert row.split()[-len(numbers) :] == numbers, row
    joined = " ".join(" ".join(lines).split())
    assert "over-indexes on: Children's (genre, x2.4), Animation (genre, x2.42)" in joined
    assert "typical: 25-34 (39%); M (75%); student (25%)" in joined
