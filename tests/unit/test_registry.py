"""One registry pattern: names matched the same way everywhere, unknown names listed with
the valid ones, and config names checked when the settings load."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.llm import BACKENDS
from embeddings.recipes import RECIPES
from kg.config import load_settings
from kg.datasets import DATASETS
from kg.errors import ConfigError, InputError
from kg.export import EXPORTERS
from kg.ingest import LOADERS
from kg.registry import Registry


def test_names_match_without_case_or_spaces_and_unknown_ones_list_the_choices() -> None:
    shapes = Registry("shape", {"Circle": 1, "square": 2})
    assert shapes.get(" CIRCLE ") == 1 and "Square" in shapes and shapes.names() == ["circle", "square"]
    with pytest.raises(
        InputError, match=r"Unknown shape 'cirle' \(did you mean 'circle'\?\); choose one of circle, square"
    ):
        shapes.get("cirle")
    with pytest.raises(ValueError, match="registered twice"):
        Registry("shape", {"a": 1, "A": 2})


def test_every_registry_of_the_platform_is_one_registry() -> None:
    for registry, some in (
        (BACKENDS, "openai"),
        (RECIPES, "complex"),
        (DATASETS, "movielens-100k"),
        (EXPORTERS, "neo4j-admin"),
        (LOADERS, "jsonl"),
    ):
        assert isinstance(registry, Registry) and some in registry and registry.get(some.upper())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[embeddings]\nenrich_backend = "openia"\n',
            "embeddings.enrich_backend: Unknown enrich backend 'openia' (did you mean 'openai'?); choose one of template, hf, openai",
        ),
        ('[embeddings]\nmodel = "transE2"\n', "embeddings.model: Unknown model 'transE2'"),
        ('[recommend]\nkge_model = "rotate"\n', "recommend.kge_model: Unknown model 'rotate'"),
    ],
)
def test_config_names_are_checked_when_the_config_loads(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "bad.toml"  # not ./kg.toml, which every load would read
    path.write_text(config)
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert message in str(raised.value)
    assert load_settings(store=str(tmp_path / "g")).embeddings.enrich_backend == "template"
