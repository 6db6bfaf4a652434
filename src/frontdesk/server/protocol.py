"""One HTTP/1.1 connection: an asyncio.Protocol driving the httptools (llhttp) parser.

The parser is strict (llhttp without lenient flags): it already refuses
Content-Length with Transfer-Encoding, repeated Content-Length, obs-fold, whitespace
before the colon, bare CR, bad chunk sizes and extensions. What it leaves to us —
transfer codings we do not implement, HTTP versions it parses but we do not speak,
Host rules, size limits — is checked in the callbacks below.

Hot path (a request answered from memory): one data_received, a handful of parser
callbacks, a route lookup, one transport.write of pre-serialised bytes. No timers
are armed per request: each connection carries one `deadline` that the worker's
tick compares with its clock.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from frontdesk.errors import ProtocolError
from frontdesk.http.target import parse_host, parse_target
from frontdesk.server.exchange import BodyReader, ClientDisconnected, ResponseWriter
from frontdesk.server.response import CONN_CLOSE, CONN_KEEP_ALIVE, CONTINUE, FixedResponse

if TYPE_CHECKING:
    from frontdesk.server.actions import Action
    from frontdesk.server.context import WorkerContext

# Connection states; `deadline` means something different in each.
IDLE = 0  # between requests: deadline = keep-alive (or first-request header) timeout
HEAD = 1  # part of a request head received: deadline = header timeout (slowloris)
BODY = 2  # reading a request body: deadline = body idle timeout
BUSY = 3  # request read, response in progress: only a write stall times out
LINGER = 4  # response sent, write side shut, draining what the client still sends
CLOSED = 5

_NEVER = float("inf")
_LINGER_TIME = 2.0

# RFC 9112 §6.1: codings a server may know; we decode only chunked, so a request that
# applies any of the others gets 501, one that names an unregistered coding too.
_KNOWN_CODINGS = frozenset({b"chunked", b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"})


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing the rest of the buffer."""


class Request:
    """The head of one request, as actions and the access log see it."""

    __slots__ = (
        "method",
        "target",
        "path",
        "query",
        "version",
        "headers",
        "host",
        "keep_alive",
        "peer",
        "expect_continue",
        "has_body",
        "start",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        path: str,
        query: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        host: str,
        keep_alive: bool,
        peer: str,
        expect_continue: bool,
        has_body: bool,
        start: float,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.host = host
        self.keep_alive = keep_alive
        self.peer = peer
        self.expect_continue = expect_continue
        self.has_body = has_body
        self.start = start

    def header(self, name: bytes) -> bytes | None:
        """First value of a header (name in lower case), or None."""
        for k, v in self.headers:
            if len(k) == len(name) and k.lower() == name:
                return v
        return None


class _Queued:
    """A pipelined request parsed while an earlier streaming exchange still runs."""

    __slots__ = ("req", "action", "reader", "complete")

    def __init__(self, req: Request, action: Action, reader: BodyReader | None) -> None:
        self.req = req
        self.action = action
        self.reader = reader
        self.complete = False


class HttpProtocol(asyncio.Protocol):
    __slots__ = (
        "ctx",
        "clock",
        "limits",
        "server_line",
        "transport",
        "parser",
        "peer",
        "state",
        "deadline",
        "_url",
        "_headers",
        "_head_size",
        "_host",
        "_host_count",
        "_te",
        "_expect",
        "_content_length",
        "_body_size",
        "_req",
        "_action",
        "_reader",
        "_active",
        "_queue",
        "_in_feed",
        "_out",
        "_close_after",
        "_stop",
        "_read_paused",
        "_write_paused",
        "_drain_waiter",
        "_pending_error",
    )

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.limits = ctx.limits
        self.server_line = ctx.server_line
        self.transport: Any = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = "-"
        self.state = IDLE
        self.deadline = _NEVER
        self._reset_message()
        self._req: Request | None = None
        self._action: Action | None = None
        self._reader: BodyReader | None = None
        self._active: asyncio.Task[None] | None = None
        self._queue: deque[_Queued] = deque()
        self._in_feed = False
        self._out: list[bytes] = []
        self._close_after = False
        self._stop = False
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._pending_error: FixedResponse | None = None

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._host: bytes | None = None
        self._host_count = 0
        self._te: bytes | None = None
        self._expect = False
        self._content_length = -1
        self._body_size = 0

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = peer[0]
        ctx = self.ctx
        ctx.connections.add(self)
        # The first request is under the header timeout from the moment of accept:
        # a client that connects and sends nothing is a slowloris too.
        self.deadline = self.clock.now + self.limits.header_timeout
        if len(ctx.connections) > self.limits.max_connections or ctx.closing:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = CLOSED
        self.ctx.connections.discard(self)
        if self._active is not None:
            self._active.cancel()
        gone = ClientDisconnected()
        if self._reader is not None:
            self._reader.abort(gone)
        for q in self._queue:
            if q.reader is not None:
                q.reader.abort(gone)
        self._queue.clear()
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_exception(gone)

    def eof_received(self) -> bool | None:
        if self.state == LINGER:
            self.transport.close()
        elif self.state == HEAD or self.state == BODY:
            # The client half-closed mid-request: nothing more can complete it.
            self.transport.close()
        elif self._active is None and not self._queue:
            self.transport.close()
        # else keep the write side open to finish the response in progress
        return True

    def pause_writing(self) -> None:
        self._write_paused = True
        self.deadline = min(self.deadline, self.clock.now + self.limits.write_timeout)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.state == BUSY:
            self.deadline = _NEVER
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == IDLE:
            self.state = HEAD
            self.deadline = self.clock.now + self.limits.header_timeout
        elif state == BODY:
            self.deadline = self.clock.now + self.limits.body_timeout
        elif state == LINGER or state == CLOSED:
            return  # discarded: the answer is already on its way and the socket closing
        self._in_feed = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # We accept no upgrade yet (RFC 9110 §7.8 lets a server ignore Upgrade):
            # the request was answered as plain HTTP/1.1; go on parsing after it.
            offset = exc.args[0] if exc.args else len(data)
            self._in_feed = False
            self._flush()
            if offset < len(data) and self.state != CLOSED:
                self.data_received(data[offset:])
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ProtocolError):
                self._protocol_error(cause.status, cause.reason)
            elif not isinstance(cause, _Stop):
                raise
        except httptools.HttpParserInvalidMethodError:
            # RFC 9110 §9.1: an unrecognised method gets 501, a malformed line 400.
            token = data.split(b" ", 1)[0] if self.state == HEAD else b""
            if token and token.isalpha() and token.isupper():
                self._protocol_error(501, "method not implemented")
            else:
                self._protocol_error(400, "malformed request line")
        except httptools.HttpParserError as exc:
            self._parser_error(str(exc))
        finally:
            self._in_feed = False
        if self.state == HEAD and self._head_size + len(self._url) > self.limits.max_header_size:
            self._protocol_error(431, "request header section too large")
        self._flush()

    # ------------------------------------------------------------------ parser callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_uri_size:
            raise ProtocolError(414, "request-target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.state == BODY:
            # A trailer field of a chunked body: counted, never merged into the head.
            self._head_size += len(name) + len(value) + 4
            if self._head_size > self.limits.max_header_size:
                raise ProtocolError(431, "trailer section too large")
            return
        headers = self._headers
        headers.append((name, value))
        self._head_size += len(name) + len(value) + 4
        n = len(name)
        if n == 4 or n == 6 or n == 14 or n == 17:
            self._special_header(name.lower(), value)
        if len(headers) > self.limits.max_headers:
            raise ProtocolError(431, "too many header fields")
        if self._head_size > self.limits.max_header_size:
            raise ProtocolError(431, "request header section too large")

    def _special_header(self, name: bytes, value: bytes) -> None:
        if name == b"host":
            self._host = value
            self._host_count += 1
        elif name == b"transfer-encoding":
            self._te = value if self._te is None else self._te + b"," + value
        elif name == b"content-length":
            self._content_length = int(value)  # llhttp has checked it is digits only
        elif name == b"expect":
            # RFC 9110 §10.1.1: the only expectation defined is 100-continue.
            if value.lower() != b"100-continue":
                raise ProtocolError(417, "unsupported expectation")
            self._expect = True

    def on_headers_complete(self) -> None:
        if self._stop:
            raise _Stop()
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise ProtocolError(505, "HTTP version not supported")
        if self._te is not None:
            self._check_transfer_coding(self._te)
        method = parser.get_method()
        if self._host_count > 1:
            raise ProtocolError(400, "more than one Host header")
        if self._host is not None:
            host = parse_host(self._host)
            if host is None:
                raise ProtocolError(400, "invalid Host header")
        elif version == "1.1":
            raise ProtocolError(400, "missing Host header")  # RFC 9112 §3.2
        else:
            host = ""
        url = self._url
        if (
            url[0] == 47
            and b"?" not in url
            and b"%" not in url
            and b"/." not in url
            and (b"//" not in url and b"#" not in url)
        ):
            path = url.decode("ascii")  # plain origin-form: already normal
            query = ""
        else:
            target = parse_target(url, method)
            if target is None:
                raise ProtocolError(400, "invalid request-target")
            path, query = target.path, target.query
            if target.host is not None:
                host = target.host  # RFC 9112 §3.2.2: absolute-form wins over Host
        if method == b"CONNECT":
            raise ProtocolError(405, "CONNECT is not supported")
        limits = self.limits
        cl = self._content_length
        has_body = cl > 0 or self._te is not None
        if limits.max_body_size and cl > limits.max_body_size:
            raise ProtocolError(413, "request body too large")
        keep_alive = parser.should_keep_alive() and not self.ctx.closing
        req = Request(
            method,
            url,
            path,
            query,
            version,
            self._headers,
            host,
            keep_alive,
            self.peer,
            self._expect,
            has_body,
            self.clock.now,
        )
        self._req = req
        action = self.ctx.routes.match(method, host, path, self._headers)
        if action is None:
            action = self.ctx.not_found
        self._action = action
        if has_body:
            self.state = BODY
            self.deadline = self.clock.now + limits.body_timeout
        if action.streaming:
            reader = BodyReader(self, self._expect) if has_body else None
            if self._active is None and not self._queue:
                self._reader = reader
                self._start(req, action, reader)
            else:
                self._queue.append(_Queued(req, action, reader))
                self._reader = reader
                self.pause_reading()
        elif self._expect and has_body:
            # Answering without the body: no 100 (Continue) is sent, and since the
            # client may or may not send the body now, the connection cannot be
            # reused (RFC 9110 §10.1.1).
            req.keep_alive = False
            self._stop = True
            self._respond(req, action.respond(req))
            raise _Stop()

    def _check_transfer_coding(self, te: bytes) -> None:
        codings = [c.strip().split(b";", 1)[0].strip().lower() for c in te.split(b",")]
        codings = [c for c in codings if c]
        for c in codings:
            if c != b"chunked":  # unknown, or known but not decoded by us
                raise ProtocolError(501, "transfer coding not implemented")
        if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
            # RFC 9112 §6.3: chunked not final → the length cannot be determined: 400.
            raise ProtocolError(400, "invalid Transfer-Encoding")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        max_body = self.limits.max_body_size
        if max_body and self._body_size > max_body:
            raise ProtocolError(413, "request body too large")
        if self._reader is not None:
            self._reader.feed(body)
        # a body for a non-streaming action is read and dropped, never buffered

    def on_message_complete(self) -> None:
        req = self._req
        action = self._action
        if req is None or action is None:
            return
        reader = self._reader
        self._req = None
        self._action = None
        self._reader = None
        self._reset_message()
        if self._active is None and not self._queue:
            self.state = BUSY if action.streaming else IDLE
            self.deadline = (
                _NEVER if action.streaming else self.clock.now + self.limits.keepalive_timeout
            )
        else:
            self.state = BUSY
            self.deadline = _NEVER
        if action.streaming:
            if reader is not None:
                reader.end()
            for q in self._queue:
                if q.req is req:
                    q.complete = True
        elif self._queue or self._active is not None:
            q = _Queued(req, action, None)
            q.complete = True
            self._queue.append(q)
            self.pause_reading()
        else:
            self._respond(req, action.respond(req))
        if not req.keep_alive:
            self._stop = True  # nothing after a request that ends the connection
            raise _Stop()

    # ------------------------------------------------------------------------ responses

    def _respond(self, req: Request, resp: FixedResponse) -> None:
        if resp.close or not req.keep_alive:
            req.keep_alive = False
            conn = CONN_CLOSE
        elif req.version == "1.0":
            conn = CONN_KEEP_ALIVE
        else:
            conn = b""
        if req.method == b"HEAD":
            self.write(resp.head + self.clock.date_line + conn + b"\r\n")
        else:
            self.write(resp.head + self.clock.date_line + conn + b"\r\n" + resp.body)
        self.ctx.log_request(req, resp.status, 0 if req.method == b"HEAD" else len(resp.body))
        if not req.keep_alive:
            self._close_after = True

    def write(self, data: bytes) -> None:
        """Queue bytes for the client; while parsing, batched into one send."""
        if self._in_feed:
            self._out.append(data)
        elif self.state != CLOSED:
            self.transport.write(data)

    def send_continue(self) -> None:
        self.write(CONTINUE)

    def _flush(self) -> None:
        out = self._out
        if out:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
        if self._close_after and self._active is None and not self._queue:
            self._close_after = False
            self._linger_close()

    def _linger_close(self) -> None:
        """Close after the response, without the client's unread bytes causing an RST.

        Closing a socket with unread input sends RST, which can destroy the response
        still in flight to the client. So: send FIN after the buffered response, then
        read and discard until the client closes or a short grace period ends.
        """
        if self.state == CLOSED:
            return
        transport = self.transport
        self.state = LINGER
        if transport.can_write_eof():
            transport.write_eof()
            self.deadline = self.clock.now + _LINGER_TIME
            self.resume_reading()
        else:
            transport.close()

    def _protocol_error(self, status: int, reason: str) -> None:
        resp = self.ctx.error(status, reason)
        self._req = None
        self._action = None
        if self._reader is not None:
            self._reader.abort(ClientDisconnected())
            self._reader = None
        if self._active is not None or self._queue:
            # Earlier pipelined answers are still being produced: the error follows
            # them, then the connection closes (never reordered).
            self._stop = True
            self._close_after = True
            self._pending_error = resp
            return
        self.write(resp.head + self.clock.date_line + CONN_CLOSE + b"\r\n" + resp.body)
        self.ctx.log_error_request(self, status, self._url, len(resp.body))
        self._stop = True
        self._close_after = True
        self.state = BUSY

    def _parser_error(self, message: str) -> None:
        if "HTTP version" in message or "PRI/Upgrade" in message:
            self._protocol_error(505, "HTTP version not supported")
        elif "Transfer-Encoding" in message:
            te = self._te or b""
            codings = {c.strip().lower() for c in te.split(b",")}
            unknown = any(c and c not in _KNOWN_CODINGS for c in codings)
            if unknown:
                self._protocol_error(501, "transfer coding not implemented")
            else:
                self._protocol_error(400, "invalid Transfer-Encoding")
        else:
            self._protocol_error(400, "malformed request")

    # ----------------------------------------------------------------- streaming actions

    def _start(self, req: Request, action: Action, reader: BodyReader | None) -> None:
        writer = ResponseWriter(self, req)
        self._active = asyncio.get_running_loop().create_task(
            self._run(req, action, reader, writer)
        )

    async def _run(
        self, req: Request, action: Action, reader: BodyReader | None, writer: ResponseWriter
    ) -> None:
        try:
            await action.stream(req, reader, writer)
            writer.end()
        except (ClientDisconnected, asyncio.CancelledError):
            return
        except Exception:
            self.ctx.log_exception(req)
            if not writer.started:
                resp = self.ctx.error(500, "internal error")
                req.keep_alive = False
                self._active = None
                self._respond(req, resp)
                self._flush()
                return
            req.keep_alive = False  # the framing of a half-sent response is lost
        self.ctx.log_request(req, writer.status, writer.sent)
        self._active = None
        if req.keep_alive and reader is not None and not reader.complete:
            # The action answered without reading the whole body: the rest of it is
            # still on the wire, so the connection cannot carry another request.
            req.keep_alive = False
        if not req.keep_alive:
            self._queue.clear()
            self._linger_close()
            return
        self._next_in_queue()

    def _next_in_queue(self) -> None:
        while self._queue and self._active is None:
            q = self._queue[0]
            if q.action.streaming:
                self._queue.popleft()
                self._start(q.req, q.action, q.reader)
                return
            if not q.complete:
                return  # its response is written when its body has been read
            self._queue.popleft()
            self._respond(q.req, q.action.respond(q.req))
            if not q.req.keep_alive:
                self._queue.clear()
                self._linger_close()
                return
        if not self._queue and self._active is None:
            pending = self._pending_error
            if pending is not None:
                self.write(
                    pending.head + self.clock.date_line + CONN_CLOSE + b"\r\n" + pending.body
                )
                self._linger_close()
                return
            if self.state == BUSY:
                self.state = IDLE
                self.deadline = self.clock.now + self.limits.keepalive_timeout
            self.resume_reading()

    # --------------------------------------------------------------------- flow control

    def pause_reading(self) -> None:
        if not self._read_paused and self.state != CLOSED:
            self._read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._read_paused and self.state != CLOSED:
            self._read_paused = False
            self.transport.resume_reading()

    async def drain(self) -> None:
        if self.state == CLOSED:
            raise ClientDisconnected()
        if not self._write_paused:
            return
        self._drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    # ---------------------------------------------------------------- timeouts, shutdown

    def on_deadline(self) -> None:
        """Called by the worker's tick once `clock.now` has passed `deadline`."""
        state = self.state
        self.deadline = _NEVER
        if state == HEAD or state == BODY:
            if self._active is None and not self._queue:
                self._protocol_error(408, "request timeout")
                self._flush()
                return
        elif self._write_paused:
            self.transport.abort()  # a client that stopped reading our response
            return
        self.transport.close()

    def shutdown(self, grace_idle: float) -> None:
        """Stop reusing this connection: idle now → closed (after `grace_idle`)."""
        if self.state == IDLE and self._active is None and not self._queue:
            if grace_idle <= 0:
                self.transport.close()
            else:
                self.deadline = min(self.deadline, self.clock.now + grace_idle)
