"""One small name -> object registry, used for variants, datasets, networks, losses, metrics."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gankit.errors import ConfigError

T = TypeVar("T")


def close_matches(word: str, options: list[str], n: int = 3) -> str:
    """A ' Did you mean ...?' suffix for an error message, or '' when nothing is close."""
    found = difflib.get_close_matches(word, options, n=n, cutoff=0.5)
    return f" Did you mean {', '.join(repr(f) for f in found)}?" if found else ""


class Registry(Generic[T]):
    """Maps names to objects; unknown names raise a ConfigError listing the valid ones."""

    def __init__(self, kind: str):
        self.kind = kind  # e.g. "dataset", used in error messages
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} {name!r}.{close_matches(name, self.names())} "
                f"Valid: {', '.join(self.names())}."
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
