"""`kg serve` in detail, through FastAPI's TestClient on a real graph and recommender:
keys, recommendations, events folded in at once and written to the graph, cold start,
404s that name the id, 4xx (never 500) for bad input, limits, CORS, metrics, refit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from kg.config import Settings
from kg.recommend.filters import ItemFilter
from kg.recommend.model import Recommender
from kg.recommend.signals.base import NO_USER
from kg.serving.app import Server, build_server, create_app
from kg.store import open_store
from tests.serve_shop import READ_KEY, WRITE_KEY, serve_settings, shop_settings

READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return shop_settings(tmp_path_factory.mktemp("serve-shop"))


@pytest.fixture(scope="module")
def server(settings: Settings) -> Server:
    return build_server(settings, serve_settings())


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[TestClient]:
    with TestClient(create_app(server)) as opened:
        yield opened


def seen_items(server: Server, user: str) -> set[str]:
    graph = server.live.snapshot.recommender.graph
    return set(graph.item_ids[graph.matrix[graph.user_index(user)].indices])


def graph_edges(settings: Settings, rel_type: str) -> set[tuple[str, str]]:
    with open_store(settings, read_only=True) as store:
        return {
            (a, b)
            for batch in store.iter_relationships(rel_type, properties=[])
            for a, b in zip(batch["from_id"], batch["to_id"], strict=True)
        }


def test_keys_read_and_write_are_separate(client: TestClient) -> None:
    assert client.get("/recommendations/U00001").status_code == 401
    wrong = client.get("/recommendations/U00001", headers={"X-API-Key": "not-a-key-at-all-000"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert client.get("/recommendations/U00001", headers=READ).status_code == 200
    assert client.get("/recommendations/U00001", headers=WRITE).status_code == 200  # write keys read too
    event = {"user": "U00002", "item": "P00001"}
    assert client.post("/events", json=event).status_code == 401
    assert client.post("/events", json=event, headers=READ).status_code == 403
    assert client.get("/health").status_code == 200  # liveness needs no key
    assert client.get("/metrics").status_code == 401


def test_recommendations_are_k_unseen_items(client: TestClient, server: Server) -> None:
    body = client.get("/recommendations/U00003?k=10&explain=true", headers=READ).json()
    items = [row["item"] for row in body["items"]]
    assert len(items) == 10 == len(set(items))
    assert not set(items) & seen_items(server, "U00003")
    assert body["known_user"] and not body["cold_start"]
    assert all(row["reason"] and row["cypher"].startswith("MATCH") for row in body["items"])
    assert [row["rank"] for row in body["items"]] == list(range(1, 11))


def test_an_event_changes_the_next_response_and_reaches_the_graph(
    client: TestClient, server: Server, settings: Settings
) -> None:
    before = client.get("/recommendations/U00004?k=10", headers=READ).json()
    first = before["items"][0]["item"]
    posted = client.post("/events", json={"user": "U00004", "item": first, "type": "VIEWED"}, headers=WRITE)
    assert posted.status_code == 202 and posted.json()["accepted"] == 1
    after = client.get("/recommendations/U00004?k=10", headers=READ).json()
    assert first not in [row["item"] for row in after["items"]]
    assert after["items"] != before["items"] and after["events_folded"] == 1
    server.writer.flush()
    assert ("U00004", first) in graph_edges(settings, "VIEWED")


def test_a_batch_with_a_rating_is_written_with_its_value(
    client: TestClient, server: Server, settings: Settings
) -> None:
    batch = [
        {"user": "U00005", "item": "P00002", "type": "PURCHASED", "value": 19.5, "timestamp": 1700000000},
        {"user": "U00005", "item": "P00003", "type": "VIEWED", "timestamp": "2024-05-01T10:00:00Z"},
    ]
    assert client.post("/events", json=batch, headers=WRITE).json()["accepted"] == 2
    server.writer.flush()
    with open_store(settings, read_only=True) as store:
        bought = store.query(
            "MATCH (:User {id: $u})-[r:PURCHASED]->(:Item {id: $i}) RETURN r.amount AS amount, r.timestamp AS ts",
            {"u": "U00005", "i": "P00002"},
        )
    assert bought.to_dict("records") == [{"amount": 19.5, "ts": 1700000000}]


def test_unknown_user_gets_cold_start_then_their_events_count(
    client: TestClient, server: Server, settings: Settings
) -> None:
    cold = client.get("/recommendations/visitor-42?k=5", headers=READ).json()
    assert cold["cold_start"] and not cold["known_user"] and len(cold["items"]) == 5
    first = cold["items"][0]["item"]
    client.post("/events", json={"user": "visitor-42", "item": first}, headers=WRITE)
    warm = client.get("/recommendations/visitor-42?k=5", headers=READ).json()
    assert not warm["cold_start"] and not warm["known_user"]
    assert first not in [row["item"] for row in warm["items"]]
    server.writer.flush()
    with open_store(settings, read_only=True) as store:
        assert store.existing_node_ids("User", ["visitor-42"]) == {"visitor-42"}


@pytest.mark.parametrize(
    "path",
    ["/similar/no-such-item", "/explain/U00001/no-such-item", "/audience?item=no-such-item"],
)
def test_unknown_item_is_404_naming_it(client: TestClient, path: str) -> None:
    response = client.get(path, headers=READ)
    assert response.status_code == 404 and "no-such-item" in response.json()["detail"]


def test_event_for_unknown_item_is_404_and_folds_nothing(client: TestClient, server: Server) -> None:
    response = client.post("/events", json={"user": "U00006", "item": "ghost-item"}, headers=WRITE)
    assert response.status_code == 404 and "ghost-item" in response.json()["detail"]
    assert client.get("/recommendations/U00006", headers=READ).json()["events_folded"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("get", "/recommendations/U00001?k=0", None, 422, "greater than or equal"),
        ("get", "/recommendations/U00001?k=abc", None, 422, "integer"),
        ("get", "/recommendations/U00001?k=100000", None, 422, "less than or equal"),
        ("get", "/recommendations/U00001?max_price=nan", None, 422, "finite"),
        ("get", "/recommendations/U00001?min_price=50&max_price=10", None, 400, "above"),
        ("get", "/recommendations/U00001?category=Spaceships", None, 404, "Spaceships"),
        ("get", "/audience", None, 400, "exactly one target"),
        ("get", "/audience?item=P00001&tag=Outdoor", None, 400, "exactly one target"),
        ("get", "/audience?tag=Outdoor&segment=nobody", None, 404, "nobody"),
        ("post", "/events", {"user": "U00001", "item": "P00001", "type": "LIKED"}, 400, "VIEWED"),
        ("post", "/events", {"user": "U00001", "item": "P00001", "type": "RECOMMENDED"}, 400, "PURCHASED"),
        ("post", "/events", {"user": "U00001", "item": "P00001", "value": 3}, 400, "no value"),
        ("post", "/events", {"user": "U00001", "item": "P00001", "colour": "red"}, 422, "Extra inputs"),
        ("post", "/events", {"user": "", "item": "P00001"}, 422, "at least 1"),
        ("post", "/events", {"user": "U1", "item": "P00001", "value": "Infinity"}, 422, "finite"),
        ("post", "/events", [], 400, "between 1 and"),
        ("post", "/events", [{"user": "U1", "item": "P00001"}] * 1001, 400, "between 1 and"),
    ],
)
def test_bad_input_is_4xx_with_a_reason(
    client: TestClient, method: str, path: str, body: object, status: int, says: str
) -> None:
    response = getattr(client, method)(path, headers=WRITE, **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.text
    assert says in response.text


def test_malformed_json_and_oversized_bodies(settings: Settings) -> None:
    small = build_server(settings, serve_settings(serve_max_body_bytes=200))
    with TestClient(create_app(small)) as client:
        broken = client.post(
            "/events", content=b'{"user": ', headers={**WRITE, "content-type": "application/json"}
        )
        assert broken.status_code == 422
        big = [{"user": "U00001", "item": "P00001"}] * 20
        assert client.post("/events", json=big, headers=WRITE).status_code == 413


def test_every_request_has_a_timeout(settings: Settings, server: Server) -> None:
    hurried = build_server(settings, serve_settings(serve_timeout_s=0.000001), server.live.snapshot)
    with TestClient(create_app(hurried)) as client:
        response = client.get("/recommendations/U00011?explain=true", headers=READ)  # not cached
    assert response.status_code == 504 and "longer than" in response.json()["detail"]


def test_filters_pick_items(client: TestClient, server: Server) -> None:
    graph = server.live.snapshot.recommender.graph
    prices = dict(zip(graph.item_ids, graph.items["price"], strict=True))
    body = client.get("/recommendations/U00007?k=10&max_price=60", headers=READ).json()
    assert body["items"] and all(prices[row["item"]] <= 60 for row in body["items"])
    outdoor = client.get("/recommendations/U00007?k=50&category=Outdoor", headers=READ).json()
    names = [row["name"] for row in outdoor["items"]]
    assert names and all(any(w in n for w in ("Tent", "Backpack", "Sleeping Bag")) for n in names)


def test_similar_explain_and_audience(client: TestClient) -> None:
    similar = client.get("/similar/P00001?k=5&explain=true", headers=READ).json()
    assert len(similar["items"]) == 5 and "P00001" not in [row["item"] for row in similar["items"]]
    why = client.get("/explain/U00001/P00002", headers=READ).json()
    assert why["reason"] and why["cypher"].startswith("MATCH") and why["item"] == "P00002"
    everyone = client.get("/audience?tag=Outdoor&k=5", headers=READ).json()
    assert everyone["target"].startswith("category") and len(everyone["users"]) == 5
    campers = client.get("/audience?tag=Outdoor&segment=Campers&k=50", headers=READ).json()
    members = {f"U{n:05d}" for n in range(1, 11)}
    assert campers["users"] and {row["user"] for row in campers["users"]} <= members
    assert [row["rank"] for row in campers["users"]] == list(range(1, len(campers["users"]) + 1))


def test_metrics_count_routes_not_users(client: TestClient) -> None:
    first = client.get("/recommendations/U00008", headers=READ).json()
    assert client.get("/recommendations/U00008", headers=READ).json() == first  # a page view again
    client.post("/events", json={"user": "U00008", "item": "P00004"}, headers=WRITE)
    text = client.get("/metrics", headers=READ).text
    hits = next(line for line in text.splitlines() if line.startswith("kg_answer_cache_hits "))
    assert float(hits.split()[1]) >= 1
    assert 'route="/recommendations/{user_id}",status="200"' in text
    assert "kg_http_request_seconds_bucket" in text and "kg_model_age_seconds" in text
    assert "kg_events_applied_total" in text and "U00008" not in text


def test_cors_is_closed_unless_configured(client: TestClient, server: Server) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/health", headers=preflight).headers
    opened = build_server(
        server.settings, serve_settings(cors_origins="https://shop.example"), server.live.snapshot
    )
    with TestClient(create_app(opened)) as cors_client:
        answer = cors_client.options("/health", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"


def test_refit_after_events_swaps_the_model_without_failed_requests(settings: Settings) -> None:
    server = build_server(settings, serve_settings(serve_refit_events=1, serve_flush_s=0.05))
    before = server.live.snapshot
    statuses: list[int] = []
    with TestClient(create_app(server)) as client:
        item = client.get("/recommendations/U00009?k=1", headers=READ).json()["items"][0]["item"]
        client.post("/events", json={"user": "U00009", "item": item, "type": "PURCHASED"}, headers=WRITE)
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                statuses.append(client.get("/recommendations/U00010?k=5", headers=READ).status_code)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            # the write and the fit each start a child process first, and the fit runs at a
            # lower priority: on a busy machine that takes a while
            for _ in range(1800):
                if server.live.snapshot is not before:
                    break
                stop.wait(0.1)
        finally:
            stop.set()
            asker.join()
        after = server.live.snapshot
        assert after is not before, "no refit within 180 s"
        graph = after.recommender.graph
        row = graph.matrix[graph.user_index("U00009")]
        assert graph.item_index(item) in row.indices  # the new model learnt from the event
        assert server.live.folded == 0  # ...so it is no longer folded on top
        body = client.get("/recommendations/U00009?k=10", headers=READ).json()
        assert item not in [r["item"] for r in body["items"]]
        assert 'kg_model_refits_total{outcome="swapped"}' in client.get("/metrics", headers=READ).text
    assert statuses and set(statuses) == {200}
    assert np.isfinite(server.live.age_s)


def test_server_refuses_to_start_without_keys(settings: Settings) -> None:
    from kg.errors import ConfigError
    from kg.serving.config import ServeSettings

    with pytest.raises(ConfigError, match="KG_API_KEYS"):
        build_server(settings, ServeSettings())
    with pytest.raises(ConfigError, match="shorter than"):
        build_server(settings, ServeSettings(api_keys="short"))  # type: ignore[arg-type]


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kg.serving.config import ServeSettings

    monkeypatch.setenv("KG_API_KEYS", f" {READ_KEY} , another-read-key-000000 ")
    monkeypatch.setenv("KG_API_WRITE_KEYS", WRITE_KEY)
    loaded = ServeSettings()
    assert loaded.read_keys == {READ_KEY, "another-read-key-000000"} and loaded.write_keys == {WRITE_KEY}
    assert READ_KEY not in repr(loaded)  # secrets stay out of logs and tracebacks


def test_audiences_never_hold_users_who_refused_marketing(tmp_path_factory: pytest.TempPathFactory) -> None:
    shop = shop_settings(tmp_path_factory.mktemp("serve-consent"))
    with TestClient(create_app(build_server(shop, serve_settings()))) as before:
        first = [
            row["user"] for row in before.get("/audience?tag=Outdoor&k=20", headers=READ).json()["users"]
        ]
    refusing = first[:3]
    with open_store(shop) as store:
        store.upsert_nodes("User", pd.DataFrame({"id": refusing, "consent": False}))
    with TestClient(create_app(build_server(shop, serve_settings()))) as after:
        now = [row["user"] for row in after.get("/audience?tag=Outdoor&k=20", headers=READ).json()["users"]]
        campers = after.get("/audience?tag=Outdoor&segment=Campers&k=50", headers=READ).json()["users"]
    assert len(now) == 20 and set(now).isdisjoint(refusing) and now[:17] == first[3:]
    assert set(refusing).isdisjoint(row["user"] for row in campers)


def test_the_score_table_gives_the_answers_of_scoring_afresh(server: Server) -> None:
    from kg.serving.scores import ServedRecommender, served

    plain = server.live.snapshot.recommender
    if isinstance(plain, ServedRecommender):
        plain = Recommender(**{f.name: getattr(plain, f.name) for f in fields(Recommender)})
    table = served(plain, 2**30)
    assert isinstance(table, ServedRecommender) and table.table is not None
    assert served(plain, 0) is plain  # over the memory budget: no table
    for user in [f"U{n:05d}" for n in range(1, 31)]:
        for item_filter in (None, ItemFilter(max_price=60)):
            fresh = plain.recommend(user, 8, item_filter, explain=True)
            assert table.recommend(user, 8, item_filter, explain=True).equals(fresh)
    row = plain.graph.user_index("U00001")
    folded = plain.graph.matrix[row].copy()
    folded.data[:] = 2.0  # another history than the fitted one: scored, not read
    assert table._from_table(np.array([row]), folded) is None
    assert table._from_table(np.array([row]), plain.graph.matrix[row]) is not None


def test_an_answer_with_events_folded_is_the_batch_paths_answer(server: Server) -> None:
    """A served answer for a user with events since the fit takes one-user shortcuts (the
    history and the items to exclude built from index lists, rows without a DataFrame):
    it must be the answer of the general path, here scoring that user in a batch of two."""
    from kg.serving.app import render_recommendations
    from kg.serving.live import UserHistory, records

    live = server.live
    plain = live.snapshot.recommender
    n_items = plain.graph.n_items
    extra = sp.csr_matrix(([2.0, 0.0], ([0, 0], [1, 3])), shape=(1, n_items))  # one item, one explicit 0
    for row in [0, 1, 2, NO_USER]:
        fast = plain._taken(np.array([row]), extra)
        general = plain._taken(np.array([row, 3]), sp.vstack([extra, extra]).tocsr())[0]
        assert fast.indices.tolist() == sorted(general.indices) and 1 in fast.indices
        assert (row == NO_USER) == (fast.nnz == 1)
    users = ["U00011", "U00012", "U00013", "visitor-fast"]
    live.fold([(u, "P00007") for u in users] + [("U00011", "P00009"), ("visitor-fast", "P00011")])
    snapshot = live.snapshot
    other = live.history(snapshot, "U00020")  # a second row: the multi-user path
    for user_id in users:
        user = live.history(snapshot, user_id)
        graph = plain.graph
        fitted = graph.matrix[user.row] if user.known else None
        expected = {*(graph.item_ids[fitted.indices] if fitted is not None else []), "P00007"}
        assert set(graph.item_ids[user.history.indices]) >= expected and set(user.history.data) == {1.0}
        for item_filter, explain in ((None, True), (ItemFilter(max_price=60), False)):
            body = live.recommend(user_id, 8, item_filter, explain=explain, render=render_recommendations)
            rows = np.array([user.row, other.row])
            batch = sp.vstack([user.history, other.history]).tocsr()
            allowed = snapshot.allowed(item_filter)
            frame = pd.DataFrame(plain._top_columns(rows, batch, 8, allowed, explain, exclude=batch))
            mine = frame[frame["user"].isna() if not user.known else frame["user"] == user_id]
            expected_body = render_recommendations(
                snapshot, UserHistory(user_id, user.row, user.history, user.folded), records(mine)
            )
            assert body == expected_body and len(mine) > 0
