"""The one assertion the whole suite shares: no protected byte ever reaches a client
whose request was not allowed.

Protected test content carries a canary, random per test session (`CANARY`, also in
the environment as FRONTDESK_TEST_CANARY so that backends in other processes can
serve it); `register()` adds others. `protected(n)` makes protected content.

Every answer the test process receives passes through one check, installed for the
whole session by tests/conftest.py (an autouse fixture), so no test has to remember it:

- At the socket: `socket.socket.recv` / `recv_into` and `ssl.SSLSocket.recv` /
  `recv_into` are wrapped. Raw sockets, http.client, urllib, httpx and asyncio's
  transports all read through them. A scanner per socket follows the status lines of
  the answers on its connection; a canary inside an answer whose status says the
  request was not allowed (REFUSED: 401, 403, 404 — the answer to an `internal`
  route asked directly —, 407, 410, 429) is a leak.
- The shared clients (tests/conftest.py's RawConn parser, proc_helpers.read_response,
  access_helpers.refused) call `check_answer()` with the status they parsed.
- Answers read by another process (curl) are given to `check_stream()`.
- Inside `unauthorised()`, a test says its requests are not allowed: any canary
  received then is a leak, whatever the status (a 200, a 503).

A leak raises `Leak` where it is received and is recorded as well: a test whose code
swallowed the exception (a retry loop catching AssertionError) still fails, at
teardown, when the autouse fixture finds the record.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import ssl
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

REFUSED = frozenset({401, 403, 404, 407, 410, 429})
"""Statuses that say a request was not allowed: their answers never carry a canary."""

CANARY = os.environ.get("FRONTDESK_TEST_CANARY") or f"PROTECTED-{secrets.token_hex(8)}"
os.environ["FRONTDESK_TEST_CANARY"] = CANARY  # backends started later serve the same one

_canaries: list[bytes] = [CANARY.encode()]
_tail = len(_canaries[0]) + 16
_leaks: list[str] = []
_lock = threading.Lock()
_unauthorised = 0
_streams: weakref.WeakKeyDictionary[Any, _Stream] = weakref.WeakKeyDictionary()
_STATUS = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])[ \r]")


class Leak(AssertionError):
    """Protected bytes in an answer to a request that was not allowed."""


def register(canary: str | bytes) -> None:
    """Treat `canary` as protected too (at least 12 bytes: no accidental match)."""
    global _tail
    data = canary.encode() if isinstance(canary, str) else canary
    assert len(data) >= 12, "a canary that short could match by chance"
    with _lock:
        if data not in _canaries:
            _canaries.append(data)
            _tail = max(_tail, len(data) + 16)


def canaries() -> tuple[bytes, ...]:
    return tuple(_canaries)


def protected(size: int = 1160) -> bytes:
    """`size` bytes of protected content: the canary, repeated."""
    unit = f"{CANARY};do-not-leak;".encode()
    return (unit * (size // len(unit) + 1))[:size]


def _found(data: bytes) -> bytes | None:
    for c in _canaries:
        if c in data:
            return c
    return None


def _leak(message: str) -> None:
    with _lock:
        _leaks.append(message)
    raise Leak(message)


def take_leaks() -> list[str]:
    """The leaks recorded since the last call, forgotten now."""
    with _lock:
        found = list(_leaks)
        _leaks.clear()
    return found


@contextmanager
def unauthorised() -> Iterator[None]:
    """Requests made inside are not allowed: nothing received may carry a canary."""
    global _unauthorised
    with _lock:
        _unauthorised += 1
    try:
        yield
    finally:
        with _lock:
            _unauthorised -= 1


def check_answer(
    status: int,
    headers: Iterable[tuple[bytes | str, bytes | str]],
    body: bytes,
    *,
    allowed: bool | None = None,
) -> None:
    """One parsed answer: Leak when the request was not allowed (`allowed=False`, a
    REFUSED status, or inside `unauthorised()`) and any of it carries a canary."""
    if allowed is True and not _unauthorised:
        return
    if allowed is None and status not in REFUSED and not _unauthorised:
        return
    raw = [v.encode("latin-1") if isinstance(v, str) else v for h in headers for v in h]
    canary = _found(body) or _found(b"\n".join(raw))
    if canary is not None:
        _leak(f"protected bytes ({canary.decode()}) in a {status} answer to a refused request")


def check_stream(data: bytes, what: str = "a captured answer") -> None:
    """Answers received by another process (curl -i, a log of a connection)."""
    _Stream(what).feed(data)


class _Stream:
    """What one connection has received so far, as far as the check needs it: the
    status of the answer being read and the last bytes (a canary or status line may
    straddle two reads)."""

    __slots__ = ("what", "status", "tail", "start", "seen")

    def __init__(self, what: str) -> None:
        self.what = what
        self.status: int | None = None  # of the answer the bytes now belong to
        self.tail = b""
        self.start = 0  # offset of `tail` in the connection's byte stream
        self.seen = 0  # bytes of the stream already checked for canaries

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        base = self.start
        marks = [(m.start(), int(m.group(1))) for m in _STATUS.finditer(data)]
        leaked = None
        for canary in _canaries:
            at = data.find(canary)
            while at >= 0 and leaked is None:
                if base + at + len(canary) > self.seen:  # not checked with earlier bytes
                    status = self.status
                    for pos, code in marks:
                        if pos < at:
                            status = code
                    if (status is not None and status in REFUSED) or _unauthorised:
                        leaked = f"protected bytes ({canary.decode()}) in a {status} answer"
                at = data.find(canary, at + 1)
        if marks:
            self.status = marks[-1][1]
        self.seen = base + len(data)
        keep = min(len(data), _tail)
        self.tail = data[len(data) - keep :]
        self.start = base + len(data) - keep
        if leaked is not None:
            _leak(f"{leaked} received on {self.what}")


def _feed(sock: Any, data: bytes) -> None:
    stream = _streams.get(sock)
    if stream is None:
        try:
            peer = sock.getpeername()
        except OSError:
            peer = "?"
        stream = _streams[sock] = _Stream(f"a socket from {peer}")
    stream.feed(data)


_installed: dict[str, Any] = {}


def _wrapped(cls: type, name: str, encrypted: bool) -> Any:
    original = getattr(cls, name)
    _installed[f"{cls.__name__}.{name}"] = original

    if name == "recv":

        def recv(self: Any, *args: Any, **kw: Any) -> Any:
            data = original(self, *args, **kw)
            # An SSLSocket without its TLS layer reads through socket.recv: counted there.
            if data and (not encrypted or getattr(self, "_sslobj", None) is not None):
                _feed(self, bytes(data))
            return data

        recv.leakcheck = True  # type: ignore[attr-defined]
        return recv

    def recv_into(self: Any, buffer: Any, *args: Any, **kw: Any) -> int:
        n: int = original(self, buffer, *args, **kw)
        if n and (not encrypted or getattr(self, "_sslobj", None) is not None):
            _feed(self, bytes(memoryview(buffer)[:n]))
        return n

    recv_into.leakcheck = True  # type: ignore[attr-defined]
    return recv_into


def install() -> None:
    """Wrap the receiving methods of every socket in this process (idempotent)."""
    if installed():
        return
    for cls, encrypted in ((socket.socket, False), (ssl.SSLSocket, True)):
        for name in ("recv", "recv_into"):
            setattr(cls, name, _wrapped(cls, name, encrypted))


def installed() -> bool:
    return all(
        getattr(getattr(cls, n), "leakcheck", False)
        for cls in (socket.socket, ssl.SSLSocket)
        for n in ("recv", "recv_into")
    )
