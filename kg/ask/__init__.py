"""``kg ask``: natural-language product search over the graph, with filters understood
from the catalogue, semantic ranking, per-user re-ranking and an explanation per answer."""
