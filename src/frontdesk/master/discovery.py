"""DNS discovery: servers given as { address = "name:port", resolve = true }.

The master looks each name up every `resolve_interval` (`getaddrinfo` in a thread,
never on the loop) and makes the pool's members every A/AAAA record found, with the
entry's port and weight. When the list changes, the new members go to every worker
(`balance.Pool.set_members` keeps the state of members that stay; one that leaves
finishes the requests it has in flight). A failed lookup keeps the last members
found, and is logged once until the name resolves again.

`getaddrinfo` gives no TTL, and frontdesk adds no DNS library for one: the interval
is the refresh period, whatever the records' TTLs.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

from frontdesk.config.proxy import split_upstream
from frontdesk.config.types import host_port
from frontdesk.log import error_log
from frontdesk.master.periodic import PoolJob
from frontdesk.master.pools import MasterPool

Resolver = Callable[[str, int], Awaitable[list[str]]]


# The member id of one address found: "ip:port", or "[ip6]:port".
member_id = host_port


async def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` for TCP, as sorted member ids (sorted: the same records
    in another order are no change). Raises OSError when there is none."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = sorted({member_id(str(info[4][0]), port) for info in infos})
    if not found:
        raise OSError(f"no address for {host}")
    return found


class Discovery(PoolJob):
    """The master's lookups: a round per `resolve_interval` for each pool with names."""

    def __init__(self, on_change: Callable[[MasterPool], None], resolver: Resolver = resolve):
        super().__init__(on_change)
        self.resolver = resolver
        self._failing: set[tuple[str, str]] = set()  # (pool, name) failing: logged already

    def wants(self, pool: MasterPool) -> bool:
        return any(s.resolve for s in pool.config.servers)

    def interval(self, pool: MasterPool) -> float:
        return pool.config.resolve_interval

    async def check_once(self, pool: MasterPool) -> None:
        names = [s.address for s in pool.config.servers if s.resolve]
        results = await asyncio.gather(
            *(self._lookup(name) for name in names), return_exceptions=True
        )
        now = time.monotonic()
        changed = False
        for name, result in zip(names, results, strict=True):
            key = (pool.name, name)
            if isinstance(result, BaseException):
                if key not in self._failing:
                    self._failing.add(key)
                    kept = ", ".join(pool.resolved.get(name, [name]))
                    error_log.error(
                        "pool %r: cannot resolve %s (%s); keeping %s",
                        pool.name,
                        name,
                        result,
                        kept,
                    )
                continue
            if key in self._failing:
                self._failing.discard(key)
                error_log.warning("pool %r: %s resolves again", pool.name, name)
            if pool.set_resolved(name, result, now):
                changed = True
                error_log.warning("pool %r: %s resolves to %s", pool.name, name, ", ".join(result))
        if changed:
            self.on_change(pool)

    async def _lookup(self, name: str) -> list[str]:
        address = split_upstream(name)
        assert not isinstance(address, str)  # config: resolve needs "name:port"
        return await self.resolver(*address)
