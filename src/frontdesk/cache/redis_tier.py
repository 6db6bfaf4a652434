"""The Redis tier: one cache shared by frontdesk instances on several machines.

Keys, under a namespace NS (default "frontdesk:"), binary-safe::

    NS k:<primary key>              SET of the variant ids stored under the key
    NS e:<primary key>\\0<variant>   HASH {m: record.dump_entry, b: the body}
    NS t:<tag>                      SET of the e: keys labelled with the tag

An entry's hash expires when the entry can answer nothing any more
(Entry.useful_until), capped at max_ttl (entries with a validator stay useful
indefinitely, and Redis must not fill up with them). The k: and t: sets live max_ttl
and are refreshed by every store; members whose entry has expired are removed when met.
Bodies are one value, so the tier has its own max_object_size (1 MiB by default): a
larger body is kept by the memory and disk tiers only, and a hit costs one round trip
for the variant ids and one for the entries.

Redis may go away at any moment. Every call has a short timeout and no retries; the
first failure marks the tier down and logs it once, and from then on every operation
returns at once (a miss, nothing stored) while a background task pings with backoff.
When a ping answers, the tier logs that Redis is back and is used again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .entry import Entry
from .record import RecordError, dump_entry, load_entry, variant_id
from .store import BufferingWriter, BytesBody, Hit, TierStats

log = logging.getLogger("frontdesk.cache")

T = TypeVar("T")

DEFAULT_MAX_OBJECT = 1 << 20
DEFAULT_MAX_TTL = 86400


def _glob_escape(text: bytes) -> bytes:
    """`text` as a literal in a SCAN MATCH pattern."""
    out = bytearray()
    for byte in text:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


class RedisTier:
    """A CacheStore in Redis (redis-py asyncio), shared between instances."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "frontdesk:",
        max_object_size: int = DEFAULT_MAX_OBJECT,
        max_ttl: int = DEFAULT_MAX_TTL,
        timeout: float = 0.25,
        retry_min: float = 0.5,
        retry_max: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.max_object_size = max_object_size
        self.max_ttl = max_ttl
        self.timeout = timeout
        self._ns = namespace.encode()
        self._retry = (retry_min, retry_max)
        self._clock = clock
        # No retries inside redis-py: a dead server must cost one short timeout, and
        # the tier's own reconnect loop decides when to try again.
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._up = True
        self._reconnecting: asyncio.Task[None] | None = None
        self._stats = TierStats(name="redis")

    @property
    def up(self) -> bool:
        return self._up

    # -- keys

    def _k(self, key: str) -> bytes:
        return self._ns + b"k:" + key.encode("utf-8", "surrogateescape")

    def _e(self, key: str, vid: bytes) -> bytes:
        return self._ns + b"e:" + key.encode("utf-8", "surrogateescape") + b"\0" + vid

    def _t(self, tag: str) -> bytes:
        return self._ns + b"t:" + tag.encode("utf-8", "surrogateescape")

    def _key_of(self, e_key: bytes) -> str:
        """The primary key inside an e: key."""
        start = len(self._ns) + 2
        return e_key[start : e_key.rindex(b"\0")].decode("utf-8", "surrogateescape")

    # -- the guard around every call

    async def _call(self, op: Callable[[], Awaitable[T]], default: T) -> T:
        if not self._up:
            return default
        try:
            return await asyncio.wait_for(op(), self.timeout * 2)
        except (RedisError, OSError, TimeoutError) as exc:
            self._stats.errors += 1
            self._mark_down(exc)
            return default

    def _mark_down(self, exc: BaseException) -> None:
        if not self._up:
            return
        self._up = False
        log.warning(
            "cache: redis at %s is unreachable (%s); serving from the other tiers",
            self.url,
            exc or type(exc).__name__,
        )
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay, most = self._retry
        # A call cut off by the timeout may leave its answer in flight on a pooled
        # connection; drop them all so a late answer cannot be read as another's.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.connection_pool.disconnect()
        while True:
            await asyncio.sleep(delay)
            if await self.check_once():
                return
            delay = min(delay * 2, most)

    async def check_once(self) -> bool:
        """Ping once; on an answer mark the tier up again (and say so)."""
        try:
            await asyncio.wait_for(self._redis.ping(), self.timeout * 2)
        except (RedisError, OSError, TimeoutError):
            return False
        if not self._up:
            self._up = True
            log.warning("cache: redis at %s is back; using it again", self.url)
        return True

    async def _members(self, set_key: bytes) -> list[bytes]:
        # Replies are bytes (decode_responses is off); the stubs also allow str.
        members = await self._redis.smembers(set_key)
        return [m if isinstance(m, bytes) else m.encode() for m in members]

    # -- lookups

    async def get(self, key: str) -> list[Hit]:
        no_hits: list[Hit] = []
        hits = await self._call(lambda: self._get(key), no_hits)
        if hits:
            self._stats.hits += 1
        else:
            self._stats.misses += 1
        return hits

    async def _get(self, key: str) -> list[Hit]:
        vids = await self._members(self._k(key))
        if not vids:
            return []
        ordered = sorted(vids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for vid in ordered:
                pipe.hmget(self._e(key, vid), [b"m", b"b"])
            rows: list[list[bytes | None]] = await pipe.execute()
        hits: list[Hit] = []
        gone: list[bytes] = []
        for vid, (meta, body) in zip(ordered, rows, strict=True):
            if meta is None or body is None:
                gone.append(vid)  # expired: the id outlived its entry
                continue
            try:
                entry = load_entry(meta, ref=self._e(key, vid))
            except RecordError:
                gone.append(vid)  # another version's record: not ours to read
                continue
            hits.append(Hit(entry, BytesBody(body)))
        if gone:
            await self._redis.srem(self._k(key), *gone)
        return hits

    # -- stores

    def writer(self, entry: Entry) -> BufferingWriter:
        return BufferingWriter(entry, self.max_object_size, self._put, self._stats)

    def _ttl(self, entry: Entry) -> int:
        until = entry.useful_until()
        if until is None:
            return self.max_ttl
        return min(self.max_ttl, int(until - self._clock()) + 1)

    async def _put(self, entry: Entry, body: bytes) -> bool:
        ttl = self._ttl(entry)
        if ttl <= 0:
            return False  # already useless: nothing to share
        if entry.content_length != len(body):
            entry = replace(entry, content_length=len(body))
        vid = variant_id(entry.variant, entry.method).encode()
        e_key = self._e(entry.key, vid)
        meta = dump_entry(replace(entry, ref=None))

        async def store() -> bool:
            # One MULTI: another instance never sees the id without its entry, nor
            # the entry without its tags.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(e_key, mapping={b"m": meta, b"b": body})
                pipe.expire(e_key, ttl)
                pipe.sadd(self._k(entry.key), vid)
                pipe.expire(self._k(entry.key), self.max_ttl)
                for tag in entry.tags:
                    pipe.sadd(self._t(tag), e_key)
                    pipe.expire(self._t(tag), self.max_ttl)
                await pipe.execute()
            return True

        stored = await self._call(store, False)
        self._stats.stores += stored
        return stored

    # -- removal

    async def delete(self, key: str) -> int:
        return await self._call(lambda: self._delete_keys([self._k(key)]), 0)

    async def _delete_keys(self, k_keys: list[bytes]) -> int:
        removed = 0
        for k_key in k_keys:
            key = k_key[len(self._ns) + 2 :].decode("utf-8", "surrogateescape")
            vids = await self._members(k_key)
            entries = [self._e(key, vid) for vid in vids]
            if entries:
                removed += int(await self._redis.delete(*entries))
            await self._redis.delete(k_key)
        return removed

    async def purge_tag(self, tag: str) -> int:
        async def purge() -> int:
            t_key = self._t(tag)
            e_keys = await self._members(t_key)
            removed = int(await self._redis.delete(*e_keys)) if e_keys else 0
            async with self._redis.pipeline(transaction=False) as pipe:
                for e_key in e_keys:
                    pipe.srem(self._k(self._key_of(e_key)), e_key[e_key.rindex(b"\0") + 1 :])
                pipe.delete(t_key)
                await pipe.execute()
            return removed

        return await self._call(purge, 0)

    async def purge_prefix(self, prefix: str) -> int:
        async def purge() -> int:
            pattern = _glob_escape(self._k(prefix)) + b"*"
            k_keys = [k async for k in self._redis.scan_iter(match=pattern, count=500)]
            return await self._delete_keys(k_keys)

        return await self._call(purge, 0)

    def stats(self) -> TierStats:
        return replace(self._stats, up=self._up, tiers=[])

    async def close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        await self._redis.aclose()
