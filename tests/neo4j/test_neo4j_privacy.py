"""Privacy on a live Neo4j server: the access export, consent, forget, and pseudonymised
ingest (idempotent, revealed only with the key), as the embedded store does them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kg.errors import NotFoundError
from kg.ingest import ingest_path
from kg.privacy.forget import forget_users
from kg.privacy.pseudonyms import (
    KEY_VARIABLE,
    Pseudonymiser,
    PseudonymVault,
    key_from_environment,
    vault_path,
)
from kg.store import open_store
from tests.neo4j_server import neo4j_settings, require_neo4j, wipe
from tests.private_graph import USERS_CSV, USERS_MAPPING, ZELDA, small_graph


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
