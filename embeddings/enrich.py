"""``kg enrich``: a text for every node from its graph neighbourhood, then its vector.

For each node the facts are its name, its neighbours per relationship type (``has brand:
Northpeak. in category: Jackets. purchased by 23 users``, strongest first by rating or
count, at most ``max_neighbors`` named per type) and its scalar properties. A language
model backend (``embeddings.llm``) may rewrite the facts into a natural description;
a sentence-transformer turns the result into ``text_embedding``. Both steps are cached by
content hash, so a re-run only does work for nodes whose neighbourhood changed.

Stored on each node: ``node_text``, ``node_text_model`` (backend:model),
``node_text_prompt`` (facts/prompt versions) and ``text_embedding`` (DOUBLE[]).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from embeddings.cache import EnrichCache, content_key
from embeddings.llm import PROMPT_VERSION, DescriptionBackend, build_prompt, make_backend
from embeddings.text import NODE_TEXT, TEXT_EMBEDDING, encode_texts
from embeddings.triples import training_relations
from kg.config import Settings
from kg.progress import ProgressReporter, SilentProgress
from kg.store import GraphStore

FACTS_VERSION = "facts-v1"
NAME_PROPERTIES = ("name", "title")
# written by kg itself, or identifiers rather than facts
SKIPPED_PROPERTIES = frozenset(
    {"placeholder", "url", "content_hash", "ingested_at", NODE_TEXT, "node_text_model", "node_text_prompt"}
)
SCALAR_TYPES = frozenset({"STRING", "INT64", "DOUBLE", "BOOLEAN"})
WEIGHT_PROPERTIES = ("rating", "count", "confidence")
MAX_VALUE_CHARS = 200
# Neighbours that are many and anonymous to a reader: counted, not named.
COUNTED_LABELS = frozenset({"User", "Document"})
INCOMING_PHRASES = {
    "HAS_BRAND": "brand of",
    "IN_CATEGORY": "category of",
    "SUBCATEGORY_OF": "parent category of",
    "HAS_GENRE": "genre of",
    "MADE_OF": "material of",
    "HAS_OCCUPATION": "occupation of",
    "PURCHASED": "purchased by",
    "VIEWED": "viewed by",
    "RATED": "rated by",
    "DESCRIBES": "described by",
    "MENTIONS": "mentioned by",
}
WRITE_BATCH = 5_000


@dataclass
class EnrichReport:
    """What ``kg enrich`` did: nodes per label, model calls, cache use."""

    backend: str
    model: str
    nodes: dict[str, int] = field(default_factory=dict)
    model_calls: int = 0
    descriptions_cached: int = 0
    descriptions_new: int = 0
    vectors_cached: int = 0
    vectors_new: int = 0
    seconds: float = 0.0

    @property
    def total_nodes(self) -> int:
        return sum(self.nodes.values())


# ---------------------------------------------------------------------- facts
def build_node_texts(
    store: GraphStore,
    labels: Iterable[str] | None = None,
    *,
    relations: Iterable[str] | None = None,
    max_neighbors: int = 5,
    personal: bool = False,
) -> pd.DataFrame:
    """One row per node of ``labels`` (default: all with nodes): ``label, id, facts``.

    Without ``personal`` the facts hold no personal data: properties the schema marks
    ``pii`` or ``identifier`` are left out (a user's ``age_group`` stays, their age,
    name and zip code go), a node whose name is personal is called by its label and id,
    and ``free_text`` properties have emails, phone numbers and names masked."""
    counts = store.counts().nodes
    chosen = sorted(labels) if labels is not None else [label for label, n in sorted(counts.items()) if n]
    for label in chosen:
        store.schema.node(label)
    names = _display_names(store, [label for label, n in counts.items() if n], personal)
    edges = _edges(store, training_relations(store, relations))
    neighbourhood = _neighbourhood_phrases(edges, names, max_neighbors)
    masking = not personal and any(store.schema.node(label).free_text for label in chosen)
    people = _people_names(store, counts) if masking else []  # read only when some text is masked
    rows = []
    for label in chosen:
        node = store.schema.node(label)
        for batch in store.iter_nodes(label, properties=_fact_properties(store, label, personal)):
            if not personal:
                batch = _masked(batch, sorted(node.free_text & set(batch.columns)), people)
            for record in batch.to_dict("records"):
                entity = f"{label}:{record['id']}"
                rows.append(
                    (
                        label,
                        str(record["id"]),
                        _facts(label, entity, record, names, neighbourhood.get(entity, [])),
                    )
                )
    return pd.DataFrame(rows, columns=["label", "id", "facts"])


def _fact_properties(store: GraphStore, label: str, personal: bool) -> list[str]:
    node = store.schema.node(label)
    withheld = set() if personal else node.pii | node.identifier
    return [
        name
        for name, kind in node.properties.items()
        if kind in SCALAR_TYPES
        and name not in SKIPPED_PROPERTIES
        and name not in withheld
        and not name.startswith("embedding")
    ]


def _masked(batch: pd.DataFrame, columns: list[str], people: list[str]) -> pd.DataFrame:
    """``columns`` of free text with personal data masked (emails, phones, names)."""
    if not columns or batch.empty:
        return batch
    from kg.privacy.masking import mask_texts

    batch = batch.copy()
    for column in columns:
        present = batch[column].notna()
        batch.loc[present, column] = mask_texts(batch.loc[present, column].astype(str).tolist(), people)
    return batch


def _people_names(store: GraphStore, counts: dict[str, int]) -> list[str]:
    """The names the graph holds for people (labels whose key names a person)."""
    names: list[str] = []
    for label, n in counts.items():
        node = store.schema.node(label)
        if n and node.personal_key and "name" in node.properties:
            for batch in store.iter_nodes(label, properties=["name"]):
                names.extend(batch["name"].dropna().astype(str))
    return names


def _display_names(store: GraphStore, labels: Sequence[str], personal: bool) -> dict[str, str]:
    names: dict[str, str] = {}
    for label in labels:
        node = store.schema.node(label)
        withheld = set() if personal else node.pii | node.identifier | node.free_text
        wanted = [p for p in NAME_PROPERTIES if p in node.properties and p not in withheld]
        for batch in store.iter_nodes(label, properties=wanted):
            shown = pd.Series([None] * len(batch), index=batch.index, dtype=object)
            for prop in wanted:
                shown = shown.fillna(batch[prop])
            shown = shown.fillna(label + " " + batch["id"].astype(str))
            names.update(zip(label + ":" + batch["id"].astype(str), shown.astype(str), strict=True))
    return names


def _edges(store: GraphStore, relations: Sequence[str]) -> pd.DataFrame:
    """All edges of the chosen types with a weight (rating, count, ... or 1)."""
    frames = []
    for rel_type in relations:
        declared = store.schema.rel(rel_type).properties
        weight = next((p for p in WEIGHT_PROPERTIES if p in declared), None)
        for batch in store.iter_relationships(rel_type, properties=[weight] if weight else []):
            frames.append(
                pd.DataFrame(
                    {
                        "source": batch["from_label"] + ":" + batch["from_id"].astype(str),
                        "rel": rel_type,
                        "target": batch["to_label"] + ":" + batch["to_id"].astype(str),
                        "weight": pd.to_numeric(batch[weight], errors="coerce").fillna(1.0)
                        if weight
                        else 1.0,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["source", "rel", "target", "weight"])
    return pd.concat(frames, ignore_index=True)


def _neighbourhood_phrases(edges: pd.DataFrame, names: dict[str, str], limit: int) -> dict[str, list[str]]:
    """``entity -> ["has brand: Northpeak", "purchased by 23 users", ...]``."""
    phrases: dict[str, list[str]] = {}
    if edges.empty:
        return phrases
    both = pd.concat(
        [
            edges.rename(columns={"source": "node", "target": "other"}).assign(direction="out"),
            edges.rename(columns={"target": "node", "source": "other"}).assign(direction="in"),
        ],
        ignore_index=True,
    )
    both["other_label"] = both["other"].str.split(":", n=1).str[0]
    both["other_name"] = both["other"].map(names).fillna(both["other"])
    both = both.sort_values(
        ["node", "rel", "direction", "weight", "other_name"], ascending=[True, True, True, False, True]
    )
    for (node, rel, direction, other_label), group in both.groupby(
        ["node", "rel", "direction", "other_label"], sort=True
    ):
        phrase = (
            rel.lower().replace("_", " ")
            if direction == "out"
            else INCOMING_PHRASES.get(rel, f"{rel.lower()} of")
        )
        if other_label in COUNTED_LABELS:
            text = f"{phrase} {len(group)} {other_label.lower()}{'s' if len(group) != 1 else ''}"
        else:
            shown = list(dict.fromkeys(group["other_name"]))[:limit]
            more = group["other_name"].nunique() - len(shown)
            text = f"{phrase}: {', '.join(shown)}" + (f" (and {more} more)" if more > 0 else "")
        phrases.setdefault(node, []).append(text)
    return phrases


def _facts(label: str, entity: str, record: dict, names: dict[str, str], neighbours: list[str]) -> str:
    """Name, then graph neighbours, then properties: the text encoder reads a bounded
    number of tokens, and what a node is connected to says most about it."""
    parts = [f"{label}: {names.get(entity, entity)}."]
    parts.extend(f"{phrase}." for phrase in neighbours)
    details = []
    for key, value in record.items():
        if (
            key == "id"
            or key in NAME_PROPERTIES
            or value is None
            or (isinstance(value, float) and np.isnan(value))
        ):
            continue
        text = str(value)
        if len(text) > MAX_VALUE_CHARS:
            text = text[:MAX_VALUE_CHARS].rsplit(" ", 1)[0] + "..."
        details.append(f"{key.replace('_', ' ')}: {text}")
    if details:
        parts.append("; ".join(details) + ".")
    return " ".join(parts)


# ---------------------------------------------------------------------- enrich
def enrich_store(
    settings: Settings,
    store: GraphStore,
    *,
    backend: str | None = None,
    labels: Iterable[str] | None = None,
    progress: ProgressReporter | None = None,
) -> EnrichReport:
    """Build, describe, encode and store the text of every node (of ``labels``)."""
    started = time.perf_counter()
    progress = progress or SilentProgress()
    config = settings.embeddings
    describer = make_backend(config, backend)
    report = EnrichReport(backend=describer.name, model=describer.model)
    personal = not describer.remote and settings.privacy.personal_data_to_local_models
    nodes = build_node_texts(
        store, labels, relations=config.relations, max_neighbors=config.max_neighbors, personal=personal
    )
    if nodes.empty:
        return report
    with EnrichCache(settings.cache_dir / "enrich.sqlite") as cache:
        nodes["text"] = _describe(
            nodes["facts"].tolist(), describer, cache, config.llm_batch_size, report, progress
        )
        vectors = _encode(
            nodes["text"].tolist(), config.text_model, cache, config.text_batch_size, report, progress
        )
        cache.tag_subjects(_personal_entries(store, nodes, describer, config.text_model))
    nodes["vector"] = list(vectors)
    stamp = FACTS_VERSION if describer.name == "template" else f"{FACTS_VERSION}+{PROMPT_VERSION}"
    model_name = describer.name if describer.name == "template" else f"{describer.name}:{describer.model}"
    with progress.task("Writing node text", total=len(nodes)):
        for label, group in nodes.groupby("label", sort=True):
            for start in range(0, len(group), WRITE_BATCH):
                chunk = group.iloc[start : start + WRITE_BATCH]
                rows = pd.DataFrame(
                    {
                        "id": chunk["id"].to_numpy(),
                        NODE_TEXT: chunk["text"].to_numpy(),
                        "node_text_model": model_name,
                        "node_text_prompt": stamp,
                        TEXT_EMBEDDING: [v.astype(float).tolist() for v in chunk["vector"]],
                    }
                )
                store.set_node_properties(str(label), rows)
                progress.advance(len(chunk))
            report.nodes[str(label)] = len(group)
    report.model_calls = describer.calls
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _personal_entries(
    store: GraphStore, nodes: pd.DataFrame, describer: DescriptionBackend, text_model: str
) -> list[tuple[str, str]]:
    """``(cache key, "User:42")`` for every cached answer and vector about a person."""
    people = nodes[nodes["label"].map(lambda label: store.schema.node(label).personal_key)]
    pairs = []
    for label, node_id, facts, text in people[["label", "id", "facts", "text"]].itertuples(index=False):
        subject = f"{label}:{node_id}"
        pairs.append(
            (content_key(describer.name, describer.model, PROMPT_VERSION, build_prompt(facts)), subject)
        )
        pairs.append((content_key(text_model, text), subject))
    return pairs


def _describe(
    facts: list[str],
    describer: DescriptionBackend,
    cache: EnrichCache,
    batch_size: int,
    report: EnrichReport,
    progress: ProgressReporter,
) -> list[str]:
    """Descriptions from the cache, asking the model only for facts it has not seen."""
    prompts = [build_prompt(f) for f in facts]
    keys = [content_key(describer.name, describer.model, PROMPT_VERSION, p) for p in prompts]
    known = cache.get_texts(keys)
    todo = list(dict.fromkeys(p for p, k in zip(prompts, keys, strict=True) if k not in known))
    report.descriptions_cached = len(prompts) - sum(1 for k in keys if k not in known)
    report.descriptions_new = len(todo)
    if todo:
        with progress.task(f"Describing nodes ({describer.name})", total=len(todo)):
            for start in range(0, len(todo), max(1, batch_size)):
                batch = todo[start : start + batch_size]
                answers = describer.describe(batch)
                fresh = {
                    content_key(describer.name, describer.model, PROMPT_VERSION, p): a
                    for p, a in zip(batch, answers, strict=True)
                }
                cache.put_texts(fresh)
                known.update(fresh)
                progress.advance(len(batch))
    return [known[k] for k in keys]


def _encode(
    texts: list[str],
    text_model: str,
    cache: EnrichCache,
    batch_size: int,
    report: EnrichReport,
    progress: ProgressReporter,
) -> np.ndarray:
    """Text vectors from the cache, encoding only texts it has not seen."""
    keys = [content_key(text_model, t) for t in texts]
    known = cache.get_vectors(keys)
    todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
    report.vectors_cached = len(texts) - sum(1 for k in keys if k not in known)
    report.vectors_new = len(todo)
    if todo:
        with progress.task("Encoding node text", total=len(todo)):
            chunk_size = max(batch_size, 1) * 8
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                vectors = encode_texts(chunk, model=text_model, batch_size=batch_size)
                fresh = {content_key(text_model, t): v for t, v in zip(chunk, vectors, strict=True)}
                cache.put_vectors(fresh)
                known.update(fresh)
                progress.advance(len(chunk))
    return np.vstack([known[k] for k in keys])
