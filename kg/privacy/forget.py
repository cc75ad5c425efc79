"""``kg forget``: the right to erasure, on both stores and in every file kg writes.

Order matters for a crash: the files derived from a person (caches, embedding runs, the
fitted recommender) are scrubbed before the graph, and every step is idempotent, so a
re-run after a crash finishes the job; a run that finds nothing reports nothing to forget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.cache import EnrichCache
from embeddings.runs import forget_entities
from kg.config import Settings
from kg.privacy.pseudonyms import PseudonymVault, vault_path
from kg.recommend.service import discard_fitted
from kg.store import GraphStore
from kg.store.cypher_names import q

PERSON_LABEL = "User"
# What a person's messages and reviews hang on: (relationship, other label, outgoing from the person?)
MESSAGES = ("FOR", "Message", False)
REVIEWS = ("WROTE", "Document", True)


@dataclass
class ForgetReport:
    """What ``kg forget`` removed, per kind, so the person (or an auditor) can see it."""

    requested: list[str]
    found: list[str] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    cache_entries: int = 0
    embedding_runs: list[str] = field(default_factory=list)
    recommender_discarded: bool = False
    store_rewritten: bool = False

    @property
    def nothing_to_forget(self) -> bool:
        return not (self.found or self.cache_entries or self.embedding_runs or self.recommender_discarded)


def read_ids(path: Path) -> list[str]:
    """One id per line of a file; blank lines and ``#`` comments skipped."""
    lines = path.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def forget_users(settings: Settings, store: GraphStore, ids: Sequence[str]) -> ForgetReport:
    """Erase each user in ``ids`` and everything derived from them."""
    report = ForgetReport(requested=list(dict.fromkeys(str(i) for i in ids)))
    schema = store.schema
    key = schema.node(PERSON_LABEL).key
    report.found = sorted(store.existing_node_ids(PERSON_LABEL, report.requested))
    needles = _personal_values(store, report.found)
    subjects = [f"{PERSON_LABEL}:{user}" for user in report.requested]

    for cache_file in sorted(settings.cache_dir.glob("*.sqlite")):
        with EnrichCache(cache_file) as cache:
            report.cache_entries += cache.forget(subjects, needles)
    report.embedding_runs = forget_entities(settings, subjects)
    report.recommender_discarded = bool(report.found) and discard_fitted(settings)
    vault = vault_path(settings.data_dir)
    if vault.exists():
        with PseudonymVault(vault, None) as opened:
            report.pseudonyms = opened.forget(report.requested)

    if report.found:
        report.relationships = _attached_relationships(store, report.found)
        owned = [MESSAGES]
        if settings.privacy.forget_reviews == "reviews":
            owned.append(REVIEWS)
        elif REVIEWS[0] in schema.rels:
            report.nodes["Document (anonymised)"] = _anonymise_reviews(store, key, report.found, needles)
        for rel_type, label, outgoing in owned:
            if rel_type in schema.rels and label in schema.nodes:
                deleted = _delete_owned(store, key, report.found, rel_type, label, outgoing)
                if deleted:
                    report.nodes[label] = deleted
        store.query(
            f"MATCH (u:{q(PERSON_LABEL)}) WHERE u.{q(key)} IN $ids DETACH DELETE u",
            {"ids": report.found},
            write=True,
        )
        report.nodes[PERSON_LABEL] = len(report.found)
        report.store_rewritten = store.erase_deleted_data()
    return report


def _personal_values(store: GraphStore, ids: list[str]) -> list[str]:
    """The users' personal values long enough to search caches for (names, emails...)."""
    node = store.schema.node(PERSON_LABEL)
    marked = sorted((node.pii | node.identifier) & set(node.properties))
    if not ids or not marked:
        return []
    values = []
    for batch in store.iter_nodes(PERSON_LABEL, properties=marked):
        mine = batch[batch[node.key].astype(str).isin(ids)]
        values.extend(str(v) for column in marked for v in mine[column].dropna())
    return sorted({v for v in values if len(v) >= 5})


def _anonymise_reviews(store: GraphStore, key: str, ids: list[str], needles: list[str]) -> int:
    """Reviews the users wrote stay (their authorship goes with the user), with the
    users' names, emails and phone numbers masked in every text property of the review."""
    rel_type, label, _ = REVIEWS
    node = store.schema.node(label)
    texts = sorted(p for p, kind in node.properties.items() if kind == "STRING" and p != node.key)
    found = store.query(
        f"MATCH (u:{q(PERSON_LABEL)})-[:{q(rel_type)}]->(n:{q(label)}) WHERE u.{q(key)} IN $ids "
        f"RETURN DISTINCT n.{q(node.key)} AS id, " + ", ".join(f"n.{q(p)} AS {q(p)}" for p in texts),
        {"ids": ids},
    )
    if found.empty:
        return 0
    from kg.privacy.masking import mask_texts

    for prop in texts:
        present = found[prop].notna()
        found.loc[present, prop] = mask_texts(found.loc[present, prop].astype(str).tolist(), needles)
    store.set_node_properties(label, found.rename(columns={"id": node.key}))
    return len(found)


def _attached_relationships(store: GraphStore, ids: list[str]) -> dict[str, int]:
    """Relationships touching the users, per type (they go with the users)."""
    key = store.schema.node(PERSON_LABEL).key
    counts: dict[str, int] = {}
    for rel_type, rel in sorted(store.schema.rels.items()):
        for from_label, to_label in rel.endpoints:
            for side, label in (("a", from_label), ("b", to_label)):
                if label != PERSON_LABEL or (side == "b" and from_label == to_label):
                    continue
                found = store.query(
                    f"MATCH (a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)}) "
                    f"WHERE {side}.{q(key)} IN $ids RETURN count(r) AS n",
                    {"ids": ids},
                )
                n = int(found["n"].iloc[0]) if not found.empty else 0
                if n:
                    counts[rel_type] = counts.get(rel_type, 0) + n
    return counts


def _delete_owned(
    store: GraphStore, key: str, ids: list[str], rel_type: str, label: str, outgoing: bool
) -> int:
    """Delete the ``label`` nodes that exist only for these users (a message written for
    one of them, a review one of them wrote) and nothing else links them to a person."""
    pattern = (
        f"(u:{q(PERSON_LABEL)})-[:{q(rel_type)}]->(n:{q(label)})"
        if outgoing
        else f"(n:{q(label)})-[:{q(rel_type)}]->(u:{q(PERSON_LABEL)})"
    )
    owned = store.query(f"MATCH {pattern} WHERE u.{q(key)} IN $ids RETURN DISTINCT n.id AS id", {"ids": ids})
    doomed = sorted(set(owned["id"].astype(str))) if not owned.empty else []
    if doomed:
        store.query(
            f"MATCH (n:{q(label)}) WHERE n.id IN $doomed DETACH DELETE n", {"doomed": doomed}, write=True
        )
    return len(doomed)
