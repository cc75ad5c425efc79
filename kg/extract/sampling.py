"""Training samples for the entity and relation heads: which spans and pairs a step scores.

SpERT scores a random sample of the negatives (spans that are no entity, entity pairs
that hold no relation) instead of all of them: a sentence of 30 words has ~250 spans of
up to 10 words but a handful of entities. Sampling uses Python's ``random``, which the
trainer seeds, so runs repeat.
"""

from __future__ import annotations

import random

from kg.extract.conll04 import LabelledSentence, Span


def sample_negative_spans(
    length: int, gold: set[tuple[int, int]], count: int, max_width: int
) -> list[tuple[int, int]]:
    """Up to ``count`` random (start, end) spans of at most ``max_width`` words in a
    sentence of ``length`` words that are not among the ``gold`` ones (all, if fewer)."""
    spans = [
        (start, start + width)
        for width in range(1, max_width + 1)
        for start in range(length - width + 1)
        if (start, start + width) not in gold
    ]
    return spans if len(spans) <= count else random.sample(spans, count)


def relation_samples(
    sentences: list[LabelledSentence], relation_index: dict[str, int], negatives: int | None
) -> tuple[list[tuple[int, Span, Span]], list[int]]:
    """The (row, head, tail) pairs of gold entities a training step classifies, and their
    labels (0: no relation). Every related pair is kept; of the unrelated ones at most
    ``negatives`` per sentence, drawn at random (``None``: all of them)."""
    pairs: list[tuple[int, Span, Span]] = []
    labels: list[int] = []
    for row, sentence in enumerate(sentences):
        gold = {(r.head, r.tail): relation_index[r.type] for r in sentence.relations}
        ordered = [
            (h, t) for h in range(len(sentence.entities)) for t in range(len(sentence.entities)) if h != t
        ]
        unrelated = [pair for pair in ordered if pair not in gold]
        if negatives is not None and len(unrelated) > negatives:
            kept = set(random.sample(unrelated, negatives))
            ordered = [pair for pair in ordered if pair in gold or pair in kept]
        for h, t in ordered:
            pairs.append((row, sentence.entities[h], sentence.entities[t]))
            labels.append(gold.get((h, t), 0))
    return pairs, labels
