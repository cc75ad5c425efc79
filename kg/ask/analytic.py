"""Analytic questions ("which brand had the most negative reviews last month?"): a
language model writes one Cypher query from the schema, the query is checked
(``kg.ask.cypher_check``), shown, and run read-only.

A product search ranks items; an analytic question counts, compares or aggregates, and
only a query over the whole graph answers it. What the model is given: the schema's
label, relationship type and property names (no value; no ``pii`` property for a remote
model), today's date, and the question, with the personal values in it (emails, phone
numbers, people's names, the graph's user ids) masked before it goes to a remote model.
What it returns is untrusted: nothing runs until it passed the checks, and then only in
a read-only transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from embeddings.llm import DescriptionBackend, make_backend
from kg.ask.cypher_check import SchemaView, check_generated
from kg.config import Settings
from kg.errors import ConfigError
from kg.store.base import GraphStore

TEMPLATE = "template"
SYSTEM_PROMPT = (
    "You translate a question about a knowledge graph into one read-only Cypher query. Use only "
    "the labels, relationship types and properties listed. Never write to the graph; use no CALL, "
    "no LOAD CSV, no parameters and no APOC. Answer with the query only."
)
# An analytic question asks for a count, an extreme, an average or a breakdown...
_AGGREGATE = re.compile(
    r"\b(how many|how much|number of|count|most|least|fewest|average|avg|mean|median|total|sum|"
    r"per|share|percent(?:age)?|ratio|trend|ranking|top \d+)\b",
    re.IGNORECASE,
)
# ...and is put as a question or a request for a list, not as a description of an item.
_ASKING = re.compile(r"^\s*(which|what|who|whom|how|list|count|rank|show|give|tell)\b", re.IGNORECASE)
# What each store's Cypher calls things, above all times (interaction `timestamp`s are epoch seconds).
DIALECTS = {
    "neo4j": "The store is Neo4j 5. Times: datetime({epochSeconds: r.timestamp}), datetime(), duration('P30D').",
    "embedded": "The store is LadybugDB (Kuzu Cypher). Times: to_timestamp(r.timestamp), current_timestamp(), "
    "interval('30 days').",
}
_FENCE = re.compile(r"```(?:cypher|sql)?\s*(.*?)```", re.IGNORECASE | re.DOTALL)
_WORDS = re.compile(r"[\w-]+")


def looks_analytic(question: str) -> bool:
    """Whether ``kg ask`` without ``--cypher``/``--search`` treats the question as
    analytic: it asks (which, what, how...) for an aggregate (most, how many, average...).
    "waterproof jacket under 150" is a search; "which brand sold the most jackets?" is not."""
    return bool(_ASKING.search(question) and _AGGREGATE.search(question))


@dataclass(frozen=True)
class GeneratedQuery:
    """What the model wrote (unchecked), by whom, and the schema view it was shown."""

    question: str
    cypher: str
    backend: str
    model: str
    view: SchemaView
    masked: bool  # the question sent differed from the one asked (personal values masked)

    def checked(self) -> str:
        """The query when it may run; :class:`kg.ask.cypher_check.RefusedCypher` otherwise."""
        return check_generated(self.cypher, self.view)


def analytic_backend(settings: Settings) -> DescriptionBackend:
    """The ``[ask] cypher_backend`` model; the template backend writes no Cypher, so it is
    refused with what to set instead."""
    name = settings.ask.cypher_backend.strip().lower()
    if name == TEMPLATE:
        raise ConfigError(
            "Analytic questions need a language model to write Cypher, and [ask] cypher_backend is "
            "'template' (no model): set it to 'openai' (with [embeddings] llm_url and llm_model) or "
            "'hf' (a local model folder in llm_model), or ask a product question with --search."
        )
    llm = settings.embeddings.model_copy(update={"llm_max_tokens": settings.ask.cypher_max_tokens})
    backend = make_backend(llm, name)
    if hasattr(backend, "system_prompt"):
        backend.system_prompt = SYSTEM_PROMPT  # type: ignore[attr-defined]
    return backend


def build_prompt(question: str, view: SchemaView, today: datetime, dialect: str) -> str:
    """The whole instruction (local models read no system prompt)."""
    return (
        f"{SYSTEM_PROMPT}\n\n{view.outline()}\n\n{DIALECTS[dialect]} Interaction `timestamp` "
        f"properties are epoch seconds; today is {today:%Y-%m-%d} ({int(today.timestamp())}).\n"
        f"Question: {question}\nCypher:"
    )


def extract_cypher(reply: str) -> str:
    """The query inside a model's reply: the first fenced block if any, without a
    leading ``Cypher:``."""
    fenced = _FENCE.search(reply)
    text = fenced.group(1) if fenced else reply
    return re.sub(r"^\s*cypher\s*:\s*", "", text.strip(), flags=re.IGNORECASE).strip()


def masked_question(question: str, store: GraphStore) -> str:
    """The question without personal values: emails, phone numbers and people's names
    (``kg.privacy.masking``), and the graph's user ids (a user key names a person)."""
    from kg.privacy.masking import mask_texts

    masked = mask_texts([question])[0]
    words = set(_WORDS.findall(masked))
    users = store.existing_node_ids("User", words) if words else set()
    for user in sorted(users, key=len, reverse=True):
        masked = re.sub(rf"(?<![\w-]){re.escape(user)}(?![\w-])", "[user]", masked)
    return masked


def write_cypher(
    store: GraphStore,
    settings: Settings,
    question: str,
    *,
    backend: DescriptionBackend | None = None,
    today: datetime | None = None,
) -> GeneratedQuery:
    """One Cypher query for ``question`` from the configured model (unchecked: show it,
    then call :meth:`GeneratedQuery.checked`)."""
    backend = backend or analytic_backend(settings)
    personal = not backend.remote and settings.privacy.personal_data_to_local_models
    view = SchemaView.of(store.schema, personal=personal)
    sent = masked_question(question, store) if backend.remote else question
    dialect = "neo4j" if settings.uses_neo4j else "embedded"
    prompt = build_prompt(sent, view, today or datetime.now(UTC), dialect)
    reply = backend.describe([prompt])[0]
    cypher = "" if reply.strip() == prompt.strip() else extract_cypher(reply)  # an echo: no answer
    return GeneratedQuery(question, cypher, backend.name, backend.model, view, sent != question)


def run_read_only(store: GraphStore, cypher: str) -> pd.DataFrame:
    """The checked query's rows, read-only (the store's guard and a read-only transaction)."""
    return store.query(cypher)
