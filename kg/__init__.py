"""Knowledge-graph core: configuration, schema, graph stores, ingest and extraction."""

__version__ = "0.1.0"
