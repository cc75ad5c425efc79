"""Ranking metrics on hand-computed cases, the per-user split, and learned fusion weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from kg.recommend.fusion import WEIGHT_STEPS, fuse, learn_weights, standardize
from kg.recommend.ranking_metrics import ndcg_at_k, ranking_metrics, top_k
from kg.recommend.split import split_per_user


def _relevant(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


def test_metrics_match_hand_computation() -> None:
    # user 0: hits at ranks 1 and 3 of 3, relevant {0, 2, 5}; user 1: no hit, relevant {4}
    recommended = np.array([[0, 1, 2], [0, 1, 2]])
    relevant = _relevant([[0, 2, 5], [4]], n_items=6)
    popularity = np.array([3, 1, 0, 0, 0, 0])  # training interactions per item, 3 users
    m = ranking_metrics(recommended, relevant, n_items=6, train_popularity=popularity, n_train_users=3)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.precision == pytest.approx((2 / 3 + 0) / 2)
    assert m.recall == pytest.approx((2 / 3 + 0) / 2)
    assert m.ndcg == pytest.approx((dcg / idcg + 0) / 2)
    assert m.map == pytest.approx(((1 / 1 + 2 / 3) / 3 + 0) / 2)
    assert m.hit_rate == pytest.approx(0.5)
    assert m.coverage == pytest.approx(3 / 6)
    novelty = -np.mean(np.log2((np.array([3, 1, 0, 3, 1, 0]) + 1) / 4))
    assert m.novelty == pytest.approx(novelty)
    assert m.users == 2


def test_metrics_skip_users_without_held_out_items_and_ideal_dcg_caps_at_k() -> None:
    recommended = np.array([[1, 0], [0, 1]])
    relevant = _relevant([[0, 1, 2, 3], []], n_items=4)
    m = ranking_metrics(recommended, relevant, n_items=4, train_popularity=np.zeros(4), n_train_users=2)
    assert m.users == 1
    assert m.ndcg == pytest.approx(1.0)  # two hits in two slots is ideal at K=2
    assert m.map == pytest.approx(1.0)
    assert m.recall == pytest.approx(0.5)


def test_top_k_orders_best_first_and_never_returns_excluded_items() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0]]))
    assert top_k(scores, 2, exclude).tolist() == [[3, 2], [1, 2]]


def test_split_holds_out_a_quarter_per_user_reproducibly() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((50, 40)) < 0.3).astype(np.float32)
    dense[0] = 0
    dense[0, 5] = 1  # a user with one interaction keeps it for training
    matrix = sp.csr_matrix(dense)
    split = split_per_user(matrix, 0.25, seed=7)
    again = split_per_user(matrix, 0.25, seed=7)
    other = split_per_user(matrix, 0.25, seed=8)
    assert (split.train + split.held_out != matrix).nnz == 0
    assert split.train.multiply(split.held_out).nnz == 0
    counts = np.diff(matrix.indptr)
    held = np.diff(split.held_out.indptr)
    expected = np.where(counts >= 2, np.clip(np.round(counts * 0.25), 1, counts - 1), 0)
    assert held.tolist() == expected.tolist()
    assert split.held_out[0].nnz == 0 and split.train[0, 5] == 1
    assert (again.held_out != split.held_out).nnz == 0
    assert (other.held_out != split.held_out).nnz > 0


def test_fusion_learns_to_weight_the_informative_signal() -> None:
    rng = np.random.default_rng(1)
    n_users, n_items = 60, 50
    relevant = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    informative = relevant.toarray() + rng.normal(0, 0.6, (n_users, n_items))
    noise = rng.normal(0, 1, (n_users, n_items))
    signals = {"noise": standardize(noise), "informative": standardize(informative)}
    empty = sp.csr_matrix((n_users, n_items))
    weights, quality = learn_weights(signals, empty, relevant, k=5)
    assert weights["informative"] == 1.0
    assert weights["noise"] < 0.5
    alone, _ = learn_weights({"noise": signals["noise"]}, empty, relevant, k=5)
    assert quality > 0.5 and alone == {"noise": 1.0}


def test_standardize_leaves_signals_without_information_at_zero() -> None:
    scores = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    z = standardize(scores)
    assert np.all(z[0] == 0)
    assert z[1].mean() == pytest.approx(0, abs=1e-6) and z[1].std() == pytest.approx(1, abs=1e-5)


def test_learned_weights_are_a_coordinate_optimum_around_a_fixed_anchor() -> None:
    """No single weight can move to another step and rank the held-out items better (all
    weights free, they used to drift to the top step together and stop short of that)."""
    rng = np.random.default_rng(2)
    n_users, n_items = 80, 60
    truth = rng.random((n_users, n_items)) < 0.08
    relevant = sp.csr_matrix(truth.astype(np.float32))
    signals = {
        f"s{i}": standardize(truth + rng.normal(0, noise, (n_users, n_items)))
        for i, noise in enumerate((0.5, 0.8, 1.2, 2.0))
    }
    empty = sp.csr_matrix((n_users, n_items))
    weights, quality = learn_weights(signals, empty, relevant, k=5)
    assert weights["s0"] == 1.0  # the best single signal anchors the scale
    for name in ("s1", "s2", "s3"):
        assert weights[name] in WEIGHT_STEPS
        for step in WEIGHT_STEPS:
            moved = fuse(signals, {**weights, name: step})
            assert ndcg_at_k(top_k(moved, 5), relevant) <= quality + 1e-6


def test_a_user_with_two_interactions_holds_one_out() -> None:
    """A quarter of two rounds to nothing; a shop where everyone bought two things used to
    have no user to tune or evaluate on."""
    matrix = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    split = split_per_user(matrix, 0.25, seed=3)
    assert np.diff(split.held_out.indptr).tolist() == [1, 1, 0]
    assert np.diff(split.train.indptr).tolist() == [1, 1, 1]


def test_metrics_of_no_users_are_nan_not_a_crash() -> None:
    """Tuning on a validation split with no held-out user crashed with "cannot reshape
    array of size 1 into shape (0,10)"."""
    nobody = np.zeros((0, 10), dtype=np.int64)
    relevant = sp.csr_matrix((0, 30), dtype=np.float32)
    assert math.isnan(ndcg_at_k(nobody, relevant))
    m = ranking_metrics(nobody, relevant, n_items=30, train_popularity=np.zeros(30), n_train_users=0)
    assert m.users == 0 and math.isnan(m.precision) and m.coverage == 0.0
    assert top_k(np.zeros((0, 30)), 10).shape == (0, 10)
