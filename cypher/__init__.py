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
from kg.store.cypher_tokens import parameter_names

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
        """Typed parameter values from ``--param`` text.

        A declared parameter is converted by its declared type (``name:TYPE`` overrides
        it) and falls back to its default; an inline query's values are inferred
        (``parse_param_value``). Every ``$name`` the statement uses must be given, and
        every given name must be used: a typo is one clear line, not an empty result."""
        typed = {split_param_name(key)[0]: (split_param_name(key)[1], raw) for key, raw in given.items()}
        used = parameter_names(self.text) | set(self.params)
        unknown = sorted(set(typed) - used)
        if unknown:
            takes = f"it takes {', '.join(sorted(used))}" if used else "it takes no parameters"
            raise InputError(f"Query {self.name!r} has no parameter(s) {', '.join(unknown)}; {takes}.")
        values: dict[str, Any] = {}
        for name in sorted(used):
            declared = self.params.get(name)
            type_name, raw = typed.get(name, (None, declared.default if declared else None))
            if raw is None:
                hint = f" ({declared.description or declared.type})" if declared else ""
                raise InputError(f"Query {self.name!r} needs --param {name}=...{hint}.")
            values[name] = parse_param_value(name, raw, type_name or (declared.type if declared else None))
        return values


PARAM_TYPES = ("str", "int", "float", "bool", "null", *CONVERTERS)
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def split_param_name(key: str) -> tuple[str, str | None]:
    """``year:int`` -> ("year", "int"); ``year`` -> ("year", None)."""
    name, _, type_name = key.partition(":")
    if type_name and type_name not in PARAM_TYPES:
        raise InputError(f"--param {key}: unknown type {type_name!r}; use one of {', '.join(PARAM_TYPES)}.")
    return name.strip(), type_name or None


def parse_param_value(name: str, raw: str, type_name: str | None = None) -> Any:
    """A ``--param`` value as the type the user meant.

    With a type (``name:int=...`` or a library query's declared type) it is converted
    and checked; without one, ``1`` is an int, ``1.5`` a float, ``true``/``false`` a
    boolean, ``null`` is null, and anything else a string -- quote it (``'1980'``) to keep
    digits as text. ``WHERE year < $y`` then compares numbers, and ``LIMIT $k`` works."""
    try:
        if type_name in CONVERTERS:
            return CONVERTERS[type_name](raw)
        if type_name == "str":
            return raw
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError(f"{raw!r} is not true or false")
            return raw.lower() == "true"
        if type_name == "null":
            return None
    except (ValueError, TypeError) as exc:
        raise InputError(f"Parameter {name}: {exc}") from None
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if raw.lower() == "null":
        return None
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    return raw


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
