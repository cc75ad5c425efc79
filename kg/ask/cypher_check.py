"""Cypher a language model wrote, checked before anyone may run it.

A model's query is untrusted input. It may run only when it is one statement that reads
the graph and names nothing the model was not shown:

* no clause that writes (``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``,
  ``DROP``, ``FOREACH``...), reads files (``LOAD CSV``), runs a procedure or subquery
  (``CALL``: procedures can write, and a read-only question needs none), switches
  database (``USE``) or calls plugin functions (``apoc.*``; the temporal built-ins such
  as ``datetime.fromepoch`` are allowed);
* no ``$parameter`` (there is nobody to fill it);
* every label, relationship type and property is in the :class:`SchemaView` the model
  was given (which never holds ``pii`` properties for a remote model).

The checks read code tokens (``kg.store.cypher_tokens``), so a word inside a string
("Set of 3 mugs") is data, not a clause. They are the first line; the query then runs in
a read-only transaction with the store's own guard, the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches

from kg.errors import InputError
from kg.schema import Schema
from kg.store.cypher_tokens import code_tokens

WRITES = frozenset(
    {"CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "FOREACH", "INSERT", "ALTER"}
    | {"GRANT", "DENY", "REVOKE", "TERMINATE", "COPY", "INSTALL", "UNINSTALL", "ATTACH", "IMPORT", "EXPORT"}
)
OTHER_REFUSALS = {
    "LOAD": "reads files or URLs (LOAD CSV)",
    "CALL": "runs a procedure or subquery (CALL), and procedures can write",
    "USE": "switches to another database (USE)",
    "SHOW": "reads the server's administration (SHOW)",
}
# Namespaced functions a read-only analytic query may call: Cypher's temporal and spatial built-ins.
BUILTIN_NAMESPACES = frozenset(
    {"date", "datetime", "localdatetime", "localtime", "time", "duration", "point"}
)
HIDDEN_TYPES = frozenset({"DOUBLE[]"})  # embeddings: no use to a question, long to list


class RefusedCypher(InputError):
    """The model's Cypher may not run: it writes, reaches outside the graph, or names
    something the schema does not have. Nothing was run."""


@dataclass(frozen=True)
class SchemaView:
    """The part of the schema a model is shown, and the only names its Cypher may use:
    labels and relationship types with their property names (never values)."""

    nodes: dict[str, tuple[str, ...]]  # label -> properties, key first
    rels: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]]  # type -> endpoints, properties

    @classmethod
    def of(cls, schema: Schema, *, personal: bool) -> SchemaView:
        """The schema's names; ``pii`` properties only when ``personal`` (a local model
        the privacy settings allow to see personal data), embeddings never."""
        nodes = {}
        for label, node in sorted(schema.nodes.items()):
            hidden = set() if personal else node.pii | node.identifier
            nodes[label] = tuple(
                name
                for name, kind in node.all_properties().items()
                if name not in hidden and kind not in HIDDEN_TYPES
            )
        rels = {
            rel_type: (
                tuple(tuple(pair) for pair in rel.endpoints),
                tuple(name for name, kind in rel.properties.items() if kind not in HIDDEN_TYPES),
            )
            for rel_type, rel in sorted(schema.rels.items())
        }
        return cls(nodes, rels)

    def outline(self) -> str:
        """The view as prompt text: one line per label and per relationship type."""
        lines = ["Node labels and their properties:"]
        lines += [f"(:{label}) {', '.join(props)}" for label, props in self.nodes.items()]
        lines.append("Relationship types (from)-[:TYPE {properties}]->(to):")
        for rel_type, (endpoints, props) in self.rels.items():
            braces = f" {{{', '.join(props)}}}" if props else ""
            lines += [f"(:{a})-[:{rel_type}{braces}]->(:{b})" for a, b in endpoints]
        return "\n".join(lines)

    @property
    def all_properties(self) -> set[str]:
        found = {p for props in self.nodes.values() for p in props}
        return found | {p for _, props in self.rels.values() for p in props}


def _refuse(reason: str) -> RefusedCypher:
    return RefusedCypher(f"Refused the generated Cypher: it {reason}. Nothing was run.")


def _unknown(kind: str, name: str, known: list[str]) -> RefusedCypher:
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return _refuse(f"names the {kind} {name}, which the schema does not have{hint}")


def check_generated(cypher: str, view: SchemaView) -> str:
    """The statement without a trailing ``;`` when it may run; else :class:`RefusedCypher`
    with one line that says why."""
    tokens = code_tokens(cypher)
    while tokens and tokens[-1] == ("other", ";"):
        tokens.pop()
    if not tokens:
        raise RefusedCypher("The language model wrote no Cypher for this question; ask it another way.")
    if ("other", ";") in tokens:
        raise _refuse("holds more than one statement")
    _check_clauses(tokens)
    _check_names(tokens, view)
    return cypher.strip().rstrip(";").strip()


def _check_clauses(tokens: list[tuple[str, str]]) -> None:
    for position, (kind, text) in enumerate(tokens):
        if kind == "other" and text == "$":
            following = tokens[position + 1][1] if position + 1 < len(tokens) else ""
            raise _refuse(f"uses the parameter ${following}, which nobody fills")
        if kind != "word":
            continue
        upper = text.upper()
        if upper in WRITES:
            raise _refuse(f"writes to the graph ({upper}); kg ask runs read-only queries only")
        if upper in OTHER_REFUSALS:
            raise _refuse(OTHER_REFUSALS[upper])
        called = position + 1 < len(tokens) and tokens[position + 1] == ("other", "(")
        if "." in text and called and text.split(".")[0].lower() not in BUILTIN_NAMESPACES:
            raise _refuse(f"calls the plugin function {text}, which may write or reach outside the graph")


def _check_names(tokens: list[tuple[str, str]], view: SchemaView) -> None:
    """Labels and types after ``:`` in patterns (and ``n:Label`` tests), keys of pattern
    property maps, and ``variable.property`` lookups."""
    labels, types = sorted(view.nodes), sorted(view.rels)
    bound: dict[str, set[str]] = {}  # variable -> its labels' and types' properties
    stack: list[str] = []
    element: set[str] = set()  # properties of the node or relationship pattern being read
    map_owner: list[set[str] | None] = []
    for position, (kind, text) in enumerate(tokens):
        if kind == "other" and text in "([{":
            if text == "{":
                map_owner.append(element if stack and stack[-1] in "([" and element else None)
            else:
                element = set()
            stack.append(text)
            continue
        if kind == "other" and text in ")]}":
            if stack:
                stack.pop()
            if text == "}" and map_owner:
                map_owner.pop()
            continue
        inside = stack[-1] if stack else ""
        if kind == "other" and text == ":" and inside != "{":
            names = _names_after(tokens, position)
            if not names:
                continue
            in_relationship = inside == "["
            for name in names:
                if in_relationship and name not in view.rels:
                    raise _unknown("relationship type", name, types)
                if not in_relationship and name not in view.nodes and name not in view.rels:
                    raise _unknown("label", name, labels)
                props = set(view.nodes.get(name, ())) | set(view.rels.get(name, ((), ()))[1])
                element |= props
                variable = tokens[position - 1]
                if variable[0] == "word" and "." not in variable[1]:
                    bound.setdefault(variable[1], set()).update(props)
            continue
        if inside == "{" and kind == "word" and _followed_by(tokens, position, ":"):
            owner = map_owner[-1] if map_owner else None
            if owner is not None and text not in owner:
                raise _unknown("property", text, sorted(owner))
            continue
        if kind == "word" and "." in text and not _followed_by(tokens, position, "("):
            variable, prop = text.split(".")[:2]
            known = bound.get(variable, view.all_properties)
            if prop not in known:
                raise _unknown("property", f"{variable}.{prop}", sorted(f"{variable}.{p}" for p in known))


def _names_after(tokens: list[tuple[str, str]], colon: int) -> list[str]:
    """The label or type names of ``:A``, ``:A:B``, ``:A|B`` or ``:A&B`` from a ``:``."""
    names, position = [], colon
    while position + 1 < len(tokens) and tokens[position][1] in (":", "|", "&", "!"):
        kind, text = tokens[position + 1]
        if kind == "word":
            names.append(text)
        elif kind == "quoted":
            names.append(text.strip("`"))
        else:
            break
        position += 2
    return names


def _followed_by(tokens: list[tuple[str, str]], position: int, text: str) -> bool:
    return position + 1 < len(tokens) and tokens[position + 1] == ("other", text)
