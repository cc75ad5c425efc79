"""Knowledge-graph and text embeddings over the graph export (PyKEEN, sentence-transformers)."""
