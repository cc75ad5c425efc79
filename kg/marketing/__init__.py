"""Precision marketing on the graph: copy written from graph facts and checked against
them (``kg copy``), campaigns split into arms by a hash (``kg campaign``), outcomes
measured with confidence intervals and fed back as interactions.

Data flows one way: graph facts -> brief -> prompt -> model (cached, budgeted) -> fact
check -> Message nodes; campaign -> arm assignment -> TARGETS edges; outcome events
(``kg ingest``) -> report -> feedback interactions.
"""
