"""What a streaming (async) action sees of one request: a body reader and a response writer.

Actions that answer from memory (respond, redirect) never touch these; the proxy and
static-file actions do. Both sides apply backpressure: the reader pauses the socket
when the action falls behind the client, and the writer's `drain()` waits while the
transport's buffer is above its high-water mark.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from frontdesk.server.response import CONN_CLOSE, CONN_KEEP_ALIVE, NO_BODY_STATUS, status_line

if TYPE_CHECKING:
    from frontdesk.server.protocol import HttpProtocol
    from frontdesk.server.request import Request

# Body bytes buffered ahead of the action before the socket is paused.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class ClientDisconnected(Exception):
    """The client went away before the exchange finished."""


class BadRequestBody(ClientDisconnected):
    """The request body turned out malformed (chunk framing, trailers, size) while an
    action was reading it: the connection answers the error and closes; the action's
    work on the request is abandoned as if the client had gone."""


class BodyReader:
    """The request body as it arrives, chunk by chunk (`async for chunk in body`)."""

    __slots__ = (
        "_conn",
        "_chunks",
        "_buffered",
        "_done",
        "_error",
        "_waiter",
        "_expect",
        "trailers",
    )

    def __init__(self, conn: HttpProtocol, expect_continue: bool) -> None:
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        # RFC 9110 §10.1.1: the 100 (Continue) interim response is sent only once the
        # action actually asks for the body; an action that answers without reading it
        # never invites the client to send it.
        self._expect = expect_continue
        # Trailer fields of a chunked body, set when the body ends (RFC 9112 §7.1.2).
        self.trailers: list[tuple[bytes, bytes]] = []

    @property
    def complete(self) -> bool:
        return self._done and not self._chunks

    def feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self._expect = False  # the client sent the body without waiting for 100
        if self._buffered > _HIGH_WATER:
            self._conn.pause_reading()
        self._wake()

    def end(self) -> None:
        self._done = True
        self._wake()

    def abort(self, exc: BaseException) -> None:
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def read(self) -> bytes:
        """The next chunk of the body; b"" once it has all been read."""
        if self._expect:
            self._expect = False
            self._conn.send_continue()
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < _LOW_WATER:
            self._conn.resume_reading()
        return chunk

    def __aiter__(self) -> BodyReader:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if not chunk:
            raise StopAsyncIteration
        return chunk


class ResponseWriter:
    """Writes one response: `start()` once, `write()` any number of times, `end()` once."""

    __slots__ = ("conn", "_req", "status", "sent", "_chunked", "_no_body", "started", "ended")

    def __init__(self, conn: HttpProtocol, req: Request) -> None:
        self.conn = conn  # the client connection (the proxy ties its flow control to it)
        self._req = req
        self.status = 0
        self.sent = 0  # body bytes, for the access log
        self._chunked = False
        self._no_body = False
        self.started = False
        self.ended = False

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], content_length: int | None = None
    ) -> None:
        """Send the status line and headers; the framing is chosen here.

        RFC 9112 §6.3: with a known length we send Content-Length; otherwise chunked to
        an HTTP/1.1 client, and for HTTP/1.0 the end of the body is the closing of the
        connection.
        """
        parts = [status_line(status), self.conn.server_line]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if content_length is not None and status not in NO_BODY_STATUS:
            parts.append(b"Content-Length: %d\r\n" % content_length)
        parts.append(self.conn.clock.date_line)
        self._start(status, parts, content_length is not None)

    def start_forwarded(
        self,
        status: int,
        block: bytes,
        has_length: bool,
        has_date: bool,
        fields: object = None,
        version: str = "1.1",
    ) -> None:
        """Send a head built elsewhere (the proxy: the backend's fields, filtered).

        `fields` and `version` (the backend's own fields and HTTP version) are for
        writers that look at the response (the cache); the client's writer ignores them.

        `block` already holds Content-Length when `has_length`; no Server line is added
        (the origin's passes through), and Date only when `has_date` is false (RFC 9110
        §6.6.1: a recipient with a clock appends Date to a response that lacks one).
        """
        parts = [status_line(status), block]
        if not has_date:
            parts.append(self.conn.clock.date_line)
        if status == 101:
            # The switch to a tunnel: the block carries Connection: upgrade, and no
            # framing applies any more (RFC 9110 §7.8).
            self.started = True
            self.status = status
            self._no_body = True
            parts.append(b"\r\n")
            self.conn.write(b"".join(parts))
            return
        self._start(status, parts, has_length)

    def interim(self, status: int, block: bytes) -> None:
        """Send an interim (1xx) response before the final one (the proxy: a backend's
        103 Early Hints). RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an
        HTTP/1.0 client"; an interim response has no body and no framing."""
        if not self.started and self._req.version == "1.1":
            self.conn.write(status_line(status) + block + b"\r\n")

    def _start(self, status: int, parts: list[bytes], has_length: bool) -> None:
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        req = self._req
        if self.conn.ctx.closing:
            req.keep_alive = False  # shutting down or draining: last answer here
        self._no_body = req.method == b"HEAD" or status in NO_BODY_STATUS
        if status in NO_BODY_STATUS or has_length:
            pass
        elif req.version == "1.1":
            self._chunked = not self._no_body
            parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            req.keep_alive = False
        if not req.keep_alive:
            parts.append(CONN_CLOSE)
        elif req.version == "1.0":
            parts.append(CONN_KEEP_ALIVE)
        parts.append(b"\r\n")
        self.conn.write(b"".join(parts))

    @property
    def request(self) -> Request:
        """The request this response answers."""
        return self._req

    def write(self, data: bytes) -> None:
        if not data or self._no_body:
            return
        self.sent += len(data)
        if self._chunked:
            # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
            self.conn.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.conn.write(data)

    async def drain(self) -> None:
        await self.conn.drain()

    @property
    def connection(self) -> HttpProtocol:
        """The connection, for senders that bypass write() (sendfile)."""
        return self.conn

    @property
    def head_only(self) -> bool:
        """No body goes out (HEAD, 304, 1xx, 204): content writes are dropped."""
        return self._no_body

    def count_sent(self, n: int) -> None:
        """Body bytes sent around write() (sendfile), for the access log."""
        self.sent += n

    def end(self, trailers: bytes = b"") -> None:
        """Finish the response; `trailers` (lines ending CRLF) follow a chunked body."""
        if self.ended:
            return
        if not self.started:
            self.start(204, [])
        self.ended = True
        if self._chunked:
            # RFC 9112 §7.1: last-chunk trailer-section CRLF
            self.conn.write(b"0\r\n%b\r\n" % trailers if trailers else b"0\r\n\r\n")

    def close_after(self) -> None:
        """The connection closes after this response (say so in its head)."""
        self._req.keep_alive = False

    def abort(self) -> None:
        """Give up on a started response: no last chunk is sent, and the connection
        closes, so the client sees the body end early (RFC 9112 §8: incomplete)."""
        self.ended = True
        self._req.keep_alive = False
