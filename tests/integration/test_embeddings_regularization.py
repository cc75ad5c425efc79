"""Weighted N3 and embedding dropout (``embeddings/regularization.py``) as recipe options,
and TransE's L1 distance through ``torch.cdist``: real PyKEEN training on Nations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pykeen.datasets import Nations
from pykeen.nn.modules import TransEInteraction

from embeddings.artifact import TrainedModel, build_model
from embeddings.contractions import contracted
from embeddings.recipes import resolve_recipe
from embeddings.regularization import WeightedN3, cubed_moduli
from embeddings.train import train_on_splits
from embeddings.triples import TripleSplits
from kg.errors import InputError

QUICK = {"num_epochs": 8, "embedding_dim": 16, "eval_every": 4, "seed": 1}
N3 = {"regularizer": "n3", "regularizer_weight": 0.05}


@pytest.fixture(scope="module")
def nations() -> TripleSplits:
    data = Nations()

    def frame(factory) -> pd.DataFrame:
        return pd.DataFrame(factory.triples, columns=["head", "relation", "tail"])

    return TripleSplits(frame(data.training), frame(data.validation), frame(data.testing))


@pytest.mark.parametrize("name", ["distmult", "complex"])
def test_n3_is_lacroixs_weighted_penalty_over_the_batchs_triples(name: str) -> None:
    recipe = resolve_recipe(name, {"embedding_dim": 4, **N3})
    model = build_model(recipe, num_entities=6, num_relations=2, random_seed=0)
    pairs = torch.tensor([[0, 0], [3, 1], [5, 0]])
    targets = torch.zeros(3, 6)
    targets[0, [1, 2, 4]] = 1  # row 0 stands for three training triples, row 1 for one,
    targets[1, 2] = 1  # row 2 for none (it must not count)
    entities = model.entity_representations[0](indices=None).detach()
    relations = model.relation_representations[0](indices=None).detach()

    def cube(x: torch.Tensor) -> float:
        return float((x.abs() ** 3).sum())

    triples = [(0, 0, 1), (0, 0, 2), (0, 0, 4), (3, 1, 2)]
    by_hand = sum(cube(entities[h]) + cube(relations[r]) + cube(entities[t]) for h, r, t in triples)
    one_to_n = WeightedN3(0.05)(model, {"pairs": pairs, "target": targets}, 0, 3)
    assert one_to_n.item() == pytest.approx(0.05 * by_hand / len(triples), rel=1e-5)
    # an sLCWA batch of the same positive triples gets the same penalty
    slcwa = WeightedN3(0.05)(model, {"positives": torch.tensor(triples)}, 0, len(triples))
    assert slcwa.item() == pytest.approx(one_to_n.item(), rel=1e-5)
    one_to_n.backward()  # it reaches the embeddings it is about
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_complex_n3_uses_the_modulus_of_each_coordinate() -> None:
    z = torch.tensor([[3 + 4j, 0 + 1j]], dtype=torch.cfloat)
    assert cubed_moduli(z).item() == pytest.approx(5**3 + 1)


@pytest.mark.parametrize("loop", ["lcwa", "slcwa"])
def test_n3_shrinks_the_embeddings_it_trains(nations: TripleSplits, loop: str) -> None:
    def cubed(model: TrainedModel) -> float:
        """What N3 penalises: the mean cubed modulus of entity and of relation vectors."""
        entities, relations = (
            np.abs(x) ** 3 for x in (model.entity_embeddings(), model.relation_embeddings())
        )
        return float(entities.sum(axis=1).mean() + relations.sum(axis=1).mean())

    options = {**QUICK, "training_loop": loop} | (
        {"loss": "softplus", "label_smoothing": 0.0} if loop == "slcwa" else {}
    )
    plain = train_on_splits(nations, "distmult", **options)
    shrunk = train_on_splits(nations, "distmult", **options, **N3)
    assert shrunk.recipe.regularizer == "n3"
    assert cubed(shrunk) < 0.8 * cubed(plain)
    assert shrunk.metrics["mrr"] > 0.3  # still a working model, not one crushed to zero


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"regularizer": "nn3", "regularizer_weight": 0.1}, "did you mean 'n3'"),
        ({"regularizer_weight": 0}, "regularizer='n3' needs a regularizer_weight greater than 0"),
        ({"regularizer": "none", "regularizer_weight": 0.1}, "needs a regularizer (n3)"),
        ({"regularizer": "n3", "regularizer_weight": -1}, "regularizer_weight=-1 must be 0 or more"),
        ({"regularizer": 3}, "regularizer=3 must be a name"),
        ({"entity_dropout": 1.0}, "entity_dropout=1.0 must be in [0, 1)"),
        ({"relation_dropout": "lots"}, "relation_dropout='lots' must be a number"),
    ],
)
def test_bad_regularization_options_are_refused_when_the_recipe_loads(options: dict, message: str) -> None:
    with pytest.raises(InputError, match="Invalid training option") as error:
        resolve_recipe("complex", options)
    assert message in str(error.value)


@pytest.mark.parametrize("name", ["transe", "distmult", "complex"])
def test_dropout_only_while_training(name: str) -> None:
    recipe = resolve_recipe(name, {"embedding_dim": 8, "entity_dropout": 0.5, "relation_dropout": 0.5})
    model = build_model(recipe, num_entities=6, num_relations=2, random_seed=0)
    batch = torch.tensor([[0, 1], [2, 0]])
    model.train()
    assert not torch.equal(model.score_t(batch), model.score_t(batch))
    model.eval()
    first = model.score_t(batch)
    assert torch.equal(first, model.score_t(batch))
    # in eval mode the model scores exactly as one without dropout and the same weights
    same = build_model(resolve_recipe(name, {"embedding_dim": 8}), num_entities=6, num_relations=2)
    same.load_state_dict(model.state_dict())
    same.eval()
    torch.testing.assert_close(same.score_t(batch), first)


def test_a_recipe_with_n3_and_dropout_trains_saves_and_loads(nations: TripleSplits, tmp_path: Path) -> None:
    options = {**QUICK, **N3, "entity_dropout": 0.1, "relation_dropout": 0.1}
    trained = train_on_splits(nations, "complex", **options)
    assert trained.metrics["validation_mrr"] > 0.2 and trained.metrics["mrr"] > 0.2
    again = trained.score_tails(["usa", "uk"], "embassy")
    assert np.array_equal(again, trained.score_tails(["usa", "uk"], "embassy"))  # scoring is deterministic
    loaded = TrainedModel.load(trained.save(tmp_path / "run"))
    assert loaded.recipe == trained.recipe
    assert (loaded.recipe.regularizer, loaded.recipe.entity_dropout) == ("n3", 0.1)
    np.testing.assert_allclose(loaded.score_tails(["usa", "uk"], "embassy"), again, rtol=1e-5)


@pytest.mark.parametrize(
    "shapes",
    [((5, 1, 8), (5, 1, 8), (1, 7, 8)), ((1, 7, 8), (5, 1, 8), (5, 1, 8)), ((5, 1, 8), (5, 1, 8), (5, 3, 8))],
    ids=["1-N tails", "1-N heads", "own negatives"],
)
def test_transe_l1_through_cdist_gives_pykeens_scores_and_gradients(shapes) -> None:
    generator = torch.Generator().manual_seed(0)
    h, r, t = (torch.randn(*shape, generator=generator, requires_grad=True) for shape in shapes)
    original = TransEInteraction(p=1)
    ours, theirs = contracted(original)(h, r, t), original(h, r, t)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    for mine, reference in zip(
        torch.autograd.grad(ours.sum(), (h, r, t)), torch.autograd.grad(theirs.sum(), (h, r, t)), strict=True
    ):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)
