"""`kg campaign report`: per arm, what happened and whether it beat control.

Rates are per user assigned to the arm (intention to treat: a control user never sees a
message, so comparing only people who saw one would compare different people):

* impressions, and CTR = users who clicked / users who saw the message;
* CVR = users who converted / users in the arm; revenue per user likewise;
* uplift against control: CVR difference with its interval (two-proportion test) and
  relative uplift; revenue-per-user difference with a bootstrap interval;
* cost = impressions x cost per impression + the campaign's fixed cost shared by arm,
  and ROI = (incremental revenue - cost) / cost, incremental revenue being the revenue
  per user above control times the arm's users;
* a verdict: ``winner`` (better than control, interval above zero), ``worse than
  control``, ``no difference`` (enough users to have seen the minimum uplift worth
  detecting, and it is not there), or ``no difference yet`` with the users still needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.console import Console

from kg.config import Settings
from kg.marketing.campaigns import Campaign, campaign_targets, load_campaign
from kg.marketing.events import outcome_events
from kg.marketing.settings import MarketingSettings
from kg.marketing.stats import bootstrap_mean_difference, sample_size_per_arm, two_proportions
from kg.store.base import GraphStore

WINNER = "winner"
WORSE = "worse than control"
NO_DIFFERENCE = "no difference"
NOT_YET = "no difference yet"


@dataclass
class CampaignReport:
    """One row per arm (control first) and the campaign's verdict in a sentence."""

    campaign: Campaign
    arms: pd.DataFrame
    verdict: str
    confidence: float
    comparisons: int
    notes: list[str] = field(default_factory=list)


def user_outcomes(store: GraphStore, campaign: Campaign) -> tuple[pd.DataFrame, list[str]]:
    """One row per assigned user: arm, impressions, clicked, converted, revenue."""
    targets = campaign_targets(store, campaign.id)
    events = outcome_events(store, campaign.id)
    notes = []
    outside = events[~events["user"].isin(set(targets["user"]))]
    if len(outside):
        notes.append(f"{len(outside):,} events of users the campaign does not target were left out")
    mismatch = events.merge(targets[["user", "arm"]], on="user", suffixes=("", "_assigned"))
    mismatch = mismatch[mismatch["arm"].notna() & (mismatch["arm"].astype(str) != mismatch["arm_assigned"])]
    if len(mismatch):
        notes.append(
            f"{len(mismatch):,} events name another arm than the user's assignment; counted under the assignment"
        )
    per_user = targets[["user", "arm"]].set_index("user")
    for outcome, column in (("IMPRESSED", "impressions"), ("CLICKED", "clicked"), ("CONVERTED", "converted")):
        chosen = events[events["event"] == outcome].groupby("user")["count"].sum()
        per_user[column] = chosen.reindex(per_user.index, fill_value=0).astype(int)
    revenue = events[events["event"] == "CONVERTED"].groupby("user")["revenue"].sum()
    per_user["revenue"] = revenue.reindex(per_user.index, fill_value=0.0).astype(float)
    return per_user.reset_index(), notes


def campaign_report(
    store: GraphStore,
    settings: Settings,
    name: str,
    *,
    cost_per_impression: float | None = None,
    cost_per_campaign: float | None = None,
) -> CampaignReport:
    """Measure every arm of campaign ``name`` against its control."""
    config = settings.marketing
    campaign = load_campaign(store, name)
    per_user, notes = user_outcomes(store, campaign)
    cpi = config.cost_per_impression if cost_per_impression is None else cost_per_impression
    fixed = (config.cost_per_campaign if cost_per_campaign is None else cost_per_campaign) / len(
        campaign.arms
    )
    treated = [arm.name for arm in campaign.arms if arm.name != campaign.control]
    comparisons = max(1, len(treated))
    control = per_user[per_user["arm"] == campaign.control]
    rows = []
    for seed, arm in enumerate(campaign.arms):
        group = per_user[per_user["arm"] == arm.name]
        rows.append(
            _arm_row(
                arm.name,
                arm.tone,
                group,
                control,
                arm.name == campaign.control,
                cpi,
                fixed,
                config,
                comparisons,
                seed,
            )
        )
    frame = pd.DataFrame(rows)
    if control.empty:
        notes.append(f"The control arm {campaign.control!r} has no users: no uplift can be measured")
    return CampaignReport(
        campaign, frame, _verdict(frame, campaign.control), config.confidence, comparisons, notes
    )


def _arm_row(
    name: str,
    tone: str,
    group: pd.DataFrame,
    control: pd.DataFrame,
    is_control: bool,
    cpi: float,
    fixed: float,
    config: MarketingSettings,
    comparisons: int,
    seed: int,
) -> dict[str, object]:
    users = len(group)
    seen = int((group["impressions"] > 0).sum())
    clicked = int((group["clicked"] > 0).sum())
    converted = int((group["converted"] > 0).sum())
    revenue = float(group["revenue"].sum())
    impressions = int(group["impressions"].sum())
    cost = impressions * cpi + fixed
    row: dict[str, object] = {
        "arm": name,
        "tone": tone,
        "users": users,
        "impressions": impressions,
        "ctr": clicked / seen if seen else math.nan,
        "cvr": converted / users if users else math.nan,
        "revenue_per_user": revenue / users if users else math.nan,
        "revenue": revenue,
        "cost": cost,
    }
    empty = {k: math.nan for k in ("uplift", "uplift_low", "uplift_high", "relative_uplift", "p_value",
                                   "revenue_uplift", "revenue_low", "revenue_high", "roi")}  # fmt: skip
    if is_control or control.empty or users == 0:
        return {**row, **empty, "needed_per_arm": math.nan, "verdict": "control" if is_control else NOT_YET}
    control_converted = int((control["converted"] > 0).sum())
    rate = two_proportions(converted, users, control_converted, len(control), config.confidence, comparisons)
    money = bootstrap_mean_difference(
        group["revenue"].to_numpy(), control["revenue"].to_numpy(), config.confidence, comparisons,
        config.bootstrap_samples, seed,
    )  # fmt: skip
    base = control_converted / len(control)
    needed = sample_size_per_arm(
        base, config.min_detectable_uplift, config.confidence, config.power, comparisons
    )
    incremental = money.value * users
    row.update(
        uplift=rate.value,
        uplift_low=rate.low,
        uplift_high=rate.high,
        relative_uplift=rate.value / base if base else math.nan,
        p_value=rate.p_value,
        revenue_uplift=money.value,
        revenue_low=money.low,
        revenue_high=money.high,
        roi=(incremental - cost) / cost if cost > 0 else math.nan,
        needed_per_arm=needed,
    )
    if rate.significant:
        row["verdict"] = WINNER if rate.value > 0 else WORSE
    elif min(users, len(control)) >= needed:
        row["verdict"] = NO_DIFFERENCE
    else:
        row["verdict"] = f"{NOT_YET}: ~{needed - min(users, len(control)):,} more users per arm needed"
    return row


def _verdict(arms: pd.DataFrame, control: str) -> str:
    """The campaign in one sentence: the best winner, else why there is none."""
    treated = arms[arms["arm"] != control]
    winners = treated[treated["verdict"] == WINNER]
    if len(winners):
        best = winners.sort_values("uplift", ascending=False).iloc[0]
        return (
            f"{WINNER}: {best['arm']} converts {best['uplift']:+.2%} points above {control} "
            f"(interval {best['uplift_low']:+.2%} to {best['uplift_high']:+.2%})"
        )
    if len(treated) and (treated["verdict"] == NO_DIFFERENCE).all():
        return f"{NO_DIFFERENCE}: no arm beats {control} by the minimum uplift worth detecting"
    pending = [str(v) for v in treated["verdict"] if str(v).startswith(NOT_YET)]
    return pending[0] if pending else (f"{WORSE}: every arm" if len(treated) else "no arms to compare")


def arm_table(report: CampaignReport) -> pd.DataFrame:
    """The report as printable text, one row per arm."""

    def pct(value: float) -> str:
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.2%}"

    def interval(low: float, high: float, fmt: str) -> str:
        return "" if np.isnan(low) else f"[{format(low, fmt)}, {format(high, fmt)}]"

    rows = []
    for row in report.arms.to_dict("records"):
        rows.append(
            {
                "arm": row["arm"],
                "tone": row["tone"],
                "users": f"{row['users']:,}",
                "impressions": f"{row['impressions']:,}",
                "CTR": pct(row["ctr"]),
                "CVR": pct(row["cvr"]),
                "revenue/user": f"{row['revenue_per_user']:.2f}"
                if not np.isnan(row["revenue_per_user"])
                else "",
                "CVR uplift": "" if np.isnan(row["uplift"]) else f"{row['uplift']:+.2%}",
                f"{report.confidence:.0%} CI": interval(row["uplift_low"], row["uplift_high"], "+.2%"),
                "rev/user uplift [CI]": ""
                if np.isnan(row["revenue_uplift"])
                else f"{row['revenue_uplift']:+.2f} {interval(row['revenue_low'], row['revenue_high'], '+.2f')}",
                "ROI": "" if np.isnan(row["roi"]) else f"{row['roi']:+.0%}",
                "verdict": row["verdict"],
            }
        )
    return pd.DataFrame(rows)


def print_report(console: Console, report: CampaignReport) -> None:
    """The table, the verdict and the notes, for `kg campaign report` and `kg demo`."""
    from kg.render import frame_table

    title = f"Campaign {report.campaign.name}: arms against {report.campaign.control}"
    console.print(frame_table(arm_table(report), title=title))
    console.print(f"Verdict: {report.verdict}", markup=False)
    if report.comparisons > 1:
        console.print(
            f"Intervals are {report.confidence:.0%} over all {report.comparisons} comparisons (Bonferroni).",
            style="dim",
        )
    for note in report.notes:
        console.print(note, style="yellow", markup=False)
