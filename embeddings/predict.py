"""``kg predict``: the most plausible missing links around one entity.

``predict_links(model, store, head="User:1", relation="RATED")`` ranks tails;
``tail=...`` with ``head=None`` ranks heads. Candidates are the entities whose label the
schema allows at that end of the relation (so ``User:1 RATED`` returns items), and links
already in the graph are excluded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embeddings.artifact import TrainedModel
from embeddings.enrich import NAME_PROPERTIES
from kg.errors import InputError, NotFoundError
from kg.store import GraphStore


def predict_links(
    trained: TrainedModel,
    store: GraphStore,
    *,
    relation: str,
    head: str | None = None,
    tail: str | None = None,
    k: int = 10,
) -> pd.DataFrame:
    """Top-``k`` new links ``(head, relation, ?)`` or ``(?, relation, tail)`` with scores."""
    if (head is None) == (tail is None):
        raise InputError("Give exactly one of head and tail; the other end is what gets predicted.")
    if k < 1:
        raise InputError("k must be at least 1.")
    predict_tail = head is not None
    anchor_labels = (
        {pair[0] if predict_tail else pair[1] for pair in store.schema.rel(relation).endpoints}
        if relation in store.schema.rels
        else None
    )
    anchor = resolve_entity(trained, head if head is not None else tail, anchor_labels)  # type: ignore[arg-type]
    candidates = _candidates(trained, store, relation, tail_side=predict_tail)
    known = _known_partners(store, relation, anchor, tail_side=predict_tail)
    candidates = [c for c in candidates if c not in known and c != anchor]
    if not candidates:
        return pd.DataFrame(columns=["rank", "head", "relation", "tail", "score", "name"])
    if predict_tail:
        scores = trained.score_tails([anchor], relation, candidates)[0]
    else:
        scores = trained.score_heads(relation, [anchor], candidates)[0]
    top = np.argsort(-scores, kind="stable")[:k]
    chosen = [candidates[i] for i in top]
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "head": [anchor] * len(top) if predict_tail else chosen,
            "relation": relation,
            "tail": chosen if predict_tail else [anchor] * len(top),
            "score": scores[top].astype(float),
        }
    )
    names = entity_names(store, chosen)
    frame["name"] = [names.get(e, "") for e in chosen]
    return frame


def resolve_entity(trained: TrainedModel, name: str, labels: set[str] | None = None) -> str:
    """``Label:id`` as given, or a bare id when exactly one label has it (``U00001``).

    ``labels``: the labels the relation allows at this end; a bare id that several labels
    share is taken from those (``kg predict 1 RATED`` means ``User:1``, not ``Item:1``)."""
    if name in trained.entity_to_id or ":" in name:
        return name
    matches = [e for e in trained.entities if e.partition(":")[2] == name]
    if len(matches) > 1 and labels:
        matches = [e for e in matches if e.partition(":")[0] in labels] or matches
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"{name!r} is ambiguous: {', '.join(matches[:5])}; write it as Label:id.")
    raise NotFoundError(f"No entity with id {name!r} in model {trained.run_id}; write entities as Label:id.")


def _candidates(trained: TrainedModel, store: GraphStore, relation: str, *, tail_side: bool) -> list[str]:
    """Model entities with a label allowed at the predicted end of ``relation``."""
    trained.relation_id(relation)
    if relation in store.schema.rels:
        allowed = {pair[1] if tail_side else pair[0] for pair in store.schema.rel(relation).endpoints}
        return [e for e in trained.entities if e.partition(":")[0] in allowed]
    return list(trained.entities)


def _known_partners(store: GraphStore, relation: str, anchor: str, *, tail_side: bool) -> set[str]:
    if relation not in store.schema.rels:
        return set()
    known: set[str] = set()
    for batch in store.iter_triples([relation]):
        if tail_side:
            known.update(batch.loc[batch["head"] == anchor, "tail"])
        else:
            known.update(batch.loc[batch["tail"] == anchor, "head"])
    return known


def entity_names(store: GraphStore, entities: list[str]) -> dict[str, str]:
    """Display names (``name`` or ``title``) of ``Label:id`` entities, looked up by id."""
    by_label: dict[str, list[str]] = {}
    for entity in entities:
        label, _, key = entity.partition(":")
        by_label.setdefault(label, []).append(key)
    names: dict[str, str] = {}
    for label, keys in by_label.items():
        if label not in store.schema.nodes:
            continue
        node = store.schema.node(label)
        prop = next((p for p in NAME_PROPERTIES if p in node.properties), None)
        if prop is None:
            continue
        frame = store.query(
            f"MATCH (n:`{label}`) WHERE n.`{node.key}` IN $ids RETURN n.`{node.key}` AS id, n.`{prop}` AS name",
            {"ids": keys},
        )
        names.update(
            {f"{label}:{i}": str(n) for i, n in zip(frame["id"], frame["name"], strict=True) if pd.notna(n)}
        )
    return names
