"""Looking at the graph: ``kg stats``, ``kg schema`` and ``kg query`` (Cypher, and the
cypher/ query library)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from kg.commands.context import console, state
from kg.errors import InputError


def stats(
    all_: Annotated[bool, typer.Option("--all", help="Also list empty labels and types.")] = False,
) -> None:
    """Counts per node label and relationship type."""
    from kg.render import counts_table

    console.print(counts_table(state.platform().stats(), show_empty=all_))


def schema(
    as_json: Annotated[bool, typer.Option("--json", help="Print the schema as JSON.")] = False,
) -> None:
    """The declared graph schema (the default plus \\[schema_extension] from the config)."""
    from kg.render import schema_tables
    from kg.schema import Schema

    declared = Schema.default(state.settings().schema_extension)
    if as_json:
        console.print_json(json.dumps(declared.to_dict()))
    else:
        console.print(schema_tables(declared))


def query(
    what: Annotated[
        Optional[str], typer.Argument(help="A query name from cypher/, a .cypher file, or Cypher text.")
    ] = None,
    param: Annotated[
        Optional[list[str]], typer.Option("--param", "-p", help="Query parameter as name=value; repeatable.")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow the query to change the graph.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the queries of the library.")] = False,
    max_rows: Annotated[int, typer.Option(min=1, help="Rows to print.")] = 50,
) -> None:
    """Run a Cypher query. Read-only unless --write; values go in as parameters.

    Parameter values are typed: -p k=10 is an integer, -p x=1.5 a float, -p flag=true a
    boolean, -p v=null null; -p zip:str=02139 (or a quoted '02139') keeps text."""
    from cypher import list_queries
    from cypher.lookup import find_query
    from kg.render import frame_table, query_library_table

    if list_:
        console.print(query_library_table(list_queries()))
        return
    given = _parse_params(param or [])
    platform = state.platform()
    chosen = find_query(what or "", neo4j=platform.settings.uses_neo4j)
    frame = platform.query(chosen.text, chosen.bind(given), write=write)
    console.print(frame_table(frame, title=chosen.description or None, max_rows=max_rows))


def _parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r} must look like name=value.")
        if name.strip() in params:
            raise InputError(f"--param {name.strip()} is given twice.")
        params[name.strip()] = value
    return params


def register(app: typer.Typer) -> None:
    for command in (stats, schema, query):
        app.command()(command)
