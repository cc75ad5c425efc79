"""Privacy end to end: forget after enrichment and training leaves no trace in the graph
or in any file; forget on MovieLens, directly and through `kg` (pseudonymised ingest,
lookup, export, forget); audiences from a fitted recommender leave out users who refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from embeddings.enrich import enrich_store
from embeddings.runs import list_runs
from embeddings.workflow import train_from_store
from kg.config import Settings
from kg.ingest import ingest_path
from kg.privacy.forget import forget_users
from kg.privacy.pseudonyms import KEY_VARIABLE
from kg.recommend.service import load_recommender, model_path
from kg.store import GraphStore, open_store
from tests.helpers import MOVIELENS, require
from tests.private_graph import ZELDA, files_holding, personal_values, private_settings, small_graph


@pytest.fixture(name="private_settings")
def private_settings_fixture(tmp_path: Path) -> Settings:
    return private_settings(tmp_path)


# ---------------------------------------------------------------------- forget
def test_forget_leaves_no_trace_in_the_graph_or_any_file(private_settings: Settings) -> None:
    allowed = private_settings.model_copy(
        update={
            "privacy": private_settings.privacy.model_copy(update={"personal_data_to_local_models": True})
        }
    )
    with open_store(allowed) as store:
        small_graph(store)
        enrich_store(allowed, store, labels=["User", "Document"])  # caches hold the name
        train_from_store(allowed, store, model="transe", num_epochs=2, embedding_dim=8, write=False)
        load_recommender(store, allowed)
        data_dir = allowed.data_dir
        assert files_holding(data_dir, [ZELDA["zip_code"], f"User:{ZELDA['id']}"])  # traces before
        assert model_path(allowed).exists()

        report = forget_users(allowed, store, [ZELDA["id"], "nobody-here"])
        assert report.found == [ZELDA["id"]] and report.nodes["User"] == 1
        assert report.relationships == {"RATED": 2, "WROTE": 1}
        assert report.cache_entries > 0 and len(report.embedding_runs) == 1
        assert report.recommender_discarded and report.store_rewritten
        counts = store.counts()
        assert counts.nodes["User"] == 1 and counts.relationships["RATED"] == 10
        assert store.existing_node_ids("User", [ZELDA["id"]]) == set()
        assert counts.nodes["Document"] == 1  # authorship unlinked, the review kept (default)

        again = forget_users(allowed, store, [ZELDA["id"]])
        assert again.nothing_to_forget and again.found == []
    assert files_holding(data_dir, [*personal_values(), ZELDA["id"]]) == {}
    (run,) = list_runs(allowed)
    assert run.problem is None  # the rewritten run is intact, and marked stale
    assert "forgotten" in json.loads((run.path / "model.json").read_text())["info"]["stale"]


def test_forget_movielens_user_1(private_settings: Settings) -> None:
    traces = ["User: User 1.", '"User:1"']  # node text (store and cache), entity names
    with open_store(private_settings) as store:
        ingest_path(store, require(MOVIELENS), fmt="movielens")
        enrich_store(private_settings, store, labels=["User"])  # node text and cached vectors of user 1
        assert files_holding(private_settings.data_dir, ["User: User 1."])
        before = store.counts().relationships["RATED"]
        report = forget_users(private_settings, store, ["1"])
        assert report.relationships["RATED"] == 272 and report.cache_entries >= 1
        assert store.counts().relationships["RATED"] == before - 272
        assert store.existing_node_ids("User", ["1", "415"]) == {"415"}  # 415 shares user 1's zip code
        assert forget_users(private_settings, store, ["1"]).nothing_to_forget
    assert files_holding(private_settings.data_dir, traces) == {}


# ---------------------------------------------------------------------- the commands
def test_cli_forget_export_lookup_on_movielens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's scenario through `kg`: ingest MovieLens pseudonymised, find user 1 by
    their pseudonym, export them, forget them (272 ratings), and forget them again."""
    from typer.testing import CliRunner

    from cli import app

    data_dir = tmp_path / "kg-data"
    env = {"KG_STORE": str(data_dir / "graph"), "KG_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    runner = CliRunner()
    refused = runner.invoke(app, ["ingest", str(require(MOVIELENS)), "--pseudonymise"], env=env)
    assert refused.exit_code == 1 and KEY_VARIABLE in refused.output
    monkeypatch.setenv(KEY_VARIABLE, "a-long-random-secret-0123456789")
    for _ in range(2):
        loaded = runner.invoke(app, ["ingest", str(MOVIELENS), "--pseudonymise"], env=env)
        assert loaded.exit_code == 0, loaded.output
    user = runner.invoke(app, ["lookup", "1"], env=env).output.strip()
    assert user.startswith("p_")
    assert runner.invoke(app, ["lookup", "--reveal", user], env=env).output.strip() == "1"

    exported = runner.invoke(app, ["export", "--user", user], env=env)
    assert exported.exit_code == 0, exported.output
    record = json.loads(exported.output)
    assert record["properties"]["zip_code"] == "85711" and len(record["relationships"]["RATED"]) == 272

    forgotten = runner.invoke(app, ["forget", user], env=env)
    assert forgotten.exit_code == 0, forgotten.output
    assert "RATED relationships" in forgotten.output and "272" in forgotten.output
    again = runner.invoke(app, ["forget", user], env=env)
    assert again.exit_code == 0 and "Nothing to forget" in again.output
    assert runner.invoke(app, ["lookup", "--reveal", user], env=env).exit_code == 1  # the vault entry went
    assert runner.invoke(app, ["forget"], env=env).exit_code == 2  # no ids: a usage error

    shown = " ".join(runner.invoke(app, ["schema"], env={**env, "COLUMNS": "400"}).output.split())
    assert "zip_code: STRING [pii]" in shown and "email: STRING [pii, identifier]" in shown
    declared = json.loads(runner.invoke(app, ["schema", "--json"], env=env).output)
    assert declared["nodes"]["User"]["properties"]["zip_code"] == {"type": "STRING", "pii": True}


# ---------------------------------------------------------------------- consent
def test_audiences_leave_out_refusers_and_small_groups_are_refused(
    store: GraphStore, settings: Settings, tmp_path: Path
) -> None:
    from kg.errors import InputError
    from kg.recommend.audience import consented_audience
    from kg.recommend.service import load_recommender
    from tests.shop_graph import build_shop_graph

    shop = build_shop_graph(store, tmp_path / "shop")
    recommender = load_recommender(store, settings)
    item = shop.purchased["to_id"].value_counts().index[-1]
    everyone, _ = consented_audience(store, settings, recommender, item, 30, explain=False)
    refusing = list(everyone["user"].head(5))
    store.upsert_nodes(
        "User",
        pd.DataFrame({"id": refusing, "consent": False}).assign(
            marketing_consent=[True, True, True, None, None]
        ),
    )
    store.upsert_nodes("User", pd.DataFrame({"id": [everyone["user"].iloc[5]], "marketing_consent": [False]}))
    kept, refused = consented_audience(store, settings, recommender, item, 30, explain=False)
    assert refused == 6
    assert set(kept["user"]).isdisjoint([*refusing, everyone["user"].iloc[5]]) and len(kept) == 30
    with pytest.raises(InputError, match="min_group_size"):
        consented_audience(store, settings, recommender, item, 5, explain=False)
