"""``kg export --user``: everything the graph holds about one person (right of access)."""

from __future__ import annotations

from typing import Any

from kg.errors import NotFoundError
from kg.privacy.forget import PERSON_LABEL
from kg.store import GraphStore
from kg.store.cypher_names import q


def user_record(store: GraphStore, user_id: str) -> dict[str, Any]:
    """The user's node and every relationship touching it, with the other end's label,
    id and name, per type: plain JSON-ready data."""
    node = store.schema.node(PERSON_LABEL)
    if not store.existing_node_ids(PERSON_LABEL, [user_id]):
        raise NotFoundError(f"No {PERSON_LABEL} {user_id!r} in the graph.")
    props = [p for p, kind in node.properties.items() if not kind.endswith("[]")]
    found = store.query(
        f"MATCH (u:{q(PERSON_LABEL)}) WHERE u.{q(node.key)} = $id RETURN "
        + ", ".join(f"u.{q(p)} AS {q(p)}" for p in props),
        {"id": user_id},
    )
    record: dict[str, Any] = {
        "label": PERSON_LABEL,
        "id": user_id,
        "properties": {p: _plain(v) for p, v in found.iloc[0].items() if _plain(v) is not None},
        "relationships": {},
    }
    for rel_type, rel in sorted(store.schema.rels.items()):
        for from_label, to_label in rel.endpoints:
            for outgoing, mine in ((True, from_label), (False, to_label)):
                if mine != PERSON_LABEL:
                    continue
                edges = _edges(store, rel_type, from_label, to_label, outgoing, user_id)
                if edges:
                    record["relationships"].setdefault(rel_type, []).extend(edges)
    return record


def _edges(
    store: GraphStore, rel_type: str, from_label: str, to_label: str, outgoing: bool, user_id: str
) -> list[dict[str, Any]]:
    me, other = ("a", "b") if outgoing else ("b", "a")
    other_label = to_label if outgoing else from_label
    other_node = store.schema.node(other_label)
    key = store.schema.node(PERSON_LABEL).key
    rel_props = [p for p, kind in store.schema.rel(rel_type).properties.items() if not kind.endswith("[]")]
    name = ["name"] if "name" in other_node.properties else []
    columns = [f"{other}.{q(other_node.key)} AS other_id"]
    columns += [f"{other}.{q(n)} AS other_name" for n in name]
    columns += [f"r.{q(p)} AS {q(p)}" for p in rel_props]
    rows = store.query(
        f"MATCH (a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)}) WHERE {me}.{q(key)} = $id "
        f"RETURN {', '.join(columns)} ORDER BY other_id",
        {"id": user_id},
    )
    edges = []
    for row in rows.to_dict("records"):
        edge = {"direction": "out" if outgoing else "in", "label": other_label}
        edge.update({k: _plain(v) for k, v in row.items() if _plain(v) is not None})
        edges.append(edge)
    return edges


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, NaN and NA as None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
