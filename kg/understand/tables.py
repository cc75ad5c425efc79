"""Rich tables of a profile (the CLI and the demo print them)."""

from __future__ import annotations

import time

from rich.table import Table

from kg.render import frame_table
from kg.understand.profiles import Profile


def profile_tables(profile: Profile) -> list[Table]:
    """The profile's facts, then its interest tags."""
    facts = Table(title=f"Profile of {profile.user}", show_header=False)
    facts.add_column("fact", style="bold")
    facts.add_column("value")
    last = time.strftime("%Y-%m-%d", time.gmtime(profile.last_active)) if profile.last_active else "-"
    sentiment = (
        f"{profile.sentiment:+.2f} over {profile.reviews} reviews"
        if profile.sentiment is not None
        else "no reviews"
    )
    for name, value in (
        ("price band", profile.price_band or "-"),
        ("activity", f"{profile.activity:,} interactions, last {last}"),
        ("review sentiment", sentiment),
        ("segment", profile.segment or "-"),
    ):
        facts.add_row(name, value)
    for row in profile.favourites.itertuples():
        facts.add_row(f"favoured {row.kind}", f"{row.name} (share {row.share:.0%}, lift {row.lift:.2f})")
    tags = profile.tags.assign(lift=profile.tags["lift"].round(2))
    return [facts, frame_table(tags, title=f"Interest tags of {profile.user} (INTERESTED_IN)")]
