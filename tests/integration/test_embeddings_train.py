"""Real PyKEEN training through ``train_model`` on PyKEEN's bundled Nations graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pykeen.datasets import Nations

from embeddings.artifact import TrainedModel
from embeddings.recipes import model_names, resolve_recipe
from embeddings.text import encode_texts
from embeddings.train import train_model, train_on_splits
from embeddings.triples import split_triples
from kg.errors import InputError, NotFoundError

QUICK = {"num_epochs": 6, "embedding_dim": 16, "eval_every": 3}


@pytest.fixture(scope="module")
def nations() -> pd.DataFrame:
    data = Nations()
    parts = [data.training, data.validation, data.testing]
    return pd.concat(
        [pd.DataFrame(p.triples, columns=["head", "relation", "tail"]) for p in parts], ignore_index=True
    )


@pytest.fixture(scope="module")
def trained(nations: pd.DataFrame) -> dict[str, TrainedModel]:
    return {name: train_model(nations, name, seed=1, **QUICK) for name in model_names()}


def clustered_graph(seed: int = 0) -> tuple[pd.DataFrame, dict[str, int]]:
    """Users like most items of their own taste group and none of the others; items
    name their group. A model that learns anything ranks a user's unseen in-group items
    above the other groups' items."""
    rng = np.random.default_rng(seed)
    group = {f"User:{u}": u % 3 for u in range(30)} | {f"Item:{i}": i % 3 for i in range(30)}
    rows = [(f"Item:{i}", "IN_GROUP", f"Group:{i % 3}") for i in range(30)]
    for u in range(30):
        own = [i for i in range(30) if i % 3 == u % 3]
        rows += [(f"User:{u}", "LIKES", f"Item:{i}") for i in rng.choice(own, size=7, replace=False)]
    return pd.DataFrame(rows, columns=["head", "relation", "tail"]), group


@pytest.mark.parametrize("name", ["transe", "distmult", "complex"])
def test_training_learns_the_structure_of_a_graph(name: str) -> None:
    triples, group = clustered_graph()
    model = train_model(triples, name, seed=3, num_epochs=30, embedding_dim=16, eval_every=10, lr=0.05)
    liked = set(zip(triples["head"], triples["tail"], strict=True))
    users = [e for e in model.entities if e.startswith("User:")]
    items = [e for e in model.entities if e.startswith("Item:")]
    scores = model.score_tails(users, "LIKES", items)
    wins = []
    for row, user in enumerate(users):
        own = [j for j, i in enumerate(items) if group[i] == group[user] and (user, i) not in liked]
        other = [j for j, i in enumerate(items) if group[i] != group[user]]
        wins.append(np.mean(scores[row, own][:, None] > scores[row, other][None, :]))
    assert np.mean(wins) > 0.8  # AUC of unseen in-group items against other groups' items


@pytest.mark.parametrize("name", ["transe", "distmult", "complex"])
def test_a_trained_model_scores_ranks_and_embeds(
    trained: dict[str, TrainedModel], nations: pd.DataFrame, name: str
) -> None:
    model = trained[name]
    n = len(model.entities)
    assert n == len(set(nations["head"]) | set(nations["tail"]))
    for key in ("mrr", "hits_at_1", "hits_at_3", "hits_at_10"):
        assert 0.0 <= model.metrics[key] <= 1.0
    assert model.metrics["hits_at_1"] <= model.metrics["hits_at_3"] <= model.metrics["hits_at_10"]
    assert model.metrics["epochs"] >= 3 and model.metrics["test_triples"] > 0
    scores = model.score_tails(["usa", "china"], "embassy")
    assert scores.shape == (2, n) and scores.dtype == np.float32
    assert model.score_tails(["usa"], "embassy", ["uk", "china", "cuba"]).shape == (1, 3)
    assert model.score_heads("embassy", ["usa"], ["uk", "china"]).shape == (1, 2)
    width = 2 * 16 if name == "complex" else 16
    assert model.entity_embeddings().shape == (n, width)
    assert model.entity_embeddings(["usa"]).shape == (1, width)


def test_unknown_entities_relations_and_options_are_clear_errors(trained: dict[str, TrainedModel]) -> None:
    model = trained["distmult"]
    with pytest.raises(NotFoundError, match="Label:id"):
        model.score_tails(["atlantis"], "embassy")
    with pytest.raises(NotFoundError, match="known"):
        model.score_tails(["usa"], "not_a_relation")
    with pytest.raises(InputError, match="Unknown training option"):
        resolve_recipe("transe", {"epochz": 3})
    with pytest.raises(InputError, match="Unknown model"):
        resolve_recipe("rotate")
    with pytest.raises(InputError, match="text"):
        model.embed_text(np.zeros((1, 384), dtype=np.float32))


def test_training_is_reproducible_for_a_seed(nations: pd.DataFrame, trained: dict[str, TrainedModel]) -> None:
    again = train_model(nations, "distmult", seed=1, **QUICK)
    assert np.array_equal(again.entity_embeddings(), trained["distmult"].entity_embeddings())
    other = train_model(nations, "distmult", seed=2, **QUICK)
    assert not np.allclose(other.entity_embeddings(), trained["distmult"].entity_embeddings())


def test_save_and_load_give_the_same_scores(trained: dict[str, TrainedModel], tmp_path: Path) -> None:
    for name, model in trained.items():
        model.save(tmp_path / name)
        loaded = TrainedModel.load(tmp_path / name)
        assert loaded.model_name == name and loaded.entities == model.entities
        assert loaded.metrics == model.metrics
        assert np.allclose(
            loaded.score_tails(["usa", "uk"], "embassy"), model.score_tails(["usa", "uk"], "embassy")
        )
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert set(manifest["files"]) >= {"model.pt", "entities.json", "relations.json", "metrics.json"}


def test_resume_continues_an_interrupted_run_exactly(nations: pd.DataFrame, tmp_path: Path) -> None:
    splits = split_triples(nations, seed=1)
    options = {"embedding_dim": 16, "eval_every": 2, "seed": 1}
    checkpoint = tmp_path / "run.pt"
    train_on_splits(splits, "transe", num_epochs=2, checkpoint=checkpoint, **options)  # "interrupted" after 2
    assert checkpoint.is_file()
    resumed = train_on_splits(splits, "transe", num_epochs=4, checkpoint=checkpoint, **options)
    straight = train_on_splits(splits, "transe", num_epochs=4, **options)
    assert resumed.metrics["epochs"] == 4
    assert np.allclose(resumed.entity_embeddings(), straight.entity_embeddings(), atol=1e-6)


def test_early_stopping_ends_on_a_plateau_and_keeps_the_best_weights(nations: pd.DataFrame) -> None:
    splits = split_triples(nations, seed=1)
    # evaluate every epoch, stop at the first evaluation that is not 50% better than the best
    options = {"embedding_dim": 16, "eval_every": 1, "patience": 1, "min_delta": 0.5, "seed": 1}
    stopped = train_on_splits(splits, "distmult", num_epochs=100, **options)
    epochs, best = stopped.metrics["epochs"], stopped.metrics["best_epoch"]
    assert best < epochs < 100
    # the weights kept are those of the best epoch, not of the last one trained
    up_to_best = train_on_splits(splits, "distmult", num_epochs=best, **options)
    assert np.allclose(stopped.entity_embeddings(), up_to_best.entity_embeddings(), atol=1e-6)


def test_text_features_make_unseen_entities_scorable(nations: pd.DataFrame, tmp_path: Path) -> None:
    entities = sorted(set(nations["head"]) | set(nations["tail"]))
    vectors = encode_texts([f"the country {e}" for e in entities])
    features = dict(zip(entities, vectors, strict=True))
    model = train_model(nations, "complex", text_features=features, seed=1, **QUICK)
    assert model.text_aware
    new = encode_texts(["the country atlantis"])
    from_text = model.embed_text(new)
    assert model.add_entities(["atlantis", "usa"], np.vstack([new, new])) == ["atlantis"]
    assert np.allclose(model.entity_embeddings(["atlantis"]), from_text, atol=1e-5)
    assert model.score_tails(["atlantis"], "embassy").shape == (1, len(entities) + 1)
    model.save(tmp_path / "text")
    loaded = TrainedModel.load(tmp_path / "text")
    assert loaded.text_aware and "atlantis" in loaded.entity_to_id
    assert np.allclose(
        loaded.score_tails(["atlantis"], "embassy"), model.score_tails(["atlantis"], "embassy"), atol=1e-5
    )


def test_too_few_triples_are_refused() -> None:
    with pytest.raises(InputError, match="too few"):
        train_model(pd.DataFrame({"head": ["a"], "relation": ["r"], "tail": ["b"]}))
    with pytest.raises(InputError, match="columns"):
        train_model(pd.DataFrame({"h": ["a"] * 20}))
