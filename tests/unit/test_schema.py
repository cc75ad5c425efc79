"""The declared schema: lookups, validation of identifiers, extension from config."""

from __future__ import annotations

import pandas as pd
import pytest

from kg.errors import ConfigError, SchemaError
from kg.schema import Schema, check_identifier, infer_property_type


def test_default_schema_declares_the_domain() -> None:
    schema = Schema.default()
    for label in ("User", "Item", "Brand", "Category", "Document", "Entity"):
        assert schema.node(label).key == "id"
    assert schema.rel("RATED").properties == {"rating": "DOUBLE", "timestamp": "INT64"}
    assert ("User", "Item") in schema.rel("PURCHASED").endpoints


@pytest.mark.parametrize(
    "hostile",
    ["User`) DETACH DELETE n //", "User Item", "1User", "", "Us-er", "User\n", "Ü" * 3, "a" * 64],
)
def test_hostile_identifiers_are_refused(hostile: str) -> None:
    with pytest.raises(SchemaError):
        check_identifier(hostile)


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    schema = Schema.default()
    with pytest.raises(SchemaError, match="Known labels"):
        schema.node("Spaceship")
    with pytest.raises(SchemaError, match="Known types"):
        schema.rel("OWNS")
    with pytest.raises(SchemaError, match="may not connect"):
        schema.check_endpoints("RATED", "Item", "User")
    with pytest.raises(SchemaError, match="not declared"):
        schema.check_node_properties("User", ["shoe_size"])


def test_extension_adds_labels_types_and_properties() -> None:
    schema = Schema.default(
        {
            "nodes": {
                "Store": {"properties": {"city": "STRING"}},
                "User": {"properties": {"tier": "STRING"}},
            },
            "rels": {"SOLD_AT": {"endpoints": [["Item", "Store"]], "properties": {"since": "STRING"}}},
        }
    )
    assert schema.node("Store").properties == {"city": "STRING"}
    assert schema.node("User").properties["tier"] == "STRING"
    assert schema.node("User").properties["age"] == "INT64"  # defaults kept
    schema.check_endpoints("SOLD_AT", "Item", "Store")


def test_bad_extensions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown label"):
        Schema.default({"rels": {"SOLD_AT": {"endpoints": [["Item", "Nowhere"]]}}})
    with pytest.raises(ConfigError, match="Invalid schema"):
        Schema.default({"nodes": {"Store": {"properties": {"city": "VARCHAR"}}}})
    with pytest.raises(ConfigError, match="only hold"):
        Schema.default({"labels": {}})


def test_runtime_properties_keep_their_type() -> None:
    schema = Schema.default()
    assert schema.add_node_property("Item", "embedding_transe", "DOUBLE[]")
    assert not schema.add_node_property("Item", "embedding_transe", "DOUBLE[]")
    with pytest.raises(SchemaError, match="declared as"):
        schema.add_node_property("Item", "embedding_transe", "STRING")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.5, 2.0], "DOUBLE"),
        ([1, 2], "INT64"),
        ([True, False], "BOOLEAN"),
        (["a"], "STRING"),
        ([[0.1, 0.2]], "DOUBLE[]"),
        ([["a"]], "STRING[]"),
    ],
)
def test_property_types_are_inferred_from_values(values: list[object], expected: str) -> None:
    assert infer_property_type(pd.Series(values)) == expected
