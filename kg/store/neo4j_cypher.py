"""Every Cypher statement the Neo4j adapter sends, built by small pure functions.

Keeping the statements here, apart from the driver code, makes them enumerable:
:func:`adapter_statements` renders each one for every label and relationship type of a
schema, so a test can check all of them with a real Neo4j 5 Cypher parser.

Only schema-validated identifiers are interpolated (in backticks); values are always
parameters: ``$columns`` (a map of equally long lists, one per column), ``$ids`` (a list
of keys), ``$n``, ``$name``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kg.schema import Schema
from kg.store.base import FROM_ID, TO_ID
from kg.store.cypher_names import lit, q

# An example embedding property, used only to render the vector-index statements.
EXAMPLE_VECTOR = ("Item", "embedding_transe", 64)


def probe() -> str:
    """Cheapest statement that proves the database exists and answers."""
    return "RETURN 1 AS ok"


def constraint_name(label: str) -> str:
    return f"kg_{label.lower()}_key"


def create_key_constraint(label: str, key: str) -> str:
    """Uniqueness of the key, which also gives ``MERGE`` its index."""
    return f"CREATE CONSTRAINT {q(constraint_name(label))} IF NOT EXISTS FOR (n:{q(label)}) REQUIRE n.{q(key)} IS UNIQUE"


def show_constraints() -> str:
    """Existing constraints, to create only the missing key constraints."""
    return "SHOW CONSTRAINTS YIELD name, type, entityType, labelsOrTypes, properties RETURN *"


def node_type_properties() -> str:
    """Every (labels, property, types) combination stored, to learn written-back properties."""
    return (
        "CALL db.schema.nodeTypeProperties() YIELD nodeLabels, propertyName, propertyTypes "
        "RETURN nodeLabels, propertyName, propertyTypes"
    )


def vector_index_name(label: str, prop: str) -> str:
    """``item_embedding_transe`` for ``Item.embedding_transe``: what analysts pass to
    ``db.index.vector.queryNodes``."""
    return f"{label.lower()}_{prop}"


QUANTIZATION_OPTION = "vector.quantization.enabled"


def create_vector_index(label: str, prop: str, dimensions: int, *, exact: bool = True) -> str:
    """A cosine vector index. The dimension is an int the adapter computed, rendered as a
    literal because index options must be constants. ``exact`` turns quantization (on by
    default since Neo4j 5.23) off: it keeps int8 copies of the vectors, and on short
    embeddings it moved scores by up to 0.03 and swapped neighbours; analysts expect the
    cosine. Servers before 5.23 know no such option (and never quantize)."""
    option = f", `{QUANTIZATION_OPTION}`: false" if exact else ""
    return (
        f"CREATE VECTOR INDEX {q(vector_index_name(label, prop))} IF NOT EXISTS "
        f"FOR (n:{q(label)}) ON n.{q(prop)} "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
        f"`vector.similarity_function`: 'cosine'{option}}}}}"
    )


def show_vector_indexes() -> str:
    """Vector indexes with their label, property and options (to learn embedding
    properties written earlier and to notice a changed dimension)."""
    return (
        "SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, options "
        "RETURN name, labelsOrTypes, properties, options"
    )


def drop_index(name: str) -> str:
    return f"DROP INDEX {q(name)} IF EXISTS"


def await_index() -> str:
    """Wait until an index is online so ``queryNodes`` answers right after a write."""
    return "CALL db.awaitIndex($name, 300)"


# ---------------------------------------------------------------------- writes
def _changes(variable: str, properties: Sequence[str]) -> str:
    """A boolean: does the row give some property a value other than the stored one?
    (A null in the row changes nothing: it keeps the stored value.)"""
    tests = [
        f"(row[{lit(p)}] IS NOT NULL AND ({variable}.{q(p)} IS NULL OR {variable}.{q(p)} <> row[{lit(p)}]))"
        for p in properties
    ]
    return " OR ".join(tests) if tests else "false"


def _unwind_rows(columns: Sequence[str]) -> str:
    """Bind ``row`` to each row of ``$columns``. Rows travel as one list per column: a
    list of maps repeats every key in every row, which the driver packs and the server
    parses once per row (a third of the client's CPU on a 200,000-row batch)."""
    fields = ", ".join(f"{q(c)}: $columns[{lit(c)}][i]" for c in columns)
    return f"UNWIND range(0, size($columns[{lit(columns[0])}]) - 1) AS i WITH {{{fields}}} AS row "


def upsert_nodes(label: str, key: str, properties: Sequence[str]) -> str:
    """MERGE on the key; a null in a row keeps the stored value (``coalesce``). Counts rows
    that changed a stored node; how many nodes were new comes from the summary counters."""
    sets = "".join(f" SET n.{q(p)} = coalesce(row[{lit(p)}], n.{q(p)})" for p in properties)
    return (
        f"{_unwind_rows([key, *properties])}OPTIONAL MATCH (old:{q(label)} {{{q(key)}: row[{lit(key)}]}}) "
        f"WITH row, old IS NOT NULL AND ({_changes('old', properties)}) AS changed "
        f"MERGE (n:{q(label)} {{{q(key)}: row[{lit(key)}]}}){sets} "
        "RETURN count(*) AS total, sum(CASE WHEN changed THEN 1 ELSE 0 END) AS changed"
    )


def _match_endpoints(from_label: str, from_key: str, to_label: str, to_key: str) -> str:
    """Bind ``a`` and ``b`` to the row's endpoint nodes by their keys."""
    return (
        f"MATCH (a:{q(from_label)} {{{q(from_key)}: row[{lit(FROM_ID)}]}}) "
        f"MATCH (b:{q(to_label)} {{{q(to_key)}: row[{lit(TO_ID)}]}})"
    )


def upsert_relationships(
    rel_type: str, from_label: str, from_key: str, to_label: str, to_key: str, properties: Sequence[str]
) -> str:
    """MERGE one relationship per (type, from, to); nulls keep stored values. Counts rows
    that changed a stored relationship; new ones come from the summary counters."""
    sets = "".join(f" SET r.{q(p)} = coalesce(row[{lit(p)}], r.{q(p)})" for p in properties)
    return (
        f"{_unwind_rows([FROM_ID, TO_ID, *properties])}"
        f"{_match_endpoints(from_label, from_key, to_label, to_key)} "
        f"OPTIONAL MATCH (a)-[old:{q(rel_type)}]->(b) "
        f"WITH a, b, row, old IS NOT NULL AND ({_changes('old', properties)}) AS changed "
        f"MERGE (a)-[r:{q(rel_type)}]->(b){sets} "
        "RETURN count(*) AS total, sum(CASE WHEN changed THEN 1 ELSE 0 END) AS changed"
    )


def set_node_properties(label: str, key: str, properties: Sequence[str]) -> str:
    """Write-back: the row's values replace the stored ones."""
    sets = ", ".join(f"n.{q(p)} = row[{lit(p)}]" for p in properties)
    return f"{_unwind_rows([key, *properties])}MATCH (n:{q(label)} {{{q(key)}: row[{lit(key)}]}}) SET {sets} RETURN count(*) AS n"


def delete_outgoing(rel_type: str, from_label: str, from_key: str) -> str:
    """First half of a replace: drop the ``rel_type`` edges leaving the given nodes."""
    return f"UNWIND $ids AS id MATCH (a:{q(from_label)} {{{q(from_key)}: id}})-[r:{q(rel_type)}]->() DELETE r"


def create_relationships(
    rel_type: str, from_label: str, from_key: str, to_label: str, to_key: str, properties: Sequence[str]
) -> str:
    """Second half of a replace: plain CREATE (the old edges are gone)."""
    sets = "".join(f" SET r.{q(p)} = row[{lit(p)}]" for p in properties)
    return (
        f"{_unwind_rows([FROM_ID, TO_ID, *properties])}"
        f"{_match_endpoints(from_label, from_key, to_label, to_key)} "
        f"CREATE (a)-[r:{q(rel_type)}]->(b){sets}"
    )


def delete_relationships_batch(rel_type: str) -> str:
    """Delete up to ``$n`` edges of a type: repeated until none are left, so a large type
    never needs one huge transaction."""
    return f"MATCH ()-[r:{q(rel_type)}]->() WITH r LIMIT $n DELETE r RETURN count(*) AS n"


# ---------------------------------------------------------------------- reads
def missing_node_ids(label: str, key: str) -> str:
    """The ids of ``$ids`` with no node: usually none, so almost nothing comes back."""
    return f"UNWIND $ids AS id WITH id WHERE NOT EXISTS {{ MATCH (n:{q(label)} {{{q(key)}: id}}) }} RETURN id"


def existing_node_ids(label: str, key: str) -> str:
    return f"UNWIND $ids AS id MATCH (n:{q(label)} {{{q(key)}: id}}) RETURN n.{q(key)} AS id"


def stream_nodes(label: str, key: str, properties: Sequence[str]) -> str:
    """All nodes of a label in key order (the key's range index gives the order)."""
    columns = ", ".join([f"n.{q(key)} AS {q(key)}"] + [f"n.{q(p)} AS {q(p)}" for p in properties])
    return f"MATCH (n:{q(label)}) WHERE n.{q(key)} IS NOT NULL RETURN {columns} ORDER BY n.{q(key)}"


def stream_relationships(
    rel_type: str, from_label: str, from_key: str, to_label: str, to_key: str, properties: Sequence[str]
) -> str:
    """All edges of a type between one label pair, ordered by (from_id, to_id)."""
    extra = "".join(f", r.{q(p)} AS {q(p)}" for p in properties)
    return (
        f"MATCH (a:{q(from_label)})-[r:{q(rel_type)}]->(b:{q(to_label)}) WHERE a.{q(from_key)} IS NOT NULL "
        f"RETURN {lit(from_label)} AS from_label, a.{q(from_key)} AS from_id, "
        f"{lit(to_label)} AS to_label, b.{q(to_key)} AS to_id{extra} "
        "ORDER BY from_id, to_id"
    )


def count_nodes(label: str) -> str:
    return f"MATCH (n:{q(label)}) RETURN count(n) AS n"


def count_relationships(rel_type: str) -> str:
    return f"MATCH ()-[r:{q(rel_type)}]->() RETURN count(r) AS n"


# ---------------------------------------------------------------------- enumeration
def adapter_statements(schema: Schema) -> Iterator[tuple[str, str]]:
    """``(what, cypher)`` for every statement the adapter can send for ``schema``.

    Each builder is rendered with all declared properties of its label or type, which is
    the longest form of the statement; batches with fewer columns send a prefix of it.
    """
    yield "probe", probe()
    yield "show constraints", show_constraints()
    yield "node type properties", node_type_properties()
    yield "show vector indexes", show_vector_indexes()
    yield "await index", await_index()
    label, prop, dims = EXAMPLE_VECTOR
    yield f"vector index {label}.{prop}", create_vector_index(label, prop, dims)
    yield f"drop index {label}.{prop}", drop_index(vector_index_name(label, prop))
    for label, node in sorted(schema.nodes.items()):
        props = [p for p in node.all_properties() if p != node.key]
        yield f"constraint {label}", create_key_constraint(label, node.key)
        yield f"upsert {label}", upsert_nodes(label, node.key, props)
        if props:
            yield f"set properties {label}", set_node_properties(label, node.key, props)
        yield f"existing ids {label}", existing_node_ids(label, node.key)
        yield f"missing ids {label}", missing_node_ids(label, node.key)
        yield f"stream {label}", stream_nodes(label, node.key, props)
        yield f"count {label}", count_nodes(label)
    for rel_type, rel in sorted(schema.rels.items()):
        props = list(rel.properties)
        yield f"delete {rel_type}", delete_relationships_batch(rel_type)
        yield f"count {rel_type}", count_relationships(rel_type)
        for from_label, to_label in rel.endpoints:
            fk, tk = schema.nodes[from_label].key, schema.nodes[to_label].key
            pair = f"{rel_type} {from_label}->{to_label}"
            yield f"upsert {pair}", upsert_relationships(rel_type, from_label, fk, to_label, tk, props)
            yield f"replace-delete {pair}", delete_outgoing(rel_type, from_label, fk)
            yield (
                f"replace-create {pair}",
                create_relationships(rel_type, from_label, fk, to_label, tk, props),
            )
            yield f"stream {pair}", stream_relationships(rel_type, from_label, fk, to_label, tk, props)
