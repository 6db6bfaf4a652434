"""An indexed binary min-heap: change the key of any item in O(log n).

``heapq`` cannot move an item whose key changed; least-connections needs exactly that on
every request start and end, so this keeps each item's position in a dict.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)
Key = tuple[float, float, int]  # what least_conn needs: (load, pass, pool order)


class IndexedHeap(Generic[T]):
    """Items with ``Key`` tuples; the smallest key on top."""

    __slots__ = ("_items", "_keys", "_pos")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._keys: list[Key] = []
        self._pos: dict[T, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._pos

    def key(self, item: T) -> Key:
        return self._keys[self._pos[item]]

    def push(self, item: T, key: Key) -> None:
        self._items.append(item)
        self._keys.append(key)
        self._pos[item] = len(self._items) - 1
        self._up(len(self._items) - 1)

    def update(self, item: T, key: Key) -> None:
        i = self._pos[item]
        old = self._keys[i]
        self._keys[i] = key
        if key < old:
            self._up(i)
        else:
            self._down(i)

    def top(self) -> T | None:
        return self._items[0] if self._items else None

    def best_excluding(self, exclude: Collection[T]) -> T | None:
        """The smallest item not in ``exclude``, in O(m log m) for m excluded items.

        Best-first walk from the root: an excluded node hands its two children on, so only
        the excluded items and their children are ever looked at.
        """
        items, keys = self._items, self._keys
        if not items:
            return None
        if items[0] not in exclude:
            return items[0]
        frontier = [(keys[0], 0)]
        n = len(items)
        while frontier:
            _, i = heapq.heappop(frontier)
            if items[i] not in exclude:
                return items[i]
            for child in (2 * i + 1, 2 * i + 2):
                if child < n:
                    heapq.heappush(frontier, (keys[child], child))
        return None

    # Sifting moves a "hole" rather than swapping pairs (as heapq does): one write per
    # level instead of two, and the position map touched once per moved item.

    def _up(self, i: int) -> None:
        items, keys, pos = self._items, self._keys, self._pos
        item, key = items[i], keys[i]
        while i:
            parent = (i - 1) >> 1
            if not key < keys[parent]:
                break
            moved = items[i] = items[parent]
            keys[i] = keys[parent]
            pos[moved] = i
            i = parent
        items[i] = item
        keys[i] = key
        pos[item] = i

    def _down(self, i: int) -> None:
        items, keys, pos = self._items, self._keys, self._pos
        n = len(keys)
        item, key = items[i], keys[i]
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and keys[child + 1] < keys[child]:
                child += 1
            if not keys[child] < key:
                break
            moved = items[i] = items[child]
            keys[i] = keys[child]
            pos[moved] = i
            i = child
        items[i] = item
        keys[i] = key
        pos[item] = i
