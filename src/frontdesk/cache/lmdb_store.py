"""The entries of the shared memory tier in LMDB, bounded in bytes by S3-FIFO.

LMDB (the `lmdb` binding of the Lightning Memory-Mapped Database) is a B-tree in one
memory-mapped file, built for many reader processes: a read is a few pointer hops in
the map, without a lock or a system call; writers are serialised. The file lives in a
tmpfs (/dev/shm), so its pages are memory, shared by every worker instead of copied
into each (shared.py says where the directory comes from).

Databases in the environment:

    entries  slot id → record: u32 length of the entry JSON (record.dump_entry),
             the JSON, the body
    seqs     slot id → (sequence number, charge, queue)
    small    sequence number → slot id  (S3-FIFO's probation queue, oldest first)
    main     sequence number → slot id  (S3-FIFO's main queue, oldest first)
    meta     b"state" → (bytes charged, bytes in small, next sequence number, entries)

A slot id is the key's hash (record.key_id, 16 bytes) then the variant's (12 bytes),
so the variants of one key are neighbours and one cursor range finds them all.

Eviction is s3fifo.py's algorithm over these queues, run inside the writer's
transaction, with the hit counts on the shared board (board.py) so a hit in any
worker counts. The ghost queue is left out: an object evicted from probation and
asked for again enters probation again rather than the main queue.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb

from .board import MAX_FREQ, Board, slot_of

SMALL, MAIN = 0, 1
SMALL_FRACTION = 0.1
KID = 16  # bytes of the key hash at the head of a slot id
SEQ = struct.Struct(">Q")
WHERE = struct.Struct(">QQB")  # sequence number, charge, queue
STATE = struct.Struct(">QQQQ")
META_LEN = struct.Struct(">I")
_STATE_KEY = b"state"


def map_size(max_bytes: int) -> int:
    """Room in the map for `max_bytes` of entries: B-tree pages, freed pages that a
    reader still holds, and the queues need more than the bytes themselves."""
    return 2 * max_bytes + 64 * 1024 * 1024


def pack_record(meta: bytes, body: bytes) -> bytes:
    return META_LEN.pack(len(meta)) + meta + body


def unpack_record(value: Any) -> tuple[bytes, bytes]:
    """(entry JSON, body) of a record; ValueError when it is not one."""
    if len(value) < META_LEN.size:
        raise ValueError("short record")
    (n,) = META_LEN.unpack_from(value)
    if META_LEN.size + n > len(value):
        raise ValueError("record shorter than its entry")
    end = META_LEN.size + n
    return bytes(value[META_LEN.size : end]), bytes(value[end:])


class LmdbStore:
    """The environment and its databases, opened by one worker."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # No sync: a cache in memory has nothing to make durable. One reader slot per
        # thread that reads; stale slots of a worker that died are freed at open.
        self.env = lmdb.open(
            str(path),
            map_size=map_size(max_bytes),
            max_dbs=5,
            sync=False,
            metasync=False,
            readahead=False,
            lock=True,
        )
        self.env.reader_check()
        self.entries = self.env.open_db(b"entries")
        self.seqs = self.env.open_db(b"seqs")
        self.small = self.env.open_db(b"small")
        self.main = self.env.open_db(b"main")
        self.meta = self.env.open_db(b"meta")

    def begin(self, **kw: Any) -> Any:
        """A transaction. A reload whose config gives the cache more memory reopens the
        map larger; the workers that opened it before adopt the new size here."""
        try:
            return self.env.begin(**kw)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            return self.env.begin(**kw)

    def read_key(self, kid: bytes) -> list[tuple[bytes, bytes]]:
        """(slot id, record) of every variant stored under the key hash `kid`."""
        out: list[tuple[bytes, bytes]] = []
        with self.begin() as txn:
            cur = txn.cursor(self.entries)
            if cur.set_range(kid):
                for sid, value in cur:
                    if sid[:KID] != kid:
                        break
                    out.append((sid, value))
        return out

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """(slot id, entry JSON) of every record, bodies left in the map (purges)."""
        with self.begin(buffers=True) as txn:
            for sid, value in txn.cursor(self.entries):
                try:
                    (n,) = META_LEN.unpack_from(value)
                except struct.error:
                    continue
                yield bytes(sid), bytes(value[META_LEN.size : META_LEN.size + n])

    def state(self) -> tuple[int, int]:
        """(bytes charged, entries) now, over every worker."""
        with self.begin() as txn:
            raw = txn.get(_STATE_KEY, db=self.meta)
        if raw is None:
            return 0, 0
        total, _, _, count = STATE.unpack(raw)
        return total, count

    def close(self) -> None:
        self.env.close()


class Writing:
    """One write transaction: puts and removals, evicting down to the bound; the board
    slots it changed are in `touched` (bumped by the caller after the commit)."""

    def __init__(self, store: LmdbStore, txn: Any, board: Board) -> None:
        self.s = store
        self.txn = txn
        self.board = board
        self.touched: set[int] = set()
        self.evicted = 0
        raw = txn.get(_STATE_KEY, db=store.meta)
        self.total, self.small_bytes, self.next_seq, self.count = (
            STATE.unpack(raw) if raw is not None else (0, 0, 1, 0)
        )

    def save(self) -> None:
        state = STATE.pack(self.total, self.small_bytes, self.next_seq, self.count)
        self.txn.put(_STATE_KEY, state, db=self.s.meta)

    def put(self, sid: bytes, record: bytes, charge: int) -> int:
        """Store a record (replacing the slot's); 1."""
        s, txn = self.s, self.txn
        self.remove(sid)
        txn.put(sid, record, db=s.entries)
        self._enqueue(sid, charge, SMALL)
        self.total += charge
        self.count += 1
        self.touched.add(slot_of(sid))
        while self.total > s.max_bytes and self.count:
            self._evict_one()
        return 1

    def remove(self, sid: bytes) -> bool:
        s, txn = self.s, self.txn
        raw = txn.get(sid, db=s.seqs)
        if raw is None:
            return False
        seq, charge, queue = WHERE.unpack(raw)
        txn.delete(sid, db=s.entries)
        txn.delete(sid, db=s.seqs)
        txn.delete(SEQ.pack(seq), db=s.small if queue == SMALL else s.main)
        self.total -= charge
        if queue == SMALL:
            self.small_bytes -= charge
        self.count -= 1
        self.touched.add(slot_of(sid))
        return True

    def remove_key(self, kid: bytes) -> int:
        """Every variant under the key hash `kid`; the number removed."""
        cur = self.txn.cursor(self.s.entries)
        sids: list[bytes] = []
        if cur.set_range(kid):
            for sid in cur.iternext(keys=True, values=False):
                if sid[:KID] != kid:
                    break
                sids.append(sid)
        return sum(self.remove(sid) for sid in sids)

    def _enqueue(self, sid: bytes, charge: int, queue: int) -> None:
        s, txn = self.s, self.txn
        seq = self.next_seq
        self.next_seq += 1
        txn.put(sid, WHERE.pack(seq, charge, queue), db=s.seqs)
        txn.put(SEQ.pack(seq), sid, db=s.small if queue == SMALL else s.main)
        if queue == SMALL:
            self.small_bytes += charge

    def _evict_one(self) -> None:
        """s3fifo.S3Fifo._evict over the LMDB queues: move or reinsert objects that
        were hit, until one that was not leaves."""
        s, txn, freq = self.s, self.txn, self.board.freq
        small_capacity = int(s.max_bytes * SMALL_FRACTION)
        # Each pass either removes an object or spends one of its hits (at most
        # MAX_FREQ + 1 each); the cap only guards against a hit counter bumped by
        # other workers while we loop.
        for _ in range((MAX_FREQ + 2) * (self.count + 1)):
            from_small = self.small_bytes > 0 and (
                self.small_bytes >= small_capacity or self.small_bytes == self.total
            )
            db = s.small if from_small else s.main
            cur = txn.cursor(db)
            if not cur.first():
                return
            seq_raw, sid = cur.item()
            slot = slot_of(sid)
            hits = freq[slot]
            if hits == 0:
                self.remove(sid)
                self.evicted += 1
                return
            _, charge, _ = WHERE.unpack(txn.get(sid, db=s.seqs))
            txn.delete(seq_raw, db=db)
            if from_small:
                # Reused while in probation: into the main queue, its count reset.
                self.small_bytes -= charge
                freq[slot] = 0
            else:
                freq[slot] = hits - 1  # a second chance, as CLOCK
            self._enqueue(sid, charge, MAIN)
        cur = txn.cursor(s.small if self.small_bytes else s.main)
        if cur.first():
            self.remove(cur.value())
            self.evicted += 1
