"""The live model for a graph: what the rest of the platform asks ``embeddings`` for.

Two questions, answered without reaching into run folders from outside this package:
``registry_state`` -- a token that changes whenever a model is trained, selected or
removed (it is read without importing PyTorch, so a recommender can tell whether its
cached fit is current cheaply) -- and ``live_model`` -- the model ``kg train`` registered
for this graph, or ``None`` and a sentence saying why not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kg.config import Settings
from kg.errors import KGError
from kg.store import GraphStore

if TYPE_CHECKING:
    from embeddings.artifact import TrainedModel

RegistryState = list[tuple[str, int]]


def registry_state(settings: Settings) -> RegistryState:
    """Names and modification times of the run registry's entries."""
    folder = settings.models_dir
    if not folder.is_dir():
        return []
    return sorted((entry.name, entry.stat().st_mtime_ns) for entry in folder.iterdir())


def live_model(settings: Settings, store: GraphStore) -> tuple[TrainedModel | None, str | None]:
    """The selected (else newest) run trained on this graph, or None and why not."""
    if not registry_state(settings):
        return None, "no KGE model trained yet (run `kg train` to add it)"
    try:
        from embeddings.runs import load_model

        return load_model(settings, store=store), None
    except KGError as exc:
        return None, str(exc).replace("\n", " ")
