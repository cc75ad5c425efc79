"""Our KGE recipes against PyKEEN's ``pipeline()`` -- with strong settings and with its
defaults -- and against published figures, on PyKEEN's bundled Nations, Kinships and UMLS.

For each dataset and each of TransE, DistMult and ComplEx, on PyKEEN's fixed splits:

  * ours            -- ``embeddings.train.train_on_splits`` with the model's recipe and the
                       few variants in ``TUNING`` (dimension, N3 weight, dropout...); the one
                       with the best filtered *validation* MRR is reported on *test*;
  * pykeen-strong   -- ``pykeen.pipeline.pipeline()`` with the literature's settings
                       (``STRONG``): the same epoch budget and early-stopping rule as ours
                       (up to 300 epochs, validation MRR every 10, patience 3), reciprocal
                       relations, 1-N training with softmax cross-entropy and label
                       smoothing, Adam; N3 for ComplEx (PyKEEN's ``PowerSumRegularizer``,
                       p=3, on every representation a step reads), the L1 distance for
                       TransE;
  * pykeen-defaults -- ``pipeline(dataset=..., model=...)``: PyKEEN's defaults (5 epochs).

All three are scored the same way: filtered rank-based metrics on the test split (train
and validation triples filtered), realistic ranks, both sides. Each run is a fresh child
process (ours: its whole validation sweep), so its peak memory and wall time are its own.
The published figures (``PUBLISHED``) are printed beside them, and the targets of issue 14
are checked: each model at least PyKEEN's best published Kinships Hits@10 for it, the
best of the three at ComplEx-N3's Kinships MRR, and on Nations and UMLS each published
figure of a model family we train reached by our model of that family. Exits 1 if our
test MRR is below either PyKEEN path's on any pair.

Usage: flock /tmp/kg-cpu.lock .venv/bin/python benchmarks/kge.py
       [--datasets nations,kinships,umls] [--models transe,distmult,complex]
       [--paths ours,pykeen-strong,pykeen-defaults] [--seed 42] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import measure
from embeddings.device import quiet_libraries, use_cpu_threads
from embeddings.link_metrics import metrics_from_result
from embeddings.recipes import resolve_recipe
from embeddings.train import train_on_splits
from embeddings.triples import TripleSplits

DATASETS = ("nations", "kinships", "umls")
MODELS = ("transe", "distmult", "complex")

# Recipe variants tried by "ours", per model; the first is the recipe as it ships.
TUNING: dict[str, list[dict[str, Any]]] = {
    "transe": [
        {},
        {"model_kwargs": {"scoring_fct_norm": 1}},  # with PyKEEN's unit-norm entities
        # wider, slower and more patient (tried for the TransE Kinships Hits@10 gap)
        {"embedding_dim": 1000, "label_smoothing": 0.0, "lr": 0.003, "patience": 10},
        {"embedding_dim": 1000, "label_smoothing": 0.0, "lr": 0.002, "patience": 10},
        {"embedding_dim": 1500, "label_smoothing": 0.0, "lr": 0.002, "patience": 10},
    ],
    "distmult": [{}, {"embedding_dim": 500}, {"regularizer": "n3", "regularizer_weight": 0.003}],
    "complex": [{}, {"embedding_dim": 500}, {"regularizer": "none", "regularizer_weight": 0.0}],
}

# PyKEEN pipeline() options per model for "pykeen-strong" (on top of 1-N cross-entropy,
# label smoothing 0.1, reciprocal relations, Adam and our recipe's lr, dimension, batch
# size, epoch budget and early stopping).
STRONG: dict[str, dict[str, Any]] = {
    "transe": {"scoring_fct_norm": 1},
    # no regulariser: N3 cut DistMult's Kinships MRR from .57 to .43 in our runs
    "distmult": {"regularizer": None},
    "complex": {
        "regularizer": "powersum",
        "regularizer_kwargs": {"p": 3.0, "weight": 0.01},
        "entity_initializer": "xavier_normal",
        "relation_initializer": "xavier_normal",
    },
}


@dataclass(frozen=True)
class Published:
    """A published filtered test figure: which model (and family, when we train one)."""

    dataset: str
    metric: str  # "mrr" or "hits_at_10"
    value: float
    model: str
    family: str | None  # our model of the same family, if any
    source: str


PUBLISHED = (
    Published("kinships", "hits_at_10", 0.920, "TransE", "transe", "PyKEEN benchmarking study, best config"),
    Published(
        "kinships", "hits_at_10", 0.925, "DistMult", "distmult", "PyKEEN benchmarking study, best config"
    ),
    Published(
        "kinships", "hits_at_10", 0.983, "ComplEx", "complex", "PyKEEN benchmarking study, best config"
    ),
    Published("kinships", "mrr", 0.823, "ComplEx-N3", "complex", "Lacroix et al. 2018 setting"),
    Published("kinships", "mrr", 0.878, "multi-hop", None, "multi-hop reasoning"),
    Published("nations", "mrr", 0.713, "DistMult", "distmult", "published"),
    Published("nations", "mrr", 0.716, "RotatE", None, "published"),
    Published("nations", "mrr", 0.841, "ContE", None, "published"),
    Published("umls", "mrr", 0.838, "ComplEx-N3", "complex", "Lacroix et al. 2018 setting"),
    Published("umls", "mrr", 0.940, "multi-hop", None, "multi-hop reasoning"),
)


@dataclass
class Result:
    dataset: str
    model: str
    path: str
    validation_mrr: float | None
    mrr: float
    hits_at_10: float
    epochs: int
    seconds_per_epoch: float
    peak_mib: float
    seconds: float  # the whole path: for ours, every variant of the validation sweep
    options: dict[str, Any] = field(default_factory=dict)
    tried: list[dict[str, Any]] = field(default_factory=list)


def dataset_splits(name: str) -> TripleSplits:
    from pykeen.datasets import get_dataset

    data = get_dataset(dataset=name)

    def frame(factory) -> pd.DataFrame:
        return pd.DataFrame(factory.triples, columns=["head", "relation", "tail"])

    return TripleSplits(frame(data.training), frame(data.validation), frame(data.testing))


def run_in_child(path: str, dataset: str, model: str, seed: int) -> Result:
    """One run in a fresh process (same CPU thread count as the parent chose)."""
    use_cpu_threads(THREADS)
    return RUNS[path](dataset, model, seed)


def run_ours(dataset: str, model: str, seed: int) -> Result:
    """Every variant in ``TUNING[model]``; the best validation MRR is reported on test."""
    with quiet_libraries():
        splits = dataset_splits(dataset)
    runs = []
    with measure() as used:
        for options in TUNING[model]:
            with measure() as one:
                metrics = train_on_splits(splits, model, seed=seed, **options).metrics
            runs.append((options, metrics, one.seconds))
    options, metrics, _ = max(runs, key=lambda run: run[1]["validation_mrr"] or 0.0)
    tried = [
        {"options": o, "validation_mrr": m["validation_mrr"], "mrr": m["mrr"], "hits_at_10": m["hits_at_10"],
         "epochs": m["epochs"], "seconds": round(s, 1)}
        for o, m, s in runs
    ]  # fmt: skip
    return Result(
        dataset, model, "ours", metrics["validation_mrr"], metrics["mrr"], metrics["hits_at_10"],
        metrics["epochs"], metrics["seconds_per_epoch"], used.added_mib, used.seconds, options, tried,
    )  # fmt: skip


def run_pykeen_strong(dataset: str, model: str, seed: int) -> Result:
    from pykeen.pipeline import pipeline

    recipe = resolve_recipe(model)
    with measure() as used, quiet_libraries(), tempfile.TemporaryDirectory() as folder:
        result = pipeline(
            dataset=dataset,
            dataset_kwargs={"create_inverse_triples": True},
            model=model,
            model_kwargs={"embedding_dim": recipe.embedding_dim, **STRONG[model]},
            training_loop="lcwa",
            loss="crossentropy",
            optimizer="adam",
            optimizer_kwargs={"lr": recipe.lr},
            training_kwargs={
                "num_epochs": recipe.num_epochs,
                "batch_size": recipe.batch_size,
                "label_smoothing": 0.1,
                "use_tqdm": False,
            },
            stopper="early",
            stopper_kwargs={
                "frequency": recipe.eval_every,
                "patience": recipe.patience,
                "relative_delta": recipe.min_delta,
                "metric": "inverse_harmonic_mean_rank",
                "best_model_path": Path(folder) / "best.pt",
            },
            evaluator_kwargs={"filtered": True},
            evaluation_kwargs={"use_tqdm": False},
            random_seed=seed,
        )
    metrics = metrics_from_result(result.metric_results)
    epochs = len(result.losses)
    return Result(
        dataset, model, "pykeen-strong", float(result.stopper.best_metric), metrics["mrr"],
        metrics["hits_at_10"], epochs, result.train_seconds / max(epochs, 1), used.added_mib, used.seconds,
        STRONG[model],
    )  # fmt: skip


def run_pykeen_defaults(dataset: str, model: str, seed: int) -> Result:
    from pykeen.pipeline import pipeline

    with measure() as used, quiet_libraries():
        result = pipeline(
            dataset=dataset,
            model=model,
            random_seed=seed,
            training_kwargs={"use_tqdm": False},
            evaluation_kwargs={"use_tqdm": False},
        )
    metrics = metrics_from_result(result.metric_results)
    epochs = len(result.losses)
    return Result(
        dataset, model, "pykeen-defaults", None, metrics["mrr"], metrics["hits_at_10"], epochs,
        result.train_seconds / max(epochs, 1), used.added_mib, used.seconds,
    )  # fmt: skip


RUNS = {"ours": run_ours, "pykeen-strong": run_pykeen_strong, "pykeen-defaults": run_pykeen_defaults}
THREADS: int | None = None


def comparison_table(results: list[Result]) -> Table:
    out = Table(title="Filtered test metrics (ours: the variant with the best validation MRR)")
    columns = ("dataset", "model", "val MRR ours", "MRR ours", "MRR strong", "MRR defaults",
               "H@10 ours", "H@10 strong", "H@10 defaults", "published", "epochs ours",
               "s/epoch ours", "s/epoch strong", "wall s ours (sweep)", "wall s strong",
               "wall s defaults", "peak MiB ours", "peak MiB strong")  # fmt: skip
    for column in columns:
        out.add_column(column, justify="left" if column in ("dataset", "model", "published") else "right")
    by_key = {(r.dataset, r.model, r.path): r for r in results}
    for dataset in dict.fromkeys(r.dataset for r in results):
        for model in dict.fromkeys(r.model for r in results):
            ours = by_key.get((dataset, model, "ours"))
            if ours is None:
                continue
            strong = by_key.get((dataset, model, "pykeen-strong"))
            defaults = by_key.get((dataset, model, "pykeen-defaults"))
            anchors = [r.mrr for r in (strong, defaults) if r is not None]
            mark = "[green]" if all(ours.mrr >= a for a in anchors) else "[red]"
            out.add_row(
                dataset, model, _f(ours.validation_mrr), f"{mark}{ours.mrr:.3f}", _f(strong, "mrr"),
                _f(defaults, "mrr"), f"{ours.hits_at_10:.3f}", _f(strong, "hits_at_10"),
                _f(defaults, "hits_at_10"), published_for(dataset, model), str(ours.epochs),
                f"{ours.seconds_per_epoch:.3f}", _f(strong, "seconds_per_epoch"), f"{ours.seconds:.0f}",
                _f(strong, "seconds", 0), _f(defaults, "seconds", 0), f"{ours.peak_mib:.0f}",
                _f(strong, "peak_mib", 0),
            )  # fmt: skip
    return out


def _f(value: Any, name: str | None = None, digits: int = 3) -> str:
    """A figure (or a result's field) to ``digits`` places; blank when missing."""
    if name is not None:
        value = None if value is None else getattr(value, name)
    return "" if value is None else f"{value:.{digits}f}"


def published_for(dataset: str, model: str) -> str:
    return ", ".join(
        f"{p.model} {'H@10' if p.metric == 'hits_at_10' else 'MRR'} {p.value:.3f}"
        for p in PUBLISHED
        if p.dataset == dataset and p.family == model
    )


def targets(results: list[Result]) -> list[tuple[str, bool]]:
    """Issue 14's KGE targets that the results can decide: (what, met)."""
    ours = {(r.dataset, r.model): r for r in results if r.path == "ours"}
    checks = []
    for p in PUBLISHED:
        mine = ours.get((p.dataset, p.family)) if p.family else None
        if mine is not None:
            value = getattr(mine, p.metric)
            checks.append(
                (
                    f"{p.dataset} {p.family} {p.metric} {value:.3f} >= {p.model} {p.value:.3f}",
                    value >= p.value,
                )
            )
    kinships = [r for (dataset, _), r in ours.items() if dataset == "kinships"]
    if kinships:
        best = max(kinships, key=lambda r: r.mrr)
        checks.append(
            (f"kinships best MRR ({best.model}) {best.mrr:.3f} >= ComplEx-N3 0.823", best.mrr >= 0.823)
        )
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--paths", default=",".join(RUNS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args()
    console = Console(width=240)
    threads = use_cpu_threads()
    console.print(f"Device: {'cuda' if torch.cuda.is_available() else f'cpu, {threads} threads'}")
    results: list[Result] = []
    spawn = multiprocessing.get_context("spawn")
    for dataset in args.datasets.split(","):
        for model in args.models.split(","):
            for path in args.paths.split(","):
                with ProcessPoolExecutor(
                    1, mp_context=spawn, initializer=_set_threads, initargs=(threads,)
                ) as pool:
                    result = pool.submit(run_in_child, path, dataset, model, args.seed).result()
                results.append(result)
                console.print(
                    f"{dataset:9} {model:9} {result.path:16} val MRR {_f(result.validation_mrr):5}  "
                    f"MRR {result.mrr:.3f}  Hits@10 {result.hits_at_10:.3f}  {result.epochs:4} epochs  "
                    f"{result.seconds_per_epoch:.3f} s/epoch  +{result.peak_mib:.0f} MiB  {result.seconds:.0f}s  "
                    f"{json.dumps(result.options) if result.options else ''}",
                    highlight=False,
                )
    console.print(comparison_table(results))
    for what, met in targets(results):
        console.print(f"{'[green]met  ' if met else '[red]unmet'} {what}", highlight=False)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    anchors = {(r.dataset, r.model, r.path): r.mrr for r in results if r.path != "ours"}
    losses = [
        (r.dataset, r.model, path)
        for r in results
        if r.path == "ours"
        for path in ("pykeen-strong", "pykeen-defaults")
        if anchors.get((r.dataset, r.model, path), -1.0) > r.mrr
    ]
    if losses:
        console.print(f"[red]Our recipe lost on test MRR for {losses}")
        return 1
    console.print("[green]Our recipes match or beat both PyKEEN paths on test MRR on every pair.")
    return 0


def _set_threads(threads: int) -> None:
    global THREADS
    THREADS = threads


if __name__ == "__main__":
    sys.exit(main())
