"""`kg ask` against a keyword search, on questions with known answers.

Questions are generated from the synthetic catalogue (each from one real item, so every
answer set is non-empty): brand + category, material + category, category + price limit,
brand + category + price limit, colour + material + top-level category. The answer set is
every item meeting all the question's constraints, computed from the generator's CSV.
The keyword baseline ranks items by how many question words their name and description
contain. Prints precision@5, recall@5 and the ceiling precision@5 (answer sets smaller
than five cap it), overall and per question type, and seconds per question.

    flock /tmp/kg-cpu.lock .venv/bin/python benchmarks/ask.py [--items 400] [--questions 150]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from kg.ask.intent import STOP_WORDS
from kg.ask.search import Catalogue, ask
from kg.config import load_settings
from kg.datasets.synthetic_shop import SINGULAR, TAXONOMY, ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.store import open_store

K = 5
LEAF_NAMES = {f"cat-{leaf.lower().replace(' ', '-')}": leaf for leafs in TAXONOMY.values() for leaf in leafs}
TOP_OF = {leaf: top for top, leafs in TAXONOMY.items() for leaf in leafs}


def _questions(products: pd.DataFrame, count: int) -> list[tuple[str, str, pd.Series]]:
    """(type, question, mask of relevant items) from the first ``count`` items."""
    leaf = products["category_id"].map(LEAF_NAMES)
    top = leaf.map(TOP_OF)
    out = []
    for index in range(count):
        row = products.iloc[index % len(products)]
        name = LEAF_NAMES[row["category_id"]]
        noun = SINGULAR[name].lower()
        limit = int(row["price"]) + 1
        same_leaf = leaf == name
        kinds = [
            ("brand+category", f"{row['brand']} {noun}", same_leaf & (products["brand"] == row["brand"])),
            (
                "material+category",
                f"{row['material']} {noun}",
                same_leaf & (products["material"] == row["material"]),
            ),
            ("category+price", f"{noun} under {limit}", same_leaf & (products["price"] <= limit)),
            (
                "brand+category+price",
                f"{row['brand']} {noun} under {limit}",
                same_leaf & (products["brand"] == row["brand"]) & (products["price"] <= limit),
            ),
            (
                "colour+material+top",
                f"{row['color']} {row['material']} {TOP_OF[name].lower()}",
                (top == TOP_OF[name])
                & (products["material"] == row["material"])
                & (products["color"] == row["color"]),
            ),
        ]
        kind, question, mask = kinds[index % len(kinds)]
        out.append((kind, question, mask))
    return out


def _keyword_top(products: pd.DataFrame, question: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in STOP_WORDS]
    text = (products["name"] + " " + products["description"]).str.lower()
    score = sum(text.str.contains(rf"\b{re.escape(w)}", regex=True).astype(int) for w in words)
    ranked = products.assign(score=score).sort_values(["score", "sku"], ascending=[False, True])
    return list(ranked["sku"].head(K))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--questions", type=int, default=150)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kg-ask-bench-"))
    settings = load_settings(store=str(root / "graph"), data_dir=root / "data")
    with open_store(settings) as store:
        for data, mapping in generate_shop(
            root / "shop", ShopSize(users=50, items=args.items, reviews=0), seed=7
        ):
            ingest_path(store, data, mapping=mapping)
        catalogue = Catalogue.from_store(store, settings)
    products = pd.read_csv(root / "shop" / "products.csv", dtype={"sku": str})
    rows = []
    seconds = {"kg ask": 0.0, "keyword": 0.0}
    for kind, question, mask in _questions(products, args.questions):
        relevant = set(products.loc[mask, "sku"])
        started = time.perf_counter()
        ours = list(ask(catalogue, question, K).answers["item"])
        seconds["kg ask"] += time.perf_counter() - started
        started = time.perf_counter()
        keyword = _keyword_top(products, question)
        seconds["keyword"] += time.perf_counter() - started
        for system, top in (("kg ask", ours), ("keyword", keyword)):
            hits = len(set(top) & relevant)
            rows.append((system, kind, hits / K, hits / len(relevant), min(K, len(relevant)) / K))
    frame = pd.DataFrame(rows, columns=["system", "type", "p5", "r5", "ceiling"])
    n = args.questions
    print(f"{n} questions over {args.items} items; answer sets from the generator's CSV")
    print("| system | questions | precision@5 | recall@5 | ceiling P@5 | ms/question |")
    print("|---|---|---:|---:|---:|---:|")
    for system, part in frame.groupby("system", sort=False):
        ms = 1000 * seconds[str(system)] / n
        print(
            f"| {system} | all ({n}) | {part.p5.mean():.3f} | {part.r5.mean():.3f} | {part.ceiling.mean():.3f} | {ms:.1f} |"
        )
        for kind, sub in part.groupby("type"):
            print(
                f"| {system} | {kind} ({len(sub)}) | {sub.p5.mean():.3f} | {sub.r5.mean():.3f} | {sub.ceiling.mean():.3f} | |"
            )


if __name__ == "__main__":
    main()
