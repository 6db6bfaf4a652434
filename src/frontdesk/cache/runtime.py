"""One ``[cache.NAME]`` in one worker: its tiers, options, collapsed fetches and purges.

Built once from the config when the worker starts (`build_cache`). Every route that
names the cache shares this object, so a purge, an invalidation or a collapsed miss
covers all of them. Purges and invalidations also go to the other workers, through the
master (`broadcast`, set by the worker), so that no worker keeps serving what one of
them removed; the shared tiers (disk, Redis) are purged once, here.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from frontdesk.log import error_log

from .options import CacheOptions, KeyOptions
from .shared import SharedTier, cache_dir
from .store import CacheStore, Hit, read_body
from .targeted import CDN_CACHE_CONTROL
from .tiered import TieredStore

if TYPE_CHECKING:
    from frontdesk.config.cache import Cache

    from .entry import Entry

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Broadcast = Callable[[dict[str, Any]], None]


class Flight:
    """A fetch from the origin that concurrent misses for the same key wait on.

    `result` becomes True once the response is stored (the waiters look it up), and
    False as soon as it is known that it will not be (they go to the origin
    themselves: nobody queues behind a private answer)."""

    __slots__ = ("result", "waiters")

    def __init__(self) -> None:
        self.result: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiters = 0

    def finish(self, stored: bool) -> None:
        if not self.result.done():
            self.result.set_result(stored)


class CacheRuntime:
    """A named cache as one worker uses it."""

    def __init__(
        self,
        name: str,
        options: CacheOptions,
        store: CacheStore,
        memory: SharedTier | None,
        *,
        collapse: bool = True,
        collapse_timeout: float = 5.0,
        purge_from: tuple[Network, ...] = (),
    ) -> None:
        self.name = name
        self.options = options
        self.store = store
        self.memory = memory  # also the first tier of `store`, for lookups without await
        # Who is fetching what, across the workers (leases.py): with the shared tier.
        self.leases = memory.leases if memory is not None else None
        self.memory_only = memory is not None and store is memory
        self.collapse = collapse
        self.collapse_timeout = collapse_timeout
        self.purge_from = purge_from
        self.flights: dict[str, Flight] = {}
        self.revalidating: set[str] = set()  # keys with a background refresh running
        self.tasks: set[asyncio.Task[Any]] = set()
        self.broadcast: Broadcast | None = None
        self.collapsed = 0  # requests answered by another request's fetch

    # ------------------------------------------------------------ background work

    def spawn(self, coro: Any) -> None:
        """Run `coro` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------------- purges

    def may_purge(self, peer: str) -> bool:
        """Whether the PURGE method is allowed from this client address."""
        if not self.purge_from:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.purge_from)

    async def purge(
        self,
        *,
        keys: tuple[str, ...] = (),
        prefix: str = "",
        tag: str = "",
        everywhere: bool = True,
    ) -> int:
        """Remove entries by primary key, key prefix or tag from every tier; the number of
        entries removed here. With `everywhere`, the other workers drop theirs too."""
        removed = 0
        try:
            removed = await _remove(self.store, keys, prefix, tag)
        except Exception:  # a tier failing must not fail the request that purged
            error_log.exception("cache %r: purge failed", self.name)
        if everywhere and self.broadcast is not None:
            self.broadcast(
                {
                    "type": "purge",
                    "cache": self.name,
                    "keys": list(keys),
                    "prefix": prefix,
                    "tag": tag,
                }
            )
        return removed

    async def purge_local(self, keys: list[str], prefix: str, tag: str) -> int:
        """A purge another worker made and the master relayed: nothing left to do here,
        since every tier (memory included, shared.py) is shared and that worker purged
        it for all. The relay stays for tiers a worker might hold alone."""
        return 0

    async def restore(
        self, updates: tuple[tuple[Entry, Entry | None], ...], hits: list[Hit]
    ) -> dict[int, bytes]:
        """Store the entries a 304 freshened (RFC 9111 §3.2) again with their bodies, in
        every tier (None: remove it); the bodies read, by id of the old entry."""
        store = self.store
        bodies: dict[int, bytes] = {}
        for old, new in updates:
            hit = next((h for h in hits if h.entry is old), None)
            if hit is None:
                continue
            data = await read_body(hit.body)
            bodies[id(old)] = data
            if new is None:
                await store.delete(old.key)
                continue
            writer = store.writer(new)
            if not data or await writer.write(data):
                await writer.commit()
            else:
                await writer.abort()
        return bodies

    def stats(self) -> dict[str, Any]:
        s = self.store.stats()
        tiers = s.tiers or [s]
        return {
            "hits": s.hits,
            "misses": s.misses,
            "collapsed": self.collapsed,
            "tiers": [
                {
                    "name": t.name,
                    "bytes": t.bytes,
                    "entries": t.entries,
                    "hits": t.hits,
                    "misses": t.misses,
                    "stores": t.stores,
                    "up": t.up,
                    "shared": True,  # every tier is shared by the workers
                }
                for t in tiers
            ],
        }

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.store.close()


async def _remove(store: CacheStore, keys: Sequence[str], prefix: str, tag: str) -> int:
    """Delete keys, a key prefix and a tag from `store`; the number of entries removed."""
    n = 0
    for key in keys:
        n += await store.delete(key)
    if prefix:
        n += await store.purge_prefix(prefix)
    if tag:
        n += await store.purge_tag(tag)
    return n


def cache_options(name: str, cfg: Cache, hosts: frozenset[str]) -> CacheOptions:
    """The policy's knobs for one [cache.NAME]."""
    return CacheOptions(
        heuristic_fraction=cfg.heuristic_fraction,
        max_heuristic=cfg.max_heuristic,
        store_set_cookie=cfg.store_set_cookie,
        honor_request_no_cache=cfg.honor_client_no_cache,
        hosts=hosts,
        bypass_request_headers=frozenset(n.encode("ascii") for n in cfg.bypass_headers),
        max_object_size=cfg.max_object_size,
        key=KeyOptions(sort_query=cfg.key.sort_query, ignore_params=cfg.key.ignore_params),
        name=cfg.status_name,
        targeted_fields=(
            (cfg.targeted_field.lower().encode("ascii"), CDN_CACHE_CONTROL)
            if cfg.targeted_field
            else (CDN_CACHE_CONTROL,)
        ),
    )


def build_cache(name: str, cfg: Cache, hosts: frozenset[str] = frozenset()) -> CacheRuntime:
    """The tiers of one [cache.NAME], fastest first (memory → disk → redis). The memory
    tier is shared by the server's workers (shared.py)."""
    tiers: list[CacheStore] = []
    limit = cfg.max_object_size
    memory = None
    if cfg.memory:
        memory = SharedTier(cache_dir(name), cfg.memory, min(limit, max(1, cfg.memory // 8)))
        tiers.append(memory)
    if cfg.disk is not None:
        from .disk import DiskTier

        d = cfg.disk
        size = d.max_object_size if d.max_object_size is not None else d.size // 8
        tiers.append(DiskTier(d.path, d.size, min(limit, size)))
    if cfg.redis is not None:
        from .redis_tier import RedisTier

        r = cfg.redis
        tiers.append(
            RedisTier(
                r.url,
                namespace=r.namespace,
                max_object_size=min(limit, r.max_object_size),
                max_ttl=int(r.max_ttl),
                timeout=r.timeout,
            )
        )
    store: CacheStore = tiers[0] if len(tiers) == 1 else TieredStore(tiers)
    return CacheRuntime(
        name,
        cache_options(name, cfg, hosts),
        store,
        memory,
        collapse=cfg.collapse,
        collapse_timeout=cfg.collapse_timeout,
        purge_from=tuple(ipaddress.ip_network(n) for n in cfg.purge_from),
    )
