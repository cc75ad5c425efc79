"""What ``kg query WHAT`` means by WHAT: a library query's name, a ``.cypher`` file, or
Cypher text, in that order of checks."""

from __future__ import annotations

from pathlib import Path

from cypher import CypherQuery, load_query, parse_query
from kg.errors import InputError, NotFoundError


def find_query(what: str, *, neo4j: bool) -> CypherQuery:
    """The query WHAT names; a Neo4j-only library query is refused on the embedded store
    (``neo4j`` false) with the way to run it, before any store is opened."""
    if not what:
        raise InputError("Give a query name, a .cypher file or Cypher text (or --list).")
    if what.endswith(".cypher"):
        path = Path(what)
        if not path.is_file():
            raise NotFoundError(f"{what}: file not found.")
        return parse_query(path.read_text("utf-8"), name=path.stem, path=path)
    if not _looks_like_name(what):
        return parse_query(what, name="inline")
    chosen = load_query(what)
    if not chosen.portable and not neo4j:
        raise InputError(
            f"Query {chosen.name!r} uses Neo4j-only Cypher; run it with KG_STORE set to a Neo4j URI "
            "(README, 'Use Neo4j')."
        )
    return chosen


def _looks_like_name(text: str) -> bool:
    return all(ch.isalnum() or ch in "-_" for ch in text)
