"""Sentiment-aware interactions: strength from rating, review sentiment and recency, set
in the config; a low rating or a clearly negative review is a dislike, not a positive,
and lowers the score of items like it for that user. Real embedded store, real VADER."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg.config import RecommendSettings, load_settings
from kg.errors import ConfigError
from kg.recommend.interactions import export_interactions
from kg.recommend.model import Recommender, fit_recommender
from kg.recommend.signals.base import ScorerContext
from kg.recommend.strength import Opinions, disliked, strengths
from kg.recommend.tuning import hits
from kg.store import GraphStore, open_store
from kg.understand.reviews import score_reviews
from kg.understand.sentiment import LexiconModel

DAY = 86_400
REVIEWS = {
    "negative": "Terrible. It broke after one day and the quality is awful; I hate it.",
    "positive": "Love it! Excellent quality, works perfectly, a wonderful buy.",
}
SIGNALS = ["item_knn", "dislikes", "popularity"]


# ---------------------------------------------------------------------- the formula
def test_strength_follows_rating_sentiment_and_age() -> None:
    config = RecommendSettings().strength.model_copy(update={"recency_weight": 0.5, "half_life_days": 10.0})
    opinions = Opinions(
        rating=np.array([5.0, 3.0, 1.0, np.nan, np.nan, np.nan]),
        sentiment=np.array([np.nan, 0.8, np.nan, -0.9, np.nan, np.nan]),
    )
    now = 1_000 * DAY
    times = np.array([now, now, now, now, now - 10 * DAY, 0.0])
    values = strengths(opinions, times, config)
    # 5 stars: 1 + 0.5; 3 stars and a +0.8 review: 1 + 0 + 0.4; 1 star: 1 - 0.5; a -0.9 review: 1 - 0.45
    np.testing.assert_allclose(values[:4], [1.5, 1.4, 0.5, 0.55])
    assert values[4] == pytest.approx(0.75)  # one half-life old: half of the fading half is gone
    assert values[5] == 1.0  # no time: it does not fade
    assert list(disliked(opinions, config)) == [False, False, True, True, False, False]


def test_binary_weighting_and_kept_dislikes(tmp_path: Path) -> None:
    with open_store(load_settings(store=str(tmp_path / "g"))) as store:
        _small_shop(store, opinion="rating", negative=True)
        strong = export_interactions(store, RecommendSettings())
        binary = export_interactions(
            store, RecommendSettings(strength={"weighting": "binary", "negatives": False})
        )
        kept = export_interactions(store, RecommendSettings(strength={"negatives": False}))
    target, a = strong.user_index("T"), strong.item_index("A")
    assert strong.seen[target, a] == 1 and strong.matrix[target, a] == 0 and strong.negatives[target, a] == 1
    assert binary.matrix[target, a] == 1 and not binary.negatives.nnz
    assert set(np.unique(binary.matrix.data)) == {1.0}
    assert kept.matrix[target, a] == pytest.approx(0.5) and not kept.negatives.nnz  # a weak positive
    # The split and the "liked" hits see the dislike, whatever the weighting.
    assert strong.seen.nnz == binary.seen.nnz == kept.seen.nnz
    assert (
        hits(strong.seen, strong, "liked")[target, a] == 0
        and hits(strong.seen, strong, "all")[target, a] == 1
    )


# ---------------------------------------------------------------------- the recommender
def _small_shop(store: GraphStore, *, opinion: str, negative: bool) -> None:
    """Twelve users who bought A with B, six who bought C with D, and T, who bought A and
    C and said what they thought of A: a review (scored by VADER) or a rating."""
    items = [*"ABCDEFGH"]
    users = [f"U{i:02d}" for i in range(18)] + ["T"]
    store.upsert_nodes("Item", pd.DataFrame({"id": items, "name": [f"Item {i}" for i in items]}))
    store.upsert_nodes("User", pd.DataFrame({"id": users}))
    bought = [(f"U{i:02d}", item) for i in range(12) for item in ("A", "B", items[2 + i % 6])]
    bought += [(f"U{i:02d}", item) for i in range(12, 18) for item in ("C", "D", "E")]
    bought += [("T", "A"), ("T", "C")]
    store.upsert_relationships(
        "PURCHASED",
        "User",
        "Item",
        pd.DataFrame(
            {
                "from_id": [u for u, _ in bought],
                "to_id": [i for _, i in bought],
                "count": 1,
                "timestamp": [1_700_000_000 + n * DAY for n in range(len(bought))],
            }
        ),
    )
    if opinion == "rating":
        rating = 1.0 if negative else 5.0
        store.upsert_relationships(
            "RATED", "User", "Item", pd.DataFrame({"from_id": ["T"], "to_id": ["A"], "rating": [rating]})
        )
        return
    text = REVIEWS["negative" if negative else "positive"]
    store.upsert_nodes("Document", pd.DataFrame({"id": ["review-T-A"], "text": [text]}))
    store.upsert_relationships(
        "WROTE", "User", "Document", pd.DataFrame({"from_id": ["T"], "to_id": ["review-T-A"]})
    )
    store.upsert_relationships(
        "REVIEWS", "Document", "Item", pd.DataFrame({"from_id": ["review-T-A"], "to_id": ["A"]})
    )
    score_reviews(store, LexiconModel())


def _fitted(tmp_path: Path, opinion: str, negative: bool) -> Recommender:
    settings = load_settings(
        store=str(tmp_path / f"{opinion}-{negative}"), recommend=RecommendSettings(signals=SIGNALS)
    )
    with open_store(settings) as store:
        _small_shop(store, opinion=opinion, negative=negative)
        graph = export_interactions(store, settings.recommend)
    return fit_recommender(graph, settings.recommend, ScorerContext.from_settings(settings))


def _score(recommender: Recommender, user: str, item: str) -> float:
    graph = recommender.graph
    row = np.array([graph.user_index(user)])
    total, _, _ = recommender.fused_scores(row, graph.matrix[row])
    return float(total[0, graph.item_index(item)])


@pytest.mark.parametrize("opinion", ["review", "rating"])
def test_a_negative_opinion_lowers_similar_items_for_that_user(tmp_path: Path, opinion: str) -> None:
    liked, disliked_a = _fitted(tmp_path, opinion, False), _fitted(tmp_path, opinion, True)
    if opinion == "review":
        assert liked.graph.disliked is None and disliked_a.graph.disliked.nnz == 1  # VADER's verdicts
    # B is what A's buyers bought with it: first for T while T likes A, lower once T dislikes A.
    assert liked.recommend("T", 3)["item"].iloc[0] == "B"
    assert _score(disliked_a, "T", "B") < _score(liked, "T", "B")
    ranked = list(disliked_a.recommend("T", 6)["item"])
    assert ranked.index("B") > 0 and "A" not in ranked  # a dislike is never recommended again
    assert "dislikes" in disliked_a.weights  # tuned and weighed like every signal


# ---------------------------------------------------------------------- the config
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("rating_weight = -1", "recommend.strength.rating_weight"),
        ("recency_weight = 1.5", "recommend.strength.recency_weight"),
        ("half_life_days = 0", "recommend.strength.half_life_days"),
        ("weighting = 'weighted'", "recommend.strength.weighting"),
        ("rating_min = 5\nrating_max = 1", "rating_min (5) must be below rating_max (1)"),
        ("negative_rating = 5", "negative_rating (5) must lie in [rating_min, rating_max) = [1, 5)"),
        ("negative_sentiment = 0.2", "recommend.strength.negative_sentiment"),
        ("ratin_weight = 1", "unknown key 'recommend.strength.ratin_weight'; did you mean 'rating_weight'?"),
    ],
)
def test_bad_strength_settings_are_refused_on_load(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "kg.toml"
    config.write_text(f"[recommend.strength]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(config)


def test_strength_settings_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kg.toml"
    config.write_text(
        "[recommend]\nrelevant = 'liked'\n[recommend.strength]\nrating_weight = 1.0\nnegative_rating = 1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KG_RECOMMEND__STRENGTH__WEIGHTING", "binary")
    loaded = load_settings(config)
    assert loaded.recommend.relevant == "liked"
    strength = loaded.recommend.strength
    assert (strength.rating_weight, strength.negative_rating, strength.weighting) == (1.0, 1.0, "binary")
    assert strength.negatives and strength.sentiment_weight == 0.5  # defaults kept
