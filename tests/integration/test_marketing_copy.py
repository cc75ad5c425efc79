"""`kg copy`: template copy, the fact checker against a real loopback OpenAI-compatible
server, the budget, the cache, retries, privacy of prompts, and Message storage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kg.config import Settings, load_settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.marketing.assignment import parse_arms
from kg.marketing.campaigns import Campaign, campaign_targets, create_campaign
from kg.marketing.copy_facts import ItemFacts, item_facts
from kg.marketing.copywriter import Copywriter, Draft
from kg.marketing.factcheck import CONTRADICTION, UNKNOWN_ENTITY, FactChecker
from kg.marketing.messages import MessageSlot, store_messages
from kg.marketing.prompts import CHANNELS, TONES, CopyBrief, build_prompt
from kg.marketing.service import CopyRequest, write_copy
from kg.marketing.template import template_copy
from kg.store import GraphStore, open_store
from tests.llm_server import RecordingChatServer, recording_chat_server
from tests.neo4j_server import empty_store_settings

SHOP = ShopSize(users=60, items=45, purchases_per_user=5.0, views_per_user=10.0, reviews=5)
REASON = "because 3 items you bought have category footwear"


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStore, Settings]]:
    """A small synthetic shop in the embedded store, with a fact checker's settings."""
    root = tmp_path_factory.mktemp("copy-shop")
    settings = load_settings(store=str(root / "graph"), data_dir=root / "kg-data")
    with open_store(settings) as store:
        for data_file, mapping in generate_shop(root / "shop", SHOP, seed=5):
            ingest_path(store, data_file, mapping=mapping)
        yield store, settings


@pytest.fixture(scope="module")
def checker(shop_store: tuple[GraphStore, Settings]) -> FactChecker:
    store, settings = shop_store
    return FactChecker(store, settings)


@pytest.fixture(scope="module")
def facts(shop_store: tuple[GraphStore, Settings]) -> dict[str, ItemFacts]:
    store, _ = shop_store
    ids = store.query("MATCH (i:Item) RETURN i.id AS id ORDER BY id")["id"].tolist()
    return item_facts(store, ids)


# ---------------------------------------------------------------------- loopback model
@pytest.fixture
def chat_server() -> Iterator[RecordingChatServer]:
    with recording_chat_server(lambda prompt: "no answer scripted") as server:
        yield server


def _model_settings(
    base: Settings, server: RecordingChatServer, tmp_path: Path, **marketing: object
) -> Settings:
    return base.model_copy(
        update={
            "data_dir": tmp_path / "kg-data",
            "embeddings": base.embeddings.model_copy(
                update={"llm_url": server.url, "llm_model": "tiny-chat", "llm_backoff": 0.0, "llm_retries": 3}
            ),
            "marketing": base.marketing.model_copy(update={"copy_backend": "openai", **marketing}),
        }
    )


def _correct(f: ItemFacts) -> str:
    return f"Meet the {f.name}: {f.materials[0]} through and through, only ${f.price:.2f}."


# ---------------------------------------------------------------------- template
def test_template_copy_names_the_real_brand_and_price_and_passes_the_check(
    facts: dict[str, ItemFacts], checker: FactChecker
) -> None:
    for item in list(facts.values())[:12]:
        for channel in CHANNELS:
            for tone in TONES:
                brief = CopyBrief(item, REASON, channel=channel, tone=tone)
                text = template_copy(brief)
                assert text == template_copy(brief)  # deterministic
                assert item.brand and item.brand in text and f"${item.price:.2f}" in text, text
                assert len(text) <= CHANNELS[channel].max_chars
                check = checker.check(text, brief, build_prompt(brief))
                assert check.passed, (text, check.messages())


# ---------------------------------------------------------------------- fact check over HTTP
def test_fact_checker_classifies_correct_wrong_price_and_made_up_brand_from_a_real_server(
    shop_store: tuple[GraphStore, Settings],
    checker: FactChecker,
    facts: dict[str, ItemFacts],
    chat_server: RecordingChatServer,
    tmp_path: Path,
) -> None:
    _, settings = shop_store
    item = next(iter(facts.values()))
    chat_server.script = [
        _correct(item),
        f"Meet the {item.name}, only $12.00 this week.",
        f"Meet the new Zentrix Glide Jacket by Zentrix, only ${item.price:.2f}.",
    ]
    configured = _model_settings(settings, chat_server, tmp_path, max_regenerations=0)
    briefs = [CopyBrief(item, REASON, tone=tone) for tone in ("friendly", "urgent", "premium")]
    with Copywriter(configured, checker) as writer:
        correct, wrong_price, made_up = writer.write(briefs)
    assert correct.checked and correct.issues == () and correct.model == "tiny-chat"
    assert not wrong_price.checked
    assert any(i.startswith(CONTRADICTION) and "12.00" in i for i in wrong_price.issues), wrong_price.issues
    assert not made_up.checked
    assert any(i.startswith(UNKNOWN_ENTITY) and "Zentrix" in i for i in made_up.issues), made_up.issues
    assert writer.run.calls == 3 and writer.run.hallucinated == 2 and writer.run.unchecked == 2
    assert writer.run.hallucination_rate == pytest.approx(2 / 3)


def test_wrong_copy_is_regenerated_with_the_reason_and_stored_unchecked_past_the_limit(
    shop_store: tuple[GraphStore, Settings],
    checker: FactChecker,
    facts: dict[str, ItemFacts],
    chat_server: RecordingChatServer,
    tmp_path: Path,
) -> None:
    _, settings = shop_store
    first, second = list(facts.values())[1:3]
    wrong = f"Meet the {first.name}, only $1.00."
    chat_server.script = [wrong, _correct(first)]
    chat_server.answer = lambda prompt: "Grab the Fantasmo Deluxe from Fantasmo today."
    configured = _model_settings(settings, chat_server, tmp_path, max_regenerations=2)
    with Copywriter(configured, checker) as writer:
        fixed, hopeless = writer.write([CopyBrief(first, REASON), CopyBrief(second, REASON)])
    assert fixed.checked and fixed.regenerations == 1 and fixed.text == _correct(first)
    assert "A previous draft was rejected" in chat_server.prompts[1] and "$1.00" in chat_server.prompts[1]
    assert not hopeless.checked and hopeless.regenerations == 2
    assert any("Fantasmo" in issue for issue in hopeless.issues)
    # one regeneration, then three drafts of the hopeless one; its second and third
    # requests are the same prompt (same draft, same issues), so the third is a cache hit
    assert len(chat_server.prompts) == 2 + 2 and writer.run.cache_hits == 1
    assert writer.run.regenerations == 1 + 2 and writer.run.unchecked == 1


# ---------------------------------------------------------------------- cost
def test_budget_of_calls_is_never_exceeded_and_a_second_run_makes_no_calls(
    shop_store: tuple[GraphStore, Settings],
    checker: FactChecker,
    facts: dict[str, ItemFacts],
    chat_server: RecordingChatServer,
    tmp_path: Path,
) -> None:
    _, settings = shop_store
    by_name = {f.name: f for f in facts.values()}
    chat_server.answer = lambda prompt: _correct(by_name[prompt.split("Product: ", 1)[1].split("\n", 1)[0]])
    briefs = [CopyBrief(f, REASON) for f in list(facts.values())[:6]]
    configured = _model_settings(settings, chat_server, tmp_path, max_calls=4)
    with Copywriter(configured, checker) as writer:
        drafts = writer.write(briefs)
    assert len(chat_server.prompts) == 4 and writer.run.calls == 4  # never more than the budget
    assert writer.run.budget_fallbacks == 2 and [d.model for d in drafts].count("template") == 2
    assert all(d.checked for d in drafts)
    assert any("Budget: 4 of 4 calls" in line for line in writer.run.summary_lines())

    with Copywriter(configured, checker) as again:
        repeated = again.write(briefs[:4])
    assert len(chat_server.prompts) == 4 and again.run.calls == 0 and again.run.cache_hits == 4
    assert [d.text for d in repeated] == [d.text for d in drafts[:4]]


def test_token_budget_and_retries_with_backoff_count_every_attempt(
    shop_store: tuple[GraphStore, Settings],
    checker: FactChecker,
    facts: dict[str, ItemFacts],
    chat_server: RecordingChatServer,
    tmp_path: Path,
) -> None:
    _, settings = shop_store
    items = list(facts.values())[10:14]
    chat_server.script = [503, _correct(items[0])]  # one server error, retried
    chat_server.answer = lambda prompt: "Short."
    prompt_tokens = len(build_prompt(CopyBrief(items[0], REASON))) // 4 + 1
    answer_tokens = settings.embeddings.llm_max_tokens
    limit = 2 * (prompt_tokens + answer_tokens) + 10  # room for about two attempts at full length
    configured = _model_settings(settings, chat_server, tmp_path, max_tokens=limit, max_regenerations=0)
    with Copywriter(configured, checker) as writer:
        drafts = writer.write([CopyBrief(item, REASON) for item in items])
    assert drafts[0].checked and drafts[0].text == _correct(items[0])
    assert writer.run.calls == len(chat_server.prompts) == 2  # the retry is a call, budgeted
    assert writer.run.tokens <= limit
    assert writer.run.budget_fallbacks == len(items) - 1


# ---------------------------------------------------------------------- storage
def _store_one(store: GraphStore, item: ItemFacts, user: str) -> pd.DataFrame:
    draft = Draft(template_copy(CopyBrief(item, REASON)), "template", "copy-v1", True, (), 0)
    slot = MessageSlot("User", user, item.id, "email", "friendly", "storage-check", "copy-a")  # not "spring"
    store_messages(store, [slot], [draft])
    store_messages(store, [slot], [draft])  # the same slot again replaces, never duplicates
    return store.query(
        "MATCH (m:Message)-[:`FOR`]->(u:User), (m)-[:PROMOTES]->(i:Item) "
        "RETURN m.id AS id, m.text AS text, m.checked AS checked, m.campaign AS campaign, m.arm AS arm, "
        "m.prompt_version AS version, u.id AS user, i.id AS item"
    )


def test_message_is_stored_for_the_user_and_promotes_the_item_on_the_embedded_store(
    shop_store: tuple[GraphStore, Settings], facts: dict[str, ItemFacts]
) -> None:
    store, _ = shop_store
    item = next(iter(facts.values()))
    rows = _store_one(store, item, "U00001")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["user"], row["item"], row["campaign"], row["arm"]) == (
        "U00001",
        item.id,
        "storage-check",
        "copy-a",
    )
    assert bool(row["checked"]) and row["version"] == "copy-v1" and item.brand in row["text"]


@pytest.mark.neo4j
def test_message_is_stored_the_same_way_on_neo4j(tmp_path: Path, facts: dict[str, ItemFacts]) -> None:
    with open_store(empty_store_settings("neo4j", tmp_path)) as store:
        item = next(iter(facts.values()))
        store.upsert_nodes("User", pd.DataFrame({"id": ["U00001"]}))
        store.upsert_nodes("Item", pd.DataFrame({"id": [item.id], "name": [item.name]}))
        rows = _store_one(store, item, "U00001")
        assert len(rows) == 1 and rows.iloc[0]["item"] == item.id and bool(rows.iloc[0]["checked"])


# ---------------------------------------------------------------------- end to end
def test_campaign_copy_over_a_remote_model_sends_no_personal_data_and_respects_consent(
    shop_store: tuple[GraphStore, Settings],
    facts: dict[str, ItemFacts],
    chat_server: RecordingChatServer,
    tmp_path: Path,
) -> None:
    store, settings = shop_store
    by_name = {f.name: f for f in facts.values()}
    chat_server.answer = lambda prompt: _correct(by_name[prompt.split("Product: ", 1)[1].split("\n", 1)[0]])
    configured = _model_settings(settings, chat_server, tmp_path)
    arms = tuple(parse_arms("control,copy-a,copy-b:urgent", None, "control"))
    campaign = Campaign("spring", "Spring", "Footwear", arms, "control")
    created = create_campaign(store, configured, campaign, size=12)
    targets = campaign_targets(store, "spring")
    refusing = targets[targets["arm"] != "control"]["user"].iloc[0]
    store.set_node_properties("User", pd.DataFrame({"id": [refusing], "marketing_consent": [False]}))

    result = write_copy(store, configured, CopyRequest(campaign="spring"))
    written = targets[(targets["arm"] != "control") & (targets["user"] != refusing)]
    assert result.excluded_no_consent == 1 and created.assigned == 12
    assert sorted(result.messages["audience_id"]) == sorted(written["user"])
    assert result.messages["checked"].all() and result.run.calls == len(chat_server.prompts) == len(written)
    people = store.query("MATCH (u:User) RETURN u.id AS id, u.name AS name, u.age AS age")
    for prompt in chat_server.prompts:
        assert "the customer" in prompt
        for person in people.itertuples():
            assert person.id not in prompt and person.name not in prompt, person.id
        assert not re.search(r"\b(age|zip|gender|birth)\b", prompt.lower()), prompt
    stored = store.query(
        "MATCH (m:Message {campaign: 'spring'})-[:`FOR`]->(u:User) RETURN u.id AS user, m.arm AS arm, m.tone AS tone"
    )
    assert sorted(stored["user"]) == sorted(written["user"])
    assert set(stored[stored["arm"] == "copy-b"]["tone"]) <= {"urgent"}
