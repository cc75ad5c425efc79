"""Mapping files: how the columns of a CSV/JSONL file become nodes and relationships.

A mapping (TOML or JSON) has either a ``[nodes]`` section -- each row is one node, and
``links`` turn columns into relationships to other nodes created on the fly (a brand
name becomes a ``Brand`` node) -- or an ``[edges]`` section -- each row is one
relationship between two existing nodes (a purchase). Example::

    [nodes]
    label = "Item"
    id = "sku"
    properties = { name = "title", price = "price" }
    constants = { kind = "product" }
    links = [ { rel = "HAS_BRAND", label = "Brand", column = "brand" } ]

    [edges]
    rel = "PURCHASED"
    from = { label = "User", column = "customer" }
    to = { label = "Item", column = "sku" }
    properties = { count = "quantity", timestamp = "ts" }
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kg.errors import ConfigError
from kg.schema import Schema

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LinkMapping(_Strict):
    """A column whose value names another node, linked by ``rel``.

    ``direction = "out"`` gives ``(row)-[rel]->(value)``, ``"in"`` the reverse. Values
    are split on ``split`` when set ("Action|Comedy"). The linked node's key is the
    slug of the value (``key = "slug"``) or the value itself (``key = "value"``).
    """

    rel: str
    label: str
    column: str
    direction: Literal["out", "in"] = "out"
    split: str | None = None
    key: Literal["slug", "value"] = "slug"


class NodeMapping(_Strict):
    label: str
    id: str = Field(description="Column holding the node key.")
    properties: dict[str, str] = Field(default_factory=dict, description="property = column")
    constants: dict[str, Any] = Field(default_factory=dict, description="property = fixed value")
    links: list[LinkMapping] = Field(default_factory=list)


class Endpoint(_Strict):
    label: str
    column: str


class EdgeMapping(_Strict):
    rel: str
    source: Endpoint = Field(alias="from")
    target: Endpoint = Field(alias="to")
    properties: dict[str, str] = Field(default_factory=dict, description="property = column")


class Mapping(_Strict):
    """One file's mapping: exactly one of ``nodes`` or ``edges``.

    ``format`` overrides the file extension (``kg ingest --format`` overrides both);
    ``delimiter`` overrides the format's (``;`` for the semicolon CSV of European
    spreadsheets); ``encoding`` is the file's text encoding (``--encoding`` overrides it).
    """

    format: Literal["csv", "tsv", "jsonl"] | None = None
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    nodes: NodeMapping | None = None
    edges: EdgeMapping | None = None

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _DELIMITER_NAMES.get(value.lower(), value)
        if len(value) != 1 or value in '"\r\n':
            raise ValueError(
                f"delimiter must be one character other than a quote or line break, such as "
                f'";" or "\\t" (tab); got {value!r}'
            )
        return value

    @model_validator(mode="after")
    def _one_section(self) -> Mapping:
        if (self.nodes is None) == (self.edges is None):
            raise ValueError("a mapping needs exactly one of [nodes] or [edges]")
        return self

    def columns(self) -> list[str]:
        """Every input column the mapping reads."""
        if self.nodes is not None:
            return [
                self.nodes.id,
                *self.nodes.properties.values(),
                *(link.column for link in self.nodes.links),
            ]
        assert self.edges is not None
        return [self.edges.source.column, self.edges.target.column, *self.edges.properties.values()]

    def key_columns(self) -> list[str]:
        """Columns every record must have."""
        if self.nodes is not None:
            return [self.nodes.id]
        assert self.edges is not None
        return [self.edges.source.column, self.edges.target.column]

    def check_schema(self, schema: Schema) -> None:
        """Every label, relationship type and property must be declared."""
        if self.nodes is not None:
            nodes = self.nodes
            schema.check_node_properties(nodes.label, [*nodes.properties, *nodes.constants])
            for link in nodes.links:
                schema.node(link.label)
                pair = (nodes.label, link.label) if link.direction == "out" else (link.label, nodes.label)
                schema.check_endpoints(link.rel, *pair)
        if self.edges is not None:
            edges = self.edges
            schema.check_endpoints(edges.rel, edges.source.label, edges.target.label)
            schema.check_rel_properties(edges.rel, edges.properties)

    def check_columns(self, available: Iterable[str], source: str) -> None:
        """Refuse a mapping that names columns the file does not have."""
        have = set(available)
        missing = [c for c in dict.fromkeys(self.columns()) if c not in have]
        if missing:
            raise ConfigError(
                f"The mapping names columns that {source} does not have: {missing}. "
                f"Columns in the file: {sorted(have)}."
            )


def load_mapping(path: Path) -> Mapping:
    """Read and validate a TOML or JSON mapping file."""
    if not path.is_file():
        raise ConfigError(f"Mapping file {path} does not exist.")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text("utf-8"))
        else:
            data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Mapping file {path} cannot be parsed: {exc}") from exc
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "mapping"
        raise ConfigError(f"Mapping file {path}: {where}: {err['msg']}") from exc
