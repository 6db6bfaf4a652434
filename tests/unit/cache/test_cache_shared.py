"""The shared memory tier: LMDB under a hot copy per worker, checked by generation.

A second worker is a child process (shared_child.py): LMDB's locks are per process, so
one process must not open the same environment twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cache_helpers import T0
from store_helpers import entry, put

from frontdesk.cache.board import slot_of
from frontdesk.cache.memory import Prepared
from frontdesk.cache.record import key_id
from frontdesk.cache.shared import SharedTier, cache_dir, server_dir

HERE = Path(__file__).parent
A = "https://example.com/a"


def tier(root: Path | None, max_bytes: int = 1 << 20) -> SharedTier:
    return SharedTier(root, max_bytes, clock=lambda: T0 + 1)


def child(root: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "shared_child.py"), str(root), *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


async def test_store_get_and_the_prepared_head(tmp_path: Path) -> None:
    m = tier(tmp_path)
    try:
        assert await m.get(A) == []
        assert await put(m, entry(), b"hello world")
        [hit] = await m.get(A)
        assert hit.body.in_memory() == b"hello world"
        assert isinstance(hit.entry.ref, Prepared)
        assert b"cache-control: max-age=60\r\n" in hit.entry.ref.head
        assert m.lookup(A, T0 + 1) is not None
        s = m.stats()
        assert (s.stores, s.entries) == (1, 1) and s.bytes > 11
    finally:
        await m.close()


async def test_a_store_by_another_worker_is_seen_by_the_hot_copy(tmp_path: Path) -> None:
    m = tier(tmp_path)
    try:
        assert m.lookup(A, T0 + 1) is None  # remembered as absent, at this generation
        child(tmp_path, "put", "/a", "from the other worker")
        stored = m.lookup(A, T0 + 1)
        assert stored is not None and stored.prepared.body == b"from the other worker"
        assert m.lookup(A, T0 + 1) is stored  # unchanged generation: the same copy
        child(tmp_path, "put", "/a", "again")  # a 304 freshening is such a store
        stored = m.lookup(A, T0 + 1)
        assert stored is not None and stored.prepared.body == b"again"
        child(tmp_path, "delete", "/a")
        assert m.lookup(A, T0 + 1) is None
        child(tmp_path, "put", "/a", "tagged")
        assert m.lookup(A, T0 + 1) is not None
        child(tmp_path, "tag", "t")
        assert m.lookup(A, T0 + 1) is None and m.get_now(A) == []
    finally:
        await m.close()


async def test_a_larger_map_opened_by_a_new_worker_is_adopted(tmp_path: Path) -> None:
    m = tier(tmp_path)
    try:
        assert await put(m, entry("/b"), b"before")
        child(tmp_path, "bigger", "/a", "from a worker of the reloaded config")
        stored = m.lookup(A, T0 + 1)
        assert stored is not None and stored.prepared.body.startswith(b"from a worker")
        assert await put(m, entry("/c"), b"after")
        assert len(await m.get("https://example.com/c")) == 1
    finally:
        await m.close()


async def test_a_purge_here_reaches_what_the_other_worker_stored(tmp_path: Path) -> None:
    m = tier(tmp_path)
    try:
        child(tmp_path, "put", "/a", "x")
        child(tmp_path, "put", "/b", "y")
        assert await m.purge_prefix("https://example.com/a") == 1
        assert await m.get(A) == []
        assert len(await m.get("https://example.com/b")) == 1
    finally:
        await m.close()


async def test_the_bound_holds_over_every_worker(tmp_path: Path) -> None:
    m = tier(tmp_path, 1 << 20)
    try:
        child(tmp_path, "fill", "15", "100000")  # 1.5 MB from one worker
        for i in range(15, 30):  # and 1.5 MB from this one
            assert await put(m, entry(f"/f/{i}"), b"y" * 100_000, chunk=1 << 16)
        s = m.stats()
        assert s.bytes <= 1 << 20 and s.entries <= 10 and s.evictions > 0
        assert len(await m.get("https://example.com/f/29")) == 1  # the newest stays
    finally:
        await m.close()


async def test_hits_protect_an_entry_from_eviction(tmp_path: Path) -> None:
    m = tier(tmp_path, 1 << 20)
    try:
        assert await put(m, entry("/hot"), b"h" * 100_000)
        for _ in range(3):
            assert m.lookup("https://example.com/hot", T0 + 1) is not None
        for i in range(40):  # a scan of one-hit wonders
            assert await put(m, entry(f"/scan/{i}"), b"s" * 100_000)
        assert len(await m.get("https://example.com/hot")) == 1
    finally:
        await m.close()


async def test_an_expired_entry_is_dropped_when_found(tmp_path: Path) -> None:
    m = SharedTier(tmp_path, 1 << 20, clock=lambda: T0 + 1000)
    try:
        assert await put(m, entry(max_age=60), b"old")
        assert await m.get(A) == []
        assert m.stats().entries == 0
    finally:
        await m.close()


async def test_a_private_directory_is_removed_on_close() -> None:
    m = tier(None)
    root = m.root
    assert root.is_dir()
    await m.close()
    assert not root.exists()


def test_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_CACHE_DIR", raising=False)
    assert cache_dir("main") is None
    monkeypatch.setenv("FRONTDESK_CACHE_DIR", str(tmp_path))
    assert cache_dir("main") == tmp_path / "main"
    odd = cache_dir("../x")
    assert odd is not None and odd.parent == tmp_path and ".." not in odd.name
    made = server_dir()
    try:
        assert made.is_dir() and str(made).endswith("-srv")
    finally:
        made.rmdir()


def test_slots_spread_keys() -> None:
    slots = {slot_of(bytes.fromhex(key_id(f"https://example.com/{i}"))) for i in range(1000)}
    assert len(slots) > 980  # ~8 pairs of 1000 keys share a slot (birthday bound)
