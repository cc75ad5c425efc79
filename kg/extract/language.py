"""Which language a document is in (py3langid, a packaged model; nothing downloaded).

The pretrained pipeline is English; for other languages only catalogue names are
matched, and the document records its language so the outcome is visible.
"""

from __future__ import annotations

from functools import lru_cache

MIN_CHARS = 40  # shorter texts are too short to judge; they are taken as the default
SAMPLE_CHARS = 4_000
MIN_PROBABILITY = 0.9


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, default: str = "en") -> str:
    """ISO 639-1 code of ``text``; ``default`` when the text is short or the guess unsure."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_CHARS:
        return default
    language, probability = _identifier().classify(sample)
    return language if probability >= MIN_PROBABILITY else default
