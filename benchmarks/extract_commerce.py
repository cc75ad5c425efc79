"""Extraction quality on commerce text: strict entity, relation and attribute
precision / recall / F1 on the synthetic shop's labelled descriptions and reviews
(``kg/datasets/shop_text_labels.py``), the pipeline as ``kg extract run`` runs it over
the shop's catalogue.

"before" is the same labelled set through the pipeline of another commit (by default the
one before product-name and attribute handling changed), run from a ``git archive`` copy
of its ``kg`` package in a subprocess, and scored here by the same code as "after", the
working tree. Strict: an entity needs its exact character span, label and (catalogue
labels) node; a relation its type and both arguments so; an attribute its node, property
and value.

Usage: python benchmarks/extract_commerce.py [--items 150] [--reviews 150] [--before REV|""]
       [--model DIR]   (the trained joint model too, in "after" only)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kg.config import load_settings
from kg.datasets.shop_text_labels import LABELLED_SHOP, generate_labelled_shop_text
from kg.datasets.synthetic_shop import LOAD_ORDER, ShopSize
from kg.extract import Extractor, find_model
from kg.extract.extraction_metrics import DocumentEvaluation, Scores, evaluate_documents
from kg.extract.facts import AttributeFact, DocumentFacts, Mention, RelationFact
from kg.extract.labelled_documents import LabelledDocument
from kg.ingest import ingest_path
from kg.store import open_store

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "92fdd42"  # the last commit before catalogue names won over product-name NER spans

# Run in the subprocess against the other commit's `kg`: the catalogue ingested as the
# shop's mapping loads it, the documents extracted, the facts dumped as JSON.
_EXTRACT_ELSEWHERE = """
import json, sys
from dataclasses import asdict
from pathlib import Path
from kg.config import load_settings
from kg.extract import Extractor
from kg.extract.facts import DocumentRecord
from kg.ingest import ingest_path
from kg.store import open_store

shop, work, files = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
documents = [DocumentRecord(**{**d, "about": tuple(d["about"]) if d["about"] else None}) for d in json.loads((work / "documents.json").read_text())]
settings = load_settings(store=str(work / "graph"), data_dir=work)
with open_store(settings) as store:
    for data, mapping in files:
        ingest_path(store, shop / data, mapping=shop / mapping)
    facts = list(Extractor(settings, store).extract(documents))
(work / "facts.json").write_text(json.dumps([
    {"id": f.document.id, "mentions": [asdict(m) for m in f.mentions],
     "relations": [asdict(r) for r in f.relations], "attributes": [asdict(a) for a in f.attributes]}
    for f in facts
]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=LABELLED_SHOP.items)
    parser.add_argument("--reviews", type=int, default=LABELLED_SHOP.reviews)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--before", default=BEFORE, help='commit to compare with ("" for none)')
    parser.add_argument("--model", type=Path, default=None, help="trained joint model folder (after only)")
    args = parser.parse_args()
    size = ShopSize(
        users=LABELLED_SHOP.users, items=args.items, purchases_per_user=LABELLED_SHOP.purchases_per_user,
        views_per_user=LABELLED_SHOP.views_per_user, reviews=args.reviews,
    )  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        labelled = generate_labelled_shop_text(root / "shop", size, seed=args.seed)
        catalogue = LOAD_ORDER[:2]  # categories and products
        print(
            f"{len(labelled)} labelled documents ({args.items} descriptions, {args.reviews} reviews): "
            f"{sum(len(d.mentions) for d in labelled)} mentions, "
            f"{sum(len(d.relations) for d in labelled)} relations, "
            f"{sum(len(d.attributes) for d in labelled)} attributes\n"
        )
        results: dict[str, list[DocumentFacts]] = {}
        if args.before:
            started = time.perf_counter()
            results[f"before ({args.before})"] = _extract_at_commit(args.before, labelled, root, catalogue)
            print(f"before: extracted in {time.perf_counter() - started:.1f}s (subprocess, incl. start)")
        settings = load_settings(store=str(root / "graph"), data_dir=root)
        with open_store(settings) as store:
            for data, mapping in catalogue:
                ingest_path(store, root / "shop" / data, mapping=root / "shop" / mapping)
            model = find_model(settings, args.model) if args.model else None
            started = time.perf_counter()
            results["after"] = list(Extractor(settings, store, model).extract([d.document for d in labelled]))
            print(f"after: extracted in {time.perf_counter() - started:.1f}s\n")
        linked = settings.extract.catalog_labels
        for split, prefix in (("descriptions", "item-"), ("reviews", "reviews-"), ("all", "")):
            chosen = [i for i, d in enumerate(labelled) if d.document.id.startswith(prefix)]
            reports = {
                name: evaluate_documents([labelled[i] for i in chosen], [facts[i] for i in chosen], linked)
                for name, facts in results.items()
            }
            _print_split(split, reports)
        _print_types(evaluate_documents(labelled, results["after"], linked))


def _extract_at_commit(
    rev: str, labelled: list[LabelledDocument], root: Path, catalogue: tuple[tuple[str, str], ...]
) -> list[DocumentFacts]:
    """The facts the pipeline of commit ``rev`` extracts from the labelled documents."""
    code, work = root / "before-code", root / "before-run"
    code.mkdir()
    work.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "kg", "cypher", "embeddings"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    (work / "documents.json").write_text(json.dumps([asdict(d.document) for d in labelled]))
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run(
        [sys.executable, "-c", _EXTRACT_ELSEWHERE, str(root / "shop"), str(work), json.dumps(catalogue)],
        check=True,
        env=env,
        cwd=work,
    )
    by_id = {row["id"]: row for row in json.loads((work / "facts.json").read_text())}
    return [_facts(d, by_id[d.document.id]) for d in labelled]


def _facts(labelled: LabelledDocument, row: dict) -> DocumentFacts:  # type: ignore[type-arg]
    facts = DocumentFacts(labelled.document)
    facts.mentions = [Mention(**m) for m in row["mentions"]]
    facts.relations = [
        RelationFact(r["rel_type"], Mention(**r["head"]), Mention(**r["tail"]), r["confidence"], r["method"])
        for r in row["relations"]
    ]
    facts.attributes = [AttributeFact(**a) for a in row["attributes"]]
    return facts


def _cells(scores: Scores) -> str:
    return f"{scores.precision:>6.3f} {scores.recall:>6.3f} {scores.f1:>6.3f} {scores.gold:>5} {scores.predicted:>5}"


def _print_split(split: str, reports: dict[str, DocumentEvaluation]) -> None:
    print(f"{split} ({next(iter(reports.values())).documents} documents)")
    print(f"  {'':<22} {'':<11} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5} {'pred':>5}")
    for name, report in reports.items():
        for what, scores in (
            ("entities", report.entities),
            ("relations", report.relations),
            ("attributes", report.attributes),
        ):
            print(f"  {name:<22} {what:<11} {_cells(scores)}")
    print()


def _print_types(report: DocumentEvaluation) -> None:
    print("after, per type (all documents)")
    for what, by_type in (
        ("entity", report.entity_types),
        ("relation", report.relation_types),
        ("attribute", report.attribute_types),
    ):
        for name, scores in sorted(by_type.items()):
            print(f"  {what:<10} {name:<18} {_cells(scores)}")


if __name__ == "__main__":
    main()
