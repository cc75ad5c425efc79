"""``kg ask``: natural-language product search with filters, semantic ranking and reasons;
analytic questions answered by checked, read-only Cypher a language model writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kg.commands.context import console, state

if TYPE_CHECKING:
    from kg.config import Settings
    from kg.store import GraphStore


def ask(
    question: Annotated[str, typer.Argument(help='The question, e.g. "waterproof jacket under 150".')],
    user: Annotated[
        Optional[str], typer.Option("--user", help="Re-rank by this user's interest tags (kg profile).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="How many answers.")] = 5,
    cypher: Annotated[
        Optional[bool],
        typer.Option(
            "--cypher/--search",
            help="--cypher: an analytic question, answered by Cypher the \\[ask] cypher_backend model writes; "
            "--search: a product search. Default: analytic when the question asks for an aggregate "
            "(which/how many ... most, count, average...).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Run generated Cypher without asking (it is still shown).")
    ] = False,
) -> None:
    """Answer a product question from the graph. Brands, categories and materials the
    catalogue knows, prices ("under 150", "between 20 and 80") and colours become filters;
    the items that pass are ranked by MiniLM similarity between the question and their
    text (the Neo4j vector index when there is one), then by the user's interests with
    --user. Each answer says why; words that are no filter are listed, and those no item
    text contains are reported as unknown.

    Analytic questions ("which brand had the most negative reviews last month?") need a
    language model (\\[ask] cypher_backend = openai or hf): it is shown the schema's names
    (no values, no personal properties for a remote model) and writes one Cypher query,
    which is printed, checked (read-only, schema names only) and run read-only after you
    confirm (or with --yes)."""
    from kg.ask.analytic import TEMPLATE, looks_analytic
    from kg.store import open_store

    settings = state.settings()
    analytic = cypher if cypher is not None else looks_analytic(question)
    with open_store(settings, read_only=True) as store:
        if analytic and (cypher or settings.ask.cypher_backend.strip().lower() != TEMPLATE):
            _answer_with_cypher(store, settings, question, yes)
            return
        if analytic:
            console.print(
                "This looks like an analytic question; writing Cypher for it needs a language model "
                "([ask] cypher_backend = openai or hf). Answering it as a product search instead.",
                style="yellow",
                markup=False,
            )
        _search(store, settings, question, user, k)


def _answer_with_cypher(store: GraphStore, settings: Settings, question: str, yes: bool) -> None:
    from kg.ask.analytic import run_read_only, write_cypher
    from kg.render import frame_table

    generated = write_cypher(store, settings, question)
    console.print(f"Cypher written by {generated.backend} ({generated.model}):", markup=False)
    if generated.masked:
        console.print("(personal values in the question were masked before it left this machine)")
    console.print(generated.cypher, markup=False, highlight=False)
    checked = generated.checked()
    if not yes and not typer.confirm("Run this read-only query?", default=False):
        console.print("Not run.")
        return
    frame = run_read_only(store, checked)
    console.print(frame_table(frame, title=question, max_rows=settings.ask.max_rows))


def _search(store: GraphStore, settings: Settings, question: str, user: str | None, k: int) -> None:
    from kg.ask.search import Catalogue, ask, user_interests
    from kg.render import frame_table

    interests = user_interests(store, user) if user else None
    result = ask(Catalogue.from_store(store, settings), question, k, interests)
    understood = "; ".join(result.intent.describe()) or "no filters"
    console.print(f"Understood: {understood}. {result.candidates:,} items pass the filters.", markup=False)
    if result.intent.free_words:
        console.print(f"Ranking only (not a filter): {', '.join(result.intent.free_words)}", markup=False)
    if result.unknown:
        console.print(
            f"Unknown words (no item text contains them): {', '.join(result.unknown)}",
            style="yellow",
            markup=False,
        )
    if result.answers.empty:
        console.print("No item meets every filter; drop one and ask again.", style="yellow")
        return
    title = f"Answers to {question!r}" + (f" for {user}" if user else "")
    console.print(frame_table(result.answers.drop(columns="path"), title=title))
    console.print(f"Ranked by {result.ranked_by}.", markup=False)
    for row in result.answers.itertuples():
        if row.path:
            console.print(f"{row.rank}. MATCH {row.path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(ask)
