"""Our KGE training path against PyKEEN's plain ``pipeline()`` with its defaults.

For each of PyKEEN's bundled Nations, Kinships and UMLS datasets and each of TransE,
DistMult and ComplEx, in the same process and on the same fixed splits:

  * ours     -- ``embeddings.train.train_on_splits`` with the model's recipe
                (``embeddings/recipes.py``): 1-N training, early stopping on validation MRR;
  * baseline -- ``pykeen.pipeline.pipeline(dataset=..., model=...)``, PyKEEN's defaults.

Both are scored the same way: filtered rank-based metrics on the test split (train and
validation triples filtered), realistic ranks, both sides. Printed side by side: test MRR,
Hits@10, seconds per training epoch, peak memory (RSS sampled every 20 ms; each run in a
fresh child process, so the figure is that run's own: the peak minus the RSS once torch
and PyKEEN are imported) and wall seconds. Exits 1 if our MRR is below the baseline's on
any pair.

Usage: nice -n 10 python benchmarks/kge.py [--datasets nations,kinships,umls]
       [--models transe,distmult,complex] [--seed 42] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import measure
from embeddings.device import quiet_libraries, use_cpu_threads
from embeddings.export import TripleSplits
from embeddings.link_metrics import metrics_from_result
from embeddings.train import train_on_splits

DATASETS = ("nations", "kinships", "umls")
MODELS = ("transe", "distmult", "complex")


@dataclass
class Result:
    dataset: str
    model: str
    path: str
    mrr: float
    hits_at_10: float
    epochs: int
    seconds_per_epoch: float
    peak_mib: float
    seconds: float


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
    with quiet_libraries():
        splits = dataset_splits(dataset)
    with measure() as used:
        trained = train_on_splits(splits, model, seed=seed)
    metrics = trained.metrics
    return Result(
        dataset, model, "ours", metrics["mrr"], metrics["hits_at_10"], metrics["epochs"],
        metrics["seconds_per_epoch"], used.added_mib, used.seconds,
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
        dataset, model, "pykeen-defaults", metrics["mrr"], metrics["hits_at_10"], epochs,
        result.train_seconds / max(epochs, 1), used.added_mib, used.seconds,
    )  # fmt: skip


RUNS = {"pykeen-defaults": run_pykeen_defaults, "ours": run_ours}
THREADS: int | None = None


def table(results: list[Result]) -> Table:
    out = Table(title="Filtered test metrics: our recipes vs PyKEEN pipeline() defaults")
    for column in ("dataset", "model", "MRR ours", "MRR PyKEEN", "Hits@10 ours", "Hits@10 PyKEEN",
                   "s/epoch ours", "s/epoch PyKEEN", "epochs ours", "peak MiB ours", "peak MiB PyKEEN",
                   "wall s ours", "wall s PyKEEN"):  # fmt: skip
        out.add_column(column, justify="left" if column in ("dataset", "model") else "right")
    by_key = {(r.dataset, r.model, r.path): r for r in results}
    for dataset in dict.fromkeys(r.dataset for r in results):
        for model in dict.fromkeys(r.model for r in results):
            ours, base = by_key.get((dataset, model, "ours")), by_key.get((dataset, model, "pykeen-defaults"))
            if ours is None or base is None:
                continue
            mark = "[green]" if ours.mrr >= base.mrr else "[red]"
            out.add_row(
                dataset, model, f"{mark}{ours.mrr:.3f}", f"{base.mrr:.3f}", f"{ours.hits_at_10:.3f}",
                f"{base.hits_at_10:.3f}", f"{ours.seconds_per_epoch:.3f}", f"{base.seconds_per_epoch:.3f}",
                str(ours.epochs), f"{ours.peak_mib:.0f}", f"{base.peak_mib:.0f}", f"{ours.seconds:.0f}",
                f"{base.seconds:.0f}",
            )  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args()
    console = Console(width=200)
    threads = use_cpu_threads()
    console.print(f"Device: {'cuda' if torch.cuda.is_available() else f'cpu, {threads} threads'}")
    results: list[Result] = []
    spawn = multiprocessing.get_context("spawn")
    for dataset in args.datasets.split(","):
        for model in args.models.split(","):
            for path in RUNS:
                with ProcessPoolExecutor(
                    1, mp_context=spawn, initializer=_set_threads, initargs=(threads,)
                ) as pool:
                    result = pool.submit(run_in_child, path, dataset, model, args.seed).result()
                results.append(result)
                console.print(
                    f"{dataset:9} {model:9} {result.path:16} MRR {result.mrr:.3f}  Hits@10 {result.hits_at_10:.3f}  "
                    f"{result.epochs:4} epochs  {result.seconds_per_epoch:.3f} s/epoch  +{result.peak_mib:.0f} MiB  "
                    f"{result.seconds:.0f}s",
                    highlight=False,
                )
    console.print(table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    losses = [
        (r.dataset, r.model)
        for r in results
        if r.path == "ours"
        and any(
            b.mrr > r.mrr
            for b in results
            if (b.dataset, b.model, b.path) == (r.dataset, r.model, "pykeen-defaults")
        )
    ]
    if losses:
        console.print(f"[red]Our recipe lost on MRR for {losses}")
        return 1
    console.print("[green]Our recipes match or beat PyKEEN's defaults on MRR on every pair.")
    return 0


def _set_threads(threads: int) -> None:
    global THREADS
    THREADS = threads


if __name__ == "__main__":
    sys.exit(main())
