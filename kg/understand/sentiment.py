"""Sentiment models: a polarity in [-1, 1] per text.

Two models, compared on the same held-out real reviews (``benchmarks/sentiment.py``):

- ``vader``: the VADER lexicon and rules (``vaderSentiment``, which ships its lexicon);
  needs no training, so it is the default when no classifier has been trained.
- ``minilm-logreg``: logistic regression over MiniLM sentence vectors, trained by
  ``kg sentiment train`` on the labelled corpus of ``kg.understand.corpus`` and saved
  under the models folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kg.config import Settings
from kg.errors import InputError, NotFoundError

NEUTRAL_BAND = 0.05  # |polarity| below this is neutral (VADER's documented threshold)
CLASSIFIER_FILE = "minilm-logreg.joblib"


class SentimentModel(Protocol):
    name: str

    def polarity(self, texts: Sequence[str]) -> np.ndarray:
        """One polarity in [-1, 1] per text."""
        ...


@dataclass
class LexiconModel:
    """VADER's compound score."""

    name: str = "vader"
    _analyzer: Any = field(default=None, repr=False)

    def polarity(self, texts: Sequence[str]) -> np.ndarray:
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        return np.array([self._analyzer.polarity_scores(str(t))["compound"] for t in texts], dtype=float)


@dataclass
class VectorModel:
    """Logistic regression over L2-normalised MiniLM vectors; polarity = 2 P(positive) - 1."""

    text_model: str
    classifier: Any = None
    name: str = "minilm-logreg"

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> VectorModel:
        from sklearn.linear_model import LogisticRegression

        self.classifier = LogisticRegression(C=4.0, max_iter=2_000).fit(
            self._vectors(texts), np.asarray(labels)
        )
        return self

    def polarity(self, texts: Sequence[str]) -> np.ndarray:
        if self.classifier is None:
            raise NotFoundError("The sentiment classifier is not trained; run `kg sentiment train`.")
        if not len(texts):
            return np.zeros(0)
        return 2.0 * self.classifier.predict_proba(self._vectors(texts))[:, 1] - 1.0

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        from embeddings.text import encode_texts

        return encode_texts(list(texts), model=self.text_model)

    def save(self, path: Path) -> Path:
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"text_model": self.text_model, "classifier": self.classifier}, path)
        return path

    @classmethod
    def load(cls, path: Path) -> VectorModel:
        import joblib

        if not path.is_file():
            raise NotFoundError(f"No trained sentiment classifier at {path}; run `kg sentiment train`.")
        saved = joblib.load(path)
        return cls(text_model=saved["text_model"], classifier=saved["classifier"])


def classifier_path(settings: Settings) -> Path:
    return settings.models_dir / "sentiment" / CLASSIFIER_FILE


def _trained(settings: Settings) -> SentimentModel:
    return VectorModel.load(classifier_path(settings))


def _auto(settings: Settings) -> SentimentModel:
    return _trained(settings) if classifier_path(settings).is_file() else LexiconModel()


MODELS: dict[str, Callable[[Settings], SentimentModel]] = {
    "auto": _auto,
    "vader": lambda _settings: LexiconModel(),
    "minilm-logreg": _trained,
}


def load_model(settings: Settings, name: str = "auto") -> SentimentModel:
    """``auto``: the trained classifier when there is one, else VADER."""
    if name not in MODELS:
        raise InputError(f"Unknown sentiment model {name!r}; choose one of {', '.join(MODELS)}.")
    return MODELS[name](settings)


def train_classifier(settings: Settings, texts: Sequence[str], labels: Sequence[int]) -> Path:
    """Fit the MiniLM classifier and save it where ``auto`` finds it."""
    model = VectorModel(settings.embeddings.text_model).fit(texts, labels)
    return model.save(classifier_path(settings))


def label_of(polarity: float) -> str:
    if polarity >= NEUTRAL_BAND:
        return "positive"
    if polarity <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def binary_scores(labels: Sequence[int], polarity: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of ``polarity >= NEUTRAL_BAND`` as the positive class."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = (np.asarray(polarity) >= NEUTRAL_BAND).astype(int)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
    }
