"""Recommendations, explanations, audiences and segments from the knowledge graph."""
