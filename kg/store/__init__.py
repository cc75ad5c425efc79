"""Graph stores behind one interface; ``open_store`` picks one from the settings.

A ``KG_STORE`` that is a ``bolt://``, ``neo4j://`` or ``neo4j+s://`` URI opens Neo4j;
anything else is a directory for the embedded LadybugDB store.
"""

from __future__ import annotations

from kg.config import Settings
from kg.schema import Schema
from kg.store.base import FROM_ID, TO_ID, GraphCounts, GraphStore, UpsertResult

__all__ = ["FROM_ID", "TO_ID", "GraphCounts", "GraphStore", "UpsertResult", "open_store"]


def open_store(settings: Settings, *, read_only: bool = False, ensure_schema: bool = True) -> GraphStore:
    """Open the configured store with the default schema plus the config's extension."""
    schema = Schema.default(settings.schema_extension)
    store: GraphStore
    if settings.uses_neo4j:
        from kg.store.neo4j import Neo4jStore

        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
        store = Neo4jStore(
            settings.store,
            schema,
            user=settings.neo4j_user,
            password=password,
            database=settings.neo4j_database,
            read_only=read_only,
        )
    else:
        from kg.store.ladybug import LadybugStore

        store = LadybugStore(settings.store, schema, read_only=read_only)
    if ensure_schema:
        store.ensure_schema()
    return store
