"""View models kept between visits of a screen, so a second visit draws at once.

A screen shows what it kept (say, an account's detail) while it reads the fresh one, then
replaces it. Bounded, least recently used first out; UI thread only.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

DEFAULT_SIZE = 64


class ViewCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def get(self, kind: str, key: str) -> Any | None:
        item = self._items.get((kind, key))
        if item is not None:
            self._items.move_to_end((kind, key))
        return item

    def put(self, kind: str, key: str, value: Any) -> None:
        self._items[(kind, key)] = value
        self._items.move_to_end((kind, key))
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def forget(self, kind: str, key: str) -> None:
        self._items.pop((kind, key), None)
