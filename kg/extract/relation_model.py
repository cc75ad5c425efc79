"""A joint entity and relation extractor trained on labelled sentences (CoNLL04 format).

Architecture (SpERT-like heads over a frozen or fine-tuned encoder, sized for CPUs):

* word vectors: a learned scalar mix of all encoder layers, plus a word-shape embedding
  (the offline MiniLM is uncased, so capitalisation must come from somewhere);
* a BiLSTM contextualises them for the task;
* entities: one of two heads (``ModelConfig.entities``, chosen from ``ENTITY_HEADS``):
  a BILOU tagger decoded with Viterbi under the BILOU transition constraints
  (:mod:`kg.extract.tagger_head`), or SpERT's classifier of every span up to a maximum
  width (:mod:`kg.extract.span_model`); both give well-formed, non-overlapping spans;
* relations: every ordered pair of entity spans is classified from max-pooled head,
  tail and in-between context states, the two entity types and their distance; the
  "no relation" class is one of the outputs. Pairs whose (head type, tail type) was
  never seen with a relation type in training are not proposed for it.

Entity types and relation types are those of the training data; nothing is hard-coded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from kg.extract.conll04 import LabelledRelation, LabelledSentence, Span
from kg.extract.span_model import SpanHead
from kg.extract.tagger_head import TaggerHead
from kg.registry import Registry

NO_RELATION = "none"
SHAPES = ("pad", "lower", "title", "upper", "mixed", "digit", "other")
_DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30)


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network; saved beside the weights."""

    encoder: str
    encoder_layers: int
    encoder_dim: int
    entity_types: list[str]
    relation_types: list[str]
    signatures: list[tuple[str, str, str]] = field(default_factory=list)  # (head type, tail type, rel)
    lstm_hidden: int = 200
    lstm_layers: int = 1
    pair_hidden: int = 256
    shape_dim: int = 16
    type_dim: int = 32
    distance_dim: int = 16
    dropout: float = 0.4
    pooled_dropout: float = 0.1  # heads that pool clean states: on pooled features (SpERT's 0.1)
    entities: str = "tagger"  # the entity head (ENTITY_HEADS); runs saved before the choice: tagger
    max_span_width: int = 10  # span head: the widest span, in words (SpERT's 10)
    width_dim: int = 25  # span head: width embedding size (SpERT's 25)
    span_hidden: int = 256  # span head: hidden layer of the span classifier

    @property
    def tags(self) -> list[str]:
        return ["O"] + [f"{p}-{t}" for t in self.entity_types for p in ("B", "I", "L", "U")]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["signatures"] = [tuple(s) for s in data.get("signatures", [])]
        return cls(**data)


def word_shape(word: str) -> int:
    """Index into ``SHAPES`` of a word's capitalisation pattern."""
    if any(ch.isdigit() for ch in word):
        return SHAPES.index("digit")
    letters = [ch for ch in word if ch.isalpha()]
    if not letters:
        return SHAPES.index("other")
    if all(ch.islower() for ch in letters):
        return SHAPES.index("lower")
    if all(ch.isupper() for ch in letters):
        return SHAPES.index("upper" if len(letters) > 1 else "title")
    if letters[0].isupper() and all(ch.islower() for ch in letters[1:]):
        return SHAPES.index("title")
    return SHAPES.index("mixed")


def distance_bucket(distance: int) -> int:
    """Signed, log-like bucket of a token distance (an embedding index)."""
    magnitude = sum(1 for edge in _DISTANCE_BUCKETS if abs(distance) >= edge)
    return magnitude + (len(_DISTANCE_BUCKETS) if distance < 0 else 0)


class EntityHead(Protocol):
    """What the joint model needs of an entity head (an ``nn.Module``)."""

    pair_negatives: int | None  # unrelated gold pairs per training sentence (None: all)
    pools_clean_states: bool  # dropout after max-pooling rather than on the word states

    def loss(self, states: torch.Tensor, sentences: list[LabelledSentence]) -> torch.Tensor: ...

    def decode(self, states: torch.Tensor, lengths: list[int]) -> list[tuple[list[Span], list[float]]]: ...


ENTITY_HEADS: Registry[Callable[[ModelConfig, int], EntityHead]] = Registry(
    "entity head", {"tagger": TaggerHead, "span": SpanHead}
)


class JointExtractor(nn.Module):
    """Tags entities and classifies relations between them, from encoder layers."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n_types = len(config.entity_types)
        self.layer_weights = nn.Parameter(torch.zeros(config.encoder_layers))
        self.layer_scale = nn.Parameter(torch.ones(1))
        self.shape = nn.Embedding(len(SHAPES), config.shape_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.encoder_dim + config.shape_dim,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        state = 2 * config.lstm_hidden
        self.entities: EntityHead = ENTITY_HEADS.get(config.entities)(config, state)
        self.entity_type = nn.Embedding(n_types, config.type_dim)
        self.distance = nn.Embedding(2 * len(_DISTANCE_BUCKETS) + 1, config.distance_dim)
        pair_in = 3 * state + 2 * config.type_dim + config.distance_dim
        self.pair = nn.Sequential(
            nn.Linear(pair_in, config.pair_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.pair_hidden, len(config.relation_types) + 1),
        )
        self.register_buffer("signature_mask", _signature_mask(config), persistent=False)
        # Dropout before a max-pool biases it upwards in training (the largest of scaled
        # survivors), which a span classifier resting on max-pooled spans does not
        # survive; such heads pool clean states and drop out the pooled features (SpERT).
        clean = self.entities.pools_clean_states
        self.state_dropout = nn.Identity() if clean else self.dropout
        self.feature_dropout = nn.Dropout(config.pooled_dropout) if clean else nn.Identity()

    # ------------------------------------------------------------------ encoding
    def states(self, layers: torch.Tensor, shapes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """BiLSTM states (B, words, 2*hidden) from encoder layers (B, words, L, dim)."""
        weights = torch.softmax(self.layer_weights, dim=0)
        mixed = self.layer_scale * torch.einsum("bwld,l->bwd", layers.float(), weights)
        words = self.dropout(torch.cat([mixed, self.shape(shapes)], dim=-1))
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=layers.shape[1])
        return self.state_dropout(out)

    def pair_scores(
        self, states: torch.Tensor, pairs: list[tuple[int, Span, Span]], type_index: dict[str, int]
    ) -> torch.Tensor:
        """Relation logits (pairs, relations + 1) for (sentence, head, tail) triples.

        Each distinct span is max-pooled once with a mask; the context between two spans
        is mean-pooled from cumulative sums, so the cost is linear in the pair count.
        """
        if not pairs:
            return torch.zeros(0, len(self.config.relation_types) + 1)
        spans = sorted({(row, s.start, s.end) for row, h, t in pairs for s in (h, t)})
        span_index = {span: i for i, span in enumerate(spans)}
        rows = torch.tensor([row for row, _, _ in spans])
        positions = torch.arange(states.shape[1])
        starts = torch.tensor([start for _, start, _ in spans]).unsqueeze(1)
        ends = torch.tensor([end for _, _, end in spans]).unsqueeze(1)
        inside = (positions >= starts) & (positions < ends)  # (spans, words)
        pooled = states[rows].masked_fill(~inside.unsqueeze(-1), -1e4).max(dim=1).values
        head_ids = torch.tensor([span_index[(row, h.start, h.end)] for row, h, _ in pairs])
        tail_ids = torch.tensor([span_index[(row, t.start, t.end)] for row, _, t in pairs])
        cumulative = torch.cat([torch.zeros_like(states[:, :1]), states.cumsum(dim=1)], dim=1)
        pair_rows = torch.tensor([row for row, _, _ in pairs])
        lo = torch.tensor([min(h.end, t.end) for _, h, t in pairs])
        hi = torch.tensor([max(h.start, t.start) for _, h, t in pairs])
        hi = torch.maximum(hi, lo)
        between = (cumulative[pair_rows, hi] - cumulative[pair_rows, lo]) / (hi - lo).clamp(min=1).unsqueeze(
            1
        )
        head_types = torch.tensor([type_index[h.type] for _, h, _ in pairs])
        tail_types = torch.tensor([type_index[t.type] for _, _, t in pairs])
        distances = torch.tensor([distance_bucket(t.start - h.start) for _, h, t in pairs])
        features = torch.cat(
            [
                pooled[head_ids],
                pooled[tail_ids],
                between,
                self.entity_type(head_types),
                self.entity_type(tail_types),
                self.distance(distances),
            ],
            dim=-1,
        )
        logits = self.pair(self.feature_dropout(features))
        allowed = self.signature_mask[head_types, tail_types]  # (pairs, relations + 1)
        return logits.masked_fill(~allowed, -1e4)


def _signature_mask(config: ModelConfig) -> torch.Tensor:
    """mask[head type, tail type, class]: the class may be predicted for that pair."""
    types = {t: i for i, t in enumerate(config.entity_types)}
    relations = {r: i + 1 for i, r in enumerate(config.relation_types)}
    mask = torch.zeros(len(types), len(types), len(relations) + 1, dtype=torch.bool)
    mask[:, :, 0] = True
    for head, tail, rel in config.signatures:
        if head in types and tail in types and rel in relations:
            mask[types[head], types[tail], relations[rel]] = True
    if not config.signatures:
        mask[:, :, 1:] = True
    return mask


def migrate_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights saved before the entity head was a choice held the tagger as ``tagger.*``;
    it is ``entities.tagger.*`` now."""
    return {(f"entities.{key}" if key.startswith("tagger.") else key): value for key, value in state.items()}


@dataclass
class Prediction:
    """Entities and relations predicted for one sentence, with confidences."""

    sentence: LabelledSentence
    entity_confidence: list[float]
    relation_confidence: list[float]


def predict_sentences(
    model: JointExtractor,
    encoded: list[torch.Tensor],
    tokens: list[list[str]],
    *,
    batch_size: int = 32,
    min_confidence: float = 0.5,
) -> list[Prediction]:
    """Run the model on encoded sentences; entities first, then their relations."""
    config = model.config
    type_index = {t: i for i, t in enumerate(config.entity_types)}
    model.eval()
    results: list[Prediction] = []
    with torch.inference_mode():
        for lo in range(0, len(tokens), batch_size):
            batch = collate(encoded[lo : lo + batch_size], tokens[lo : lo + batch_size])
            states = model.states(batch.layers, batch.shapes, batch.lengths)
            words_of = tokens[lo : lo + batch_size]
            decoded = model.entities.decode(states, [len(words) for words in words_of])
            sentences, confidences, pairs = [], [], []
            for row, (words, (spans, confidence)) in enumerate(zip(words_of, decoded, strict=True)):
                confidences.append(confidence)
                sentences.append(LabelledSentence(list(words), spans, []))
                pairs += [(row, h, t) for h in spans for t in spans if h != t]
            logits = model.pair_scores(states, pairs, type_index)
            rel_probs = torch.softmax(logits, dim=-1)
            rel_confidences: list[list[float]] = [[] for _ in sentences]
            for (row, head, tail), p in zip(pairs, rel_probs, strict=True):
                label = int(p.argmax())
                if label == 0 or float(p[label]) < min_confidence:
                    continue
                entities = sentences[row].entities
                rel_type = config.relation_types[label - 1]
                sentences[row].relations.append(
                    LabelledRelation(entities.index(head), entities.index(tail), rel_type)
                )
                rel_confidences[row].append(float(p[label]))
            results += [
                Prediction(s, c, r) for s, c, r in zip(sentences, confidences, rel_confidences, strict=True)
            ]
    return results


@dataclass
class Batch:
    """Padded tensors of a batch of sentences."""

    layers: torch.Tensor  # (B, words, L, dim): float16 frozen, float32 while fine-tuning
    shapes: torch.Tensor  # (B, words)
    lengths: torch.Tensor  # (B,)


def collate(encoded: list[torch.Tensor], tokens: list[list[str]]) -> Batch:
    """Pad a batch; differentiable in ``encoded``, so it serves fine-tuning as well."""
    lengths = torch.tensor([max(1, len(words)) for words in tokens])
    width = int(lengths.max())
    layers = pad_sequence([v[: len(w)] for v, w in zip(encoded, tokens, strict=True)], batch_first=True)
    layers = nn.functional.pad(layers, (0, 0, 0, 0, 0, width - layers.shape[1]))
    shapes = torch.zeros(len(tokens), width, dtype=torch.long)
    for row, words in enumerate(tokens):
        shapes[row, : len(words)] = torch.tensor([word_shape(w) for w in words], dtype=torch.long)
    return Batch(layers, shapes, lengths)
