"""Which worker is fetching a key from the origin: request collapsing across workers.

Within a worker, concurrent misses for one key wait on the first one's fetch
(runtime.Flight). Across the workers of a server they meet here: the worker that
starts a fetch takes the key's lease, and a worker that misses the same key meanwhile
waits until the lease is let go (the response stored, or known not to be), then reads
the store again. nginx's `proxy_cache_lock` does the same across its workers, polling
every 500 ms; a waiter here looks every few milliseconds (a memory read).

A lease is two things at the key's board slot (board.py): a POSIX record lock on that
byte of the `leases` file, and the key's fingerprint (8 more bytes of its hash) in a
mapped array. The lock says a fetch is on, and the kernel drops it when its process
dies, so a crashed worker leaves no lease behind; the fingerprint says for which key,
since keys share slots. A slot holds one lease at a time: another key of the same slot
is fetched without one (collapsed within its worker only).

POSIX record locks belong to the process, not to a descriptor: taking a lock on a byte
the process holds already succeeds, and dropping a test lock would drop its own lease.
So a worker remembers the slots it holds and never probes them.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .board import SLOTS, open_shared, slot_of

_SIZE = SLOTS * 8  # a uint64 fingerprint per slot


def fingerprint(kid: bytes) -> int:
    """The key's mark in its slot: never 0, the mark of a free slot."""
    return int.from_bytes(kid[2:10], "little") or 1


class Leases:
    """The lease file of one cache, mapped from `path` (created when missing)."""

    def __init__(self, path: Path) -> None:
        # The descriptor stays open: the locks are taken on it (and closing any
        # descriptor of the file would drop them all).
        self._fd, self._map = open_shared(path, _SIZE)
        self._view = memoryview(self._map)
        self._prints = self._view.cast("Q")
        self._held: dict[int, int] = {}  # slot → fingerprint, of the leases held here
        self._closed = False

    def take(self, kid: bytes) -> bool:
        """Take the lease of `kid` for a fetch; False if its slot is taken (by another
        worker, or here by another key)."""
        slot = slot_of(kid)
        if slot in self._held or self._closed:
            return False
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
        except OSError:
            return False
        mark = fingerprint(kid)
        self._prints[slot] = mark
        self._held[slot] = mark
        return True

    def release(self, kid: bytes) -> None:
        """Let go of the lease of `kid`, if this process holds it."""
        slot = slot_of(kid)
        if self._held.get(slot) != fingerprint(kid):
            return
        del self._held[slot]
        # The mark goes first: a waiter that sees it gone rereads the store, which the
        # fetch has written (or given up on) before letting go.
        self._prints[slot] = 0
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, slot)

    def marked(self, kid: bytes) -> bool:
        """Whether another process's lease names `kid` (a memory read, no system call;
        a crashed holder's mark stays: `fetching_elsewhere` tells)."""
        slot = slot_of(kid)
        if self._closed or slot in self._held:
            return False
        return self._prints[slot] == fingerprint(kid)

    def fetching_elsewhere(self, kid: bytes) -> bool:
        """Whether another process holds the lease of `kid` now."""
        return self.marked(kid) and self.locked_elsewhere(kid)

    def locked_elsewhere(self, kid: bytes) -> bool:
        """Whether another process holds the lock of `kid`'s slot (for `kid` or for
        another key of the slot: the mark tells which)."""
        slot = slot_of(kid)
        if self._closed or slot in self._held:
            return False
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, slot)
        except OSError:
            return True
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, slot)
        return False

    def close(self) -> None:
        """Unmapped and closed (the worker is stopping): every lease it held is let go,
        and the fetches still running find nothing to release."""
        self._closed = True
        self._held.clear()
        self._prints.release()
        self._view.release()
        self._map.close()
        os.close(self._fd)  # drops every lock this process holds on the file
