"""Filtered evaluation over only the known triples that can filter: same ranks as PyKEEN."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from pykeen.datasets import Nations
from pykeen.evaluation import RankBasedEvaluator

from embeddings.link_metrics import FocusedFilterEvaluator, relevant_filter_triples
from embeddings.train import train_on_splits
from embeddings.triples import TripleSplits


def test_only_triples_sharing_head_relation_or_relation_tail_are_kept() -> None:
    evaluated = torch.tensor([[0, 0, 1]])
    known = torch.tensor(
        [
            [0, 0, 2],  # same (head, relation): filters tail ranking
            [3, 0, 1],  # same (relation, tail): filters head ranking
            [0, 1, 2],  # same head, other relation
            [1, 0, 0],  # head 1 is not evaluated; tail 0 is not either
            [2, 1, 1],  # same tail, other relation
        ]
    )
    kept = relevant_filter_triples(evaluated, [known[:2], known[2:]])
    assert kept.tolist() == [[0, 0, 2], [3, 0, 1]]
    assert relevant_filter_triples(evaluated[:0], known).shape == (0, 3)


def frame(factory) -> pd.DataFrame:
    return pd.DataFrame(factory.triples, columns=["head", "relation", "tail"])


@pytest.mark.parametrize("loop", ["lcwa", "slcwa"])
def test_focused_filter_gives_pykeen_filtered_metrics(loop: str) -> None:
    data = Nations()
    splits = TripleSplits(frame(data.training), frame(data.validation), frame(data.testing))
    trained = train_on_splits(
        splits, "transe", seed=1, num_epochs=2, embedding_dim=16, training_loop=loop, num_negs_per_pos=4
    )
    model = trained.model
    test = data.testing.mapped_triples
    known = [data.training.mapped_triples, data.validation.mapped_triples]
    # the datasets' ids follow sorted labels, as the trained model's do
    assert trained.entity_to_id == data.training.entity_to_id
    plain = RankBasedEvaluator(filtered=True).evaluate(
        model, test, additional_filter_triples=known, batch_size=64, use_tqdm=False
    )
    focused = FocusedFilterEvaluator(filtered=True).evaluate(
        model, test, additional_filter_triples=known, batch_size=64, use_tqdm=False
    )
    assert focused.to_flat_dict() == pytest.approx(plain.to_flat_dict())
    metric = "both.realistic.inverse_harmonic_mean_rank"
    assert trained.metrics["mrr"] == pytest.approx(focused.get_metric(metric), abs=1e-5)
