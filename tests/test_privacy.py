"""Privacy: personal data marked in the schema, kept out of remote prompts, pseudonymised
on request and forgotten completely (graph, caches, embedding runs, fitted recommender,
pseudonym vault, and the bytes of the embedded store's file)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from embeddings.enrich import build_node_texts, enrich_store
from embeddings.runs import list_runs
from embeddings.workflow import train_from_store
from kg.config import Settings, load_settings
from kg.errors import ConfigError, NotFoundError
from kg.ingest import ingest_path
from kg.privacy.forget import forget_users
from kg.privacy.pseudonyms import (
    KEY_VARIABLE,
    Pseudonymiser,
    PseudonymVault,
    key_from_environment,
    vault_path,
)
from kg.recommend.service import load_recommender, model_path
from kg.schema import Schema
from kg.store import GraphStore, open_store
from tests.conftest import require
from tests.llm_server import recording_chat_server
from tests.neo4j_server import neo4j_settings, require_neo4j, wipe

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
# Values that belong to one person only, so that finding one anywhere is a leak.
ZELDA = {
    "id": "zelda-7731",
    "name": "Zelda Quuxington",
    "email": "zelda.quux@example.org",
    "phone": "+44 20 7946 0958",
    "age": 37,
    "birth_date": "1988-03-14",
    "zip_code": "ZX9 4QQ",
    "gender": "F",
    "age_group": "35-44",
}
REVIEW = "Lovely tent. Email me at zelda.quux@example.org or call +44 20 7946 0958 - Zelda Quuxington"


def small_graph(store: GraphStore) -> None:
    """Two people, three items, ratings, and a review naming its author."""
    other = {
        "id": "bob-1",
        "name": "Bob Plainfield",
        "email": "bob@example.org",
        "age": 51,
        "age_group": "45-54",
    }
    store.upsert_nodes("User", pd.DataFrame([ZELDA, other]))
    store.upsert_nodes("Item", pd.DataFrame({"id": ["i1", "i2", "i3"], "name": ["Tent", "Stove", "Lamp"]}))
    store.upsert_relationships(
        "RATED",
        "User",
        "Item",
        pd.DataFrame(
            {
                "from_id": [ZELDA["id"], ZELDA["id"], "bob-1", "bob-1"],
                "to_id": ["i1", "i2", "i1", "i3"],
                "rating": [5.0, 4.0, 3.0, 5.0],
            }
        ),
    )
    extra = [f"x{n}" for n in range(8)]  # enough triples for a KGE model to train on
    store.upsert_nodes("Item", pd.DataFrame({"id": extra, "name": [f"Gadget {n}" for n in range(8)]}))
    store.upsert_relationships(
        "RATED", "User", "Item", pd.DataFrame({"from_id": "bob-1", "to_id": extra, "rating": 4.0})
    )
    store.upsert_nodes("Document", pd.DataFrame({"id": ["r1"], "title": ["Review"], "text": [REVIEW]}))
    store.upsert_relationships(
        "WROTE", "User", "Document", pd.DataFrame({"from_id": [ZELDA["id"]], "to_id": ["r1"]})
    )
    store.upsert_relationships(
        "DESCRIBES", "Document", "Item", pd.DataFrame({"from_id": ["r1"], "to_id": ["i1"]})
    )


def personal_values() -> list[str]:
    return [ZELDA["name"], ZELDA["email"], ZELDA["phone"], ZELDA["birth_date"], ZELDA["zip_code"], "Zelda"]


def files_holding(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every file under ``folder`` whose bytes contain one of ``needles``."""
    found: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits = [n for n in needles if n.encode() in data]
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


@pytest.fixture
def private_settings(tmp_path: Path) -> Settings:
    """The store inside the data directory, as by default: one folder to search."""
    return load_settings(store=str(tmp_path / "kg-data" / "graph"), data_dir=tmp_path / "kg-data")


# ---------------------------------------------------------------------- marks
def test_schema_marks_personal_data_and_config_extends_the_marks() -> None:
    user = Schema.default().nodes["User"]
    assert {"name", "email", "phone", "zip_code", "age", "birth_date"} <= user.pii
    assert user.personal_key and {"email", "phone"} <= user.identifier
    assert {"text", "title"} <= Schema.default().nodes["Document"].free_text
    assert "age_group" not in user.pii and "country" not in user.pii
    extended = Schema.default(
        {"nodes": {"User": {"properties": {"loyalty_no": {"type": "STRING", "pii": True}}}}}
    )
    assert "loyalty_no" in extended.nodes["User"].pii
    assert extended.to_dict()["nodes"]["User"]["properties"]["age"] == {"type": "INT64", "pii": True}
    retyped = Schema.default({"nodes": {"User": {"properties": {"age": "INT64"}}}})
    assert "age" in retyped.nodes["User"].pii  # re-declaring a type keeps its mark


# ---------------------------------------------------------------------- prompts
def test_remote_prompts_carry_no_personal_value(private_settings: Settings) -> None:
    with recording_chat_server() as server, open_store(private_settings) as store:
        small_graph(store)
        configured = private_settings.model_copy(
            update={
                "embeddings": private_settings.embeddings.model_copy(
                    update={"llm_url": server.url, "llm_model": "any-chat", "llm_backoff": 0.0}
                ),
                "privacy": private_settings.privacy.model_copy(
                    update={"personal_data_to_local_models": True}
                ),
            }
        )
        report = enrich_store(configured, store, backend="openai", labels=["User", "Document"])
    assert report.model_calls == len(server.bodies) == 3  # two users, one review
    sent = "\n".join(server.bodies)
    leaks = [v for v in personal_values() if v in sent or json.dumps(v)[1:-1] in sent]
    assert leaks == []
    assert "age group: 35-44" in sent  # the coarse value goes instead of the age
    assert "[email]" in sent and "[phone]" in sent and "[name]" in sent  # the review, masked


def test_local_models_see_personal_data_only_when_the_config_says_so(
    store: GraphStore, settings: Settings
) -> None:
    small_graph(store)
    minimised = build_node_texts(store, ["User"]).set_index("id")["facts"][ZELDA["id"]]
    assert ZELDA["zip_code"] not in minimised and ZELDA["name"] not in minimised and "age group" in minimised
    enrich_store(settings, store, labels=["User"])  # template backend, default config
    stored = next(store.iter_nodes("User", properties=["node_text"])).set_index("id")["node_text"]
    assert ZELDA["zip_code"] not in stored[ZELDA["id"]]
    allowed = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"personal_data_to_local_models": True})}
    )
    enrich_store(allowed, store, labels=["User"])
    stored = next(store.iter_nodes("User", properties=["node_text"])).set_index("id")["node_text"]
    assert ZELDA["zip_code"] in stored[ZELDA["id"]] and ZELDA["name"] in stored[ZELDA["id"]]


# ---------------------------------------------------------------------- forget
@pytest.mark.slow
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


def test_forget_can_delete_reviews_and_reads_ids_from_a_file(store: GraphStore, settings: Settings) -> None:
    small_graph(store)
    deleting = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"forget_reviews": "reviews"})}
    )
    report = forget_users(deleting, store, [ZELDA["id"], "bob-1"])
    assert report.nodes == {"Document": 1, "User": 2}
    assert store.counts().nodes["Document"] == 0 and store.counts().relationships["DESCRIBES"] == 0


@pytest.mark.neo4j
def test_privacy_on_neo4j(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guarantees on a live server: pseudonymised ingest (idempotent, revealed
    only with the key), the access export, consent, and forget."""
    from kg.privacy.access import user_record
    from kg.privacy.consent import refused_users

    require_neo4j()
    settings = neo4j_settings(data_dir=tmp_path / "kg-data")
    with open_store(settings) as store:
        wipe(store)
    with open_store(settings) as store:
        small_graph(store)
        record = user_record(store, ZELDA["id"])
        assert record["properties"]["zip_code"] == ZELDA["zip_code"]
        assert sorted(e["other_id"] for e in record["relationships"]["RATED"]) == ["i1", "i2"]
        store.upsert_nodes("User", pd.DataFrame({"id": ["bob-1"], "marketing_consent": [False]}))
        assert refused_users(store, settings) == {"bob-1"}

        report = forget_users(settings, store, [ZELDA["id"]])
        assert report.relationships == {"RATED": 2, "WROTE": 1} and not report.store_rewritten
        assert store.counts().nodes["User"] == 1 and store.counts().relationships["RATED"] == 10
        assert forget_users(settings, store, [ZELDA["id"]]).nothing_to_forget
        with pytest.raises(NotFoundError):
            user_record(store, ZELDA["id"])

        data, mapping = tmp_path / "users.csv", tmp_path / "users.toml"
        data.write_text(USERS_CSV)
        mapping.write_text(USERS_MAPPING)
        monkeypatch.setenv(KEY_VARIABLE, "a-long-random-secret-0123456789")
        for _ in range(2):
            with PseudonymVault(vault_path(settings.data_dir), key_from_environment()) as vault:
                renamer = Pseudonymiser(store.schema, key_from_environment(), vault)
                ingest_path(store, data, mapping=mapping, rewrite=renamer.batches)
        users = store.query("MATCH (u:User) WHERE u.id STARTS WITH 'p_' RETURN u.id AS id, u.email AS email")
        assert len(users) == 2 and users["email"].str.startswith("p_").all()
        with PseudonymVault(vault_path(settings.data_dir), key_from_environment()) as vault:
            assert sorted(vault.reveal(p) for p in users["id"]) == ["bob-1", "zelda-7731"]


@pytest.mark.slow
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


USERS_CSV = "user_id,email,age_group\nzelda-7731,zelda.quux@example.org,35-44\nbob-1,bob@example.org,45-54\n"
USERS_MAPPING = (
    '[nodes]\nlabel = "User"\nid = "user_id"\nproperties = { email = "email", age_group = "age_group" }\n'
)


def test_pseudonymised_ingest_is_idempotent_and_reversible_only_with_the_key(
    store: GraphStore, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, mapping = tmp_path / "users.csv", tmp_path / "users.toml"
    data.write_text(USERS_CSV)
    mapping.write_text(USERS_MAPPING)
    with pytest.raises(ConfigError, match=KEY_VARIABLE):
        key_from_environment()
    monkeypatch.setenv(KEY_VARIABLE, "a-long-random-secret-0123456789")
    for _ in range(2):
        with PseudonymVault(vault_path(settings.data_dir), key_from_environment()) as vault:
            ingest_path(
                store,
                data,
                mapping=mapping,
                rewrite=Pseudonymiser(store.schema, key_from_environment(), vault).batches,
            )
    users = next(store.iter_nodes("User", properties=["email"]))
    assert (
        len(users) == 2
        and users["id"].str.startswith("p_").all()
        and users["email"].str.startswith("p_").all()
    )
    with PseudonymVault(vault_path(settings.data_dir), key_from_environment()) as vault:
        assert sorted(vault.reveal(p) for p in users["id"]) == ["bob-1", "zelda-7731"]
        with pytest.raises(NotFoundError):
            vault.reveal("p_000000000000000000000000")
    wrong_key = PseudonymVault(vault_path(settings.data_dir), b"another-secret-key-9876543210")
    with wrong_key as vault, pytest.raises(ConfigError, match="not the key"):
        vault.reveal(users["id"].iloc[0])
    assert b"zelda-7731" not in vault_path(settings.data_dir).read_bytes()  # encrypted at rest


# ---------------------------------------------------------------------- the commands
@pytest.mark.slow
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


# ---------------------------------------------------------------------- consent, group size
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


def test_segments_below_the_minimum_group_size_are_merged(store: GraphStore, tmp_path: Path) -> None:
    from kg.recommend.interactions import export_interactions
    from kg.recommend.segments import segment_users
    from tests.shop_graph import build_shop_graph

    build_shop_graph(store, tmp_path / "shop")
    graph = export_interactions(store, load_settings().recommend)
    free = segment_users(graph, 8, seed=3)
    smallest = int(free.profiles["size"].min())
    minimum = smallest + 1
    guarded = segment_users(graph, 8, seed=3, min_size=minimum)
    assert guarded.merged >= 1 and len(guarded.profiles) == 8 - guarded.merged
    assert guarded.profiles["size"].min() >= minimum and guarded.profiles["size"].sum() == graph.n_users
    assert sorted(set(guarded.labels)) == list(range(len(guarded.profiles)))


def test_problem_reports_withhold_personal_values(store: GraphStore, tmp_path: Path) -> None:
    data, mapping = tmp_path / "users.csv", tmp_path / "users.toml"
    data.write_text("user_id,age,country\nu1,thirty-seven-ish,UK\nu2,41,born-in-1988x\n")
    mapping.write_text(
        '[nodes]\nlabel = "User"\nid = "user_id"\nproperties = { age = "age", signup_date = "country" }\n'
    )
    report = ingest_path(store, data, mapping=mapping)
    (problem,) = report.problems.kept
    assert "thirty-seven-ish" not in problem.message and "personal data, not shown" in problem.message
    assert report.loaded == 1
