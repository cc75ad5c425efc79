"""Why an item was recommended: the strongest graph path, in words and as Cypher.

Signals decide *which* path is strongest (:class:`PathEvidence`, with the real count it
rests on); this module turns a path into a sentence and into a Cypher pattern. The
pattern comes in two forms: a template with ``$parameters`` (the only form code runs) and
an inlined copy for people to paste into the Neo4j Browser or ``kg query``. Labels and
relationship types in the patterns come from the validated schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kg.recommend.interactions import PATH_SEPARATOR, InteractionGraph

VERBS = {"PURCHASED": "bought", "RATED": "rated", "VIEWED": "viewed"}
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class PathEvidence:
    """One path from a user (or a seed item) to a recommended item, and its weight in data.

    ``kind`` picks the sentence and pattern: ``co_interaction`` (via ``via_item``, with
    ``count`` users who interacted with both), ``shared_attribute`` (``attribute`` column,
    ``count`` of the user's items that have it), ``cohort`` (``attribute`` is a cohort
    column, ``count`` members who interacted with the item, ``total`` members),
    ``similar_users`` (``count`` users sharing at least ``total`` items with the user
    interacted with the item), ``text`` (``via_item`` with ``similarity``), ``popular``
    (``count`` users).
    """

    kind: str
    signal: str
    item: int
    via_item: int | None = None
    attribute: int | None = None
    count: int = 0
    total: int = 0
    similarity: float = 0.0


@dataclass(frozen=True)
class Explanation:
    """A sentence and a Cypher statement that shows the path in the graph."""

    reason: str
    cypher: str
    params: dict[str, Any] = field(default_factory=dict)
    signal: str = ""

    def inline(self) -> str:
        """The statement with values written in, for a person to paste (never executed here)."""
        return _PARAM.sub(
            lambda m: _literal(self.params[m.group(1)]) if m.group(1) in self.params else m.group(0),
            self.cypher,
        )


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def describe(graph: InteractionGraph, user: int | None, evidence: PathEvidence) -> Explanation:
    """Render ``evidence`` for ``user`` (None: the path starts at a seed item, `kg similar`)."""
    return _RENDERERS[evidence.kind](graph, user, evidence)


# ---------------------------------------------------------------------- phrasing helpers
def _verb(rel_type: str | None) -> str:
    if rel_type is None:
        return "interacted with"
    return VERBS.get(rel_type, rel_type.lower().replace("_", " "))


def _all_verbs(graph: InteractionGraph) -> str:
    return " or ".join(dict.fromkeys(_verb(r) for r in graph.relations)) or "interacted with"


def _rel_pattern(rel_types: list[str]) -> str:
    return "|".join(rel_types)


def _any_interaction(graph: InteractionGraph) -> str:
    return _rel_pattern(list(graph.relations))


def _user_rel(graph: InteractionGraph, user: int, item: int) -> str:
    return graph.relation_between(user, item) or _any_interaction(graph)


def _hops(path: str, labels: str, end: str) -> str:
    """``-[:A]->(:L1)-[:B]->(end)``: the attribute path with only its end node named."""
    rels, nodes = path.split(PATH_SEPARATOR), labels.split(PATH_SEPARATOR)
    steps = [
        f"-[:{rel}]->" + (f"({end})" if i == len(rels) - 1 else f"(:{node})")
        for i, (rel, node) in enumerate(zip(rels, nodes, strict=True))
    ]
    return "".join(steps)


def _ids(graph: InteractionGraph, user: int | None, **items: int) -> dict[str, Any]:
    params: dict[str, Any] = {name: str(graph.item_ids[index]) for name, index in items.items()}
    if user is not None:
        params["user"] = str(graph.user_ids[user])
    return params


# ---------------------------------------------------------------------- renderers
def _co_interaction(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    assert ev.via_item is not None
    seen, rec = graph.item_name(ev.via_item), graph.item_name(ev.item)
    verbs, rels = _all_verbs(graph), _any_interaction(graph)
    if user is None:
        reason = f"{ev.count:,} users who {verbs} {seen} also {verbs} {rec}"
        start = "(seen:Item {id: $seen})"
    else:
        reason = f"because you {_verb(graph.relation_between(user, ev.via_item))} {seen}, and {ev.count:,} users who {verbs} it also {verbs} {rec}"
        start = f"(u:User {{id: $user}})-[:{_user_rel(graph, user, ev.via_item)}]->(seen:Item {{id: $seen}})"
    cypher = (
        f"MATCH {start}<-[:{rels}]-(other:User)-[:{rels}]->(rec:Item {{id: $item}})\n"
        "RETURN seen.name AS because, rec.name AS recommended, count(DISTINCT other) AS users"
    )
    return Explanation(reason, cypher, _ids(graph, user, seen=ev.via_item, item=ev.item), ev.signal)


def _shared_attribute(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    assert ev.attribute is not None
    meta = graph.attributes.iloc[ev.attribute]
    what = f"{str(meta['label']).lower()} {meta['name']}"
    rec = graph.item_name(ev.item)
    hops = _hops(meta["path"], meta["labels"], f"a:{meta['label']} {{id: $attribute}}")
    rec_hops = _hops(meta["path"], meta["labels"], "a")
    if user is None:
        reason = f"shares {what} with the item you started from"
        seen = "(seen:Item {id: $seen})"
        params = {
            "seen": str(graph.item_ids[ev.via_item]) if ev.via_item is not None else "",
            "attribute": str(meta["key"]),
        }
    else:
        items = "item" if ev.count == 1 else "items"
        reason = f"because {ev.count:,} {items} you {_all_verbs(graph)} {'has' if ev.count == 1 else 'have'} {what}, as {rec} does"
        seen = f"(u:User {{id: $user}})-[:{_any_interaction(graph)}]->(seen:Item)"
        params = {"user": str(graph.user_ids[user]), "attribute": str(meta["key"])}
    cypher = (
        f"MATCH {seen}{hops}\n"
        f"MATCH (rec:Item {{id: $item}}){rec_hops}\n"
        "RETURN a.name AS shared, rec.name AS recommended, count(DISTINCT seen) AS your_items"
    )
    return Explanation(reason, cypher, {**params, "item": str(graph.item_ids[ev.item])}, ev.signal)


def _cohort(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    assert ev.attribute is not None and user is not None
    meta = graph.cohorts.iloc[ev.attribute]
    rec, verbs, rels = graph.item_name(ev.item), _all_verbs(graph), _any_interaction(graph)
    if meta["property"]:
        prop = str(meta["property"])
        group = f"users with {prop.replace('_', ' ')} {meta['name']}"
        cypher = (
            f"MATCH (u:User {{id: $user}}), (other:User)-[:{rels}]->(rec:Item {{id: $item}})\n"
            f"WHERE other.{prop} = u.{prop}\n"
            f"RETURN u.{prop} AS cohort, rec.name AS recommended, count(DISTINCT other) AS users"
        )
        params = {"user": str(graph.user_ids[user]), "item": str(graph.item_ids[ev.item])}
    else:
        group = f"users with {str(meta['label']).lower()} {meta['name']}"
        hops = _hops(meta["path"], meta["labels"], f"c:{meta['label']} {{id: $cohort}}")
        back = "".join(f"<-[:{rel}]-" for rel in reversed(str(meta["path"]).split(PATH_SEPARATOR)))
        cypher = (
            f"MATCH (u:User {{id: $user}}){hops}{back}(other:User)-[:{rels}]->(rec:Item {{id: $item}})\n"
            "RETURN c.name AS cohort, rec.name AS recommended, count(DISTINCT other) AS users"
        )
        params = {
            "user": str(graph.user_ids[user]),
            "cohort": str(meta["key"]),
            "item": str(graph.item_ids[ev.item]),
        }
    reason = f"popular with {group} like you: {ev.count:,} of {ev.total:,} {verbs} {rec}"
    return Explanation(reason, cypher, params, ev.signal)


def _similar_users(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    assert user is not None
    rec, verbs, rels = graph.item_name(ev.item), _all_verbs(graph), _any_interaction(graph)
    reason = f"because {ev.count:,} users who share at least {ev.total:,} items with you also {verbs} {rec}"
    cypher = (
        f"MATCH (u:User {{id: $user}})-[:{rels}]->(shared:Item)<-[:{rels}]-(other:User)\n"
        "WHERE other.id <> u.id\n"
        "WITH other, count(DISTINCT shared) AS in_common\n"
        "WHERE in_common >= $min_shared\n"
        f"MATCH (other)-[:{rels}]->(rec:Item {{id: $item}})\n"
        "RETURN rec.name AS recommended, count(DISTINCT other) AS users"
    )
    params = {"user": str(graph.user_ids[user]), "min_shared": ev.total, "item": str(graph.item_ids[ev.item])}
    return Explanation(reason, cypher, params, ev.signal)


def _text(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    assert ev.via_item is not None
    seen = graph.item_name(ev.via_item)
    if user is None:
        reason = f"its description reads like {seen} (text similarity {ev.similarity:.2f})"
        start = "(seen:Item {id: $seen})"
    else:
        reason = f"its description reads like {seen}, which you {_verb(graph.relation_between(user, ev.via_item))} (text similarity {ev.similarity:.2f})"
        start = f"(u:User {{id: $user}})-[:{_user_rel(graph, user, ev.via_item)}]->(seen:Item {{id: $seen}})"
    cypher = (
        f"MATCH {start}, (rec:Item {{id: $item}})\n"
        "RETURN seen.name AS because, seen.description AS because_text, rec.name AS recommended, "
        "rec.description AS recommended_text"
    )
    return Explanation(reason, cypher, _ids(graph, user, seen=ev.via_item, item=ev.item), ev.signal)


def _popular(graph: InteractionGraph, user: int | None, ev: PathEvidence) -> Explanation:
    rec = graph.item_name(ev.item)
    reason = (
        f"popular: {ev.count:,} users {_all_verbs(graph)} {rec}"
        if ev.count
        else f"{rec} is new: no interactions yet"
    )
    cypher = (
        f"MATCH (rec:Item {{id: $item}})\nOPTIONAL MATCH (other:User)-[:{_any_interaction(graph)}]->(rec)\n"
        "RETURN rec.name AS recommended, count(DISTINCT other) AS users"
    )
    return Explanation(reason, cypher, {"item": str(graph.item_ids[ev.item])}, ev.signal)


_RENDERERS: dict[str, Callable[[InteractionGraph, int | None, PathEvidence], Explanation]] = {
    "co_interaction": _co_interaction,
    "shared_attribute": _shared_attribute,
    "cohort": _cohort,
    "similar_users": _similar_users,
    "text": _text,
    "popular": _popular,
}


def popularity_evidence(graph: InteractionGraph, item: int, signal: str = "popularity") -> PathEvidence:
    """The path every item has: the users who interacted with it (possibly none)."""
    return PathEvidence("popular", signal, item, count=int(graph.item_popularity[item]))
