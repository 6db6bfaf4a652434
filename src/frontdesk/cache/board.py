"""Counters every worker of a server maps: a generation and a hit count per key slot.

The shared memory tier (shared.py) keeps its entries in LMDB, which every worker
reads; each worker also keeps a hot copy of what it served recently, so that a hit
costs what it cost when the tier was the worker's own dict. The board tells a worker
whether its copy still holds: a writer (a store, a 304 freshening, an eviction, a
delete, a purge) bumps the generation of the key's slot after its LMDB transaction
commits, and a hot hit compares the slot's generation with the one it copied at.

Why this order is safe: a reader notes the generation *before* it reads LMDB. A write
whose bump it did not see yet will bump after it, so the copy is reread at the next
hit; a write it did see has committed, so LMDB already shows it. Writers hold the
server's write lock (`WriteLock`) from before their transaction to after their bump,
so two writers never bump the same slot to the same value.

Slots are the first two bytes of the key's hash (record.key_id): 65,536 of them. Keys
that share a slot share a generation, which costs a needless reread, never a stale
answer. The hit counts are S3-FIFO's frequency (s3fifo.py, capped at 3), kept here
so that a hit in any worker counts without a write transaction; a lost increment
between two workers only makes eviction a little less exact.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

SLOTS = 1 << 16
MAX_FREQ = 3
_SIZE = SLOTS * 8 + SLOTS  # a uint64 generation and a uint8 hit count per slot


def slot_of(kid: bytes) -> int:
    """The board slot of a key, from its hash (record.key_id as bytes)."""
    return (kid[0] << 8) | kid[1]


def open_shared(path: Path, size: int) -> tuple[int, mmap.mmap]:
    """The file at `path` (created when missing, grown to `size`), open and mapped."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Two workers may create it at once: growing a file to the size it already
        # has changes nothing, so neither erases what the other wrote.
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        return fd, mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        raise


class Board:
    """The generation and hit-count arrays, mapped from `path` (created when missing)."""

    def __init__(self, path: Path) -> None:
        fd, self._map = open_shared(path, _SIZE)
        os.close(fd)  # the map stays
        view = memoryview(self._map)
        self._view = view
        self.gens = view[: SLOTS * 8].cast("Q")
        self.freq = view[SLOTS * 8 :].cast("B")

    def bump(self, slots: set[int]) -> None:
        """New generations for `slots` (only under the write lock, after the commit)."""
        gens = self.gens
        for i in slots:
            gens[i] = (gens[i] + 1) & 0xFFFFFFFFFFFFFFFF

    def close(self) -> None:
        self.gens.release()
        self.freq.release()
        self._view.release()
        self._map.close()


class WriteLock:
    """The server-wide lock a writer holds around its transaction and its bumps."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
