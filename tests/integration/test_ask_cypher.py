"""`kg ask` analytic questions: Cypher written by a language model behind a real
OpenAI-compatible server on loopback (tests/llm_server.py, which replays the replies
given to it: it is not a model), checked against the schema, shown, and run read-only on
the real embedded store. Writes, files, procedures and unknown names are refused with one
line and leave the graph as it was."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from kg.ask.analytic import extract_cypher, looks_analytic
from kg.ask.cypher_check import RefusedCypher, SchemaView, check_generated
from kg.config import load_settings
from kg.schema import Schema
from kg.store import open_store
from tests.helpers import assert_clean_error, invoke, one_line
from tests.llm_server import RecordingChatServer, recording_chat_server

QUESTION = "which brand had the most negative reviews last month?"
BRAND_COUNTS = """```cypher
MATCH (u:User)-[:WROTE]->(d:Document)-[:REVIEWS]->(:Item)-[:HAS_BRAND]->(b:Brand)
WHERE d.sentiment < -0.3
RETURN b.name AS brand, count(d) AS negative_reviews
ORDER BY negative_reviews DESC, brand
```"""
PERSON = "Alice Wonderly"
EMAIL = "alice@example.org"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three brands, their items, and reviews with sentiment by named users (personal data
    the model must never see)."""
    root = tmp_path_factory.mktemp("ask-cypher")
    with open_store(load_settings(store=str(root / "graph"), data_dir=root / "kg-data")) as store:
        store.upsert_nodes(
            "Brand",
            pd.DataFrame({"id": ["north", "lumen", "kest"], "name": ["Northpeak", "Lumen", "Kestrel"]}),
        )
        items = pd.DataFrame(
            {"id": [f"I{i}" for i in range(6)], "name": [f"Item {i}" for i in range(6)], "price": 10.0}
        )
        store.upsert_nodes("Item", items)
        store.upsert_relationships(
            "HAS_BRAND", "Item", "Brand",
            pd.DataFrame({"from_id": items["id"], "to_id": ["north", "north", "lumen", "lumen", "kest", "kest"]}),
        )  # fmt: skip
        store.upsert_nodes(
            "User",
            pd.DataFrame({"id": ["U1", "U2"], "name": [PERSON, "Bob Stone"], "email": [EMAIL, "b@x.org"]}),
        )
        # Northpeak: 3 negative reviews, Lumen 1, Kestrel none (one positive).
        reviews = [
            ("U1", "I0", -0.8),
            ("U2", "I1", -0.6),
            ("U1", "I1", -0.7),
            ("U2", "I2", -0.5),
            ("U1", "I4", 0.9),
        ]
        ids = [f"r{n}" for n in range(len(reviews))]
        store.upsert_nodes(
            "Document", pd.DataFrame({"id": ids, "text": "a review", "sentiment": [s for *_, s in reviews]})
        )
        store.upsert_relationships(
            "WROTE", "User", "Document", pd.DataFrame({"from_id": [u for u, *_ in reviews], "to_id": ids})
        )
        store.upsert_relationships(
            "REVIEWS", "Document", "Item", pd.DataFrame({"from_id": ids, "to_id": [i for _, i, _ in reviews]})
        )
    return root


@pytest.fixture
def server() -> Iterator[RecordingChatServer]:
    with recording_chat_server() as running:
        yield running


def _llm(server: RecordingChatServer) -> dict[str, str]:
    return {
        "KG_ASK__CYPHER_BACKEND": "openai",
        "KG_EMBEDDINGS__LLM_URL": server.url,
        "KG_EMBEDDINGS__LLM_MODEL": "cypher-test",
        "KG_EMBEDDINGS__LLM_RETRIES": "1",
    }


def _graph_state(root: Path) -> tuple[object, pd.DataFrame]:
    with open_store(load_settings(store=str(root / "graph")), read_only=True) as store:
        return store.counts(), store.query("MATCH (n:Brand) RETURN n.id AS id, n.name AS name ORDER BY id")


def test_a_valid_read_query_is_shown_then_run(shop: Path, server: RecordingChatServer) -> None:
    server.script.append(BRAND_COUNTS)
    result = invoke("ask", "--cypher", QUESTION, "--yes", env=_llm(server), data=shop)
    assert result.exit_code == 0, result.output
    output = one_line(result.output)
    assert "Cypher written by openai (cypher-test):" in output
    assert "RETURN b.name AS brand, count(d) AS negative_reviews" in output  # shown as written
    assert output.index("MATCH (u:User)") < output.index("Northpeak")  # shown before the rows
    rows = [line.split("│")[1:3] for line in result.output.splitlines() if line.count("│") >= 3]
    assert [[c.strip() for c in row] for row in rows] == [["Northpeak", "3"], ["Lumen", "1"]]
    # The model saw names only: the schema without personal properties, no value from the graph.
    (request,) = server.requests
    sent = json.dumps(request)
    assert PERSON not in sent and EMAIL not in sent and "Bob" not in sent
    user_line = next(line for line in server.prompts[0].splitlines() if line.startswith("(:User)"))
    assert "age_group" in user_line and not {"email", "name", "phone", "age", "zip_code"} & set(
        user_line.removeprefix("(:User) ").split(", ")
    )
    assert QUESTION in server.prompts[0] and "today is" in server.prompts[0]
    assert "LadybugDB" in server.prompts[0]  # the embedded store's dialect, with its time functions


WRITES = [
    ("MATCH (i:Item) SET i.price = 0 RETURN i.id", "writes to the graph (SET)"),
    ("CREATE (:Brand {id: 'evil', name: 'Evil'})", "writes to the graph (CREATE)"),
    ("MERGE (b:Brand {id: 'evil'}) RETURN b.id", "writes to the graph (MERGE)"),
    ("MATCH (b:Brand) DETACH DELETE b", "writes to the graph (DETACH)"),
    ("MATCH (d:Document) REMOVE d.sentiment RETURN count(d)", "writes to the graph (REMOVE)"),
    ("MATCH (i:Item) FOREACH (x IN [1] | SET i.price = x)", "writes to the graph (FOREACH)"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "reads files or URLs (LOAD CSV)"),
    ("CALL db.createLabel('Evil')", "runs a procedure or subquery (CALL)"),
    ("MATCH (i:Item) CALL { WITH i SET i.price = 1 } RETURN i.id", "runs a procedure or subquery (CALL)"),
    ("RETURN apoc.create.node(['Evil'], {}) AS x", "calls the plugin function apoc.create.node"),
    ("MATCH (b:Brand) RETURN b.id; MATCH (b:Brand) DELETE b", "holds more than one statement"),
]
UNKNOWN = [
    ("MATCH (c:Customer) RETURN count(c) AS n", "names the label Customer, which the schema does not have"),
    ("MATCH (u:User)-[:BOUGHT]->(i:Item) RETURN count(*)", "names the relationship type BOUGHT"),
    ("MATCH (b:Brand) RETURN b.country", "names the property b.country"),
    # Personal properties are not in a remote model's schema, so its query may not read them.
    ("MATCH (u:User) RETURN u.email", "names the property u.email"),
    (
        "MATCH (i:Item {colour: 'red'}) RETURN i.id",
        "names the property colour, which the schema does not have (did you mean color?)",
    ),
]


@pytest.mark.parametrize(("reply", "why"), [WRITES[0], WRITES[6], WRITES[8]])
def test_generated_cypher_that_writes_is_refused_and_the_graph_is_unchanged(
    shop: Path, server: RecordingChatServer, reply: str, why: str
) -> None:
    before = _graph_state(shop)
    server.script.append(reply)
    result = invoke("ask", "--cypher", QUESTION, "--yes", env=_llm(server), data=shop)
    assert_clean_error(result, "Refused the generated Cypher: it", why, "Nothing was run.")
    assert reply.split()[0] in result.stdout  # it was shown, so the user sees what was refused
    after = _graph_state(shop)
    assert before[0] == after[0]
    pd.testing.assert_frame_equal(before[1], after[1])


def test_an_unknown_label_is_refused(shop: Path, server: RecordingChatServer) -> None:
    server.script.append(UNKNOWN[0][0])
    result = invoke("ask", "--cypher", QUESTION, "--yes", env=_llm(server), data=shop)
    assert_clean_error(result, UNKNOWN[0][1], "Nothing was run.")


@pytest.mark.parametrize(("reply", "why"), WRITES + UNKNOWN)
def test_every_write_and_unknown_name_is_refused_by_the_check(reply: str, why: str) -> None:
    with pytest.raises(RefusedCypher, match=re.escape(why)):
        check_generated(reply, SchemaView.of(Schema.default(), personal=False))


def test_an_empty_answer_is_no_query(shop: Path, server: RecordingChatServer) -> None:
    server.script.append("")
    result = invoke("ask", "--cypher", QUESTION, "--yes", env=_llm(server), data=shop)
    assert_clean_error(result, "The language model wrote no Cypher for this question")


def test_the_query_runs_only_when_confirmed(shop: Path, server: RecordingChatServer) -> None:
    server.script.append(BRAND_COUNTS)
    env = {
        "KG_STORE": str(shop / "graph"),
        "KG_DATA_DIR": str(shop / "kg-data"),
        "COLUMNS": "200",
        **_llm(server),
    }
    declined = CliRunner().invoke(app, ["ask", "--cypher", QUESTION], env=env, input="n\n")
    assert declined.exit_code == 0 and "Not run." in declined.output and "Northpeak" not in declined.output
    assert "MATCH (u:User)" in declined.output and "Run this read-only query?" in declined.output


def test_the_template_backend_says_analytic_questions_need_a_model(shop: Path) -> None:
    assert_clean_error(
        invoke("ask", "--cypher", QUESTION, data=shop),
        "Analytic questions need a language model to write Cypher",
        "cypher_backend",
    )


@pytest.mark.slow  # loads MiniLM to answer the search
def test_an_analytic_looking_question_without_a_model_is_searched_with_a_note(shop: Path) -> None:
    result = invoke("ask", "which brand sold the most items?", data=shop)
    assert result.exit_code == 0, result.output
    assert "needs a language model" in one_line(result.output) and "Answers to" in result.output


def test_questions_are_told_apart() -> None:
    assert looks_analytic(QUESTION) and looks_analytic("How many users reviewed Lumen items?")
    assert looks_analytic("Which category has the highest average rating? Rank them per month")
    assert not looks_analytic("waterproof jacket under 150")
    assert not looks_analytic("what is a good leather bag for work")


def test_words_inside_strings_are_data_and_fences_are_stripped() -> None:
    view = SchemaView.of(Schema.default(), personal=False)
    text = extract_cypher(
        "Here it is:\n```cypher\nMATCH (i:Item) WHERE i.name = 'Set of 3; create' RETURN i.id;\n```"
    )
    assert check_generated(text, view) == "MATCH (i:Item) WHERE i.name = 'Set of 3; create' RETURN i.id"
    timed = "MATCH (:User)-[r:PURCHASED]->(i:Item) WHERE datetime({epochSeconds: r.timestamp}) > datetime() - duration('P30D') RETURN count(r)"
    assert check_generated(timed, view) == timed
    with pytest.raises(RefusedCypher, match="uses the parameter \\$brand"):
        check_generated("MATCH (b:Brand {id: $brand}) RETURN b.name", view)
    local = SchemaView.of(Schema.default(), personal=True)  # a local model allowed to see personal data
    assert check_generated("MATCH (u:User) RETURN u.email", local)
