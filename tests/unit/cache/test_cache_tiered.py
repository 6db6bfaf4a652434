"""Memory in front of disk and Redis: read-through with promotion, write to every tier,
purges everywhere, and service from the other tiers while Redis is down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cache_helpers import T0
from store_helpers import entry, put

from frontdesk.cache.disk import DiskTier, FileBody
from frontdesk.cache.memory import MemoryTier
from frontdesk.cache.redis_tier import RedisTier
from frontdesk.cache.store import read_body
from frontdesk.cache.tiered import TieredStore

KEY = "https://example.com/a"


def clock() -> float:
    return T0 + 1


def stack(tmp_path: Path, redis_url: str | None = None, memory_max: int = 1000) -> TieredStore:
    tiers: list[Any] = [
        MemoryTier(1 << 20, max_object_size=memory_max, clock=clock),
        DiskTier(tmp_path, 1 << 30, clock=clock),
    ]
    if redis_url is not None:
        tiers.append(RedisTier(redis_url, timeout=0.2, retry_min=0.05, clock=clock))
    return TieredStore(tiers)


async def test_a_store_reaches_every_tier(tmp_path: Path, redis_server: Any) -> None:
    s = stack(tmp_path, redis_server.url)
    assert await put(s, entry(tags=("t",)), b"body")
    for tier in s.tiers:
        [hit] = await tier.get(KEY)
        assert await read_body(hit.body) == b"body"
    assert await s.purge_tag("t") == 1
    for tier in s.tiers:
        assert await tier.get(KEY) == []
    await s.close()


async def test_read_through_promotes_into_the_faster_tiers(
    tmp_path: Path, redis_server: Any
) -> None:
    s = stack(tmp_path, redis_server.url)
    memory, disk, redis = s.tiers
    await put(redis, entry(), b"from redis")  # as another instance would have
    assert await memory.get(KEY) == [] and await disk.get(KEY) == []
    [hit] = await s.get(KEY)
    assert await read_body(hit.body) == b"from redis"
    [again] = await memory.get(KEY)
    assert again.body.in_memory() == b"from redis"
    assert len(await disk.get(KEY)) == 1
    stats = s.stats()
    assert stats.hits == 1 and [t.name for t in stats.tiers] == ["memory", "disk", "redis"]
    await s.close()


async def test_a_body_too_large_for_memory_lives_on_disk(tmp_path: Path) -> None:
    s = stack(tmp_path, memory_max=1000)
    memory, disk = s.tiers
    large = b"L" * 100_000
    assert await put(s, entry(), large, chunk=4096)
    assert await memory.get(KEY) == []
    [hit] = await s.get(KEY)
    assert isinstance(hit.body, FileBody)  # streamed from disk, not promoted
    assert await read_body(hit.body) == large
    assert await memory.get(KEY) == []
    await s.close()


async def test_over_every_limit_stores_nothing(tmp_path: Path) -> None:
    s = TieredStore([MemoryTier(1 << 20, 10, clock=clock), DiskTier(tmp_path, 1 << 20, 20)])
    w = s.writer(entry())
    assert await w.write(b"x" * 15)  # the disk still takes it
    assert not await w.write(b"x" * 15)  # now nobody does
    assert not await w.commit()
    assert await s.get(KEY) == []
    await s.close()


async def test_redis_down_the_other_tiers_serve(tmp_path: Path, redis_server: Any) -> None:
    s = stack(tmp_path, redis_server.url)
    redis = s.tiers[2]
    assert isinstance(redis, RedisTier)
    await put(s, entry(), b"kept")
    redis_server.stop()
    assert await put(s, entry("/b"), b"new")  # memory and disk still take it
    for path in ("/a", "/b"):
        [hit] = await s.get(f"https://example.com{path}")
        assert await read_body(hit.body) in (b"kept", b"new")
    assert not redis.up
    assert await s.delete(KEY) == 1
    await s.close()
