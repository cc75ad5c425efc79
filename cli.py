"""``kg``: the command line of the knowledge-graph recommendation platform.

This file only assembles the app: each family of commands is a module of
``kg/commands/`` with a ``register(app)`` function, and ``COMMANDS`` lists them in the
order ``kg --help`` shows them. Errors a user can fix are one red line and exit code 1
(``kg/command_errors.py``).
"""

from __future__ import annotations

import typer

from kg.command_errors import KGGroup, run_app
from kg.commands import (
    ask,
    datasets,
    demo,
    embeddings,
    export,
    extract,
    ingest,
    marketing,
    privacy,
    profile,
    query,
    recommend,
    serve,
)
from kg.commands.context import global_options

app = typer.Typer(
    name="kg",
    help="Turn catalogs, customers, interactions and text into a knowledge graph, and use it "
    "to recommend and to target. The embedded store needs no setup; set KG_STORE to a "
    "bolt:// or neo4j:// URI to use Neo4j.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=KGGroup,
)
app.callback()(global_options)

COMMANDS = (
    demo,
    ingest,
    query,
    datasets,
    export,
    extract,
    embeddings,
    recommend,
    serve,
    marketing,
    privacy,
    profile,
    ask,
)
for module in COMMANDS:
    module.register(app)


def main() -> None:
    """Console-script entry (``kg``)."""
    run_app(app)


if __name__ == "__main__":
    main()
