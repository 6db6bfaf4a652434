"""HTTP Basic auth (RFC 7617) against an htpasswd file.

The hot path of a keep-alive client is a dict lookup: a successful verification is
remembered by the exact Authorization value (bounded; forgotten when the file
changes), so bcrypt/argon2 run once per client, not once per request. A value not
yet verified is checked in a thread of its own pool (the hash takes ~50-250 ms by
design, and the loop keeps answering meanwhile); concurrent requests carrying the
same value wait for the same verification. The file is stat()ed at most once a
second, in a thread, and reloaded when its mtime, size or inode change.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from frontdesk.access.htpasswd import Entry, Parsed, hash_password, parse, verify
from frontdesk.access.rules import refusal
from frontdesk.log import error_log
from frontdesk.pipeline.layer import PENDING, Check

if TYPE_CHECKING:
    from frontdesk.server.clock import Clock
    from frontdesk.server.request import Request
    from frontdesk.server.response import FixedResponse

__all__ = ["BasicAuth", "credentials"]

RECHECK = 1.0  # seconds between stat() calls on the htpasswd file
MAX_VERIFIED = 1024  # remembered successful Authorization values per rule (per worker)
_Stamp = tuple[int, int, int]

_pool: ThreadPoolExecutor | None = None
_dummy: list[Entry] = []


def _hash_pool() -> ThreadPoolExecutor:
    # Its own threads: a burst of logins never queues behind (nor delays) disk I/O.
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="frontdesk-hash")
    return _pool


def credentials(value: bytes) -> tuple[str, bytes] | None:
    """(user, password) from `Basic base64(user:password)` (RFC 7617 §2), or None."""
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password  # RFC 7617 §2.1: charset="UTF-8"
    except UnicodeDecodeError:
        return None


def _verify(entry: Entry | None, password: bytes) -> bool:
    if entry is None:
        # An unknown user costs the same as a known one: timing tells nothing.
        if not _dummy:
            _dummy.append(Entry("", "bcrypt", hash_password(os.urandom(12), rounds=10)))
        verify(_dummy[0], password)
        return False
    return verify(entry, password)


def _read(path: str, known: _Stamp | None) -> tuple[_Stamp, Parsed] | None:
    """In a thread: the file's stamp and contents when they changed since `known`."""
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == known:
            return None
        with open(path, encoding="utf-8") as f:
            return stamp, parse(f.read())
    except (OSError, UnicodeDecodeError) as exc:
        error_log.error("htpasswd %s: %s; nobody is let in until it is readable", path, exc)
        return (0, 0, 0), Parsed({}, [], [])


class BasicAuth(Check):
    hot_safe = True

    def __init__(self, path: str, realm: str, server: str) -> None:
        self.path = path
        quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = refusal(
            401,
            "Unauthorized",
            server,
            [("WWW-Authenticate", f'Basic realm="{quoted}", charset="UTF-8"')],
        )
        self.entries: dict[str, Entry] = {}
        self.verified: dict[bytes, str] = {}
        self.generation = 0
        self.stamp: _Stamp | None = None
        self.next_stat = 0.0
        self._reading = False
        self._flights: dict[bytes, asyncio.Future[bool]] = {}
        loaded = _read(path, None)  # at load time, before the loop serves anyone
        assert loaded is not None
        self._apply(*loaded)

    # ------------------------------------------------------------- the file

    def _apply(self, stamp: _Stamp, parsed: Parsed) -> None:
        for line, message in parsed.warnings:
            error_log.warning("htpasswd %s:%d: %s", self.path, line, message)
        for line, message in parsed.errors:
            error_log.error("htpasswd %s:%d: %s (line ignored)", self.path, line, message)
        self.stamp = stamp
        self.entries = parsed.entries
        self.verified = {}  # a removed user or a changed password takes effect now
        self.generation += 1

    def _recheck(self, now: float) -> None:
        self.next_stat = now + RECHECK
        if self._reading:
            return
        self._reading = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, _read, self.path, self.stamp)
        future.add_done_callback(self._reread)

    def _reread(self, future: asyncio.Future[tuple[_Stamp, Parsed] | None]) -> None:
        self._reading = False
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if result is not None:
            self._apply(*result)

    # ------------------------------------------------------------- the check

    def hot(self, headers: list[tuple[bytes, bytes]], clock: Clock) -> bool:
        for name, value in headers:
            if len(name) == 13 and name.lower() == b"authorization":
                if value in self.verified:
                    if clock.now >= self.next_stat:
                        self._recheck(clock.now)
                    return True
                return False
        return False

    def check(self, req: Request) -> Any:
        value = req.header(b"authorization")
        if value is None:
            return self.challenge
        user = self.verified.get(value)
        if user is None:
            return PENDING
        if req.start >= self.next_stat:
            self._recheck(req.start)
        req.user = user
        return None

    async def settle(self, req: Request) -> FixedResponse | None:
        value = req.header(b"authorization") or b""
        creds = credentials(value)
        if creds is None:
            return self.challenge
        user, password = creds
        flight = self._flights.get(value)
        if flight is None:
            loop = asyncio.get_running_loop()
            entry = self.entries.get(user)
            flight = loop.run_in_executor(_hash_pool(), _verify, entry, password)
            self._flights[value] = flight
            generation = self.generation

            def landed(f: asyncio.Future[bool]) -> None:
                self._flights.pop(value, None)
                ok = not f.cancelled() and f.exception() is None and f.result()
                if ok and generation == self.generation:  # not from a replaced file
                    if len(self.verified) >= MAX_VERIFIED:
                        self.verified.clear()
                    self.verified[value] = user

            flight.add_done_callback(landed)
        if not await asyncio.shield(flight):
            return self.challenge
        req.user = user
        return None
