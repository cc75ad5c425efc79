"""``kg ask``: natural-language product search with filters, semantic ranking and reasons."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kg.commands.context import console, state


def ask(
    question: Annotated[str, typer.Argument(help='The question, e.g. "waterproof jacket under 150".')],
    user: Annotated[
        Optional[str], typer.Option("--user", help="Re-rank by this user's interest tags (kg profile).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="How many answers.")] = 5,
) -> None:
    """Answer a product question from the graph. Brands, categories and materials the
    catalogue knows, prices ("under 150", "between 20 and 80") and colours become filters;
    the items that pass are ranked by MiniLM similarity between the question and their
    text, then by the user's interests with --user. Each answer says why; words that
    are no filter are listed, and those no item text contains are reported as unknown."""
    from kg.ask.search import Catalogue, ask, user_interests
    from kg.render import frame_table
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=True) as store:
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
    for row in result.answers.itertuples():
        if row.path:
            console.print(f"{row.rank}. MATCH {row.path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(ask)
