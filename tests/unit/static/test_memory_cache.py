"""The static memory cache stays within its byte budget (CLOCK eviction), and closes
the descriptors of what it drops."""

from __future__ import annotations

import os
from pathlib import Path

from frontdesk.config.static import Static
from frontdesk.static.action import StaticFiles
from frontdesk.static.resource import Resource, Variant


def resource(size: int, fd: int | None = None) -> Resource:
    body = b"x" * size
    identity = Variant("", size, b'"t"', (0, 0, size, 0), body)
    return Resource("f", 0, {"": identity}, (), (), in_memory=True, sendfile_fd=fd)


def test_budget_is_kept_and_recently_used_survive(tmp_path: Path) -> None:
    action = StaticFiles(Static(root=str(tmp_path), memory_cache=100_000), "/", "t")
    for i in range(10):
        action._remember(f"/{i}", resource(20_000))
        action.memory[f"/{0}"].used = True  # /0 is hot: it keeps its place
        assert action.charged <= 100_000
    assert "/0" in action.memory
    assert len(action.memory) <= 5
    assert action.charged == sum(r.charge for r in action.memory.values())


def test_too_big_for_the_cache_is_not_kept(tmp_path: Path) -> None:
    action = StaticFiles(Static(root=str(tmp_path), memory_cache=10_000), "/", "t")
    action._remember("/big", resource(20_000))
    assert action.memory == {} and action.charged == 0


def test_dropped_entries_close_their_descriptor(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    action = StaticFiles(Static(root=str(tmp_path), memory_cache=50_000), "/", "t")
    action._remember("/a", resource(30_000, fd))
    action._remember("/b", resource(30_000))
    assert "/a" not in action.memory
    try:
        os.fstat(fd)
        raise AssertionError("descriptor still open")
    except OSError:
        pass
