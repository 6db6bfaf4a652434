"""The one interface every storage tier offers (memory, disk, Redis, and their stack).

A tier stores immutable `Entry` values with their bodies, one per variant (Entry.variant)
under a primary key. The shell asks `get(key)` and hands the variants to policy.decide;
it stores a response while streaming it to the client, through a `BodyWriter`:

    writer = store.writer(entry)          # nothing visible yet
    for chunk in body:                    # as the origin sends it
        send(chunk)
        await writer.write(chunk)         # False: over max_object_size, now discarded
    await writer.commit()                 # atomically visible (or abort() on error)

A body over the tier's max_object_size is dropped as soon as it is known to be too
large, and commit() then stores nothing: the response passes through uncached.

This module is pure (no I/O): the tiers that do I/O are disk.py and redis_tier.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from .entry import Entry

Variant = tuple[tuple[bytes, ...] | None, tuple[bytes | None, ...]]


class Body(Protocol):
    """A stored body: its size, and its bytes either at once or as chunks."""

    @property
    def size(self) -> int: ...

    def in_memory(self) -> bytes | None:
        """The whole body when the tier holds it in memory (a hit writes it at once)."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body in order; releases what the body holds (a file) when exhausted."""

    def close(self) -> None:
        """Release the body without reading it (idempotent)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored variant: the entry for policy.decide, the body for the answer."""

    entry: Entry
    body: Body


class BodyWriter(Protocol):
    """Takes a body as it streams; nothing is visible to readers before commit()."""

    async def write(self, chunk: bytes) -> bool:
        """Add a chunk; False once the body is over max_object_size (it is dropped)."""

    async def commit(self) -> bool:
        """Store the entry and body atomically; True when stored. The stored entry's
        content_length is the number of bytes written."""

    async def abort(self) -> None:
        """Store nothing and release what was written (idempotent)."""


@dataclass(slots=True)
class TierStats:
    """Counters a tier keeps; `bytes`/`entries` are what it holds now (approximate for
    shared tiers, where other workers and instances add and evict too)."""

    name: str
    hits: int = 0
    misses: int = 0
    stores: int = 0
    too_large: int = 0
    evictions: int = 0
    bytes: int = 0
    entries: int = 0
    errors: int = 0
    up: bool = True
    tiers: list[TierStats] = field(default_factory=list)  # a stack: one per tier

    @property
    def hit_ratio(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class CacheStore(Protocol):
    """A storage tier (or a stack of them) behind one interface."""

    max_object_size: int

    async def get(self, key: str) -> list[Hit]:
        """The stored variants of a primary key (empty: a miss)."""

    def writer(self, entry: Entry) -> BodyWriter:
        """A writer that stores `entry` (replacing the same variant) on commit()."""

    async def delete(self, key: str) -> int:
        """Remove every variant of a key; the number removed."""

    async def purge_tag(self, tag: str) -> int:
        """Remove every entry labelled with `tag` (Entry.tags); the number removed."""

    async def purge_prefix(self, prefix: str) -> int:
        """Remove every entry whose primary key starts with `prefix`."""

    def stats(self) -> TierStats:
        """The tier's counters now."""

    async def close(self) -> None:
        """Release connections, threads and background tasks."""


@dataclass(frozen=True, slots=True)
class BytesBody:
    """A body held in memory."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def in_memory(self) -> bytes | None:
        return self.data

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data

    def close(self) -> None:
        pass


async def read_body(body: Body) -> bytes:
    """The whole body (for promotion between tiers and for tests)."""
    data = body.in_memory()
    if data is not None:
        return data
    return b"".join([chunk async for chunk in body.chunks()])


class BufferingWriter:
    """A BodyWriter that gathers the body in memory (up to `limit` bytes) and hands it
    whole to `store` on commit(): for the tiers that keep a body as one value."""

    def __init__(
        self,
        entry: Entry,
        limit: int,
        store: Callable[[Entry, bytes], Awaitable[bool]],
        stats: TierStats,
    ) -> None:
        self._entry = entry
        self._limit = limit
        self._store = store
        self._stats = stats
        self._chunks: list[bytes] | None = []
        self._size = 0

    async def write(self, chunk: bytes) -> bool:
        if self._chunks is None:
            return False
        self._size += len(chunk)
        if self._size > self._limit:
            # Dropped now, not at commit: a large response must not sit in memory.
            self._chunks = None
            self._stats.too_large += 1
            return False
        self._chunks.append(chunk)
        return True

    async def commit(self) -> bool:
        if self._chunks is None:
            return False
        body = b"".join(self._chunks)
        self._chunks = None
        return await self._store(self._entry, body)

    async def abort(self) -> None:
        self._chunks = None
