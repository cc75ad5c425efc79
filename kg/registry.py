"""One way to choose a thing by its name in config or on the command line.

A ``Registry`` maps names to entries (classes, factories, descriptions) of one kind. Names
are matched without regard to case or surrounding spaces, everywhere; an unknown name is
an error that lists the valid ones and suggests the nearest. Stores, loaders, export
formats, datasets, LLM backends, model recipes and recommender signals use it, and config
names are checked against it when the settings load (``kg.config``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from difflib import get_close_matches
from typing import Generic, TypeVar

from kg.errors import InputError, KGError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one ``kind`` ("enrich backend", "export format"...)."""

    def __init__(self, kind: str, entries: Mapping[str, T], *, error: type[KGError] = InputError) -> None:
        self.kind = kind
        self.error = error
        self._entries: dict[str, T] = {}
        for name, entry in entries.items():
            self.add(name, entry)

    @staticmethod
    def key(name: str) -> str:
        """The form every name is stored and looked up in."""
        return name.strip().lower()

    def add(self, name: str, entry: T) -> None:
        key = self.key(name)
        if key in self._entries:
            raise ValueError(f"{self.kind} {key!r} is registered twice")
        self._entries[key] = entry

    def get(self, name: str) -> T:
        """The entry for ``name``, or the registry's error naming the valid choices."""
        try:
            return self._entries[self.key(name)]
        except KeyError:
            raise self.error(self.unknown(name)) from None

    def check(self, name: str) -> str:
        """``name`` in its registered form, or the error (for validating config)."""
        self.get(name)
        return self.key(name)

    def unknown(self, name: str) -> str:
        close = get_close_matches(self.key(name), self._entries, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"Unknown {self.kind} {name!r}{hint}; choose one of {', '.join(self._entries)}."

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def values(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
