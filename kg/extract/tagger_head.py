"""The BILOU entity head: one tag per word, decoded with Viterbi under BILOU's rules.

Every predicted span is well formed by construction (an ``I``/``L`` only follows a
``B``/``I`` of its type), so no overlap can arise. Its confidence in a span is the lowest
probability of the span's tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from kg.extract.conll04 import LabelledSentence, Span, spans_from_tags, tags_from_spans

if TYPE_CHECKING:
    from kg.extract.relation_model import ModelConfig


class TaggerHead(nn.Module):
    """Entities as BILOU tags over the word states."""

    pair_negatives: int | None = None  # training pairs: every pair of gold entities
    pools_clean_states = False  # dropout on the word states (see JointExtractor)

    def __init__(self, config: ModelConfig, state_dim: int) -> None:
        super().__init__()
        self.tags = config.tags
        self.tagger = nn.Linear(state_dim, len(self.tags))
        self.register_buffer("transitions", _allowed_transitions(self.tags), persistent=False)

    def loss(self, states: torch.Tensor, sentences: list[LabelledSentence]) -> torch.Tensor:
        """Cross-entropy of the gold tags of every word (padding ignored)."""
        tag_index = {t: i for i, t in enumerate(self.tags)}
        gold = torch.full(states.shape[:2], -100, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            tags = tags_from_spans(len(sentence.tokens), sentence.entities)
            gold[row, : len(tags)] = torch.tensor([tag_index[t] for t in tags])
        scores = self.tagger(states)
        return nn.functional.cross_entropy(
            scores.reshape(-1, len(self.tags)), gold.reshape(-1), ignore_index=-100
        )

    def decode(self, states: torch.Tensor, lengths: list[int]) -> list[tuple[list[Span], list[float]]]:
        """Per sentence: its spans and the confidence in each."""
        scores = self.tagger(states)
        probs = torch.softmax(scores, dim=-1)
        decoded = []
        for row, length in enumerate(lengths):
            tags = self.viterbi(scores[row], length)
            spans = spans_from_tags(tags)
            tag_ids = [self.tags.index(t) for t in tags]
            decoded.append(
                (spans, [float(min(probs[row, i, tag_ids[i]] for i in range(s.start, s.end))) for s in spans])
            )
        return decoded

    def viterbi(self, scores: torch.Tensor, length: int) -> list[str]:
        """Best tag sequence that obeys BILOU (Viterbi over log-probabilities)."""
        tags = self.tags
        if length == 0:
            return []
        log_probs = torch.log_softmax(scores[:length], dim=-1)
        allowed = self.transitions
        start_ok = torch.tensor([not t.startswith(("I-", "L-")) for t in tags])
        end_ok = torch.tensor([not t.startswith(("B-", "I-")) for t in tags])
        best = log_probs[0].masked_fill(~start_ok, -1e9)
        back = []
        for position in range(1, length):
            candidates = best.unsqueeze(1) + torch.where(allowed, 0.0, -1e9)
            best, pointer = candidates.max(dim=0)
            best = best + log_probs[position]
            back.append(pointer)
        best = best.masked_fill(~end_ok, -1e9)
        path = [int(best.argmax())]
        for pointer in reversed(back):
            path.append(int(pointer[path[-1]]))
        return [tags[i] for i in reversed(path)]


def _allowed_transitions(tags: list[str]) -> torch.Tensor:
    """allowed[i, j]: tag j may follow tag i under BILOU."""
    allowed = torch.zeros(len(tags), len(tags), dtype=torch.bool)
    for i, before in enumerate(tags):
        for j, after in enumerate(tags):
            open_before = before.startswith(("B-", "I-"))
            continues = after.startswith(("I-", "L-"))
            if open_before:
                allowed[i, j] = continues and before[2:] == after[2:]
            else:
                allowed[i, j] = not continues
    return allowed
