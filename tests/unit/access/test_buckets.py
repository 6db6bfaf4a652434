"""Token buckets: burst, refill, Retry-After, bounded memory, shared tables."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from frontdesk.access.buckets import Buckets
from frontdesk.access.shared import SharedBuckets


def test_burst_then_refused_then_refilled() -> None:
    b = Buckets(rate=2.0, capacity=3, max_keys=10)
    assert [b.take("a", 0.0).allowed for _ in range(4)] == [True, True, True, False]
    refused = b.take("a", 0.0)
    assert not refused.allowed and refused.retry_after == 0.5 and refused.reset == 1.5
    assert b.take("a", 0.5).allowed  # one token back after 1/rate
    assert not b.take("a", 0.5).allowed
    assert b.take("b", 0.5).allowed  # another key has its own bucket


@pytest.mark.slow
def test_flood_of_100000_addresses_stays_bounded() -> None:
    b = Buckets(rate=1.0, capacity=5, max_keys=10_000)
    tracemalloc.start()
    for i in range(100_000):
        b.take(f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", i * 1e-6)
        if i % 997 == 0:
            assert len(b.table) <= 10_000
    assert len(b.table) <= 10_000
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # ~10k entries, not 100k


def test_full_buckets_are_forgotten_first() -> None:
    b = Buckets(rate=1.0, capacity=2, max_keys=4)
    b.take("busy", 0.0)
    b.take("busy", 0.0)  # drained: must survive eviction
    for k in ("x", "y", "z"):
        b.take(k, 0.0)
    b.take("new", 100.0)  # everyone else has refilled by now
    assert "busy" not in b.table or b.table["busy"][0] < 2
    assert len(b.table) <= 4


def test_a_key_in_use_outlives_idle_ones_when_the_table_overflows() -> None:
    b = Buckets(rate=0.001, capacity=5, max_keys=4)
    for k in ("first", "a", "b", "c"):
        b.take(k, 0.0)
    b.take("first", 1.0)  # the earliest key, but the most recently used
    b.take("new", 2.0)  # full: nobody has refilled, the least recently used go
    assert "first" in b.table and "a" not in b.table
    assert b.table["first"][0] < 4  # still drained by its two requests, not a new burst


def test_shared_table_is_one_limit_for_two_mappings(tmp_path: Path) -> None:
    path = str(tmp_path / "frontdesk-ratelimit-1-ab")
    one = SharedBuckets(path, rate=1.0, capacity=4, max_keys=1000)
    two = SharedBuckets(path, rate=1.0, capacity=4, max_keys=1000)  # another worker
    allowed = [t.take("1.2.3.4", 10.0).allowed for t in (one, two, one, two, one, two)]
    assert allowed == [True, True, True, True, False, False]
    assert two.take("5.6.7.8", 10.0).allowed
    assert one.take("1.2.3.4", 11.0).allowed  # refilled one token
    one.close()
    two.close()


@pytest.mark.slow
def test_shared_table_size_is_fixed_under_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "frontdesk-ratelimit-1-cd"
    t = SharedBuckets(str(path), rate=1.0, capacity=2, max_keys=4096)
    size = path.stat().st_size
    for i in range(100_000):
        t.take(f"a{i}", 0.0)
    assert path.stat().st_size == size <= 4096 * 2 * 24
    t.take("victim", 0.0)
    t.take("victim", 0.0)
    assert not t.take("victim", 0.0).allowed  # a fresh key still gets its limit
    t.close()


def test_a_worker_whose_clock_lags_gets_the_last_token(tmp_path: Path) -> None:
    # Workers read the clock once per tick: the next request may come to a worker
    # whose time is a little behind the time the last one stored.
    path = str(tmp_path / "frontdesk-ratelimit-1-bb")
    ahead = SharedBuckets(path, rate=1 / 60, capacity=2, max_keys=1000)
    behind = SharedBuckets(path, rate=1 / 60, capacity=2, max_keys=1000)
    assert ahead.take("k", 10.0).allowed
    assert behind.take("k", 9.6).allowed  # the last token: no negative refill
    assert not ahead.take("k", 10.0).allowed
    ahead.close()
    behind.close()


def test_size_counts_the_keys_held(tmp_path: Path) -> None:
    local = Buckets(rate=1.0, capacity=2, max_keys=100)
    shared = SharedBuckets(str(tmp_path / "frontdesk-ratelimit-1-ef"), 1.0, 2, max_keys=1000)
    assert local.size() == shared.size() == 0
    for key in ("a", "b", "c", "a"):
        local.take(key, 0.0)
        shared.take(key, 0.0)
    assert local.size() == shared.size() == 3
    for i in range(500):
        local.take(f"k{i}", 0.0)
        shared.take(f"k{i}", 0.0)
    assert local.size() <= local.max_keys
    assert 0 < shared.size() <= shared.max_keys and shared.max_keys >= 1000
    shared.close()


def test_shared_table_spreads_keys_over_every_set(tmp_path: Path) -> None:
    # Half the table's bound in distinct keys: with keys spread over all the sets,
    # hardly any set overflows its 8 ways, so nearly every key is still held.
    t = SharedBuckets(str(tmp_path / "frontdesk-ratelimit-1-aa"), 1.0, 2, max_keys=40_000)
    n = t.max_keys // 4
    for i in range(n):
        t.take(f"a:{i}", 0.0)
    assert t.size() >= n * 0.995, (t.size(), n)
    t.close()
