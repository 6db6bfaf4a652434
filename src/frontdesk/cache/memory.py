"""The in-memory tier: entries and bodies in this worker, bounded in bytes by S3-FIFO.

A memory hit costs a dict lookup and a counter increment (s3fifo.py says why no list
is relinked). What a hit writes is prepared at put time: the entry's `ref` is a
Prepared holding the body as one bytes object and the served fields already serialised
(`name: value\\r\\n`), so the shell writes the status line, the Age field, that block
and the body without parsing or formatting a header again.

The byte bound counts bodies, the serialised fields and a fixed overhead per entry
(the Entry object, dict slots), so many tiny entries cannot exceed it unnoticed.
Entries whose useful life has passed (Entry.useful_until) are dropped when found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .entry import Entry
from .fields import FieldTuple
from .s3fifo import S3Fifo
from .store import BufferingWriter, BytesBody, Hit, TierStats, Variant

ENTRY_OVERHEAD = 512  # bytes charged per entry besides body and fields (an estimate)

Slot = tuple[str, bytes, Variant]  # key, method, variant: what one entry replaces


def serialise_fields(fields: FieldTuple) -> bytes:
    """`name: value\\r\\n` lines, as they go on the wire."""
    return b"".join(name + b": " + value + b"\r\n" for name, value in fields)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a memory hit writes, ready made (the entry's `ref`)."""

    head: bytes  # serialise_fields(entry.served)
    body: bytes


@dataclass(frozen=True, slots=True)
class Stored:
    """What the memory tier holds for one variant."""

    entry: Entry  # with ref = the Prepared below
    prepared: Prepared
    hit: Hit  # what get() returns, built once: a hit allocates nothing per variant
    until: float | None  # entry.useful_until(), computed once
    # A fresh hit of this variant is the hot lane's plain case: a GET response with a
    # 200, no Vary, not invalidated and not no-cache (one test instead of five).
    plain: bool = False
    # The shell's rendered answers for the current second of age (cache/reply.py): a
    # mutable cell in an immutable record, so a hit re-renders at most once a second.
    rendered: list[object] = field(
        default_factory=lambda: [-1, b"", b"", None, None, None, None, 0.0, None, 0, None]
    )

    @property
    def charge(self) -> int:
        p = self.prepared
        return len(p.body) + len(p.head) + len(self.entry.key) + ENTRY_OVERHEAD


def make_stored(entry: Entry, body: bytes) -> Stored:
    """What a hit needs of `entry` and its body, prepared once."""
    if entry.content_length != len(body):
        entry = replace(entry, content_length=len(body))
    prepared = Prepared(serialise_fields(entry.served), body)
    entry = replace(entry, ref=prepared)
    plain = (
        entry.method == b"GET"
        and entry.status == 200
        and entry.vary is None
        and not entry.invalid
        and not entry.cc.no_cache
    )
    return Stored(entry, prepared, Hit(entry, BytesBody(body)), entry.useful_until(), plain)


class MemoryTier:
    """A CacheStore in this process's memory."""

    def __init__(
        self,
        max_bytes: int,
        max_object_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_bytes = max_bytes
        # Default: an object may take an eighth of the tier, so one large response
        # cannot flush the whole working set.
        self.max_object_size = max_object_size if max_object_size is not None else max_bytes // 8
        self._policy: S3Fifo[Slot] = S3Fifo(max_bytes)
        self._slots: dict[Slot, Stored] = {}
        self._by_key: dict[str, dict[Slot, None]] = {}
        self._stats = TierStats(name="memory")
        self._clock = clock

    # -- lookups

    async def get(self, key: str) -> list[Hit]:
        return self.get_now(key)

    def get_now(self, key: str) -> list[Hit]:
        """get() without a coroutine: the hot path can call it directly."""
        slots = self._by_key.get(key)
        if not slots:
            self._stats.misses += 1
            return []
        now = self._clock()
        hits: list[Hit] = []
        for slot in list(slots):
            stored = self._slots[slot]
            until = stored.until
            if until is not None and until < now:
                self._drop(slot)
                continue
            self._policy.touch(slot)
            hits.append(stored.hit)
        if hits:
            self._stats.hits += 1
        else:
            self._stats.misses += 1
        return hits

    # -- stores

    def writer(self, entry: Entry) -> BufferingWriter:
        return BufferingWriter(entry, self.max_object_size, self._put, self._stats)

    async def _put(self, entry: Entry, body: bytes) -> bool:
        return self.put_now(entry, body)

    def put_now(self, entry: Entry, body: bytes) -> bool:
        """Store a whole body at once (promotion from a slower tier); True if stored."""
        if len(body) > self.max_object_size:
            self._stats.too_large += 1
            return False
        stored = make_stored(entry, body)
        entry = stored.entry
        slot: Slot = (entry.key, entry.method, entry.variant)
        evicted = self._policy.insert(slot, stored.charge)
        self._slots[slot] = stored
        self._by_key.setdefault(entry.key, {})[slot] = None
        stored_it = True
        for gone in evicted:
            self._forget(gone)
            if gone == slot:  # larger than the whole tier
                stored_it = False
            else:
                self._stats.evictions += 1
        self._stats.stores += stored_it
        return stored_it

    # -- removal

    async def delete(self, key: str) -> int:
        slots = list(self._by_key.get(key, ()))
        for slot in slots:
            self._drop(slot)
        return len(slots)

    async def purge_tag(self, tag: str) -> int:
        return self._drop_where(lambda stored: tag in stored.entry.tags)

    async def purge_prefix(self, prefix: str) -> int:
        return self._drop_where(lambda stored: stored.entry.key.startswith(prefix))

    def _drop_where(self, test: Callable[[Stored], bool]) -> int:
        # A purge is rare and administrative: a scan is cheaper to keep right than an
        # index maintained on every store.
        doomed = [slot for slot, stored in self._slots.items() if test(stored)]
        for slot in doomed:
            self._drop(slot)
        return len(doomed)

    def _drop(self, slot: Slot) -> None:
        self._policy.remove(slot)
        self._forget(slot)

    def _forget(self, slot: Slot) -> None:
        self._slots.pop(slot, None)
        slots = self._by_key.get(slot[0])
        if slots is not None:
            slots.pop(slot, None)
            if not slots:
                del self._by_key[slot[0]]

    def stats(self) -> TierStats:
        s = self._stats
        s.bytes = self._policy.bytes
        s.entries = len(self._slots)
        return replace(s, tiers=[])

    async def close(self) -> None:
        self._slots.clear()
        self._by_key.clear()
        self._policy = S3Fifo(self.max_bytes)
