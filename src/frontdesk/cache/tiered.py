"""Storage tiers stacked behind the one CacheStore interface: fastest first.

    store = TieredStore([MemoryTier(...), DiskTier(...), RedisTier(...)])

get() asks the tiers in order and stops at the first that has the key; what a slower
tier had is copied into the faster ones in front of it (promotion), so the next hit is
a memory hit. A body larger than a faster tier's max_object_size stays where it was
and is streamed from there.

A store writes to every tier at once as the body streams (one writer per tier); a tier
that refuses the body (over its max_object_size) or fails drops out without stopping
the others, so a body too large for memory still reaches the disk. delete() and the
purges go to every tier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .entry import Entry
from .store import BodyWriter, BytesBody, CacheStore, Hit, TierStats, read_body

log = logging.getLogger("frontdesk.cache")

if TYPE_CHECKING:
    # mypy proves here that every tier offers the whole CacheStore interface.
    from .disk import DiskTier
    from .memory import MemoryTier
    from .redis_tier import RedisTier

    def _every_tier_is_a_store(m: MemoryTier, d: DiskTier, r: RedisTier) -> list[CacheStore]:
        return [m, d, r, TieredStore([m, d, r])]


class TieredStore:
    """A CacheStore made of tiers, fastest first."""

    def __init__(self, tiers: Sequence[CacheStore]) -> None:
        if not tiers:
            raise ValueError("a tiered store needs at least one tier")
        self.tiers = tuple(tiers)
        self.max_object_size = max(t.max_object_size for t in self.tiers)
        self._stats = TierStats(name="tiered")

    async def get(self, key: str) -> list[Hit]:
        for i, tier in enumerate(self.tiers):
            hits = await tier.get(key)
            if hits:
                self._stats.hits += 1
                return await self._promote(hits, self.tiers[:i]) if i else hits
        self._stats.misses += 1
        return []

    async def _promote(self, hits: list[Hit], faster: Sequence[CacheStore]) -> list[Hit]:
        """Copy the variants into the faster tiers they fit in; the hits to answer with."""
        limit = max(t.max_object_size for t in faster)
        out: list[Hit] = []
        for hit in hits:
            if hit.body.size > limit:
                out.append(hit)  # streamed from the slower tier, not copied
                continue
            data = await read_body(hit.body)
            for tier in faster:
                if len(data) <= tier.max_object_size:
                    writer = tier.writer(hit.entry)
                    if await writer.write(data):
                        await writer.commit()
                    else:
                        await writer.abort()
            out.append(Hit(hit.entry, BytesBody(data)))
        return out

    def writer(self, entry: Entry) -> TieredWriter:
        return TieredWriter([t.writer(entry) for t in self.tiers])

    async def delete(self, key: str) -> int:
        return max(await asyncio.gather(*(t.delete(key) for t in self.tiers)))

    async def purge_tag(self, tag: str) -> int:
        return max(await asyncio.gather(*(t.purge_tag(tag) for t in self.tiers)))

    async def purge_prefix(self, prefix: str) -> int:
        return max(await asyncio.gather(*(t.purge_prefix(prefix) for t in self.tiers)))

    def stats(self) -> TierStats:
        s = self._stats
        return TierStats(
            name=s.name,
            hits=s.hits,
            misses=s.misses,
            tiers=[t.stats() for t in self.tiers],
        )

    async def close(self) -> None:
        for tier in self.tiers:
            await tier.close()


class TieredWriter:
    """Streams a body into every tier's writer; the counts returned are "any tier"."""

    def __init__(self, writers: list[BodyWriter]) -> None:
        self._live = writers

    async def write(self, chunk: bytes) -> bool:
        still: list[BodyWriter] = []
        for w in self._live:
            try:
                if await w.write(chunk):
                    still.append(w)
            except OSError as exc:
                # One tier failing (a full disk) must not stop the others caching.
                log.warning("cache: a tier failed while storing (%s); skipping it", exc)
                await w.abort()
        self._live = still
        return bool(still)

    async def commit(self) -> bool:
        live, self._live = self._live, []
        results = await asyncio.gather(*(w.commit() for w in live))
        return any(results)

    async def abort(self) -> None:
        live, self._live = self._live, []
        for w in live:
            await w.abort()
