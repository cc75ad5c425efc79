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

    @property
    def active(self) -> bool:
        """Whether any filter is set (an empty answer then means "among the items that pass")."""
        return any(
            v is not None for v in (self.category, self.brand, self.genre, self.min_price, self.max_price)
        ) or bool(self.in_stock)

    def allowed(self, graph: InteractionGraph) -> np.ndarray:
        """Boolean mask over ``graph.item_ids``: True where an item passes every filter.

        Raises :class:`NotFoundError` saying why when no item in the catalogue passes: such a
        filter can never show anything, like an unknown category name (an empty answer would
        look like a user who has seen everything)."""
        passes = self._criteria(graph)
        mask = np.ones(graph.n_items, dtype=bool)
        for _, matched, _ in passes:
            mask &= matched
        if graph.n_items and not mask.any():
            raise NotFoundError(_why_nothing_passes(passes))
        return mask

    def _criteria(self, graph: InteractionGraph) -> list[tuple[str, np.ndarray, str | None]]:
        """Each active filter: its description, the items it matches, and (when it matches
        none) why."""
        passes: list[tuple[str, np.ndarray, str | None]] = []
        for label, value in (("Category", self.category), ("Brand", self.brand), ("Genre", self.genre)):
            if value is not None:
                passes.append((f"{label.lower()} {value!r}", items_with_attribute(graph, label, value), None))
        if self.min_price is not None or self.max_price is not None:
            passes.append(self._price(graph))
        if self.in_stock:
            stock = _column(graph, "in_stock")
            known = np.array([v is not None and v == v for v in stock], dtype=bool)  # NaN != NaN
            marked = stock.astype(object) == True  # noqa: E712 - None is unknown
            why = (
                "no item has an in_stock property, so --in-stock matches nothing; "
                "load in_stock on the Item nodes or leave the option out"
                if not known.any()
                else f"no item is marked in stock ({int(known.sum()):,} items say in_stock = false)"
            )
            passes.append(("in stock", marked, why))
        return passes

    def _price(self, graph: InteractionGraph) -> tuple[str, np.ndarray, str | None]:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise InputError(f"--min-price {self.min_price:g} is above --max-price {self.max_price:g}.")
        price = _column(graph, "price").astype(float)
        known = ~np.isnan(price)
        bounds = [
            *([f"at least {self.min_price:g}"] if self.min_price is not None else []),
            *([f"at most {self.max_price:g}"] if self.max_price is not None else []),
        ]
        described = f"price {' and '.join(bounds)}"
        mask = known.copy()
        if self.min_price is not None:
            mask &= np.where(known, price, -np.inf) >= self.min_price
        if self.max_price is not None:
            mask &= np.where(known, price, np.inf) <= self.max_price
        why = (
            "no item has a price property, so a price filter matches nothing; "
            "load price on the Item nodes or leave --min-price/--max-price out"
            if not known.any()
            else f"no item costs {' and '.join(bounds)} "
            f"(prices run from {np.nanmin(price):g} to {np.nanmax(price):g})"
        )
        return described, mask, why


def _why_nothing_passes(passes: list[tuple[str, np.ndarray, str | None]]) -> str:
    """The first filter that alone matches nothing, or the filters that exclude each other."""
    for _, matched, why in passes:
        if not matched.any():
            return f"No item passes the filters: {why}."
    each = ", ".join(f"{described} ({int(matched.sum()):,} items)" for described, matched, _ in passes)
    return f"No item passes all the filters together: {each} have no item in common; drop or widen one."


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
