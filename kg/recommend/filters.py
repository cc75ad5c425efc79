"""Business filters on recommendations: category (with sub-categories), brand, genre,
price range, in stock. They select items; they never change scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import process

from kg.errors import InputError, NotFoundError
from kg.recommend.interactions import InteractionGraph


@dataclass(frozen=True)
class ItemFilter:
    category: str | None = None
    brand: str | None = None
    genre: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool = False

    def allowed(self, graph: InteractionGraph) -> np.ndarray:
        """Boolean mask over ``graph.item_ids``: True where an item passes every filter."""
        mask = np.ones(graph.n_items, dtype=bool)
        for label, value in (("Category", self.category), ("Brand", self.brand), ("Genre", self.genre)):
            if value is not None:
                mask &= items_with_attribute(graph, label, value)
        if self.min_price is not None or self.max_price is not None:
            if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
                raise InputError(f"--min-price {self.min_price} is above --max-price {self.max_price}.")
            price = _column(graph, "price").astype(float)
            known = ~np.isnan(price)
            mask &= known
            if self.min_price is not None:
                mask &= np.where(known, price, -np.inf) >= self.min_price
            if self.max_price is not None:
                mask &= np.where(known, price, np.inf) <= self.max_price
        if self.in_stock:
            mask &= _column(graph, "in_stock").astype(object) == True  # noqa: E712 - None is unknown
        return mask


def _column(graph: InteractionGraph, name: str) -> np.ndarray:
    if name not in graph.items:
        return np.full(graph.n_items, np.nan, dtype=object)
    return graph.items[name].to_numpy(dtype=object, na_value=np.nan)


def attribute_columns(graph: InteractionGraph, label: str, value: str) -> np.ndarray:
    """Attribute columns of ``label`` whose id or name is ``value`` (case-insensitive)."""
    meta = graph.attributes
    of_label = meta["label"] == label
    wanted = value.strip().casefold()
    hits = of_label & (
        (meta["key"].astype(str).str.casefold() == wanted)
        | (meta["name"].astype(str).str.casefold() == wanted)
    )
    if not hits.any():
        names = sorted(set(meta.loc[of_label, "name"].astype(str)))
        if not names:
            raise NotFoundError(
                f"The graph has no {label} nodes linked to items, so it cannot filter by {label.lower()}."
            )
        close = process.extractOne(value, names)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close and close[1] >= 60
            else f"; known: {', '.join(names[:10])}"
        )
        raise NotFoundError(f"No {label.lower()} {value!r}{hint}")
    return np.flatnonzero(hits.to_numpy())


def items_with_attribute(graph: InteractionGraph, label: str, value: str) -> np.ndarray:
    """Items that reach the attribute over any path (a category includes its sub-categories)."""
    columns = attribute_columns(graph, label, value)
    return np.asarray(graph.item_attributes[:, columns].sum(axis=1)).ravel() > 0
