"""The Redis tier against a real redis-server: sharing between instances, purges, and a
Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from typing import Any

import pytest
from cache_helpers import T0
from store_helpers import entry, put

from frontdesk.cache.redis_tier import RedisTier
from frontdesk.cache.store import read_body

KEY = "https://example.com/a"


def tier(redis_server: Any, **kw: Any) -> RedisTier:
    kw.setdefault("clock", lambda: T0 + 1)
    return RedisTier(redis_server.url, timeout=0.2, retry_min=0.05, retry_max=0.2, **kw)


async def test_round_trip_and_variants(redis_server: Any) -> None:
    r = tier(redis_server)
    assert await r.get(KEY) == []
    assert await put(r, entry(lang="de", tags=("t",)), b"de")
    assert await put(r, entry(lang="fr"), b"fr")
    assert await put(r, entry(lang="de", tags=("t",)), b"DE")
    hits = await r.get(KEY)
    assert sorted([await read_body(h.body) for h in hits]) == [b"DE", b"fr"]
    assert {h.entry.content_length for h in hits} == {2}
    assert r.stats().hits == 1 and r.stats().misses == 1 and r.stats().up
    assert await r.delete(KEY) == 2 and await r.get(KEY) == []
    await r.close()


async def test_ttl_follows_the_useful_life(redis_server: Any) -> None:
    r = tier(redis_server, max_ttl=3600)
    await put(r, entry("/short", max_age=60, must_revalidate=True), b"x")
    await put(r, entry("/kept", max_age=60, etag='"v"'), b"y")
    [short] = await r.get("https://example.com/short")
    [kept] = await r.get("https://example.com/kept")
    assert 55 <= await r._redis.ttl(short.entry.ref) <= 60  # type: ignore[arg-type]
    assert 3590 <= await r._redis.ttl(kept.entry.ref) <= 3600  # type: ignore[arg-type]
    # Already useless: not stored at all.
    late = tier(redis_server, clock=lambda: T0 + 1000)
    assert not await put(late, entry("/late", max_age=60, must_revalidate=True), b"z")
    await r.close()
    await late.close()


async def test_over_max_object_size_is_not_stored(redis_server: Any) -> None:
    r = tier(redis_server, max_object_size=10)
    assert not await put(r, entry(), b"x" * 11)
    assert await r.get(KEY) == [] and r.stats().too_large == 1
    await r.close()


async def test_two_instances_share_entries_and_purges(redis_server: Any) -> None:
    one, two = tier(redis_server), tier(redis_server)
    await put(one, entry("/p/1", tags=("product", "p1")), b"1")
    await put(one, entry("/p/2", tags=("product",)), b"2")
    await put(two, entry("/q/[3]*", tags=("p1",)), b"3")
    [hit] = await two.get("https://example.com/p/1")
    assert await read_body(hit.body) == b"1" and hit.entry.tags == ("product", "p1")
    assert await two.purge_tag("p1") == 2
    assert await one.get("https://example.com/p/1") == []
    assert await one.get("https://example.com/q/[3]*") == []
    assert len(await one.get("https://example.com/p/2")) == 1
    await put(one, entry("/q/[3]*"), b"3")
    # A prefix is literal: glob characters in it match only themselves.
    assert await two.purge_prefix("https://example.com/q/[") == 1
    assert await two.purge_prefix("https://example.com/p*") == 0
    assert await two.purge_prefix("https://example.com/p/") == 1
    assert await one.get("https://example.com/p/2") == []
    await one.close()
    await two.close()


async def test_namespaces_keep_instances_apart(redis_server: Any) -> None:
    a, b = tier(redis_server, namespace="a:"), tier(redis_server, namespace="b:")
    await put(a, entry(), b"x")
    assert await b.get(KEY) == [] and len(await a.get(KEY)) == 1
    await a.close()
    await b.close()


async def test_redis_going_away_and_coming_back(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "frontdesk.cache")
    r = tier(redis_server)
    await put(r, entry(), b"before")
    redis_server.stop()

    started = time.monotonic()
    assert await r.get(KEY) == []  # the failing call: bounded by the timeout
    assert time.monotonic() - started < 1.0
    assert not r.up and not r.stats().up
    started = time.monotonic()
    for _ in range(100):  # down: no call waits on Redis at all
        assert await r.get(KEY) == []
        assert not await put(r, entry(), b"lost")
    assert time.monotonic() - started < 0.5
    downs = [m for m in caplog.messages if "unreachable" in m]
    assert len(downs) == 1  # said once, not per request

    redis_server.start()  # same port, empty (no persistence)
    deadline = time.monotonic() + 5
    while not r.up and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert r.up
    assert any("is back" in m for m in caplog.messages)
    assert await put(r, entry(), b"after")
    [hit] = await r.get(KEY)
    assert await read_body(hit.body) == b"after"
    await r.close()


async def test_an_unreachable_redis_at_start_is_down_not_fatal() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = RedisTier(f"redis://127.0.0.1:{port}/0", timeout=0.2, retry_min=10)
    started = time.monotonic()
    assert await r.get(KEY) == [] and not r.up
    assert not await put(r, entry(), b"x")
    assert await r.purge_tag("t") == 0
    assert time.monotonic() - started < 1.0
    await r.close()


async def test_a_hung_redis_costs_one_short_timeout(redis_server: Any) -> None:
    r = tier(redis_server)
    await put(r, entry(), b"x")
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # alive but silent: the worst case
    try:
        started = time.monotonic()
        assert await r.get(KEY) == []
        assert time.monotonic() - started < 0.2 * 2 + 0.3  # the tier's timeout, not TCP's
        assert not r.up
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while not r.up and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert r.up and len(await r.get(KEY)) == 1
    await r.close()
