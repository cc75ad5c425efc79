"""Recommendation signals: one module per family of graph paths or model scores.

Each is a :class:`~kg.recommend.signals.base.Scorer`; ``kg.recommend.registry`` maps
their names to classes so config can choose them.
"""
