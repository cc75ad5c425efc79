"""Recommending and targeting: ``kg recommend``, ``kg similar``, ``kg audience``,
``kg segment`` and ``kg evaluate``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from kg.commands.context import console, err_console, given, state
from kg.errors import InputError

CategoryOption = Annotated[
    Optional[str], typer.Option(help="Only items in this category or its sub-categories (id or name).")
]
BrandOption = Annotated[Optional[str], typer.Option(help="Only items of this brand (id or name).")]
GenreOption = Annotated[Optional[str], typer.Option(help="Only items of this genre (id or name).")]
MinPriceOption = Annotated[Optional[float], typer.Option(help="Lowest price.")]
MaxPriceOption = Annotated[Optional[float], typer.Option(help="Highest price.")]
InStockOption = Annotated[bool, typer.Option("--in-stock", help="Only items marked in stock.")]


def _item_filter(
    category: Optional[str],
    brand: Optional[str],
    genre: Optional[str],
    min_price: Optional[float],
    max_price: Optional[float],
    in_stock: bool,
):
    from kg.recommend.filters import ItemFilter

    return ItemFilter(category, brand, genre, min_price, max_price, in_stock)


def recommend(
    user: Annotated[Optional[str], typer.Argument(help="User id (leave out with --all).")] = None,
    k: Annotated[
        Optional[int], typer.Option("--k", "-k", min=1, help="How many items (default: recommend.k).")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the strongest graph path behind each item.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Write them as RECOMMENDED edges (replacing the user's).")
    ] = False,
    all_users: Annotated[bool, typer.Option("--all", help="Every user (with --write).")] = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="Refit the recommender even if the graph looks unchanged.")
    ] = False,
    category: CategoryOption = None,
    brand: BrandOption = None,
    genre: GenreOption = None,
    min_price: MinPriceOption = None,
    max_price: MaxPriceOption = None,
    in_stock: InStockOption = False,
) -> None:
    """Top-k items a user has not seen yet, fused from graph paths, link prediction, text and popularity."""
    from kg.progress import rich_progress
    from kg.recommend.service import load_recommender, write_all_recommendations
    from kg.recommend.tables import cypher_panel, print_notes, recommendations_table
    from kg.recommend.writeback import write_recommendations
    from kg.store import open_store

    if all_users == bool(user):
        raise InputError("Give one USER id, or --all --write for every user.")
    if all_users and not write:
        raise InputError("--all writes recommendations for every user; add --write.")
    chosen = _item_filter(category, brand, genre, min_price, max_price, in_stock)
    settings = state.settings()
    with open_store(settings, read_only=not write) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, refit=refit, progress=progress)
        if all_users:
            written = write_all_recommendations(store, recommender, k, chosen, progress=progress)
            console.print(
                f"[green]Wrote[/] {written:,} RECOMMENDED edges for {recommender.graph.n_users:,} users ({recommender.name})."
            )
            return
        frame = recommender.recommend(user, k, chosen, explain=explain or write)  # type: ignore[arg-type]
        if write:
            write_recommendations(store, frame, recommender.name)
    print_notes(err_console, recommender.notes)
    shown = frame.drop(
        columns=["user"] if explain else ["user", "reason", "signal", "cypher"], errors="ignore"
    )
    among = "every item that passes the filters" if chosen.active else "every item in the graph"
    console.print(
        recommendations_table(
            shown,
            f"Recommendations for user {user}",
            empty=f"nothing to recommend: user {user} has already interacted with {among}",
        )
    )
    if explain and not frame.empty:
        console.print(cypher_panel(frame))
    if write:
        console.print(f"[green]Wrote[/] {len(frame)} RECOMMENDED edges for user {user} ({recommender.name}).")


def similar(
    item: Annotated[str, typer.Argument(help="Item id.")],
    k: Annotated[Optional[int], typer.Option("--k", "-k", min=1, help="How many items.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show the path behind each item.")] = False,
    category: CategoryOption = None,
    brand: BrandOption = None,
    genre: GenreOption = None,
    min_price: MinPriceOption = None,
    max_price: MaxPriceOption = None,
    in_stock: InStockOption = False,
) -> None:
    """Items to show next to ITEM ("customers who bought this also bought", shared attributes, text)."""
    from kg.progress import rich_progress
    from kg.recommend.service import load_recommender
    from kg.recommend.tables import cypher_panel, recommendations_table
    from kg.store import open_store

    chosen = _item_filter(category, brand, genre, min_price, max_price, in_stock)
    settings = state.settings()
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, progress=progress)
    frame = recommender.similar_items(item, k, chosen, explain=True)
    title = f"Similar to {recommender.graph.item_name(recommender.graph.item_index(item))} ({item})"
    empty = "no other item passes the filters" if chosen.active else "the graph has no other item"
    console.print(
        recommendations_table(
            frame if explain else frame.drop(columns=["reason", "signal", "cypher"]), title, empty=empty
        )
    )
    if explain and not frame.empty:
        console.print(cypher_panel(frame))


def audience(
    target: Annotated[
        str,
        typer.Argument(help="Item id, or a category/brand/genre id or name (Label:name to disambiguate)."),
    ],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many users.")] = 20,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Say why each user is in.")] = True,
) -> None:
    """The users most likely to convert on an item, category or brand (precision targeting)."""
    from kg.progress import rich_progress
    from kg.recommend.audience import consented_audience, resolve_target
    from kg.recommend.service import load_recommender
    from kg.recommend.tables import recommendations_table
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        recommender = load_recommender(store, settings, progress=progress)
        frame, refused = consented_audience(
            store, settings, recommender, target, k, explain=explain, progress=progress
        )
    description = resolve_target(recommender.graph, target).description
    console.print(
        recommendations_table(
            frame[[c for c in ("rank", "user", "score", "name", "rank_for_user", "reason") if c in frame]],
            f"Audience for {description}",
            empty="no user left to target: every user has already interacted with it",
        )
    )
    if refused:
        console.print(f"{refused:,} users who refused marketing (consent = false) were left out.")


def segment(
    k: Annotated[int, typer.Option("--k", "-k", min=2, help="Number of segments.")] = 8,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write Segment nodes and IN_SEGMENT edges.")
    ] = True,
) -> None:
    """Cluster users on their embeddings and behaviour; write and profile the segments."""
    from kg.progress import rich_progress
    from kg.recommend.segments import segment_graph
    from kg.recommend.tables import print_notes, segments_table
    from kg.store import open_store

    settings = state.settings()
    with open_store(settings, read_only=not write) as store, rich_progress(err_console) as progress:
        segmentation, table, notes = segment_graph(store, settings, k, write=write, progress=progress)
    print_notes(err_console, notes)
    console.print(segments_table(table, f"{k} segments ({segmentation.model})"))
    if write:
        console.print("[green]Wrote[/] Segment nodes and IN_SEGMENT edges; try: kg query segment-profiles")


def evaluate(
    k: Annotated[
        Optional[int], typer.Option("--k", "-k", min=1, help="Cut-off K (default: recommend.k).")
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option(help="Seed of the per-user split (default: recommend.seed).")
    ] = None,
    signals: Annotated[
        Optional[str], typer.Option(help="Comma-separated signals to fuse (default: recommend.signals).")
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="random: a seeded random quarter of each user's interactions is the test set; "
            "temporal: each user's most recent ones (or all after --cutoff)."
        ),
    ] = "random",
    holdout: Annotated[
        Optional[int],
        typer.Option(
            min=1, help="temporal: hold out this many of each user's newest interactions (default: 25%)."
        ),
    ] = None,
    cutoff: Annotated[
        Optional[datetime],
        typer.Option(help="temporal: hold out every interaction from this date on (UTC), e.g. 1998-03-01."),
    ] = None,
    relevant: Annotated[
        Optional[str],
        typer.Option(
            help="What counts as a hit: all (every held-out interaction) or liked (not a 1-2 star rating "
            "or a negative review); default: recommend.relevant."
        ),
    ] = None,
) -> None:
    """Offline evaluation: fused recommender, each signal, the baselines and the ablation
    (the fusion refit without each signal) on one seeded split, random or temporal.
    Interactions are weighted as \\[recommend.strength] says (the report's first note)."""
    from kg.progress import rich_progress
    from kg.recommend.evaluate import evaluate_graph
    from kg.recommend.split import Protocol
    from kg.recommend.tables import evaluation_table, print_notes
    from kg.store import open_store

    chosen = Protocol(protocol, holdout, cutoff)  # type: ignore[arg-type]
    settings = state.settings(
        recommend=given(seed=seed, signals=signals.split(",") if signals else None, relevant=relevant)
    )
    with open_store(settings, read_only=True) as store, rich_progress(err_console) as progress:
        evaluation, saved = evaluate_graph(store, settings, k=k, protocol=chosen, progress=progress)
    print_notes(err_console, evaluation.notes)
    console.print(evaluation_table(evaluation))
    console.print(f"Saved {saved}")


def register(app: typer.Typer) -> None:
    for command in (recommend, similar, audience, segment, evaluate):
        app.command()(command)
