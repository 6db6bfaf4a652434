"""S3-FIFO eviction, bounded in bytes: which objects to keep, as a pure structure.

Why S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023)
rather than LRU, SIEVE or W-TinyLFU:

- Web traces are dominated by one-hit wonders (objects asked for once). S3-FIFO puts
  every new object in a small FIFO (10% of the bytes) and lets it into the main FIFO
  only if it was asked for again while there: a scan or a crawler passes through the
  small queue without flushing the popular objects. LRU moves every new object to the
  front and loses its working set to a scan (bench/cache_hit_ratio.py measures it).
- A hit only increments a 2-bit counter: no list is relinked on the hit path (LRU moves
  the node on every hit), so the cost of a memory hit stays flat.
- Every operation is O(1) amortised (each object is moved at most 3 + 1 times between
  queues before it leaves). SIEVE is as cheap but has no ghost queue, so an object
  evicted after one request is not recognised when it comes back; W-TinyLFU needs a
  count-min sketch and an LRU window, more code for similar hit ratios on web traces.

The queues are insertion-ordered dicts (the oldest first). The ghost queue remembers
keys (not bodies) recently evicted from the small queue: one that comes back goes
straight to the main queue. It holds as many keys as the main queue holds objects.

This module only decides; the tier (memory.py) holds the values and drops what
`insert` returns.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

MAX_FREQ = 3  # a 2-bit counter, as in the paper: enough to tell hot from warm
SMALL_FRACTION = 0.1


@dataclass(slots=True)
class _Node:
    size: int
    freq: int = 0


class S3Fifo(Generic[K]):
    """Keys with sizes, kept within `capacity` bytes by S3-FIFO."""

    def __init__(self, capacity: int, small_fraction: float = SMALL_FRACTION) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        self.small_capacity = int(capacity * small_fraction)
        self._small: dict[K, _Node] = {}
        self._main: dict[K, _Node] = {}
        self._ghost: dict[K, None] = {}
        self.small_bytes = 0
        self.main_bytes = 0

    @property
    def bytes(self) -> int:
        return self.small_bytes + self.main_bytes

    def __len__(self) -> int:
        return len(self._small) + len(self._main)

    def __contains__(self, key: object) -> bool:
        return key in self._small or key in self._main

    def __iter__(self) -> Iterator[K]:
        yield from self._small
        yield from self._main

    def touch(self, key: K) -> bool:
        """Count a hit (no reordering); False when the key is not held."""
        node = self._small.get(key) or self._main.get(key)
        if node is None:
            return False
        if node.freq < MAX_FREQ:
            node.freq += 1
        return True

    def insert(self, key: K, size: int) -> list[K]:
        """Hold `key` (replacing it if held); the keys evicted to make room.

        An object larger than the whole capacity is not held (it would evict everything
        and then itself): [key] is returned, so the caller drops it at once.
        """
        evicted: list[K] = []
        freq = 0
        if key in self:
            freq = self._remove(key).freq
        if size > self.capacity:
            return [key]
        while self.bytes + size > self.capacity:
            evicted.append(self._evict())
        node = _Node(size, freq)
        if key in self._ghost:
            # Asked for again soon after leaving the small queue: it is not a one-hit
            # wonder, so it goes straight to the main queue.
            del self._ghost[key]
            self._main[key] = node
            self.main_bytes += size
        else:
            self._small[key] = node
            self.small_bytes += size
        return evicted

    def remove(self, key: K) -> bool:
        """Forget a key (deleted or purged); False when it was not held."""
        if key not in self:
            return False
        self._remove(key)
        return True

    def _remove(self, key: K) -> _Node:
        node = self._small.pop(key, None)
        if node is not None:
            self.small_bytes -= node.size
            return node
        node = self._main.pop(key)
        self.main_bytes -= node.size
        return node

    def _evict(self) -> K:
        """Evict one object (the caller knows there is one); its key."""
        while True:
            if self._small and (self.small_bytes >= self.small_capacity or not self._main):
                key, node = _pop_oldest(self._small)
                self.small_bytes -= node.size
                if node.freq > 0:
                    # Reused while in probation: promote (counter reset, so it must earn
                    # its place in the main queue again).
                    node.freq = 0
                    self._main[key] = node
                    self.main_bytes += node.size
                    continue
                self._remember(key)
                return key
            key, node = _pop_oldest(self._main)
            if node.freq > 0:
                # Second chance, as CLOCK: back to the head with one hit fewer.
                node.freq -= 1
                self._main[key] = node
                continue
            self.main_bytes -= node.size
            return key

    def _remember(self, key: K) -> None:
        self._ghost[key] = None
        # Bounded: as many keys as the main queue holds objects (at least a few).
        limit = max(len(self._main), 16)
        while len(self._ghost) > limit:
            del self._ghost[next(iter(self._ghost))]


def _pop_oldest(queue: dict[K, _Node]) -> tuple[K, _Node]:
    key = next(iter(queue))
    return key, queue.pop(key)
