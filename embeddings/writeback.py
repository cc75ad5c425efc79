"""Write entity embeddings onto nodes as float-list (DOUBLE[]) properties.

``embedding_<model>`` (e.g. ``embedding_transe``) holds the vector and
``embedding_<model>_run`` the run that produced it, so a Neo4j user can build a vector
index on the property and tell which model filled it. With a text-aware model, nodes the
model has not seen (added after training) but that have a ``text_embedding`` get a
vector from their text alone, in the same space.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from embeddings.artifact import TrainedModel
from embeddings.text import node_text_embeddings
from kg.progress import ProgressReporter, SilentProgress
from kg.store import GraphStore

WRITE_BATCH = 5_000


def embedding_property(trained: TrainedModel) -> str:
    return f"embedding_{trained.model_name}"


def write_entity_embeddings(
    store: GraphStore, trained: TrainedModel, *, progress: ProgressReporter | None = None
) -> dict[str, int]:
    """Write every entity's vector to its node; returns nodes written per label
    (``<label> (from text)`` for nodes embedded from text alone)."""
    progress = progress or SilentProgress()
    prop = embedding_property(trained)
    by_label: dict[str, list[str]] = defaultdict(list)
    for entity in trained.entities:
        label, _, key = entity.partition(":")
        if label in store.schema.nodes:
            by_label[label].append(key)
    written: dict[str, int] = {}
    with progress.task(f"Writing {prop}", total=sum(len(v) for v in by_label.values())):
        for label, keys in sorted(by_label.items()):
            vectors = trained.entity_embeddings([f"{label}:{k}" for k in keys])
            written[label] = _write(store, label, keys, vectors, prop, trained.run_id, progress)
    if trained.text_aware:
        for label, count in write_text_only_embeddings(store, trained).items():
            written[f"{label} (from text)"] = count
    return written


def write_text_only_embeddings(store: GraphStore, trained: TrainedModel) -> dict[str, int]:
    """Vectors for nodes the model never saw, from their stored text embedding."""
    written: dict[str, int] = {}
    for label in sorted(store.schema.nodes):
        texts = {e: v for e, v in node_text_embeddings(store, label).items() if e not in trained.entity_to_id}
        if not texts:
            continue
        vectors = trained.embed_text(np.vstack(list(texts.values())))
        keys = [e.partition(":")[2] for e in texts]
        written[label] = _write(
            store, label, keys, vectors, embedding_property(trained), trained.run_id, None
        )
    return written


def _write(
    store: GraphStore,
    label: str,
    keys: list[str],
    vectors: np.ndarray,
    prop: str,
    run_id: str,
    progress: ProgressReporter | None,
) -> int:
    count = 0
    for start in range(0, len(keys), WRITE_BATCH):
        rows = pd.DataFrame(
            {
                "id": keys[start : start + WRITE_BATCH],
                prop: [v.astype(float).tolist() for v in vectors[start : start + WRITE_BATCH]],
                f"{prop}_run": run_id,
            }
        )
        count += store.set_node_properties(label, rows)
        if progress is not None:
            progress.advance(len(rows))
    return count
