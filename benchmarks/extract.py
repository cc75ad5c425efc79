"""Text extraction throughput: documents/second and tokens/second on this machine.

Measured on the synthetic shop's product descriptions and reviews (generated, so nothing
is downloaded), all in one process:

  * baseline: plain ``nlp.pipe`` of the spaCy model alone (tokenise, tag, parse, NER);
  * the extraction pipeline without writing (catalogue ruler, rules, attributes,
    resolution), with ``n_process`` 1 and 2, and with the analysis on a local Dask
    cluster of 2 worker processes (``kg/extract/distributed.py``);
  * ``run_extraction`` into a fresh embedded store (everything above plus the writes);
  * the same run again, where every document is unchanged and skipped;
  * with the trained joint model, if one exists (``--model DIR`` or the newest run);
    ``--model`` may be given more than once (a frozen run beside a fine-tuned one).

Wall-clock rates depend on what else the shared cores run; docs per CPU-second (this
process's CPU time) is the steadier figure. n_process=2 workers' CPU is not counted.

Usage: python benchmarks/extract.py [--items 2000] [--reviews 1000] [--model DIR ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import Measurement, measure
from kg.config import load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.extract import Extractor, find_model
from kg.extract.distributed import cluster_extractor, dask_client
from kg.extract.documents import ReadOptions, documents_from_graph, read_documents
from kg.extract.nlp import load_nlp
from kg.extract.pipeline import run_extraction
from kg.extract.training import ENCODER_DIR
from kg.ingest import ingest_path
from kg.ingest.problems import ProblemLog
from kg.store import open_store


def line(name: str, documents: int, tokens: int, m: Measurement, baseline: float | None = None) -> None:
    rate = documents / m.seconds
    versus = f"  ({rate / baseline:.2f}x baseline)" if baseline else ""
    print(
        f"{name:<48} {rate:>9,.1f} docs/s {tokens / m.seconds:>10,.0f} tokens/s "
        f"{documents / max(m.cpu_seconds, 1e-9):>8,.1f} docs/cpu-s "
        f"{m.seconds:>6.1f}s wall {m.cpu_seconds:>6.1f}s cpu {m.added_mib:>5.0f} MiB{versus}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        default=None,
        help="trained extraction model folder (repeatable)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(store=str(root / "graph"), data_dir=root)
        files = generate_shop(root / "shop", ShopSize(users=200, items=args.items, reviews=args.reviews))
        with open_store(settings) as store:
            for data, mapping in files[:2]:  # categories and products: the catalogue
                ingest_path(store, data, mapping=mapping)
            documents = list(documents_from_graph(store)) + list(
                read_documents(root / "shop" / "reviews.jsonl", ProblemLog(), ReadOptions(about_field="sku"))
            )
            texts = [d.text for d in documents]
            print(f"{len(documents):,} documents ({sum(map(len, texts)):,} characters), 2 cores shared\n")

            nlp = load_nlp(settings.extract)
            list(nlp.pipe(texts[:50]))  # warm up
            with measure() as m:
                tokens = sum(len(doc) for doc in nlp.pipe(texts, batch_size=settings.extract.batch_size))
            baseline = len(texts) / m.seconds
            line("baseline: spaCy nlp.pipe alone", len(texts), tokens, m)

            extractor = Extractor(settings, store)
            list(extractor.extract(documents[:50]))
            with measure() as m:
                facts = list(extractor.extract(documents))
            line("pipeline, no writes, n_process=1", len(facts), sum(f.tokens for f in facts), m, baseline)

            settings.extract.n_process = 2
            with measure() as m:
                facts = list(Extractor(settings, store).extract(documents))
            line(
                "pipeline, no writes, n_process=2 (incl. start)",
                len(facts),
                sum(f.tokens for f in facts),
                m,
                baseline,
            )
            settings.extract.n_process = 1

            started = time.perf_counter()
            with dask_client(workers=2) as client, cluster_extractor(client, settings, store) as on_cluster:
                ready = time.perf_counter() - started
                with measure() as m:
                    facts = list(on_cluster.extract(documents))
            line("pipeline, no writes, Dask 2 workers", len(facts), sum(f.tokens for f in facts), m, baseline)
            print(f"{'  (cluster start + worker pipelines, not above)':<48} {ready:>9.1f}s")

            with measure() as m:
                report = run_extraction(store, documents, settings, extractor=extractor)
            line("run_extraction into the store", report.documents, report.tokens, m, baseline)
            with measure() as m:
                again = run_extraction(store, documents, settings, extractor=extractor)
            print(
                f"{'re-run (all unchanged, skipped)':<48} {len(documents) / m.seconds:>9,.1f} docs/s"
                f"  ({again.unchanged:,} skipped, {sum(again.created.values())} created)"
            )

            models = [find_model(settings, d) for d in args.model] if args.model else [_newest_model()]
            for model in models:
                if model is None:
                    print("(no trained joint model found: `kg extract train --data ...` to include it)")
                    continue
                tuned = "fine-tuned" if (model.run_dir / ENCODER_DIR).is_dir() else "frozen"
                with_model = Extractor(settings, store, model)
                sample = documents[: min(len(documents), 600)]
                with measure() as m:
                    facts = list(with_model.extract(sample))
                line(
                    f"pipeline + joint model ({tuned}, {model.run_dir.name})",
                    len(facts),
                    sum(f.tokens for f in facts),
                    m,
                    baseline,
                )


def _newest_model():  # type: ignore[no-untyped-def]
    """The newest model under ./kg-data, the default data folder, if any."""
    return find_model(load_settings())


if __name__ == "__main__":
    main()
