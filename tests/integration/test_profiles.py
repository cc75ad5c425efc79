"""User profiles and interest tags on the real embedded store (real extraction, VADER),
`kg profile` and `kg query users-by-tag` as a user runs them, and `kg audience`'s tag
targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg.config import RecommendSettings, Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop, review_files
from kg.errors import NotFoundError
from kg.ingest import ingest_path
from kg.recommend.audience import resolve_target
from kg.recommend.interactions import export_interactions
from kg.store import GraphStore, open_store
from kg.understand.profiles import MIN_LIFT, PROFILE_PROPERTIES, build_profiles, write_profiles
from kg.understand.reviews import score_reviews
from kg.understand.sentiment import LexiconModel
from tests.helpers import assert_clean_error, kg
from tests.shop_graph import ingest_reviewed_shop

SHOP = ShopSize(users=60, items=45, purchases_per_user=5.0, views_per_user=9.0, reviews=60)
TAGS = "MATCH (u:User)-[r:INTERESTED_IN]->(t:Tag) RETURN u.id AS user, t.id AS tag, r.score AS score, r.lift AS lift, r.source AS source ORDER BY user, tag"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, GraphStore]]:
    root = tmp_path_factory.mktemp("profile-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    with open_store(settings) as store:
        ingest_reviewed_shop(store, settings, root / "shop", SHOP, seed=6)
        score_reviews(store, LexiconModel())
        yield settings, store


def test_tags_are_deterministic(shop) -> None:  # type: ignore[no-untyped-def]
    _, store = shop
    first, second = build_profiles(store), build_profiles(store)
    assert first.keys() == second.keys() and len(first) == SHOP.users
    for user in first:
        pd.testing.assert_frame_equal(first[user].tags, second[user].tags)
    write_profiles(store, first)
    written = store.query(TAGS)
    write_profiles(store, second)
    pd.testing.assert_frame_equal(written, store.query(TAGS))
    assert len(written) > SHOP.users and written["score"].between(0, 1).all()


def test_favourites_beat_the_population_and_praise_comes_from_reviews(shop) -> None:  # type: ignore[no-untyped-def]
    _, store = shop
    profiles = build_profiles(store)
    favourites = pd.concat([p.favourites for p in profiles.values()], ignore_index=True)
    assert set(favourites["kind"]) == {"brand", "category", "material"}
    assert (favourites["lift"] >= MIN_LIFT).all()
    # Review tags only from aspects the author spoke well of.
    opinions = store.query(
        "MATCH (u:User)-[:WROTE]->(:Document)-[o:OPINION]->(a) RETURN u.id AS user, a.id AS key, o.polarity AS p"
    )
    for user, profile in profiles.items():
        praised = profile.tags[profile.tags["source"].str.contains("review")]
        for tag in praised.itertuples():
            said = opinions[(opinions["user"] == user) & (opinions["key"] == tag.tag.split(":", 1)[1])]
            assert len(said) and said["p"].max() > 0
    authors = {u for u, p in profiles.items() if p.reviews}
    assert authors and all(profiles[u].sentiment is not None for u in authors)


def test_profile_holds_no_personal_property(shop) -> None:  # type: ignore[no-untyped-def]
    _, store = shop
    before = store.query("MATCH (u:User) RETURN u.id AS id, u.name AS name, u.age AS age ORDER BY id")
    write_profiles(store, build_profiles(store, ["U00001"]))
    assert not set(PROFILE_PROPERTIES) & store.schema.node("User").personal
    pd.testing.assert_frame_equal(
        before, store.query("MATCH (u:User) RETURN u.id AS id, u.name AS name, u.age AS age ORDER BY id")
    )
    stored = store.query(
        "MATCH (u:User {id: 'U00001'}) RETURN u.profile_price_band AS band, u.profile_activity AS n"
    )
    assert stored["band"][0] in {"budget", "mid", "premium"} and stored["n"][0] > 0
    with pytest.raises(NotFoundError, match="No user 'nobody'"):
        build_profiles(store, ["nobody"])


def test_audience_targets_a_tag(shop) -> None:  # type: ignore[no-untyped-def]
    _, store = shop
    graph = export_interactions(store, RecommendSettings())
    target = resolve_target(graph, "Tag:brand:northpeak")
    same = resolve_target(graph, "Brand:northpeak")
    assert (
        "tag brand:northpeak" in target.description
        and np.array_equal(target.items, same.items)
        and len(target.items)
    )
    with pytest.raises(NotFoundError, match="names no items"):
        resolve_target(graph, "Tag:price:mid")


def test_kg_profile_prints_stores_and_users_by_tag_finds(tmp_path: Path) -> None:
    files = generate_shop(tmp_path / "shop", ShopSize(users=40, items=30, reviews=20), seed=2)
    with open_store(load_settings(store=str(tmp_path / "graph"))) as store:
        for data, mapping in [*files, review_files(tmp_path / "shop")]:
            ingest_path(store, data, mapping=mapping)
    options = ["--store", str(tmp_path / "graph")]
    shown = kg(*options, "profile", "U00001")
    assert shown.returncode == 0, shown.stderr
    assert "Profile of U00001" in shown.stdout and "Interest tags of U00001" in shown.stdout
    tag = next(line.split("│")[1].strip() for line in shown.stdout.splitlines() if "price:" in line)
    found = kg(*options, "query", "users-by-tag", "--param", f"tag={tag}")
    assert found.returncode == 0 and "U00001" in found.stdout, found.stderr
    everyone = kg(*options, "profile", "--all")
    assert everyone.returncode == 0 and "Profiled 40 users" in everyone.stdout, everyone.stderr
    assert_clean_error(kg(*options, "profile", "nobody"), "No user 'nobody'")
    usage = kg(*options, "profile")
    assert usage.returncode == 2 and "give one USER or --all" in usage.stderr
