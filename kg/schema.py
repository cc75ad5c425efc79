"""The declared graph schema: node labels, relationship types and typed properties.

Labels, relationship types and property names are the only parts of a Cypher statement
that cannot travel as parameters. Every one of them is checked here -- against the
declared schema and against a strict identifier pattern -- before it reaches a store.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from kg.errors import ConfigError, SchemaError

PropertyType = Literal["STRING", "INT64", "DOUBLE", "BOOLEAN", "STRING[]", "DOUBLE[]"]
PROPERTY_TYPES: tuple[str, ...] = get_args(PropertyType)

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_RESERVED_PROPERTIES = frozenset({"from_id", "to_id", "from_label", "to_label"})


def check_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain identifier safe to place in Cypher, else raise.

    The pattern (a letter, then letters, digits or underscores, at most 63 characters)
    excludes backticks, quotes, spaces and control characters, so no value can break
    out of the position it is placed in.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise SchemaError(
            f"{what} {name!r} is not allowed: use a letter followed by letters, digits "
            "or underscores (at most 63 characters)."
        )
    return name


def _checked_property_names(properties: dict[str, str], reserved: frozenset[str]) -> dict[str, str]:
    """Validate declared property names: plain identifiers, none of them ``reserved``."""
    for name in properties:
        check_identifier(name, "Property")
        if name in reserved:
            raise ValueError(f"property name {name!r} is reserved")
    return properties


PRIVACY_MARKS = ("pii", "identifier", "free_text")


class NodeType(BaseModel):
    """A node label with its key property and typed properties.

    A property is declared by its type (``age = "INT64"``) or, to mark personal data, by
    a table: ``age = { type = "INT64", pii = true }``. The marks:

    - ``pii``: personal data; never sent to a remote model, never printed in an error;
    - ``identifier``: replaced by a keyed hash on ``kg ingest --pseudonymise``;
    - ``free_text``: text that may hold personal data; masked before it leaves the machine.

    ``personal_key = true`` says the key itself names a person (``User``): it is
    pseudonymised on request and is what ``kg forget`` erases.
    """

    label: str
    key: str = "id"
    description: str = ""
    personal_key: bool = False
    properties: dict[str, PropertyType] = Field(default_factory=dict)
    pii: set[str] = Field(default_factory=set)
    identifier: set[str] = Field(default_factory=set)
    free_text: set[str] = Field(default_factory=set)

    @model_validator(mode="before")
    @classmethod
    def _split_marks(cls, data: Any) -> Any:
        """``{name: {type, pii, ...}}`` -> ``properties[name] = type`` and the mark sets."""
        if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
            return data
        data = dict(data)
        marks: dict[str, set[str]] = {mark: set(data.get(mark, ())) for mark in PRIVACY_MARKS}
        plain: dict[str, Any] = {}
        for name, spec in data["properties"].items():
            if not isinstance(spec, dict):
                plain[name] = spec
                continue
            unknown = set(spec) - {"type", *PRIVACY_MARKS}
            if unknown or "type" not in spec:
                raise ValueError(
                    f"property {name!r}: a table needs 'type' and may add {', '.join(PRIVACY_MARKS)} "
                    f"(found {sorted(spec)})"
                )
            plain[name] = spec["type"]
            for mark in PRIVACY_MARKS:
                if spec.get(mark):
                    marks[mark].add(name)
        data["properties"] = plain
        data.update(marks)
        return data

    @property
    def personal(self) -> set[str]:
        """Every property that may hold personal data (marked ``pii`` or ``free_text``)."""
        return self.pii | self.free_text | self.identifier

    @field_validator("label")
    @classmethod
    def _label_ok(cls, value: str) -> str:
        return check_identifier(value, "Label")

    @field_validator("properties")
    @classmethod
    def _properties_ok(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked_property_names(value, reserved=frozenset())

    def all_properties(self) -> dict[str, str]:
        """Key first, then the declared properties: the column order of a node table."""
        return {self.key: "STRING", **{k: v for k, v in self.properties.items() if k != self.key}}


class RelType(BaseModel):
    """A relationship type, the label pairs it may connect, and its typed properties."""

    type: str
    description: str = ""
    endpoints: list[tuple[str, str]]
    properties: dict[str, PropertyType] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type_ok(cls, value: str) -> str:
        return check_identifier(value, "Relationship type")

    @field_validator("properties")
    @classmethod
    def _properties_ok(cls, value: dict[str, str]) -> dict[str, str]:
        # The endpoint columns of a relationship batch would shadow a property of the same name.
        return _checked_property_names(value, reserved=_RESERVED_PROPERTIES)


class Schema:
    """The labels and relationship types a store may hold, and nothing else."""

    def __init__(self, nodes: Iterable[NodeType], rels: Iterable[RelType]) -> None:
        self.nodes: dict[str, NodeType] = {n.label: n for n in nodes}
        self.rels: dict[str, RelType] = {r.type: r for r in rels}
        for rel in self.rels.values():
            for from_label, to_label in rel.endpoints:
                for label in (from_label, to_label):
                    if label not in self.nodes:
                        raise ConfigError(
                            f"Relationship {rel.type} connects unknown label {label!r}; "
                            "declare it under [nodes] first."
                        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Schema:
        """Build from the TOML shape: ``{"nodes": {label: {...}}, "rels": {type: {...}}}``."""
        try:
            nodes = [NodeType(label=label, **spec) for label, spec in data.get("nodes", {}).items()]
            rels = [RelType(type=name, **spec) for name, spec in data.get("rels", {}).items()]
        except ValidationError as exc:
            raise ConfigError(f"Invalid schema: {_first_problem(exc)}") from exc
        return cls(nodes, rels)

    @classmethod
    def default(cls, extension: Mapping[str, Any] | None = None) -> Schema:
        """The packaged e-commerce schema, optionally extended (e.g. from ``kg.toml``)."""
        text = resources.files("kg").joinpath("default_schema.toml").read_text("utf-8")
        data = tomllib.loads(text)
        if extension:
            data = merge_schema_data(data, extension)
        return cls.from_mapping(data)

    # ------------------------------------------------------------------ lookups
    def node(self, label: str) -> NodeType:
        """The declared node type, or a ``SchemaError`` naming the known labels."""
        check_identifier(label, "Label")
        try:
            return self.nodes[label]
        except KeyError:
            raise SchemaError(
                f"Label {label!r} is not in the schema. Known labels: {', '.join(sorted(self.nodes))}."
            ) from None

    def rel(self, rel_type: str) -> RelType:
        """The declared relationship type, or a ``SchemaError`` naming the known types."""
        check_identifier(rel_type, "Relationship type")
        try:
            return self.rels[rel_type]
        except KeyError:
            raise SchemaError(
                f"Relationship type {rel_type!r} is not in the schema. "
                f"Known types: {', '.join(sorted(self.rels))}."
            ) from None

    def check_endpoints(self, rel_type: str, from_label: str, to_label: str) -> RelType:
        """Ensure ``(from_label)-[rel_type]->(to_label)`` is declared."""
        rel = self.rel(rel_type)
        self.node(from_label)
        self.node(to_label)
        if (from_label, to_label) not in rel.endpoints:
            allowed = ", ".join(f"({a})->({b})" for a, b in rel.endpoints)
            raise SchemaError(f"{rel_type} may not connect ({from_label})->({to_label}); allowed: {allowed}.")
        return rel

    def check_node_properties(self, label: str, names: Iterable[str]) -> NodeType:
        """Ensure every property name is declared for ``label``."""
        node = self.node(label)
        declared = node.all_properties()
        unknown = [n for n in names if n not in declared]
        if unknown:
            raise SchemaError(
                f"Properties {unknown} are not declared for {label}; declared: {sorted(declared)}. "
                "Add them under [schema_extension] in kg.toml."
            )
        return node

    def check_rel_properties(self, rel_type: str, names: Iterable[str]) -> RelType:
        """Ensure every property name is declared for ``rel_type``."""
        rel = self.rel(rel_type)
        unknown = [n for n in names if n not in rel.properties]
        if unknown:
            raise SchemaError(
                f"Properties {unknown} are not declared for {rel_type}; declared: {sorted(rel.properties)}."
            )
        return rel

    def node_export_properties(self, label: str, properties: list[str] | None) -> list[str]:
        """Non-key properties to export for ``label``: all declared ones, or the checked choice."""
        node = self.node(label) if properties is None else self.check_node_properties(label, properties)
        chosen = list(node.all_properties()) if properties is None else properties
        return [p for p in chosen if p != node.key]

    def rel_export_properties(self, rel_type: str, properties: list[str] | None) -> list[str]:
        """Properties to export for ``rel_type``: all declared ones, or the checked choice."""
        rel = self.check_rel_properties(rel_type, properties or [])
        return list(rel.properties) if properties is None else properties

    def labels_with_rel(self, rel_type: str) -> list[tuple[str, str]]:
        return list(self.rel(rel_type).endpoints)

    # ------------------------------------------------------------------ evolution
    def add_node_property(self, label: str, name: str, prop_type: str) -> bool:
        """Declare a property at run time (write-back of scores, embeddings).

        Returns True when the property is new. A property that already exists with a
        different type is an error rather than a silent conversion.
        """
        node = self.node(label)
        check_identifier(name, "Property")
        if prop_type not in PROPERTY_TYPES:
            raise SchemaError(f"Property type {prop_type!r} is not one of {PROPERTY_TYPES}.")
        existing = node.all_properties().get(name)
        if existing == prop_type:
            return False
        if existing is not None:
            raise SchemaError(
                f"{label}.{name} is declared as {existing}; cannot write {prop_type} values to it."
            )
        node.properties[name] = prop_type  # type: ignore[assignment]
        return True

    def to_dict(self) -> dict[str, Any]:
        """The schema in its TOML shape (for ``kg schema`` and for fingerprints)."""
        return {
            "nodes": {
                label: {
                    "key": n.key,
                    "description": n.description,
                    **({"personal_key": True} if n.personal_key else {}),
                    "properties": {name: _property_spec(n, name) for name in n.properties},
                }
                for label, n in sorted(self.nodes.items())
            },
            "rels": {
                name: {
                    "description": r.description,
                    "endpoints": [list(e) for e in r.endpoints],
                    "properties": dict(r.properties),
                }
                for name, r in sorted(self.rels.items())
            },
        }


def _property_spec(node: NodeType, name: str) -> str | dict[str, Any]:
    """A property as declared: its type, or a table with its privacy marks."""
    marks = {mark: True for mark in PRIVACY_MARKS if name in getattr(node, mark)}
    return {"type": node.properties[name], **marks} if marks else node.properties[name]


def merge_schema_data(base: Mapping[str, Any], extension: Mapping[str, Any]) -> dict[str, Any]:
    """Union of two schema mappings: new labels/types are added, existing ones gain
    properties and endpoint pairs. Nothing declared in ``base`` is removed."""
    merged: dict[str, Any] = {
        "nodes": {
            k: {**v, "properties": dict(v.get("properties", {}))} for k, v in base.get("nodes", {}).items()
        },
        "rels": {
            k: {**v, "properties": dict(v.get("properties", {})), "endpoints": list(v.get("endpoints", []))}
            for k, v in base.get("rels", {}).items()
        },
    }
    unknown_sections = set(extension) - {"nodes", "rels"}
    if unknown_sections:
        raise ConfigError(
            f"schema_extension may only hold [nodes] and [rels], not {sorted(unknown_sections)}."
        )
    for label, spec in extension.get("nodes", {}).items():
        target = merged["nodes"].setdefault(label, {"properties": {}})
        for name, declared in spec.get("properties", {}).items():
            before = target["properties"].get(name)
            keeps_marks = isinstance(before, dict) and not isinstance(declared, dict)
            target["properties"][name] = {**before, "type": declared} if keeps_marks else declared
        for field in ("key", "description", "personal_key"):
            if field in spec:
                target[field] = spec[field]
    for name, spec in extension.get("rels", {}).items():
        target = merged["rels"].setdefault(name, {"properties": {}, "endpoints": []})
        target["properties"].update(spec.get("properties", {}))
        for pair in spec.get("endpoints", []):
            if list(pair) not in [list(p) for p in target["endpoints"]]:
                target["endpoints"].append(list(pair))
        if "description" in spec:
            target["description"] = spec["description"]
    return merged


def infer_property_type(values: pd.Series) -> str:
    """The schema type for a column of write-back values (scores, flags, embeddings)."""
    if pd.api.types.is_bool_dtype(values):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(values):
        return "INT64"
    if pd.api.types.is_float_dtype(values):
        return "DOUBLE"
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, (list, tuple, np.ndarray)):
        first = next(iter(sample), "")
        return "STRING[]" if isinstance(first, str) else "DOUBLE[]"
    return "STRING"


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
