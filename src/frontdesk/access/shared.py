"""Token buckets every worker of one frontdesk draws from: a shared-memory table.

Workers are separate processes, so a per-process table would let a client have N
times its limit. The buckets live instead in one file mapped by every worker
(under /dev/shm when it exists: memory, not disk), named after the master's pid
and the limit's settings, so the workers of one master share it and nothing else
does. The table is set-associative: a key hashes (blake2b, stable across processes)
to a set of 8 slots; a key not found takes an empty slot, else the slot whose bucket
has refilled (it carries no information), else the one least recently used. Memory
is the file's fixed size, whatever the number of distinct clients.

Each set is guarded by an fcntl record lock on one byte of a lock stripe (256
stripes), so workers contend only when their keys share a stripe. Times come from
CLOCK_MONOTONIC, which every process on the machine shares.

Files of masters that are gone are removed when the next table is opened.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import re
import struct
import tempfile

from frontdesk.access.buckets import Taken

__all__ = ["SharedBuckets", "table_path"]

_SLOT = struct.Struct("<Qdd")  # key hash (0 = empty), tokens, at
_WAYS = 8
_STRIPES = 256
_NAME = re.compile(r"frontdesk-ratelimit-(\d+)-[0-9a-f]+$")


def _directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def table_path(owner: int, settings: str) -> str:
    digest = hashlib.sha1(settings.encode()).hexdigest()[:16]
    return os.path.join(_directory(), f"frontdesk-ratelimit-{owner}-{digest}")


def _remove_orphans(directory: str, keep: int) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            m = _NAME.match(name)
            if m is None or int(m.group(1)) == keep:
                continue
            try:
                os.kill(int(m.group(1)), 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))
            except PermissionError:
                pass  # alive, someone else's


class SharedBuckets:
    """The Buckets interface (take) over a table shared by the processes mapping `path`."""

    def __init__(self, path: str, rate: float, capacity: int, max_keys: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.sets = max(_STRIPES, 1 << max(0, (max_keys - 1).bit_length() - 3))
        size = self.sets * _WAYS * _SLOT.size
        owner = _NAME.search(os.path.basename(path))
        if owner is not None:
            _remove_orphans(os.path.dirname(path), int(owner.group(1)))
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self.fd).st_size != size:
            os.ftruncate(self.fd, size)  # zeros: every slot empty
        self.map = mmap.mmap(self.fd, size)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)

    def size(self) -> int:
        """Slots holding a key now (for the admin API, never on the request path): the
        first byte of each slot, read without locks, is 0 only in an empty slot."""
        first = self.map[:: _SLOT.size]
        return len(first) - first.count(0)

    @property
    def max_keys(self) -> int:
        return self.sets * _WAYS

    def take(self, key: str, now: float) -> Taken:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        group = digest % self.sets  # before the low bit is set: every set is used
        # Stored odd: never 0 (an empty slot), and a slot's first byte is 0 only when
        # it is empty (size() counts on it).
        h = digest | 1
        base = group * _WAYS * _SLOT.size
        stripe = group % _STRIPES
        fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, stripe)
        try:
            return self._take(h, base, now)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, stripe)

    def _take(self, h: int, base: int, now: float) -> Taken:
        m = self.map
        rate, capacity = self.rate, self.capacity
        victim = -1
        victim_score = 0.0
        found = -1
        tokens = float(capacity)
        for way in range(_WAYS):
            offset = base + way * _SLOT.size
            slot_hash, slot_tokens, at = _SLOT.unpack_from(m, offset)
            if slot_hash == h:
                found = offset
                if at > now:
                    # Stored by a worker whose clock is ahead (each worker's clock is
                    # read once per tick, so theirs differ by up to a tick): no time
                    # has passed, rather than negative time that would eat a token.
                    now = at
                tokens = min(float(capacity), slot_tokens + (now - at) * rate)
                break
            if slot_hash == 0:
                score = float("inf")  # empty: the best place
            elif slot_tokens + (now - at) * rate >= capacity:
                score = 1e300  # refilled: as good as empty
            else:
                score = now - at  # least recently used next
            if victim < 0 or score > victim_score:
                victim, victim_score = offset, score
        offset = found if found >= 0 else victim
        if tokens >= 1.0:
            tokens -= 1.0
            _SLOT.pack_into(m, offset, h, tokens, now)
            return Taken(True, int(tokens), 0.0, (capacity - tokens) / rate)
        _SLOT.pack_into(m, offset, h, tokens, now)
        return Taken(False, 0, (1.0 - tokens) / rate, (capacity - tokens) / rate)
