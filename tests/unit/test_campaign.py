"""Campaigns: hash assignment, Thompson sampling, the statistics, and a simulation with a
known true uplift whose events travel through `kg ingest` into `kg campaign report`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from kg.commands.marketing import register
from kg.config import Settings, load_settings
from kg.ingest import ingest_path
from kg.marketing.assignment import Arm, ArmOutcomes, assign_arms, parse_arms
from kg.marketing.campaigns import Campaign, assign_audience, campaign_targets
from kg.marketing.events import write_event_files
from kg.marketing.feedback import feed_back_outcomes
from kg.marketing.report import NO_DIFFERENCE, NOT_YET, WINNER, campaign_report
from kg.marketing.simulation import TrueResponse, simulate_outcomes, true_uplift
from kg.marketing.stats import sample_size_per_arm, two_proportions
from kg.privacy.consent import consenting_users
from kg.store import GraphStore, open_store
from kg.store.base import FROM_ID, TO_ID

USERS = 3000
ARMS = tuple(parse_arms("control,copy-a:friendly,copy-b:urgent", None, "control"))
BASE = {"seg-low": 0.06, "seg-high": 0.14}  # conversion without the campaign, by segment


# ---------------------------------------------------------------------- assignment
def test_hash_assignment_is_stable_reproducible_and_follows_the_split() -> None:
    users = [f"U{i:05d}" for i in range(6000)]
    arms = [Arm("control", 0.5), Arm("a", 0.3), Arm("b", 0.2)]
    first = assign_arms("spring", users, arms)
    assert assign_arms("spring", list(reversed(users)), arms) == list(reversed(first))  # order-free
    assert assign_arms("spring", users[:10], arms) == first[:10]  # no state: a subset agrees
    counts = Counter(first)
    for arm in arms:
        assert counts[arm.name] / len(users) == pytest.approx(arm.share, abs=0.02)
    assert assign_arms("autumn", users, arms) != first  # another campaign, another split


def test_thompson_sampling_keeps_control_by_hash_and_favours_the_converting_arm() -> None:
    users = [f"U{i:05d}" for i in range(4000)]
    arms = [Arm("control", 0.2), Arm("a", 0.4), Arm("b", 0.4)]
    outcomes = {"a": ArmOutcomes(500, 25), "b": ArmOutcomes(500, 60)}
    chosen = assign_arms("spring", users, arms, allocation="thompson", control="control", outcomes=outcomes)
    fixed = assign_arms("spring", users, arms)
    assert [u for u, a in zip(users, chosen, strict=True) if a == "control"] == [
        u for u, a in zip(users, fixed, strict=True) if a == "control"
    ]
    counts = Counter(chosen)
    assert counts["b"] > 10 * counts["a"]
    assert chosen == assign_arms(
        "spring", users, arms, allocation="thompson", control="control", outcomes=outcomes
    )


# ---------------------------------------------------------------------- statistics
def test_two_proportion_interval_and_sample_size_match_the_textbook() -> None:
    diff = two_proportions(120, 1000, 100, 1000, confidence=0.95)
    se = np.sqrt(0.12 * 0.88 / 1000 + 0.1 * 0.9 / 1000)
    assert diff.value == pytest.approx(0.02)
    assert (diff.low, diff.high) == pytest.approx((0.02 - 1.959964 * se, 0.02 + 1.959964 * se), rel=1e-5)
    assert diff.p_value == pytest.approx(0.1529, abs=1e-3)  # pooled z = 0.02 / 0.013993 = 1.429
    # 10% -> 15% at 5% two-sided, 80% power: 686 per arm (Fleiss without continuity correction)
    assert sample_size_per_arm(0.10, 0.5, 0.95, 0.8) == 686


# ---------------------------------------------------------------------- simulation
@pytest.fixture(scope="module")
def audience_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[GraphStore, Settings, Path]:
    """Users in two segments of known base rates, and the items a campaign promotes."""
    root = tmp_path_factory.mktemp("campaign")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    settings.marketing = settings.marketing.model_copy(update={"min_detectable_uplift": 0.5})
    store = open_store(settings)
    users = [f"U{i:05d}" for i in range(USERS)]
    store.upsert_nodes("User", pd.DataFrame({"id": users}))
    store.upsert_nodes(
        "Item", pd.DataFrame({"id": ["P1", "P2"], "name": ["Trail Tent", "Lamp"], "price": [80.0, 40.0]})
    )
    store.upsert_nodes(
        "Segment", pd.DataFrame({"id": list(BASE), "name": list(BASE), "size": [USERS // 2] * 2})
    )
    store.upsert_relationships(
        "IN_SEGMENT",
        "User",
        "Segment",
        pd.DataFrame({FROM_ID: users, TO_ID: [list(BASE)[i % 2] for i in range(USERS)]}),
    )
    yield store, settings, root
    store.close()


def _run_campaign(
    store: GraphStore, settings: Settings, root: Path, name: str, uplift: dict[str, float]
) -> tuple[Campaign, TrueResponse]:
    campaign = Campaign(name, name, "category Outdoor", ARMS, "control")
    users = [f"U{i:05d}" for i in range(USERS)]
    scored = pd.DataFrame(
        {"user": users, "item": ["P1", "P2"] * (USERS // 2), "score": np.linspace(1, 0, USERS)}
    )
    assign_audience(store, settings, campaign, scored)
    response = TrueResponse(BASE, uplift, {"copy-a": 0.04, "copy-b": 0.06})
    events = simulate_outcomes(store, campaign, response, seed=3)
    for data_file, mapping in write_event_files(root / name, events):  # the way `kg ingest` loads them
        ingest_path(store, data_file, mapping=mapping)
    return campaign, response


def test_report_recovers_a_known_uplift_within_its_interval_and_names_the_winner(
    audience_store: tuple[GraphStore, Settings, Path],
) -> None:
    store, settings, root = audience_store
    campaign, response = _run_campaign(store, settings, root, "winner", {"copy-a": 0.0, "copy-b": 0.8})
    truth = true_uplift(store, campaign, response)
    assert truth["copy-b"] == pytest.approx(0.08, abs=0.002)  # 0.8 x the mean base rate 0.10
    report = campaign_report(store, settings, "winner")
    arms = report.arms.set_index("arm")
    assert list(arms.index) == ["control", "copy-a", "copy-b"] and arms["users"].sum() == USERS
    for arm in ("copy-a", "copy-b"):
        assert arms.at[arm, "uplift_low"] <= truth[arm] <= arms.at[arm, "uplift_high"], arm
        assert arms.at[arm, "revenue_low"] <= arms.at[arm, "revenue_uplift"] <= arms.at[arm, "revenue_high"]
        assert 0 < arms.at[arm, "ctr"] < 0.15 and arms.at[arm, "impressions"] >= arms.at[arm, "users"]
    assert arms.at["control", "impressions"] == 0 and np.isnan(arms.at["control", "ctr"])
    assert arms.at["copy-b", "verdict"] == WINNER and arms.at["copy-b", "revenue_low"] > 0
    assert arms.at["copy-a", "verdict"] in (NO_DIFFERENCE,) or str(arms.at["copy-a", "verdict"]).startswith(
        NOT_YET
    )
    assert report.verdict.startswith(f"{WINNER}: copy-b")
    assert np.isfinite(arms.at["copy-b", "roi"])


def test_a_campaign_with_no_real_difference_is_not_called_a_winner(
    audience_store: tuple[GraphStore, Settings, Path],
) -> None:
    store, settings, root = audience_store
    campaign, response = _run_campaign(store, settings, root, "null", {"copy-a": 0.0, "copy-b": 0.0})
    truth = true_uplift(store, campaign, response)
    report = campaign_report(store, settings, "null")
    arms = report.arms.set_index("arm")
    for arm in ("copy-a", "copy-b"):
        assert truth[arm] == 0.0
        assert arms.at[arm, "uplift_low"] <= truth[arm] <= arms.at[arm, "uplift_high"], arm
        assert arms.at[arm, "verdict"] == NO_DIFFERENCE  # 1,000 users per arm is enough for +50%
    assert report.verdict.startswith(NO_DIFFERENCE)


def test_outcomes_feed_back_as_interactions_once(audience_store: tuple[GraphStore, Settings, Path]) -> None:
    store, settings, root = audience_store
    _run_campaign(store, settings, root, "feedback", {"copy-b": 0.5})
    written = feed_back_outcomes(store, settings, "feedback")
    events = pd.read_csv(root / "feedback" / "conversions.csv")
    clicks = pd.read_csv(root / "feedback" / "clicks.csv")
    assert written["PURCHASED"] == len(events.drop_duplicates(["user_id", "item"]))
    assert written["VIEWED"] == len(clicks.drop_duplicates(["user_id", "item"]))
    bought = store.query("MATCH (u:User)-[p:PURCHASED]->(i:Item) RETURN u.id AS user, p.amount AS amount")
    assert len(bought) == written["PURCHASED"] and set(bought["amount"]) <= {80.0, 40.0}
    assert feed_back_outcomes(store, settings, "feedback") == {"VIEWED": 0, "PURCHASED": 0}


def test_users_without_consent_are_left_out_and_counted(tmp_path: Path) -> None:
    settings = load_settings(store=str(tmp_path / "graph"), data_dir=tmp_path / "kg-data")
    with open_store(settings) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": ["U1", "U2", "U3"]}))
        store.set_node_properties("User", pd.DataFrame({"id": ["U1", "U2"], "consent": [False, True]}))
        kept, excluded = consenting_users(store, ["U1", "U2", "U3"], ["consent", "marketing_consent"])
        assert (kept, excluded) == (["U2", "U3"], 1)
        store.upsert_nodes("Item", pd.DataFrame({"id": ["P1"], "price": [10.0]}))
        scored = pd.DataFrame({"user": ["U1", "U2", "U3"], "item": "P1", "score": [3.0, 2.0, 1.0]})
        created = assign_audience(store, settings, Campaign("c", "c", "P1", ARMS, "control"), scored)
        assert created.excluded_no_consent == 1 and set(campaign_targets(store, "c")["user"]) == {"U2", "U3"}


def test_cli_report_prints_arms_rates_and_the_interval(
    audience_store: tuple[GraphStore, Settings, Path],
) -> None:
    store, settings, root = audience_store
    if "winner" not in set(store.query("MATCH (c:Campaign) RETURN c.id AS id")["id"]):
        _run_campaign(store, settings, root, "winner", {"copy-a": 0.0, "copy-b": 0.8})
    store.close()  # the CLI opens the embedded store itself
    app = typer.Typer()
    register(app)
    env = {
        "KG_STORE": settings.store,
        "KG_DATA_DIR": str(settings.data_dir),
        "KG_MARKETING__MIN_DETECTABLE_UPLIFT": "0.5",
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(app, ["campaign", "report", "winner"], env=env)
    assert result.exit_code == 0, result.output
    for text in ("CTR", "CVR", "CVR uplift", "CI", "copy-b", "Verdict: winner: copy-b"):
        assert text in result.output, text
    missing = CliRunner().invoke(app, ["campaign", "report", "no-such"], env=env)
    assert missing.exit_code != 0
