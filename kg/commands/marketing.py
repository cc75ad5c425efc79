"""``kg copy`` and ``kg campaign``: graph-grounded marketing copy and measured campaigns
(see kg/marketing/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from kg.config import Settings

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``copy`` and the ``campaign`` group (create, report) to ``app``."""
    app.command("copy")(copy_command)
    campaign_app = typer.Typer(
        help="Marketing campaigns: an audience split into arms by a hash, measured against control.",
        no_args_is_help=True,
    )
    campaign_app.command("create")(campaign_create)
    campaign_app.command("report")(campaign_report_command)
    app.add_typer(campaign_app, name="campaign")


def _settings(ctx: typer.Context) -> Settings:
    """Settings with the global --store / --config, however the CLI holds them."""
    from kg.config import load_settings

    root = ctx.find_root().params
    config: Path | None = root.get("config")
    return load_settings(config, store=root.get("store"))


def copy_command(
    ctx: typer.Context,
    item: Annotated[Optional[str], typer.Option("--item", help="Item id to promote.")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Write for this customer.")] = None,
    segment: Annotated[
        Optional[str], typer.Option("--segment", help="Write for a segment (id or name).")
    ] = None,
    campaign: Annotated[
        Optional[str], typer.Option("--campaign", help="Write for every user of a campaign's arms (batch).")
    ] = None,
    channel: Annotated[
        Optional[str], typer.Option(help="email, push or banner (default marketing.channel).")
    ] = None,
    tone: Annotated[
        Optional[str], typer.Option(help="friendly, urgent, premium or playful (default marketing.tone).")
    ] = None,
    backend: Annotated[
        Optional[str],
        typer.Option(
            help="template, hf or openai (default marketing.copy_backend; model: embeddings.llm_model, llm_url)."
        ),
    ] = None,
    max_calls: Annotated[Optional[int], typer.Option(min=0, help="Model calls this run may make.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(min=0, help="Tokens this run may spend.")] = None,
) -> None:
    """Write marketing copy from graph facts, fact-check it against the graph and store it
    as Message nodes. Prompts hold item facts, the explanation path, segment facts,
    channel and tone only -- never a user's id or properties."""
    from kg.marketing.service import CopyRequest, write_copy
    from kg.progress import rich_progress
    from kg.render import frame_table
    from kg.store import open_store

    settings = _settings(ctx)
    limits = {"max_calls": max_calls, "max_tokens": max_tokens}
    settings.marketing = settings.marketing.model_copy(
        update={k: v for k, v in limits.items() if v is not None}
    )
    request = CopyRequest(item, user, segment, campaign, channel, tone, backend)
    with open_store(settings) as store, rich_progress(err_console) as progress:
        result = write_copy(store, settings, request, progress)
    shown = result.messages
    if len(shown) == 1:
        row = shown.iloc[0]
        console.print(row["text"], markup=False, highlight=False)
        state = "checked against the graph" if row["checked"] else "NOT checked: " + "; ".join(row["issues"])
        console.print(f"Message {row['id']} ({row['channel']}, {row['tone']}, {row['model']}): {state}")
    elif len(shown):
        columns = ["audience_id", "arm", "item", "checked", "text"]
        console.print(frame_table(shown[columns], title=f"{len(shown):,} messages stored", max_rows=20))
    for line in result.run.summary_lines() + result.notes:
        console.print(line, markup=False, highlight=False)
    if result.excluded_no_consent:
        console.print(f"{result.excluded_no_consent:,} users left out: no marketing consent", style="yellow")


def campaign_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name (re-running adds new users only).")],
    target: Annotated[
        str,
        typer.Option("--target", help="Item id, or a category, brand or genre name (as for kg audience)."),
    ],
    segment: Annotated[
        Optional[str], typer.Option(help="Only the members of this segment (id or name).")
    ] = None,
    arms: Annotated[
        str, typer.Option(help="Arms, comma-separated, each name[:tone]; the control arm gets no message.")
    ] = "control,copy-a,copy-b",
    split: Annotated[
        Optional[str], typer.Option(help="Shares per arm, e.g. 0.5,0.25,0.25 (default equal).")
    ] = None,
    size: Annotated[Optional[int], typer.Option(min=1, help="Keep only the best-scored users.")] = None,
    channel: Annotated[Optional[str], typer.Option(help="email, push or banner.")] = None,
    allocation: Annotated[
        str,
        typer.Option(
            help="fixed (hash by split) or thompson (control by hash, others by Thompson sampling)."
        ),
    ] = "fixed",
) -> None:
    """Create a campaign: the audience for a target, split into arms by a hash of
    (campaign, user), written as (:Campaign)-[:TARGETS {arm}]->(:User)."""
    from kg.marketing.assignment import parse_arms
    from kg.marketing.campaigns import Campaign, campaign_id, create_campaign
    from kg.progress import rich_progress
    from kg.render import frame_table
    from kg.store import open_store

    settings = _settings(ctx)
    control = settings.marketing.control_arm
    spec = Campaign(
        id=campaign_id(name),
        name=name,
        target=target,
        arms=tuple(parse_arms(arms, split, control)),
        control=control,
        channel=channel or settings.marketing.channel,
        allocation=allocation,
        segment=segment or "",
    )
    with open_store(settings) as store, rich_progress(err_console) as progress:
        created = create_campaign(store, settings, spec, size=size, progress=progress)
    console.print(frame_table(created.per_arm, title=f"Campaign {name} ({spec.id}): users per arm"))
    console.print(
        f"{created.assigned:,} users assigned, {created.kept:,} kept from before; "
        f"{created.excluded_no_consent:,} left out for no marketing consent."
    )
    console.print(
        f"Next: kg copy --campaign {spec.id}; load outcomes with kg ingest; kg campaign report {spec.id}"
    )


def campaign_report_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    cost_per_impression: Annotated[
        Optional[float],
        typer.Option(min=0, help="Cost of one impression (default marketing.cost_per_impression)."),
    ] = None,
    cost_per_campaign: Annotated[
        Optional[float],
        typer.Option(min=0, help="Fixed cost of the campaign (default marketing.cost_per_campaign)."),
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option(help="Also write clicks and conversions back as interactions (marketing.feedback)."),
    ] = False,
) -> None:
    """Per arm: impressions, CTR, CVR, revenue per user, uplift against control with its
    interval, ROI and a verdict."""
    from kg.marketing.feedback import feed_back_outcomes
    from kg.marketing.report import campaign_report, print_report
    from kg.store import open_store

    settings = _settings(ctx)
    with open_store(settings) as store:
        report = campaign_report(
            store,
            settings,
            name,
            cost_per_impression=cost_per_impression,
            cost_per_campaign=cost_per_campaign,
        )
        written = feed_back_outcomes(store, settings, name) if feedback else None
    print_report(console, report)
    if written is not None:
        console.print(
            "Fed back as interactions: " + ", ".join(f"{n:,} new {rel}" for rel, n in written.items())
        )
