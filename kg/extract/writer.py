"""Facts -> store batches, validated by the schema, written as upserts.

Order matters for resumability: a document node is written first without its
``content_hash``, then its entities, mentions, relations and attributes, and the hash
last. A document whose stored hash equals its text's hash was therefore written
completely and is skipped next time; an interrupted one is simply done again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from kg.extract.facts import DocumentFacts, DocumentRecord, Mention
from kg.extract.resolve import write_candidates
from kg.ids import content_hash
from kg.ingest.problems import ProblemLog
from kg.schema import check_identifier
from kg.store.base import GraphStore

MENTIONS, DESCRIBES, DOCUMENT = "MENTIONS", "DESCRIBES", "Document"


class FactWriter:
    """Writes ``DocumentFacts`` into one store."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.schema = store.schema

    # ------------------------------------------------------------------ skip / resume
    def changed_documents(
        self, documents: list[DocumentRecord], problems: ProblemLog, max_chars: int
    ) -> tuple[list[DocumentRecord], int]:
        """Documents to (re)extract, and how many were skipped as unchanged. Documents
        with changed text lose their old mentions first, so no stale fact survives."""
        usable = []
        for document in documents:
            if not document.text.strip():
                problems.report(document.source, 0, "empty text; no document created")
            elif len(document.text) > max_chars:
                problems.report(
                    document.source, 0,
                    f"{len(document.text):,} characters is over extract.max_document_chars ({max_chars:,}); split it",
                )  # fmt: skip
            else:
                usable.append(document)
        stored = self._stored_hashes([d.id for d in usable])
        fresh = [d for d in usable if stored.get(d.id) != content_hash(d.text)]
        changed = [d.id for d in fresh if stored.get(d.id)]
        if changed:
            self.store.query(
                f"MATCH (d:{DOCUMENT})-[r:{MENTIONS}]->() WHERE d.id IN $ids DELETE r",
                {"ids": changed},
                write=True,
            )
        return fresh, len(usable) - len(fresh)

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        frame = self.store.query(
            f"MATCH (d:{DOCUMENT}) WHERE d.id IN $ids RETURN d.id AS id, d.content_hash AS h", {"ids": ids}
        )
        return {str(k): v for k, v in zip(frame["id"], frame["h"], strict=True) if isinstance(v, str)}

    # ------------------------------------------------------------------ write
    def write(self, facts: list[DocumentFacts]) -> Counter[str]:
        """Write one batch; returns what was created, by label and relationship type."""
        created: Counter[str] = Counter()
        if not facts:
            return created
        self._validate(facts)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        documents = pd.DataFrame(
            {
                "id": [f.document.id for f in facts],
                "title": [f.document.title for f in facts],
                "text": [f.document.text for f in facts],
                "source": [f.document.source for f in facts],
                "language": [f.language for f in facts],
                "ingested_at": now,
            }
        )
        created[DOCUMENT] += self.store.upsert_nodes(DOCUMENT, documents).created
        created.update(self._write_entities(facts))
        created.update(self._write_mentions(facts))
        created.update(self._write_describes(facts))
        created.update(self._write_relations(facts))
        candidates = [c for f in facts for c in f.candidates]
        created["SAME_AS"] += write_candidates(self.store, candidates)
        self._write_attributes(facts)
        hashes = pd.DataFrame(
            {"id": documents["id"], "content_hash": [content_hash(f.document.text) for f in facts]}
        )
        self.store.upsert_nodes(DOCUMENT, hashes)
        return +created

    def _validate(self, facts: list[DocumentFacts]) -> None:
        """Every label and relationship type must be declared before anything is written:
        a batch is refused whole, never half written. (The pipeline already drops what
        the schema lacks; this guards callers that build facts themselves.)"""
        for item in facts:
            for mention in item.mentions:
                self.schema.node(mention.label)
            for fact in item.relations:
                self.schema.check_endpoints(fact.rel_type, fact.head.label, fact.tail.label)

    def _write_entities(self, facts: list[DocumentFacts]) -> Counter[str]:
        """Create the nodes mentions resolved to that do not exist yet, and record the
        spellings seen as ``aliases`` of extracted entities."""
        created: Counter[str] = Counter()
        by_label: dict[str, dict[str, list[Mention]]] = defaultdict(lambda: defaultdict(list))
        for item in facts:
            for mention in item.mentions:
                by_label[mention.label][mention.node_id or ""].append(mention)
        for label, nodes in by_label.items():
            check_identifier(label, "Label")
            node_type = self.schema.node(label)
            existing = self.store.existing_node_ids(label, list(nodes))
            stored_aliases = self._aliases(label, existing) if "aliases" in node_type.properties else {}
            rows = []
            for node_id, mentions in nodes.items():
                if node_id not in existing and any(m.method == "catalog" for m in mentions):
                    continue  # the catalogue node vanished since the ruler was built
                row: dict[str, object] = {"id": node_id}
                if node_id not in existing:
                    row["name"] = mentions[0].name or mentions[0].text
                    if "type" in node_type.properties:
                        row["type"] = mentions[0].source_label
                if "aliases" in node_type.properties:
                    spellings = {m.text.strip() for m in mentions if m.method != "catalog"}
                    known = set(stored_aliases.get(node_id, []))
                    if spellings - known:
                        row["aliases"] = sorted(known | spellings)
                rows.append(row)
            if rows:
                created[label] += self.store.upsert_nodes(label, pd.DataFrame(rows)).created
        return created

    def _aliases(self, label: str, ids: set[str]) -> dict[str, list[str]]:
        if not ids:
            return {}
        frame = self.store.query(
            f"MATCH (n:`{label}`) WHERE n.id IN $ids RETURN n.id AS id, n.aliases AS aliases",
            {"ids": sorted(ids)},
        )
        return {
            str(k): [str(a) for a in v] if isinstance(v, (list, tuple, np.ndarray)) else []
            for k, v in zip(frame["id"], frame["aliases"], strict=True)
        }

    def _write_mentions(self, facts: list[DocumentFacts]) -> Counter[str]:
        rows: dict[str, dict[tuple[str, str], dict]] = defaultdict(dict)
        for item in facts:
            for m in item.mentions:
                rows[m.label].setdefault(
                    (item.document.id, m.node_id or ""),
                    {"from_id": item.document.id, "to_id": m.node_id, "text": m.text, "start": m.start,
                     "end": m.end, "confidence": m.confidence, "method": m.method},
                )  # fmt: skip
        created: Counter[str] = Counter()
        for label, by_pair in rows.items():
            frame = pd.DataFrame(list(by_pair.values()))
            frame = frame[frame["to_id"].isin(self.store.existing_node_ids(label, frame["to_id"].unique()))]
            created[MENTIONS] += self.store.upsert_relationships(MENTIONS, DOCUMENT, label, frame).created
        return created

    def _write_describes(self, facts: list[DocumentFacts]) -> Counter[str]:
        pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for item in facts:
            if item.document.about is not None:
                label, node_id = item.document.about
                pairs[label].append((item.document.id, node_id))
        created: Counter[str] = Counter()
        for label, items in pairs.items():
            self.schema.check_endpoints(DESCRIBES, DOCUMENT, label)
            frame = pd.DataFrame(items, columns=["from_id", "to_id"])
            frame = frame[frame["to_id"].isin(self.store.existing_node_ids(label, frame["to_id"].unique()))]
            created[DESCRIBES] += self.store.upsert_relationships(DESCRIBES, DOCUMENT, label, frame).created
        return created

    def _write_relations(self, facts: list[DocumentFacts]) -> Counter[str]:
        """Relations, grouped by type and endpoint labels (all validated in ``_validate``)."""
        groups: dict[tuple[str, str, str], dict[tuple[str, str], dict]] = defaultdict(dict)
        for item in facts:
            for fact in item.relations:
                groups[(fact.rel_type, fact.head.label, fact.tail.label)][(fact.head.node_id, fact.tail.node_id)] = {
                    "from_id": fact.head.node_id, "to_id": fact.tail.node_id, "confidence": fact.confidence,
                    "doc_id": item.document.id, "source": item.document.source, "method": fact.method,
                }  # fmt: skip
        created: Counter[str] = Counter()
        for (rel_type, from_label, to_label), rows in groups.items():
            frame = pd.DataFrame(list(rows.values()))
            declared = set(self.schema.rel(rel_type).properties)
            frame = frame[[c for c in frame.columns if c in ("from_id", "to_id") or c in declared]]
            created[rel_type] += self.store.upsert_relationships(
                rel_type, from_label, to_label, frame
            ).created
        return created

    def _write_attributes(self, facts: list[DocumentFacts]) -> None:
        """Fill properties the node does not have yet; catalogue values are never overwritten."""
        values: dict[tuple[str, str], dict[str, object]] = defaultdict(dict)
        for item in facts:
            for attribute in item.attributes:
                values[(attribute.label, attribute.name)].setdefault(attribute.node_id, attribute.value)
        for (label, name), by_node in values.items():
            check_identifier(name, "Property")
            node_type = self.schema.node(label)
            ids = self.store.existing_node_ids(label, list(by_node))
            if name in node_type.all_properties():
                frame = self.store.query(
                    f"MATCH (n:`{label}`) WHERE n.id IN $ids RETURN n.id AS id, n.`{name}` AS v",
                    {"ids": sorted(ids)},
                )
                ids -= {
                    str(k) for k, v in zip(frame["id"], frame["v"], strict=True) if v is not None and v == v
                }
            rows = pd.DataFrame({"id": sorted(ids), name: [by_node[i] for i in sorted(ids)]})
            if not rows.empty:
                self.store.set_node_properties(label, rows)
