"""Settings precedence: flags > env > config file > defaults; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import load_settings
from kg.errors import ConfigError


def test_defaults_use_the_embedded_store() -> None:
    settings = load_settings()
    assert settings.store == "./kg-data/graph"
    assert not settings.uses_neo4j


def test_precedence_flag_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kg.toml"
    config.write_text('store = "/from/file"\nbatch_size = 11\n[extract]\nspacy_model = "file_model"\n')
    from_file = load_settings(config)
    assert (from_file.store, from_file.batch_size, from_file.extract.spacy_model) == (
        "/from/file",
        11,
        "file_model",
    )

    monkeypatch.setenv("KG_STORE", "bolt://db.example:7687")
    monkeypatch.setenv("KG_EXTRACT__SPACY_MODEL", "env_model")
    from_env = load_settings(config)
    assert from_env.store == "bolt://db.example:7687" and from_env.uses_neo4j
    assert from_env.extract.spacy_model == "env_model"
    assert from_env.batch_size == 11

    assert load_settings(config, store="/from/flag").store == "/from/flag"


def test_kg_toml_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "kg.toml").write_text("batch_size = 123\n")
    assert load_settings().batch_size == 123


@pytest.mark.parametrize("uri", ["bolt://h:7687", "neo4j://h", "neo4j+s://x.databases.neo4j.io"])
def test_neo4j_uris_select_neo4j(uri: str) -> None:
    assert load_settings(store=uri).uses_neo4j


def test_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KG_NEO4J_PASSWORD", "s3cret-value")
    settings = load_settings()
    assert settings.neo4j_password is not None
    assert settings.neo4j_password.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(settings.model_dump())


def test_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("store = [unclosed\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings(batch_size=0)
