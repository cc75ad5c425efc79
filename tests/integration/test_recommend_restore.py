"""A saved recommender comes back only when every scorer can restore what it did not
save (the KGE signal's model lives in the run registry): the ``restore`` hook."""

from __future__ import annotations

from pathlib import Path

from embeddings.live import live_model, registry_state
from embeddings.runs import remove_run
from embeddings.workflow import train_from_store
from kg.config import Settings
from kg.recommend.service import load_recommender, model_path
from kg.store import GraphStore
from tests.shop_graph import build_shop_graph


def test_the_saved_fit_is_reused_while_its_kge_run_lives_and_refitted_when_it_goes(
    store: GraphStore, settings: Settings, tmp_path: Path
) -> None:
    build_shop_graph(store, tmp_path / "shop")
    assert registry_state(settings) == [] and live_model(settings, store)[0] is None
    train_from_store(settings, store, model="distmult", num_epochs=3, embedding_dim=16, write=False)
    trained, why_not = live_model(settings, store)
    assert trained is not None and why_not is None

    first = load_recommender(store, settings)
    assert first.scorers["kge"].run_id == trained.run_id
    saved = model_path(settings).stat().st_mtime_ns
    again = load_recommender(store, settings)  # from disk: the kge scorer restored its model
    assert model_path(settings).stat().st_mtime_ns == saved
    assert again.scorers["kge"].models and again.scorers["kge"].run_id == trained.run_id

    remove_run(settings, trained.run_id)  # the run it used is gone: the saved fit is stale
    refitted = load_recommender(store, settings)
    assert "kge" not in refitted.scorers and any("kge" in note for note in refitted.notes)
    assert model_path(settings).stat().st_mtime_ns != saved
