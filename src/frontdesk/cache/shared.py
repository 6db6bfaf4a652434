"""The memory tier: one cache for every worker of a server, with a hot copy in each.

Entries and bodies live in LMDB in a tmpfs (lmdb_store.py), so a response stored by any
worker is a hit in all, a 304 that freshens an entry, an invalidation and a purge are
seen by all at once, and `memory` bounds the whole server. Each worker keeps a hot copy
of the keys it served recently (the Prepared head and body, the hot lane's rendered
bytes, as memory.py builds them), checked against the key's generation on the shared
board (board.py) before every answer: an unchanged generation is one array read, a
changed one rereads the key from LMDB. A key known to be absent is remembered the same
way, so a run of misses does not reread LMDB either.

The hot copy of a worker holds at most HOT_FRACTION of `memory` (S3-FIFO over keys);
what does not fit is read from the map at each hit (a copy out of shared memory).

Where the directory comes from: the master makes one per server (`server_dir`) and
names it to its workers in FRONTDESK_CACHE_DIR; each [cache.NAME] is a subdirectory.
Without it (a tier built in a test, a lone worker) the tier makes a private one and
removes it on close. The server's directory lives as long as the master, so the cache
outlives a reload; directories of masters that died are removed by the next one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .board import Board, WriteLock, slot_of
from .entry import Entry
from .leases import Leases
from .lmdb_store import LmdbStore, Writing, pack_record, unpack_record
from .memory import ENTRY_OVERHEAD, Stored, make_stored
from .record import RecordError, dump_entry, key_id, load_entry, variant_id
from .s3fifo import S3Fifo
from .store import BufferingWriter, Hit, TierStats

log = logging.getLogger("frontdesk.cache")

ENV_DIR = "FRONTDESK_CACHE_DIR"
HOT_FRACTION = 4  # a worker's hot copy holds at most memory / 4
_PREFIX = "frontdesk-cache-"


@dataclass(frozen=True, slots=True)
class Local:
    """A worker's copy of one key: its variants as of generation `gen` of its slot."""

    slot: int
    gen: int
    stored: tuple[Stored, ...]
    until: float  # the earliest `until` of the variants (inf: none outlives its use)


class SharedTier:
    """A CacheStore shared by the workers of a server (see the module doc)."""

    shared = True

    def __init__(
        self,
        root: Path | None,
        max_bytes: int,
        max_object_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_object_size = max_object_size if max_object_size is not None else max_bytes // 8
        self._private: Path | None = None
        if root is None:
            root = self._private = Path(
                tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", suffix="-own", dir=_base())
            )
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._lock = WriteLock(root / "lock")
        self._board = Board(root / "board")
        self.leases = Leases(root / "leases")  # who is fetching what (collapsing)
        self._gens = self._board.gens
        self._freq = self._board.freq
        self._db = LmdbStore(root / "store", max_bytes)
        self._local: dict[str, Local] = {}
        self._hot: S3Fifo[str] = S3Fifo(max(max_bytes // HOT_FRACTION, 1))
        self._stats = TierStats(name="memory")
        self._clock = clock

    # -- lookups

    async def get(self, key: str) -> list[Hit]:
        return self.get_now(key)

    def get_now(self, key: str) -> list[Hit]:
        """get() without a coroutine: the lane without a Task calls it directly."""
        now = self._clock()
        local = self._local.get(key)
        if local is None or self._gens[local.slot] != local.gen:
            local = self._load(key, now)
        hits = [s.hit for s in local.stored if s.until is None or s.until >= now]
        if hits:
            self._count_hit(key, local.slot)
        else:
            self._stats.misses += 1
        return hits

    def variants(self, key: str, now: float) -> tuple[Stored, ...]:
        """The stored variants of `key` still of use at `now`, for the hot lane (no
        coroutine; the tuple the hot copy holds when all are)."""
        local = self._local.get(key)
        if local is None or self._gens[local.slot] != local.gen:
            local = self._load(key, now)
        stored = local.stored
        if local.until < now:
            stored = tuple(s for s in stored if s.until is None or s.until >= now)
        if stored:
            # Counted here, inline: this runs for every hit of the hot lane.
            self._stats.hits += 1
            self._hot.touch(key)
            slot = local.slot
            freq = self._freq
            if freq[slot] < 3:
                freq[slot] += 1
        return stored

    def _count_hit(self, key: str, slot: int) -> None:
        self._stats.hits += 1
        self._hot.touch(key)
        freq = self._freq
        if freq[slot] < 3:
            freq[slot] += 1

    def _load(self, key: str, now: float) -> Local:
        """Read `key` from LMDB into the hot copy (when it fits there)."""
        kid = key_hash(key)
        slot = slot_of(kid)
        gen = self._gens[slot]  # before the read: board.py says why
        stored: list[Stored] = []
        dead: list[bytes] = []
        for sid, record in self._db.read_key(kid):
            try:
                meta, body = unpack_record(record)
                entry = load_entry(meta)
            except (ValueError, RecordError):
                dead.append(sid)
                continue
            if entry.key != key:
                continue  # another key with the same 16-byte hash
            until = entry.useful_until()
            if until is not None and until < now:
                dead.append(sid)
                continue
            stored.append(make_stored(entry, body))
        untils = [s.until for s in stored if s.until is not None]
        local = Local(slot, gen, tuple(stored), min(untils, default=math.inf))
        if dead:
            self._write(lambda w: sum(w.remove(sid) for sid in dead))
        charge = sum(s.charge for s in stored) + ENTRY_OVERHEAD
        evicted = self._hot.insert(key, charge)
        for gone in evicted:
            self._local.pop(gone, None)
        if key not in evicted:
            self._local[key] = local
        return local

    # -- stores

    def writer(self, entry: Entry) -> BufferingWriter:
        return BufferingWriter(entry, self.max_object_size, self._put, self._stats)

    async def _put(self, entry: Entry, body: bytes) -> bool:
        return self.put_now(entry, body)

    def put_now(self, entry: Entry, body: bytes) -> bool:
        """Store a whole body at once; True if stored."""
        if len(body) > self.max_object_size:
            self._stats.too_large += 1
            return False
        entry = replace(entry, content_length=len(body), ref=None)
        sid = key_hash(entry.key) + bytes.fromhex(variant_id(entry.variant, entry.method))
        record = pack_record(dump_entry(entry), body)
        charge = len(record) + len(sid) + ENTRY_OVERHEAD
        if charge > self.max_bytes:
            self._stats.too_large += 1
            return False
        if self._write(lambda w: w.put(sid, record, charge)) is None:
            return False
        self._stats.stores += 1
        return True

    def _write(self, change: Callable[[Writing], int]) -> int | None:
        """Run `change` in a write transaction, then bump the slots it touched; None
        when LMDB refused (the map full of pages that readers still hold)."""
        import lmdb

        with self._lock.held():
            try:
                with self._db.begin(write=True) as txn:
                    w = Writing(self._db, txn, self._board)
                    result = change(w)
                    w.save()
            except lmdb.Error as exc:
                # The map full of pages readers still hold, or the tmpfs full: this
                # store is given up (nothing of it is visible), the cache goes on.
                self._stats.errors += 1
                if self._stats.errors == 1:
                    log.warning("cache: the shared memory tier refused a write (%s)", exc)
                return None
            self._board.bump(w.touched)
        self._stats.evictions += w.evicted
        return result

    # -- removal

    async def delete(self, key: str) -> int:
        kid = key_hash(key)
        return self._write(lambda w: w.remove_key(kid)) or 0

    async def purge_tag(self, tag: str) -> int:
        return self._remove_where(lambda e: tag in e.tags)

    async def purge_prefix(self, prefix: str) -> int:
        return self._remove_where(lambda e: e.key.startswith(prefix))

    def _remove_where(self, test: Callable[[Entry], bool]) -> int:
        # A purge is rare and administrative: a scan of the entries' JSON (bodies stay
        # in the map) is cheaper to keep right than an index kept on every store.
        doomed: list[bytes] = []
        for sid, meta in self._db.scan():
            try:
                if test(load_entry(meta)):
                    doomed.append(sid)
            except RecordError:
                doomed.append(sid)
        if not doomed:
            return 0
        return self._write(lambda w: sum(w.remove(sid) for sid in doomed)) or 0

    def stats(self) -> TierStats:
        s = self._stats
        s.bytes, s.entries = self._db.state()
        return replace(s, tiers=[])

    async def close(self) -> None:
        self._local.clear()
        self._hot = S3Fifo(self._hot.capacity)
        self._db.close()
        self._board.close()
        self.leases.close()
        self._lock.close()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)


def key_hash(key: str) -> bytes:
    """The key's hash as bytes: its board slot (board.py) and its lease (leases.py)."""
    return bytes.fromhex(key_id(key))


def _base() -> str:
    """Where the shared memory lives: a tmpfs when the machine has one."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


def cache_dir(name: str) -> Path | None:
    """The directory of [cache.NAME] in this server's shared directory, if any."""
    base = os.environ.get(ENV_DIR)
    if not base:
        return None
    safe = name if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) and name[0] != "." else key_id(name)
    return Path(base) / safe


def server_dir() -> Path:
    """A new shared directory for this master (and remove those of dead masters)."""
    base = _base()
    for item in Path(base).glob(_PREFIX + "*"):
        pid = item.name[len(_PREFIX) :].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(item, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", suffix="-srv", dir=base))
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_server_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path)
