"""The disk tier: atomic commits, the byte bound, restarts, workers sharing a directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cache_helpers import T0
from store_helpers import entry, put

from frontdesk.cache import disk
from frontdesk.cache.disk import DiskTier, FileBody
from frontdesk.cache.store import read_body

HERE = Path(__file__).parent
KEY = "https://example.com/a"


def tier(root: Path, max_bytes: int = 1 << 30, **kw: object) -> DiskTier:
    return DiskTier(root, max_bytes, clock=lambda: T0 + 1, **kw)  # type: ignore[arg-type]


def entry_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


async def test_round_trip_small_and_large(tmp_path: Path) -> None:
    d = tier(tmp_path)
    assert await d.get(KEY) == []
    small, large = b"hello", os.urandom(3 * disk.READ_CHUNK + 5)
    assert await put(d, entry(tags=("t",)), small)
    assert await put(d, entry("/big"), large, chunk=100_000)
    [hit] = await d.get(KEY)
    assert hit.body.in_memory() == small and hit.entry.tags == ("t",)
    [big] = await d.get("https://example.com/big")
    assert isinstance(big.body, FileBody) and big.body.size == len(large)
    assert await read_body(big.body) == large
    await d.close()


async def test_nothing_visible_before_commit_and_abort_leaves_nothing(tmp_path: Path) -> None:
    d = tier(tmp_path)
    w = d.writer(entry())
    await w.write(b"x" * (disk.WRITE_BUFFER + 1))  # on disk under tmp/ by now
    assert await d.get(KEY) == []
    await w.abort()
    assert not await w.commit()
    assert await d.get(KEY) == [] and list((tmp_path / "tmp").iterdir()) == []
    await d.close()


async def test_over_max_object_size_stores_nothing(tmp_path: Path) -> None:
    d = tier(tmp_path, max_object_size=disk.WRITE_BUFFER * 2)
    w = d.writer(entry())
    results = [await w.write(b"y" * disk.WRITE_BUFFER) for _ in range(3)]
    assert results == [True, True, False]
    assert not await w.commit()
    assert await d.get(KEY) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert d.stats().too_large == 1
    await d.close()


async def test_a_killed_writer_leaves_no_visible_entry(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, str(HERE / "disk_child.py"), str(tmp_path), "hang"],
        stdout=subprocess.PIPE,
        cwd=HERE,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    child.kill()
    child.wait()
    child.stdout.close()
    assert len(list((tmp_path / "tmp").iterdir())) == 1  # the half-written body
    d = tier(tmp_path)
    assert await d.get("https://example.com/half") == []
    assert entry_files(tmp_path) == []
    # Much later, a sweep removes the dead writer's file.
    d._clock = lambda: time.time() + disk.STALE_TMP + 1
    await d.sweep()
    assert list((tmp_path / "tmp").iterdir()) == []
    await d.close()


async def test_a_torn_file_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    d = tier(tmp_path)
    await put(d, entry(), b"complete body")
    [path] = entry_files(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    assert await d.get(KEY) == []
    assert not path.exists()
    await d.close()


async def test_restart_keeps_entries_and_variants_replace_their_own(tmp_path: Path) -> None:
    d = tier(tmp_path)
    await put(d, entry(lang="de"), b"de")
    await put(d, entry(lang="fr"), b"fr")
    await put(d, entry(lang="de"), b"DE")
    await d.close()
    again = tier(tmp_path)
    hits = await again.get(KEY)
    assert sorted([await read_body(h.body) for h in hits]) == [b"DE", b"fr"]
    assert await again.delete(KEY) == 2 and await again.get(KEY) == []
    await again.close()


async def test_purge_by_tag_and_prefix(tmp_path: Path) -> None:
    d = tier(tmp_path)
    await put(d, entry("/p/1", tags=("product", "p1")), b"1")
    await put(d, entry("/p/2", tags=("product",)), b"2")
    await put(d, entry("/q/3", tags=("p1",)), b"3")
    assert await d.purge_tag("p1") == 2
    assert await d.purge_prefix("https://example.com/p/") == 1
    assert entry_files(tmp_path) == []
    await d.close()


async def test_expired_entries_without_validator_are_dropped(tmp_path: Path) -> None:
    d = DiskTier(tmp_path, 1 << 30, clock=lambda: T0 + 120)
    await put(d, entry(max_age=60, must_revalidate=True), b"x")
    assert await d.get(KEY) == [] and entry_files(tmp_path) == []
    await d.close()


async def test_the_byte_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    body = b"z" * 10_000
    d = tier(tmp_path, max_bytes=100_000)
    for i in range(30):
        await put(d, entry(f"/{i}"), body, chunk=5000)
        # mtimes one second apart, oldest first, as if written over half a minute
        for p in entry_files(tmp_path):
            if p.stat().st_mtime > T0 + 1000:
                os.utime(p, (T0 + i, T0 + i))
        await d.sweep()
        assert sum(p.stat().st_size for p in entry_files(tmp_path)) <= 100_000
    left = [i for i in range(30) if await d.get(f"https://example.com/{i}")]
    assert left == list(range(22, 30))  # the most recent ones stayed
    assert await d.get("https://example.com/0") == []
    assert d.stats().evictions >= 20
    await d.close()


async def test_two_processes_share_the_directory(tmp_path: Path) -> None:
    d = tier(tmp_path)
    await put(d, entry("/mine"), b"parent")
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "disk_child.py"), str(tmp_path), "write", "20", cwd=HERE
    )
    exited = asyncio.ensure_future(child.wait())
    # Read while the other process writes: only complete entries are ever seen.
    while not exited.done():
        for i in range(20):
            for hit in await d.get(f"https://example.com/c/{i}"):
                assert await read_body(hit.body) == f"child {i}".encode()
        await asyncio.sleep(0.005)
    assert await exited == 0
    for i in range(20):
        [hit] = await d.get(f"https://example.com/c/{i}")
        assert await read_body(hit.body) == f"child {i}".encode()
    await d.close()


@pytest.mark.parametrize("size", [0, 1])
async def test_empty_and_tiny_bodies(tmp_path: Path, size: int) -> None:
    d = tier(tmp_path)
    assert await put(d, entry(), b"x" * size)
    [hit] = await d.get(KEY)
    assert await read_body(hit.body) == b"x" * size and hit.entry.content_length == size
    await d.close()


async def test_file_work_runs_off_the_event_loop(tmp_path: Path) -> None:
    d = tier(tmp_path)
    await put(d, entry(), b"x")
    real = d._read_key

    def slow_read(key: str, now: float) -> object:
        time.sleep(0.3)  # a disk that stalls
        return real(key, now)

    d._read_key = slow_read  # type: ignore[method-assign,assignment]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    assert len(await d.get(KEY)) == 1
    task.cancel()
    assert ticks >= 10  # the loop kept running while the thread waited
    await d.close()
