"""SpERT's span-based entity head: every span up to a maximum width is classified.

A span is represented by its word states max-pooled, a learned embedding of its width
and the sentence context (the mean of the sentence's word states, in place of SpERT's
[CLS] vector), plus its first and its last word's states (not in SpERT: boundaries are
where this model errs; on CoNLL04 dev they raised entity F1 with the pooling change
below), and classified into an entity type or "none". As in SpERT, dropout applies to
the pooled features, not to the word states before pooling. Training scores the gold
spans and a random sample of the other spans (SpERT: 100 per sentence) rather than all
of them; the relation head is trained on the gold entities with a sample of the pairs
that hold no relation (``pair_negatives``, see :mod:`kg.extract.sampling`).

At inference every span that is not "none" is a candidate; overlapping candidates are
resolved greedily, the most confident first, so the spans stay well formed (CoNLL04 has
no nested entities). Unlike a BILOU tagger, a span is judged whole: its width and its
boundaries are one decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from kg.extract.conll04 import LabelledSentence, Span
from kg.extract.sampling import sample_negative_spans

if TYPE_CHECKING:
    from kg.extract.relation_model import ModelConfig

NEGATIVE_SPANS = 100  # non-entity spans scored per training sentence (SpERT's figure)
NEGATIVE_PAIRS = 100  # entity pairs without a relation per training sentence (SpERT's)


class SpanHead(nn.Module):
    """Entities as classified spans of at most ``config.max_span_width`` words."""

    pair_negatives: int | None = NEGATIVE_PAIRS
    pools_clean_states = True  # dropout after pooling (see JointExtractor)

    def __init__(self, config: ModelConfig, state_dim: int) -> None:
        super().__init__()
        self.types = config.entity_types
        self.max_width = config.max_span_width
        self.width = nn.Embedding(config.max_span_width, config.width_dim)
        self.classify = nn.Sequential(
            nn.Dropout(config.pooled_dropout),
            nn.Linear(4 * state_dim + config.width_dim, config.span_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.span_hidden, len(config.entity_types) + 1),
        )

    def features(self, states: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Span features for every (width - 1, sentence, start): (widths, B, words, F):
        max-pooled states, first word, last word, width embedding, sentence context.

        Max-pooling is cumulative over the width (a span of width w is the span of width
        w - 1 plus one word), so all spans cost ``max_width`` elementwise maxima. Entries
        whose span runs past its sentence are finite filler; callers never read them.
        """
        batch, words, dim = states.shape
        widths = min(self.max_width, words)
        pooled, last = [states], [states]
        for shift in range(1, widths):
            following = torch.cat([states[:, shift:], states.new_zeros(batch, shift, dim)], dim=1)
            pooled.append(torch.maximum(pooled[-1], following))
            last.append(following)
        inside = torch.arange(words).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (B, words)
        context = (states * inside.unsqueeze(-1)).sum(dim=1) / torch.tensor(lengths).clamp(min=1).unsqueeze(1)
        return torch.cat(
            [
                torch.stack(pooled),
                states.unsqueeze(0).expand(widths, -1, -1, -1),  # the first word
                torch.stack(last),  # the last word
                self.width.weight[:widths, None, None, :].expand(widths, batch, words, -1),
                context[None, :, None, :].expand(widths, batch, words, -1),
            ],
            dim=-1,
        )

    def loss(self, states: torch.Tensor, sentences: list[LabelledSentence]) -> torch.Tensor:
        """Cross-entropy over the gold spans and ``NEGATIVE_SPANS`` sampled others per
        sentence. Gold spans wider than the maximum width cannot be predicted and are left
        out (CoNLL04 train: 2 of 3,377 entities)."""
        type_index = {t: i + 1 for i, t in enumerate(self.types)}
        features = self.features(states, [len(s.tokens) for s in sentences])
        index: list[tuple[int, int, int]] = []  # (width - 1, row, start)
        labels: list[int] = []
        for row, sentence in enumerate(sentences):
            gold = {
                (e.start, e.end): type_index[e.type]
                for e in sentence.entities
                if e.end - e.start <= self.max_width
            }
            negatives = sample_negative_spans(len(sentence.tokens), set(gold), NEGATIVE_SPANS, self.max_width)
            for (start, end), label in [*gold.items(), *((span, 0) for span in negatives)]:
                index.append((end - start - 1, row, start))
                labels.append(label)
        if not index:
            return states.sum() * 0.0
        widths, rows, starts = (torch.tensor(column) for column in zip(*index, strict=True))
        logits = self.classify(features[widths, rows, starts])
        return nn.functional.cross_entropy(logits, torch.tensor(labels))

    def decode(self, states: torch.Tensor, lengths: list[int]) -> list[tuple[list[Span], list[float]]]:
        """Per sentence: its non-overlapping spans and the confidence in each."""
        features = self.features(states, lengths)
        probs = torch.softmax(self.classify(features), dim=-1)  # (widths, B, words, types + 1)
        confidence, label = probs.max(dim=-1)
        widths = torch.arange(1, features.shape[0] + 1)[:, None, None]
        ends = torch.arange(features.shape[2])[None, None, :] + widths
        fits = ends <= torch.tensor(lengths)[None, :, None]
        candidates: list[list[tuple[Span, float]]] = [[] for _ in lengths]
        for width, row, start in (fits & (label > 0)).nonzero().tolist():
            span = Span(start, start + width + 1, self.types[int(label[width, row, start]) - 1])
            candidates[row].append((span, float(confidence[width, row, start])))
        decoded = []
        for found in candidates:
            kept = resolve_overlaps(found)
            decoded.append(([span for span, _ in kept], [score for _, score in kept]))
        return decoded


def resolve_overlaps(candidates: list[tuple[Span, float]]) -> list[tuple[Span, float]]:
    """The most confident spans that share no word, in sentence order (greedy: a span is
    kept unless a more confident kept span overlaps it)."""
    kept: list[tuple[Span, float]] = []
    taken: set[int] = set()
    for span, score in sorted(candidates, key=lambda c: (-c[1], c[0].start, c[0].end)):
        words = set(range(span.start, span.end))
        if not words & taken:
            kept.append((span, score))
            taken |= words
    return sorted(kept, key=lambda c: c[0].start)
