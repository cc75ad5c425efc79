"""Privacy: personal data marked in the schema, kept out of remote prompts and problem
reports, pseudonymised on request, forgotten (reviews included), and segments below the
minimum group size merged. Forget after training, on MovieLens and through `kg`:
tests/integration/test_privacy_end_to_end.py; on Neo4j: tests/neo4j/test_neo4j_privacy.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.enrich import build_node_texts, enrich_store
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
from kg.schema import Schema
from kg.store import GraphStore, open_store
from tests.llm_server import recording_chat_server
from tests.private_graph import (
    USERS_CSV,
    USERS_MAPPING,
    ZELDA,
    personal_values,
    private_settings,
    small_graph,
)


@pytest.fixture(name="private_settings")
def private_settings_fixture(tmp_path: Path) -> Settings:
    return private_settings(tmp_path)


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
def test_forget_can_delete_reviews_and_reads_ids_from_a_file(store: GraphStore, settings: Settings) -> None:
    small_graph(store)
    deleting = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"forget_reviews": "reviews"})}
    )
    report = forget_users(deleting, store, [ZELDA["id"], "bob-1"])
    assert report.nodes == {"Document": 1, "User": 2}
    assert store.counts().nodes["Document"] == 0 and store.counts().relationships["DESCRIBES"] == 0


# ---------------------------------------------------------------------- pseudonyms
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


# ---------------------------------------------------------------------- group size
def test_segments_below_the_minimum_group_size_are_merged(store: GraphStore, tmp_path: Path) -> None:
    from kg.datasets.synthetic_shop import ShopSize, generate_shop
    from kg.recommend.interactions import export_interactions
    from kg.recommend.segments import segment_users

    for data, mapping in generate_shop(tmp_path / "shop", ShopSize(users=90, items=60, reviews=0), seed=11):
        ingest_path(store, data, mapping=mapping)  # users and purchases are all segments need
    graph = export_interactions(store, load_settings().recommend)
    free = segment_users(graph, 8, seed=3)
    smallest = int(free.profiles["size"].min())
    minimum = smallest + 1
    guarded = segment_users(graph, 8, seed=3, min_size=minimum)
    assert guarded.merged >= 1 and len(guarded.profiles) == 8 - guarded.merged
    assert guarded.profiles["size"].min() >= minimum and guarded.profiles["size"].sum() == graph.n_users
    assert sorted(set(guarded.labels)) == list(range(len(guarded.profiles)))


# ---------------------------------------------------------------------- problem reports
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
