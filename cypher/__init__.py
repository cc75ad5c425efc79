"""The analyst query library: one documented ``.cypher`` file per question.

Each file starts with a header of ``//`` comments::

    // name: top-customers
    // description: Customers ranked by purchases and spend.
    // param: k INT64 = 10 -- how many customers to list
    // portable: true

``portable: true`` means the query uses only Cypher that both Neo4j 5 and the embedded
store accept; the others are Neo4j-only (vector indexes, APOC, ``db.*`` procedures).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import InputError, NotFoundError
from kg.ingest.convert import CONVERTERS

LIBRARY_DIR = Path(__file__).parent
_HEADER = re.compile(r"^//\s*(\w+):\s*(.*)$")
_PARAM = re.compile(r"^(\w+)\s+([A-Z0-9\[\]]+)(?:\s*=\s*(.*?))?\s*(?:--\s*(.*))?$")


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True)
class CypherQuery:
    name: str
    description: str
    text: str
    portable: bool
    params: dict[str, QueryParam] = field(default_factory=dict)
    path: Path | None = None

    def bind(self, given: dict[str, str]) -> dict[str, Any]:
        """Typed parameter values: given text converted by declared type, else defaults."""
        unknown = set(given) - set(self.params)
        if unknown and self.params:
            raise InputError(
                f"Query {self.name!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(self.params)}."
            )
        values: dict[str, Any] = {}
        for name, param in self.params.items():
            raw = given.get(name, param.default)
            if raw is None:
                raise InputError(
                    f"Query {self.name!r} needs --param {name}=... ({param.description or param.type})."
                )
            try:
                values[name] = CONVERTERS[param.type](raw)
            except (ValueError, KeyError) as exc:
                raise InputError(f"Parameter {name}: {exc}") from None
        if not self.params:
            values.update(given)
        return values


def parse_query(text: str, *, name: str = "query", path: Path | None = None) -> CypherQuery:
    """Read the header comments (if any) and the statement of a query file."""
    meta: dict[str, str] = {}
    params: dict[str, QueryParam] = {}
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if not match:
            if line.strip() and not line.strip().startswith("//"):
                break
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "param":
            param = _PARAM.match(value)
            if not param:
                raise InputError(f"{path or name}: cannot read parameter declaration {value!r}.")
            pname, ptype, default, doc = param.groups()
            params[pname] = QueryParam(pname, ptype, default, doc or "")
        else:
            meta[key] = value
    statement = (
        "\n".join(row for row in text.splitlines() if not row.strip().startswith("//")).strip().rstrip(";")
    )
    return CypherQuery(
        name=meta.get("name", name),
        description=meta.get("description", ""),
        text=statement,
        portable=meta.get("portable", "false").lower() == "true",
        params=params,
        path=path,
    )


def list_queries() -> list[CypherQuery]:
    """Every query in the library, sorted by name."""
    return sorted(
        (parse_query(p.read_text("utf-8"), name=p.stem, path=p) for p in LIBRARY_DIR.glob("*.cypher")),
        key=lambda query: query.name,
    )


def load_query(name: str) -> CypherQuery:
    """One library query by name."""
    for query in list_queries():
        if query.name == name:
            return query
    raise NotFoundError(f"No query named {name!r} in cypher/; `kg query --list` shows them.")
