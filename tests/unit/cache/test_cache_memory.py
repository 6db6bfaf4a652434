"""The memory tier: streaming writes, atomic commit, variants, purges, the byte bound."""

from __future__ import annotations

from dataclasses import replace

from cache_helpers import T0
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import entry, put

from frontdesk.cache.memory import MemoryTier, Prepared
from frontdesk.cache.store import read_body


def tier(max_bytes: int = 1 << 20, max_object_size: int | None = None) -> MemoryTier:
    return MemoryTier(max_bytes, max_object_size, clock=lambda: T0 + 1)


async def test_get_after_put_and_the_pre_serialised_head() -> None:
    m = tier()
    assert await m.get("https://example.com/a") == []
    assert await put(m, entry(), b"hello world")
    [hit] = await m.get("https://example.com/a")
    assert hit.body.in_memory() == b"hello world"
    assert hit.entry.content_length == 11
    assert isinstance(hit.entry.ref, Prepared)
    assert b"cache-control: max-age=60\r\n" in hit.entry.ref.head
    assert hit.entry.ref.body is hit.body.in_memory()
    s = m.stats()
    assert (s.hits, s.misses, s.stores, s.entries) == (1, 1, 1, 1)


async def test_nothing_is_visible_before_commit_nor_after_abort() -> None:
    m = tier()
    w = m.writer(entry())
    await w.write(b"part")
    assert await m.get("https://example.com/a") == []
    await w.abort()
    assert not await w.commit()
    assert await m.get("https://example.com/a") == []


async def test_over_max_object_size_is_dropped_while_streaming() -> None:
    m = tier(max_object_size=10)
    w = m.writer(entry())
    assert await w.write(b"12345")
    assert not await w.write(b"678901")
    assert not await w.commit()
    assert await m.get("https://example.com/a") == []
    assert m.stats().too_large == 1


async def test_variants_live_side_by_side_and_replace_their_own() -> None:
    m = tier()
    await put(m, entry(lang="de"), b"de")
    await put(m, entry(lang="fr"), b"fr")
    await put(m, entry(lang="de"), b"DE")
    hits = await m.get("https://example.com/a")
    assert sorted([h.body.in_memory() or b"" for h in hits]) == [b"DE", b"fr"]
    assert await m.delete("https://example.com/a") == 2
    assert await m.get("https://example.com/a") == []


async def test_purge_by_tag_and_prefix() -> None:
    m = tier()
    await put(m, entry("/p/1", tags=("product", "p1")), b"1")
    await put(m, entry("/p/2", tags=("product",)), b"2")
    await put(m, entry("/q/3", tags=("p1",)), b"3")
    assert await m.purge_tag("p1") == 2
    assert [len(await m.get(f"https://example.com{p}")) for p in ("/p/1", "/p/2", "/q/3")] == [
        0,
        1,
        0,
    ]
    assert await m.purge_prefix("https://example.com/p/") == 1
    assert m.stats().entries == 0


async def test_entries_past_their_useful_life_are_dropped_when_found() -> None:
    m = MemoryTier(1 << 20, clock=lambda: T0 + 120)
    # no validator, no stale use: useless after 60 s
    await put(m, entry(max_age=60, must_revalidate=True), b"x")
    await put(m, entry("/v", max_age=60, etag='"v"'), b"y")  # a validator keeps it
    assert await m.get("https://example.com/a") == []
    assert len(await m.get("https://example.com/v")) == 1


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3000)), max_size=80),
    capacity=st.integers(0, 20000),
)
async def test_never_over_the_byte_bound(sizes: list[tuple[int, int]], capacity: int) -> None:
    m = tier(capacity, max_object_size=capacity)
    for path, size in sizes:
        stored = await put(m, entry(f"/{path}"), b"x" * size, chunk=1000)
        assert m.stats().bytes <= capacity
        if stored:
            [hit] = await m.get(f"https://example.com/{path}")
            assert await read_body(hit.body) == b"x" * size
            assert hit.entry == replace(hit.entry, content_length=size)
