"""What is known about one served file: its representations (identity, pre-compressed
siblings, on-the-fly compressed bodies) with validators, bodies or open descriptors.

`load()` runs in a worker thread (disk I/O); the objects it returns are then only
touched on the event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import brotli

from frontdesk.http.dates import format_http_date
from frontdesk.static.resolve import (
    Listing,
    Opened,
    Policy,
    Redirect,
    Refused,
    close_quietly,
    open_sibling,
    resolve,
)

if TYPE_CHECKING:
    from frontdesk.server.response import FixedResponse

# Pre-compressed sibling suffix per content coding (RFC 9110 §8.4.1).
SUFFIXES = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
ON_THE_FLY = ("br", "gzip")  # codings the standard library / brotli can produce

StatKey = tuple[int, int, int, int]  # dev, inode, size, mtime_ns: "changed on disk?"


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(slots=True, eq=False)
class Variant:
    """One representation of a file: identity or one content coding."""

    encoding: str  # "" = identity
    size: int
    etag: bytes  # with quotes, b"" when ETags are off
    key: StatKey | None  # of the file it comes from; None when compressed here
    body: bytes | None = None  # in memory ...
    fd: int | None = None  # ... or open, to be streamed (and closed by the caller)


@dataclass(slots=True, eq=False)
class Resource:
    """A file as served: type, caching headers and its representations."""

    rel: str
    last_modified: int  # seconds
    variants: dict[str, Variant]
    offer: tuple[str, ...]  # codings we can send besides identity, preference order
    compress: tuple[str, ...]  # those of `offer` still to be compressed on demand
    content_type: bytes = b""
    cache_control: bytes = b""
    in_memory: bool = False
    sendfile_fd: int | None = None  # the identity file, open, when sent with sendfile
    # Memory cache bookkeeping (event loop only).
    expires: float = 0.0  # clock.now after which it is re-checked on disk
    used: bool = False  # touched since the last eviction sweep (CLOCK)
    checking: float = 0.0  # when a request claimed the re-check on disk (0: none)
    charge: int = 0  # bytes counted against the memory cache
    # Rendered 200 answers by the request's raw Accept-Encoding (None: absent).
    responses: dict[bytes | None, FixedResponse] = field(default_factory=dict)
    # Rendered answers to the other request shapes (conditional, Range, If-Range), by
    # (method, the raw fields the answer depends on): a browser's revalidation sends the
    # same If-None-Match each time, a player the same Range. See static/action.py.
    answers: dict[tuple[bytes, ...], FixedResponse] = field(default_factory=dict)
    answers_room: int = 0  # the bytes `answers` may still take (static/action.py)
    # The last of `answers` the hot lane gave: (key, answer, its counter or None).
    last_answer: tuple[tuple[bytes, ...], FixedResponse, list[int] | None] | None = None

    @property
    def identity(self) -> Variant:
        return self.variants[""]

    @property
    def negotiable(self) -> bool:
        """More than one representation may be chosen: responses carry Vary."""
        return bool(self.offer)

    def keys(self) -> dict[str, StatKey]:
        return {e: v.key for e, v in self.variants.items() if v.key is not None}

    def close(self) -> None:
        close_quietly(self.sendfile_fd, *(v.fd for v in self.variants.values()))
        self.sendfile_fd = None
        for v in self.variants.values():
            v.fd = None

    def last_modified_text(self) -> bytes:
        return format_http_date(self.last_modified).encode("ascii")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    symlinks: str
    precompressed: tuple[str, ...]
    etag: str  # "stat" | "hash" | "off"
    max_in_memory: int  # read files up to this size into memory; 0 = never
    keep_fd_from: int  # and keep those this big open for sendfile(2); 0 = never
    compressible: bool  # set by the caller from the content type
    compress_min_size: int
    compress: bool


def load(
    root: str,
    rel: str,
    policy: Policy,
    options: Callable[[str], LoadOptions],
    known: Resource | None = None,
) -> Redirect | Listing | Refused | Resource:
    """Resolve `rel` and describe the file (thread). `options(rel)` gives the
    LoadOptions once the file's real name (hence its type) is known. When `known` is
    given and nothing changed on disk, `known` itself is returned."""
    result = resolve(root, rel, policy)
    if not isinstance(result, Opened):
        return result
    opts = options(result.rel)
    try:
        return _describe(result, opts, known)
    finally:
        close_quietly(result.dir_fd)


def _describe(opened: Opened, opts: LoadOptions, known: Resource | None) -> Resource:
    follow = opts.symlinks == "any"
    files: dict[str, tuple[int, os.stat_result]] = {"": (opened.fd, opened.st)}
    for coding in opts.precompressed:
        sibling = open_sibling(opened, SUFFIXES[coding], follow)
        if sibling is not None:
            files[coding] = sibling
    keys = {e: stat_key(st) for e, (_, st) in files.items()}
    if known is not None and known.keys() == keys and known.rel == opened.rel:
        for fd, _ in files.values():
            os.close(fd)
        return known
    variants: dict[str, Variant] = {}
    in_memory = all(st.st_size <= opts.max_in_memory for _, st in files.values())
    try:
        for coding, (fd, st) in files.items():
            body = _read_all(fd, st.st_size) if in_memory else None
            tag = _etag(opts.etag, st, body, fd)
            if coding and tag:
                tag = tag[:-1] + b"-" + coding.encode() + b'"'
            variants[coding] = Variant(
                coding,
                st.st_size if body is None else len(body),
                tag,
                keys[coding],
                body,
                None if in_memory else fd,
            )
    except BaseException:
        for fd, _ in files.values():
            os.close(fd)
        raise
    size = opened.st.st_size
    sendfile_fd = None
    if in_memory:
        for coding, (fd, _) in files.items():
            if coding == "" and 0 < opts.keep_fd_from <= size:
                sendfile_fd = fd  # the hot lane sends this body with sendfile(2)
            else:
                os.close(fd)
    fly: tuple[str, ...] = ()
    if opts.compress and opts.compressible and in_memory and size >= opts.compress_min_size:
        fly = tuple(c for c in ON_THE_FLY if c not in variants)
    offer = tuple(c for c in opts.precompressed if c in variants) + fly
    return Resource(
        rel=opened.rel,
        last_modified=int(opened.st.st_mtime),
        variants=variants,
        offer=offer,
        compress=fly,
        in_memory=in_memory,
        sendfile_fd=sendfile_fd,
    )


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    left = size
    offset = 0
    while left > 0:
        chunk = os.pread(fd, left, offset)
        if not chunk:
            break  # truncated meanwhile: what was read is what is served, consistently
        chunks.append(chunk)
        offset += len(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# Content hashes of streamed (not in memory) files, by stat key: hashing a big file is
# done once per change, not once per request. Bounded; cleared whole when full.
_HASHES: dict[StatKey, bytes] = {}
_HASH_CACHE = 1024


def _etag(mode: str, st: os.stat_result, body: bytes | None, fd: int) -> bytes:
    """A strong validator (RFC 9110 §8.8.3): it changes whenever the content does."""
    if mode == "off":
        return b""
    if mode == "stat":
        # Inode, size and mtime in nanoseconds: any write, replace or rename-over
        # changes at least one of them.
        return b'"%x-%x-%x"' % (st.st_ino, st.st_size, st.st_mtime_ns)
    key = stat_key(st)
    digest = _HASHES.get(key)
    if digest is None:
        h = hashlib.blake2b(digest_size=16)
        if body is not None:
            h.update(body)
        else:
            offset = 0
            while chunk := os.pread(fd, 1 << 20, offset):
                h.update(chunk)
                offset += len(chunk)
        digest = h.hexdigest().encode("ascii")
        if len(_HASHES) >= _HASH_CACHE:
            _HASHES.clear()
        _HASHES[key] = digest
    return b'"' + digest + b'"'


def compress(identity: Variant, coding: str) -> Variant:
    """The identity body compressed with `coding` (thread). Not worth it (no smaller):
    the identity variant itself, so the client simply gets identity."""
    assert identity.body is not None
    if coding == "br":
        data = brotli.compress(identity.body, quality=5)
    else:
        data = gzip.compress(identity.body, compresslevel=6, mtime=0)
    if len(data) >= len(identity.body):
        return identity
    tag = identity.etag[:-1] + b"-" + coding.encode() + b'"' if identity.etag else b""
    return Variant(coding, len(data), tag, None, data, None)
