"""The disk tier: one file per variant under a directory that all workers share.

Layout (ROOT is the configured directory)::

    ROOT/tmp/<random>                    bodies being written (never read)
    ROOT/<k[:2]>/<k>/<variant id>        committed entries; k = record.key_id(key)

A file is the body, then the entry (record.dump_entry), then a 12-byte trailer: the
entry's length (4 bytes, big-endian) and the magic b"FDC1DISK". The body comes first so
that it can be written as it streams, before the entry (whose content_length is only
known at the end) is appended.

Atomicity: a writer fills a file under ROOT/tmp and commits with os.replace, which
is atomic on POSIX: a reader opens either the old complete file or the new complete
one, never a half-written one. A worker that dies mid-write leaves only a file under
tmp/, which the next sweep removes once it is old. A file whose trailer does not check
out (a torn write after a power cut, another format) is deleted when met, as a miss.

Bound: each worker keeps an estimate of the bytes in ROOT (the last sweep's total plus
what it has written since) and sweeps when the estimate is over max_bytes or when the
last sweep is older than SWEEP_INTERVAL (other workers write too). A sweep lists every
file and deletes the least recently used (mtime, which a hit refreshes at most once a
minute) down to LOW_WATER of the bound. Two workers sweeping at once may both delete:
a file already gone is skipped, and a reader that has the file open keeps reading it
(POSIX unlink semantics).

All file work runs in the tier's own small thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from .entry import Entry
from .record import RecordError, dump_entry, key_id, load_entry, variant_id
from .store import Body, BytesBody, Hit, TierStats

log = logging.getLogger("frontdesk.cache")

T = TypeVar("T")

MAGIC = b"FDC1DISK"
TRAILER = struct.Struct(">I8s")
INLINE_BODY = 64 * 1024  # bodies up to this are read at once; larger ones streamed
READ_CHUNK = 256 * 1024
WRITE_BUFFER = 256 * 1024  # chunks are gathered up to this before a thread hop
SWEEP_INTERVAL = 10.0  # seconds: other workers' writes are seen at least this often
LOW_WATER = 0.9  # a sweep frees down to this fraction of max_bytes
TOUCH_AFTER = 60.0  # a hit refreshes the file's mtime when it is older than this
STALE_TMP = 600.0  # seconds after which a tmp/ file is a dead writer's leftover


@dataclass(frozen=True, slots=True)
class _Found:
    entry: Entry
    body: bytes | None  # read at once when small
    fd: int | None  # open for reading when large (a FileBody closes it)


class FileBody:
    """A large body still on disk: the file is open, chunks are read in the pool."""

    def __init__(self, tier: DiskTier, fd: int, size: int) -> None:
        self._tier = tier
        self._fd: int | None = fd
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def in_memory(self) -> bytes | None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            offset = 0
            while offset < self._size and self._fd is not None:
                n = min(READ_CHUNK, self._size - offset)
                chunk = await self._tier._run(os.pread, self._fd, n, offset)
                if not chunk:
                    raise OSError(f"cache file shorter than its entry says ({offset} bytes)")
                offset += len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class DiskTier:
    """A CacheStore in files under `root`, shared by the workers of one machine."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        max_bytes: int,
        max_object_size: int | None = None,
        threads: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_object_size = max_object_size if max_object_size is not None else max_bytes // 8
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="frontdesk-cache-disk")
        self._clock = clock
        self._estimate: int | None = None  # None: not swept yet in this process
        self._last_sweep = 0.0
        self._sweeping: asyncio.Task[None] | None = None
        self._stats = TierStats(name="disk")
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- paths

    def _key_dir(self, key: str) -> Path:
        k = key_id(key)
        return self.root / k[:2] / k

    def _entry_files(self) -> Iterator[os.DirEntry[str]]:
        for shard in _scandir(self.root):
            if shard.name == "tmp" or not shard.is_dir(follow_symlinks=False):
                continue
            for key_dir in _scandir(shard.path):
                yield from _scandir(key_dir.path)

    # -- lookups

    async def get(self, key: str) -> list[Hit]:
        found = await self._run(self._read_key, key, self._clock())
        hits: list[Hit] = []
        for f in found:
            body: Body
            if f.fd is not None:
                body = FileBody(self, f.fd, f.entry.content_length)
            else:
                body = BytesBody(f.body or b"")
            hits.append(Hit(f.entry, body))
        if hits:
            self._stats.hits += 1
        else:
            self._stats.misses += 1
        return hits

    def _read_key(self, key: str, now: float) -> list[_Found]:
        out: list[_Found] = []
        for item in _scandir(self._key_dir(key)):
            found = self._read_file(item.path)
            if found is None:
                continue
            if found.entry.key != key:  # a hash collision: not this key's entry
                _close(found)
                continue
            until = found.entry.useful_until()
            if until is not None and until < now:
                _close(found)
                _unlink(item.path)
                continue
            with contextlib.suppress(OSError):
                if now - item.stat().st_mtime > TOUCH_AFTER:
                    os.utime(item.path, (now, now))
            out.append(found)
        return out

    def _read_file(self, path: str, with_body: bool = True) -> _Found | None:
        """The entry in a committed file, with its body when small or the file kept
        open when large; None if unusable."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None  # evicted or replaced since it was listed
        try:
            size = os.fstat(fd).st_size
            if size < TRAILER.size:
                raise RecordError("too short")
            meta_len, magic = TRAILER.unpack(os.pread(fd, TRAILER.size, size - TRAILER.size))
            body_len = size - TRAILER.size - meta_len
            if magic != MAGIC or body_len < 0:
                raise RecordError("no trailer")
            entry = load_entry(os.pread(fd, meta_len, body_len), ref=path)
            if entry.content_length != body_len:
                raise RecordError("body length differs from the entry's")
            if with_body and body_len > INLINE_BODY:
                found = _Found(entry, None, fd)
                fd = -1  # now the FileBody's to close
                return found
            body = None
            if with_body:
                body = os.pread(fd, body_len, 0)
                if len(body) != body_len:
                    raise RecordError("short body")
            return _Found(entry, body, None)
        except (OSError, RecordError, struct.error) as exc:
            log.warning("cache: dropping unreadable disk entry %s (%s)", path, exc)
            _unlink(path)
            return None
        finally:
            if fd >= 0:
                os.close(fd)

    # -- stores

    def writer(self, entry: Entry) -> DiskWriter:
        return DiskWriter(self, entry)

    def _install(self, tmp: str, entry: Entry) -> int:
        """Append the entry and trailer to a complete body file and make it visible."""
        meta = dump_entry(entry)
        with open(tmp, "ab") as f:
            f.write(meta + TRAILER.pack(len(meta), MAGIC))
            size = f.tell()
        key_dir = self._key_dir(entry.key)
        final = key_dir / variant_id(entry.variant, entry.method)
        for _ in range(3):
            # A sweep in another worker may remove an emptied key directory between
            # makedirs and replace: try again.
            key_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(tmp, final)
                return size
            except FileNotFoundError:
                continue
        raise OSError(f"cache: could not install {final}")

    async def _committed(self, size: int) -> None:
        self._stats.stores += 1
        if self._estimate is not None:
            self._estimate += size
        self._maybe_sweep()

    # -- the bound

    def _maybe_sweep(self) -> None:
        due = self._clock() - self._last_sweep > SWEEP_INTERVAL
        over = self._estimate is None or self._estimate > self.max_bytes
        if (due or over) and (self._sweeping is None or self._sweeping.done()):
            self._sweeping = asyncio.get_running_loop().create_task(self.sweep())

    async def sweep(self) -> None:
        """Measure ROOT, evict down to LOW_WATER if over the bound, drop dead tmp files.
        A sweep a store started and that is still under way ends first: two sweeps in
        two threads would each measure while the other deletes."""
        running = self._sweeping
        if running is not None and not running.done() and running is not asyncio.current_task():
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        self._last_sweep = self._clock()
        try:
            total, evicted, entries = await self._run(self._sweep, self._clock())
        except OSError as exc:  # the directory itself unreadable: keep serving, say so
            log.warning("cache: disk sweep of %s failed (%s)", self.root, exc)
            self._stats.errors += 1
            return
        self._estimate = total
        self._stats.evictions += evicted
        self._stats.entries = entries

    def _sweep(self, now: float) -> tuple[int, int, int]:
        files: list[tuple[float, int, str]] = []
        for item in self._entry_files():
            with contextlib.suppress(OSError):
                st = item.stat(follow_symlinks=False)
                files.append((st.st_mtime, st.st_size, item.path))
        for item in _scandir(self.root / "tmp"):
            with contextlib.suppress(OSError):
                if now - item.stat().st_mtime > STALE_TMP:
                    _unlink(item.path)
        total = sum(size for _, size, _ in files)
        evicted = 0
        if total > self.max_bytes:
            files.sort()
            target = int(self.max_bytes * LOW_WATER)
            for _, size, path in files:
                if total <= target:
                    break
                if _unlink(path):
                    evicted += 1
                total -= size
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.dirname(path))  # only succeeds when empty
        return total, evicted, len(files) - evicted

    # -- removal

    async def delete(self, key: str) -> int:
        return await self._run(self._remove_where, lambda e: e.key == key, self._key_dir(key))

    async def purge_tag(self, tag: str) -> int:
        return await self._run(self._remove_where, lambda e: tag in e.tags, None)

    async def purge_prefix(self, prefix: str) -> int:
        return await self._run(self._remove_where, lambda e: e.key.startswith(prefix), None)

    def _remove_where(self, test: Callable[[Entry], bool], key_dir: Path | None) -> int:
        # Keys are hashed, so a purge reads every entry (rare, administrative); a tag
        # index would have to be kept consistent between workers.
        items = _scandir(key_dir) if key_dir is not None else self._entry_files()
        removed = 0
        for item in list(items):
            found = self._read_file(item.path, with_body=False)
            if found is not None and test(found.entry) and _unlink(item.path):
                removed += 1
        return removed

    def stats(self) -> TierStats:
        return replace(self._stats, bytes=self._estimate or 0, tiers=[])

    async def close(self) -> None:
        if self._sweeping is not None:
            with contextlib.suppress(Exception):
                await self._sweeping
        self._pool.shutdown(wait=True)


class DiskWriter:
    """Streams a body into ROOT/tmp; commit() appends the entry and renames it in."""

    def __init__(self, tier: DiskTier, entry: Entry) -> None:
        self._tier = tier
        self._entry = entry
        self._tmp = str(tier.root / "tmp" / secrets.token_hex(12))
        self._fd: int | None = None
        self._created = False
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._size = 0
        self._done = False

    async def write(self, chunk: bytes) -> bool:
        if self._done:
            return False
        self._size += len(chunk)
        if self._size > self._tier.max_object_size:
            self._tier._stats.too_large += 1
            await self.abort()
            return False
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= WRITE_BUFFER:
            await self._flush()
        return True

    async def _flush(self) -> None:
        data = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        try:
            if self._fd is None:
                self._created = True
                self._fd = await self._tier._run(_create, self._tmp)
            await self._tier._run(_write_all, self._fd, data)
        except OSError:
            await self.abort()
            raise

    async def commit(self) -> bool:
        if self._done:
            return False
        try:
            await self._flush()
            fd, self._fd = self._fd, None
            assert fd is not None
            os.close(fd)
            entry = self._entry
            if entry.content_length != self._size:
                entry = replace(entry, content_length=self._size)
            size = await self._tier._run(self._tier._install, self._tmp, replace(entry, ref=None))
        except OSError as exc:
            log.warning("cache: disk write failed for %s (%s)", self._entry.key, exc)
            self._tier._stats.errors += 1
            await self.abort()
            return False
        self._done = True
        await self._tier._committed(size)
        return True

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = []
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._created:
            await self._tier._run(_unlink, self._tmp)


def _close(found: _Found) -> None:
    if found.fd is not None:
        os.close(found.fd)


def _scandir(path: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def _create(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
