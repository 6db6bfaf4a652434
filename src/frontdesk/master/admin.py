"""The admin API: JSON over HTTP/1.1, served by the master on a Unix socket or loopback.

It is how `frontdesk status` (and later `frontdesk pool drain`, `frontdesk purge`)
reach the running server: the master answers from what it knows and asks its workers
over the control channel. Traffic here is a handful of requests from an operator, so
each connection carries one request and closes; httptools still does the parsing.

Handlers are registered as (method, path pattern) → coroutine; a pattern may hold
`{name}` segments, handed to the handler as `params`. A handler answers JSON, or a
`Raw` body (the status page, /metrics).

On TCP the API asks for `Authorization: Bearer <admin.token>` when a token is set (it
must be, on anything but loopback: config/admin.py), compared in constant time; the
Unix socket is guarded by its file mode (owner only).
"""

from __future__ import annotations

import asyncio
import hmac
import http.client
import json
import os
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httptools

from frontdesk.log import error_log
from frontdesk.server.response import status_line

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
REQUEST_TIMEOUT = 10.0


@dataclass
class AdminRequest:
    method: str
    path: str
    query: str
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer: its Content-Type and body."""

    content_type: str
    body: bytes


Handler = Callable[[AdminRequest], Awaitable[tuple[int, Any]]]


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", pattern)
    out = []
    for i, part in enumerate(parts):
        out.append(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)")
    return re.compile("".join(out) + r"\Z")


class AdminServer:
    def __init__(self, token: str = "") -> None:
        self.token = token.encode()  # asked of TCP clients when set
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: asyncio.AbstractServer | None = None
        self._unix_path: str | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, _compile(pattern), handler))

    async def start(self, address: str | tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(address, str):
            if os.path.exists(address):
                os.remove(address)  # a socket file left by a server that was killed
            # Owner-only from the start: no window where others could connect.
            old = os.umask(0o177)
            try:
                self._server = await loop.create_unix_server(
                    lambda: _AdminProtocol(self), path=address
                )
            finally:
                os.umask(old)
            self._unix_path = address
        else:
            host, port = address
            self._server = await loop.create_server(
                lambda: _AdminProtocol(self), host=host, port=port
            )

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._unix_path is not None:
            try:
                os.remove(self._unix_path)
            except OSError:
                pass
            self._unix_path = None

    def authorized(self, authorization: bytes | None) -> bool:
        """Whether a TCP client's Authorization field carries the token (constant
        time: how much of a guess matched must not show in the answer's timing)."""
        if not self.token:
            return True
        scheme, _, given = (authorization or b"").partition(b" ")
        ok = hmac.compare_digest(given.strip(), self.token)
        return ok and scheme.lower() == b"bearer"

    async def dispatch(self, req: AdminRequest) -> tuple[int, Any]:
        allowed = []
        for method, pattern, handler in self._routes:
            m = pattern.match(req.path)
            if m is None:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            req.params = m.groupdict()
            try:
                return await handler(req)
            except Exception:
                error_log.exception("admin API: %s %s failed", req.method, req.path)
                return 500, {"error": "internal error (see the server log)"}
        if allowed:
            return 405, {"error": f"method not allowed; use {', '.join(allowed)}"}
        return 404, {"error": f"no such admin endpoint: {req.path}"}


def render(status: int, payload: Any) -> bytes:
    if isinstance(payload, Raw):
        body, content_type = payload.body, payload.content_type
    else:
        body, content_type = json.dumps(payload, indent=2).encode() + b"\n", "application/json"
    extra = 'WWW-Authenticate: Bearer realm="frontdesk admin"\r\n' if status == 401 else ""
    head = (
        f"Content-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return status_line(status) + head.encode("latin-1") + body


class _AdminProtocol(asyncio.Protocol):
    """One request per connection: parse, dispatch, answer, close."""

    def __init__(self, server: AdminServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.authorization: bytes | None = None
        self.body = bytearray()
        self.size = 0
        self.done = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(REQUEST_TIMEOUT, self._answer, 408, {"error": "timeout"})

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.size += len(data)
        if self.size > MAX_HEAD + MAX_BODY:
            self._answer(413, {"error": "request too large"})
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._answer(400, {"error": "malformed request"})

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.authorization = value

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.done:
            return
        parsed = httptools.parse_url(self.url)
        req = AdminRequest(
            method=self.parser.get_method().decode("ascii", "replace"),
            path=(parsed.path or b"/").decode("utf-8", "replace"),
            query=(parsed.query or b"").decode("utf-8", "replace"),
            body=bytes(self.body),
        )
        self.done = True
        tcp = self.transport is not None and self.transport.get_extra_info("peername")
        authorization = self.authorization
        if authorization is None and req.method == "GET":
            # A browser opening the status page has no way to send the header: the
            # page's URL may carry the token instead (/ui?token=...).
            given = parse_qs(req.query).get("token")
            authorization = b"Bearer " + given[0].encode() if given else None
        # The status page's script and stylesheet hold no data (the page reads /status
        # with the token): a browser loads them with <link> and <script>, which carry
        # neither the header nor the page's query.
        public = req.method == "GET" and req.path.startswith("/ui/")
        if tcp and not public and not self.server.authorized(authorization):
            self._answer(401, {"error": "the admin API needs Authorization: Bearer <admin.token>"})
            return
        if self.timer is not None:  # the request is in: a slow handler (a rolling
            self.timer.cancel()  # restart) is not cut off by the request timeout
            self.timer = None
        task = asyncio.get_running_loop().create_task(self.server.dispatch(req))
        task.add_done_callback(self._dispatched)

    def _dispatched(self, task: asyncio.Task[tuple[int, Any]]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._answer(500, {"error": "internal error"})
        else:
            self._answer(*task.result())

    def _answer(self, status: int, payload: Any) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(render(status, payload))
            t.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except OSError:
            sock.close()  # not left to the garbage collector (a ResourceWarning)
            raise
        self.sock = sock


def call(
    address: str | tuple[str, int],
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 10.0,
    token: str = "",
) -> tuple[int, Any]:
    """One admin API request from a client (the CLI); raises OSError when unreachable."""
    conn: http.client.HTTPConnection
    if isinstance(address, str):
        conn = _UnixHTTPConnection(address, timeout)
    else:
        conn = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except http.client.HTTPException as exc:
        raise OSError(f"bad answer from the admin API: {exc}") from None
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        raise OSError("the admin API did not answer JSON") from None
