"""Personal data: ``kg forget`` (erasure) and ``kg lookup`` (pseudonyms)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.commands.context import console, state


def forget(
    users: Annotated[Optional[list[str]], typer.Argument(help="User ids to forget.")] = None,
    ids_file: Annotated[
        Optional[Path], typer.Option("--file", help="A file of user ids, one per line ('#' comments).")
    ] = None,
) -> None:
    """Erase users and everything derived from them (right to erasure).

    Removes each user with their interactions, recommendations, segment and campaign
    memberships, messages written for them, their reviews' authorship (or the reviews:
    privacy.forget_reviews), their cached model inputs and outputs, their rows in the
    fitted recommender and their entity in stored embedding runs (marked stale). On the
    embedded store the file is rewritten so no deleted bytes remain. Safe to re-run.
    """
    from kg.privacy.forget import read_ids
    from kg.render import forget_table

    wanted = list(users or []) + (read_ids(ids_file) if ids_file else [])
    if not wanted:
        raise typer.BadParameter("give user ids, or --file with one id per line", param_hint="USERS")
    report = state.platform().forget(wanted)
    if report.nothing_to_forget:
        console.print(f"Nothing to forget: no trace of {', '.join(report.requested)} was found.")
        return
    console.print(forget_table(report))


def lookup(
    value: Annotated[str, typer.Argument(help="An original id (default), or a pseudonym with --reveal.")],
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Map a pseudonym back to the original (needs KG_PSEUDONYM_KEY).")
    ] = False,
    label: Annotated[str, typer.Option(help="Label of the id.")] = "User",
    prop: Annotated[
        str, typer.Option("--property", help="Property the value belongs to (default: the key).")
    ] = "",
) -> None:
    """The pseudonym of an id under KG_PSEUDONYM_KEY, or with --reveal the id behind one."""
    from kg.privacy.pseudonyms import lookup_pseudonym, reveal_pseudonym

    settings = state.settings()
    if reveal:
        console.print(reveal_pseudonym(settings, value), highlight=False, markup=False)
    else:
        console.print(lookup_pseudonym(settings, label, prop or None, value), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(forget)
    app.command()(lookup)
