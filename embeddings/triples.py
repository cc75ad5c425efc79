"""From the graph store to training triples: export, fingerprint, splits, holdout.

Everything here is deterministic: triples are sorted, ids follow sorted labels, and every
random choice takes a seed, so the same graph and seed give the same model inputs in the
embedded store and in Neo4j.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from kg.errors import InputError
from kg.progress import ProgressReporter, SilentProgress
from kg.store import GraphStore

COLUMNS = ["head", "relation", "tail"]
# Relationship types written by models (recommendations, segments) or that hold
# unconfirmed candidates (entity-resolution SAME_AS): training on them would feed a model
# its own output or guesses. Marketing records (messages, campaign audiences and
# outcomes) reach training as the interactions `kg campaign report --feedback` writes.
DERIVED_RELATIONS = frozenset(
    {
        "RECOMMENDED",
        "IN_SEGMENT",
        "SAME_AS",
        "FOR",
        "PROMOTES",
        "TARGETS",
        "IMPRESSED",
        "CLICKED",
        "CONVERTED",
    }
)


@dataclass(frozen=True)
class TripleSplits:
    """Train / validation / test triples (each a ``head, relation, tail`` DataFrame)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def training_relations(store: GraphStore, relations: Iterable[str] | None = None) -> list[str]:
    """The relation types to train on: the configured ones, else every declared type
    except those that models write."""
    if relations is not None:
        chosen = sorted(set(relations))
        for name in chosen:
            store.schema.rel(name)
        return chosen
    return sorted(set(store.schema.rels) - DERIVED_RELATIONS)


def export_triples(
    store: GraphStore, relations: Iterable[str] | None = None, *, progress: ProgressReporter | None = None
) -> pd.DataFrame:
    """All ``head, relation, tail`` triples of the chosen types, sorted and de-duplicated."""
    progress = progress or SilentProgress()
    chosen = training_relations(store, relations)
    counts = store.counts().relationships
    with progress.task("Exporting triples", total=sum(counts.get(r, 0) for r in chosen) or None):
        frames = []
        for batch in store.iter_triples(chosen):
            frames.append(batch)
            progress.advance(len(batch))
    if not frames:
        raise InputError(
            f"The graph has no {', '.join(chosen)} relationships to train on; load data with `kg ingest` "
            "or `kg demo` first, or change [embeddings] relations."
        )
    triples = pd.concat(frames, ignore_index=True)[COLUMNS].astype(str)
    return sort_triples(triples.drop_duplicates())


def sort_triples(triples: pd.DataFrame) -> pd.DataFrame:
    return triples.sort_values(["relation", "head", "tail"], kind="stable").reset_index(drop=True)


def triples_fingerprint(triples: pd.DataFrame) -> str:
    """SHA-256 of the sorted triples: equal exactly when two snapshots hold the same facts."""
    ordered = sort_triples(triples[COLUMNS].drop_duplicates())
    digest = hashlib.sha256()
    for start in range(0, len(ordered), 200_000):
        chunk = ordered.iloc[start : start + 200_000]
        digest.update(
            ("\n".join(chunk["head"] + "\t" + chunk["relation"] + "\t" + chunk["tail"]) + "\n").encode()
        )
    return digest.hexdigest()


def split_triples(
    triples: pd.DataFrame, ratios: Sequence[float] = (0.8, 0.1, 0.1), *, seed: int = 42
) -> TripleSplits:
    """Stratified split: each relation type is split with the same ratios, then any
    validation/test triple whose head or tail would be unseen in training moves back
    to training, so every entity is in training (at the cost of exact ratios)."""
    train_ratio, valid_ratio, _ = _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    parts = np.empty(len(triples), dtype=np.int8)
    for _, index in sorted(triples.groupby("relation", sort=True).indices.items()):
        shuffled = rng.permutation(index)
        n_train = round(len(index) * train_ratio)
        n_valid = round(len(index) * valid_ratio)
        parts[shuffled[:n_train]] = 0
        parts[shuffled[n_train : n_train + n_valid]] = 1
        parts[shuffled[n_train + n_valid :]] = 2
    in_train = parts == 0
    seen = set(triples["head"][in_train]) | set(triples["tail"][in_train])
    # Walk held-out triples in a seeded order; each one that brings an unseen entity
    # goes to training, which may make later ones covered.
    for row in rng.permutation(np.flatnonzero(~in_train)):
        head, tail = triples["head"].iat[row], triples["tail"].iat[row]
        if head not in seen or tail not in seen:
            parts[row] = 0
            seen.update((head, tail))
    return TripleSplits(
        train=triples[parts == 0].reset_index(drop=True),
        validation=triples[parts == 1].reset_index(drop=True),
        test=triples[parts == 2].reset_index(drop=True),
    )


def check_holdout_mode(mode: str) -> None:
    """Refuse a holdout mode other than ``leave-one-out`` and ``ratio`` (before any work)."""
    if mode not in ("leave-one-out", "ratio"):
        raise InputError(f"Holdout mode {mode!r} must be 'leave-one-out' or 'ratio'.")


def holdout_interactions(
    triples: pd.DataFrame,
    relation: str,
    *,
    mode: Literal["leave-one-out", "ratio"] = "leave-one-out",
    ratio: float = 0.2,
    seed: int = 42,
    min_interactions: int = 2,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out user-item triples for recommendation evaluation: one per user
    (``leave-one-out``) or a share per user (``ratio``). Users with fewer than
    ``min_interactions`` keep all theirs, and an item is never held out entirely, so
    every entity stays in the remaining triples. Returns ``(remaining, held_out)``."""
    check_holdout_mode(mode)
    if not 0 < ratio < 1:
        raise InputError(f"Holdout ratio {ratio} must be between 0 and 1.")
    rng = np.random.default_rng(seed)
    interactions = triples[triples["relation"] == relation]
    if interactions.empty:
        raise InputError(
            f"No {relation} triples to hold out; relations present: {sorted(triples['relation'].unique())}."
        )
    item_left = interactions["tail"].value_counts().to_dict()
    held: list[int] = []
    for _, index in sorted(interactions.groupby("head", sort=True).indices.items()):
        if len(index) < min_interactions:
            continue
        rows = interactions.index.to_numpy()[rng.permutation(index)]
        wanted = 1 if mode == "leave-one-out" else max(1, round(len(rows) * ratio))
        taken = 0
        for row in rows:
            if taken == wanted or taken == len(rows) - 1:
                break
            item = triples.at[row, "tail"]
            if item_left[item] > 1:
                item_left[item] -= 1
                held.append(row)
                taken += 1
    held_mask = triples.index.isin(held)
    return triples[~held_mask].reset_index(drop=True), triples[held_mask].reset_index(drop=True)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(r) for r in ratios)
    if len(values) == 2:
        values = (values[0], values[1], 1.0 - values[0] - values[1])
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1.0) > 1e-6 or values[0] <= 0:
        raise InputError(
            f"Split ratios {list(ratios)} must be three non-negative numbers summing to 1 (train first)."
        )
    return values  # type: ignore[return-value]
