"""Neo4j tier (marked `neo4j`): tests against a live server; each skips cleanly without
one (tests/neo4j_server.py)."""
