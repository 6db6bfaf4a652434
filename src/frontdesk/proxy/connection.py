"""One HTTP/1.1 connection to a backend (an asyncio Protocol), reused across requests.

Per exchange it writes the request head it is given, parses the response with
httptools callbacks and writes the client's response as the bytes arrive, so a body
is never held whole. Its reading is paused while the client's write buffer is above
its high-water mark (the client connection calls `pause_reading`/`resume_reading` as
its `flow_peer`).

Parser errors, closes and timeouts become UpstreamError (errors.py) here, and
connect errors in pool.py: the only two places that translate foreign errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

import httptools

from frontdesk.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout
from frontdesk.proxy.forward import response_head, trailer_block

if TYPE_CHECKING:
    from frontdesk.proxy.tunnel import Tunnel
    from frontdesk.proxy.upstream import Backend
    from frontdesk.server.clock import Clock
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request

Notify = Callable[["UpstreamConnection", "UpstreamError | None"], None]

NEVER = float("inf")
# A backend's header (or trailer) section may hold at most this many fields and bytes:
# llhttp sets no limit of its own, and a runaway backend must not grow a worker's memory.
MAX_FIELDS = 256
MAX_HEAD = 64 * 1024  # bytes of a response head (counted as they are read), or of trailers

# Exchange phases, for the deadline in force and for what a failure means.
IDLE = 0  # in the pool (deadline: keep-alive idle timeout)
SENDING = 1  # request head/body being written (deadline: send timeout while blocked)
WAITING = 2  # request sent, no response byte yet (deadline: read timeout)
READING = 3  # response arriving (deadline: idle timeout between reads)
DONE = 4  # response complete
TUNNELLING = 5  # after a 101: bytes relayed (the tunnel's deadline on the client side)


CLIENT_GONE = UpstreamError("the client went away")
"""Passed to a task-free exchange's callback when the client connection is lost."""


class _HeadDone(Exception):
    """Stops the parser after the head of a response to HEAD (it has no body)."""


class UpstreamConnection(asyncio.Protocol):
    """A connection to a backend; carries one exchange at a time."""

    __slots__ = (
        "backend",
        "clock",
        "transport",
        "parser",
        "closed",
        "requests",
        "deadline",
        "phase",
        "out",
        "client",
        "done",
        "head_only",
        "got_bytes",
        "keep_alive",
        "continue_waiter",
        "upgrade",
        "tunnel",
        "tunnel_data",
        "read_timeout",
        "idle_timeout",
        "send_timeout",
        "via",
        "close_delimited",
        "notify",
        "req",
        "body",
        "status",
        "extra_head",
        "started_at",
        "window",
        "sent_at",
        "head_at",
        "_complete",
        "_head_left",
        "_v11",
        "_headers",
        "_interim",
        "_write_paused",
        "_drain_waiter",
        "_read_paused",
        "_on_close",
    )

    def __init__(self, backend: Backend, clock: Clock, via: bytes, on_close: Any) -> None:
        self.backend = backend
        self.clock = clock
        self.via = via
        self._on_close = on_close  # pool callback: the connection is gone
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.requests = 0
        self.deadline = NEVER
        self.phase = IDLE
        self.out: ResponseWriter | None = None
        self.client: Any = None
        self.done: asyncio.Future[None] | None = None
        self.head_only = False
        self.got_bytes = False
        self.keep_alive = False
        self.continue_waiter: asyncio.Future[None] | None = None
        self.upgrade = False
        self.tunnel: Tunnel | None = None
        self.tunnel_data = b""
        self.read_timeout = 60.0
        self.idle_timeout = 60.0
        self.send_timeout = 60.0
        self.close_delimited = False
        self.notify: Notify | None = None  # the task-free path's completion callback
        self.req: Request | None = None
        self.body: BodyReader | None = None  # the request body being streamed, if any
        self.status = 0  # of the exchange's final response, once its head is in
        self.extra_head = b""  # header lines added to the response (a sticky Set-Cookie)
        self.started_at = 0.0  # when the exchange began, for the balancer's latency
        self.window = -1  # the pool's idle-cap window it was last released in
        # For metrics and the access log: monotonic() when the request head went out
        # and when the response head was in (0.0: not yet).
        self.sent_at = 0.0
        self.head_at = 0.0
        self._complete = False  # the response ended inside the current feed_data()
        self._head_left: int | None = MAX_HEAD  # None once the final head is in
        self._v11 = False  # the response began with "HTTP/1.1 " (see data_received)
        self._headers: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._read_paused = False

    # ------------------------------------------------------------------ one exchange

    def begin(
        self,
        head: bytes,
        out: ResponseWriter,
        client: Any,
        done: asyncio.Future[None] | Notify,
        *,
        head_only: bool,
        upgrade: bool,
        streams_body: bool = False,
    ) -> None:
        """Send a request head and route the response to `out`. `done` resolves at the
        end of the exchange, or (a callback) is called with None or the error.
        `streams_body`: a body follows (the caller writes it, then calls `sent()`)."""
        self.out = out
        self.client = client
        self.sent_at = monotonic()
        self.head_at = 0.0
        if isinstance(done, asyncio.Future):
            self.done = done
            self.notify = None
        else:
            self.done = None
            self.notify = done
        self._complete = False
        self.head_only = head_only
        self.upgrade = upgrade
        self.got_bytes = False
        self.keep_alive = False
        self.close_delimited = False
        self._head_left = MAX_HEAD
        self._headers = []
        self.requests += 1
        client.flow_peer = self
        self.transport.write(head)
        if not streams_body:
            # The head is the whole request: the wait for the first byte starts.
            self.phase = WAITING
            self.deadline = self.clock.now + self.read_timeout
        else:
            self.phase = SENDING
            if self._write_paused:
                self.deadline = self.clock.now + self.send_timeout
            else:
                self.deadline = NEVER  # set when the request has been sent (sent())

    def sent(self) -> None:
        """The whole request is written: the wait for the first byte starts."""
        if self.phase == SENDING:
            self.phase = WAITING
            self.deadline = self.clock.now + self.read_timeout

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the backend is not taking our bytes (its buffer is full)."""
        while self._write_paused and not self.closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    @property
    def finished(self) -> bool:
        """The exchange is over (response complete, or failed)."""
        done = self.done
        return self.phase >= DONE or (done is not None and done.done())

    def cancel(self) -> None:
        """The client went away: abandon the exchange (task-free path)."""
        notify = self.notify
        if notify is not None and self.phase < DONE:
            self.phase = DONE
            notify(self, CLIENT_GONE)
        self.detach()
        self.abort()

    def detach(self) -> None:
        """Forget the exchange (back to the pool, or about to close)."""
        client = self.client
        if client is not None and client.flow_peer is self:
            client.flow_peer = None
        self.out = None
        self.client = None
        self.done = None
        self.notify = None
        self.req = None
        self.body = None
        self.continue_waiter = None
        if self._read_paused and not self.closed:
            self._read_paused = False
            self.transport.resume_reading()

    def idle(self, keepalive_timeout: float) -> None:
        self.detach()
        self.phase = IDLE
        self.deadline = self.clock.now + keepalive_timeout

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()
            self._on_close(self)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()
            self._on_close(self)

    def _fail(self, exc: UpstreamError) -> None:
        """End the exchange with an error; the connection is never reused."""
        done = self.done
        notify = self.notify
        if done is not None and not done.done():
            done.set_exception(exc)
        elif notify is not None and self.phase < DONE:
            self.phase = DONE
            self.close()
            notify(self, exc)
            return
        waiter = self.continue_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.close()

    def _finish(self) -> None:
        self.phase = DONE
        self.deadline = NEVER
        done = self.done
        if done is not None:
            if not done.done():
                done.set_result(None)
        elif self.notify is not None:
            self.notify(self, None)

    # ---------------------------------------------------------------- timeouts, flow

    def on_deadline(self) -> None:
        """The worker's tick found `deadline` passed."""
        self.deadline = NEVER
        phase = self.phase
        if phase == IDLE or phase == DONE:
            self.close()
            return
        what = {SENDING: "send", WAITING: "first byte", READING: "read"}.get(phase, "tunnel")
        if phase == READING and self.out is not None and self.out.started:
            self._fail(UpstreamProtocolError(f"{what} timeout mid-response", sent=True))
        else:
            self._fail(UpstreamTimeout(f"{what} timeout", sent=True))

    def pause_reading(self) -> None:
        """The client's buffer is full: stop reading the backend until it drains."""
        if not self._read_paused and not self.closed:
            self._read_paused = True
            self.transport.pause_reading()
            if self.phase == READING:
                self.deadline = NEVER  # the client's write timeout is in charge now

    def resume_reading(self) -> None:
        if self._read_paused and not self.closed:
            self._read_paused = False
            self.transport.resume_reading()
            if self.phase == READING:
                self.deadline = self.clock.now + self.idle_timeout

    # ------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def pause_writing(self) -> None:
        self._write_paused = True
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.client.pause_reading()
        elif self.phase == SENDING:
            self.deadline = self.clock.now + self.send_timeout

    def resume_writing(self) -> None:
        self._write_paused = False
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.client.resume_reading()
        elif self.phase == SENDING:
            self.deadline = NEVER
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.from_upstream(data)
            return
        if self.out is None:
            # Bytes from an idle backend: not a response to anything; never reuse.
            self.close()
            return
        if not self.got_bytes:
            self.got_bytes = True
            self.phase = READING
            # The response's first bytes: its version is read off them here, since
            # httptools makes a new str each time it is asked (on_headers_complete).
            self._v11 = data.startswith(b"HTTP/1.1 ")
        if not self._read_paused:
            self.deadline = self.clock.now + self.idle_timeout
        client = self.client
        client.hold_writes()
        try:
            self.parser.feed_data(data)
            left = self._head_left
            if left is not None:
                # httptools gathers a field across reads before handing it over:
                # what a head may take is bounded here, on the bytes themselves.
                left -= len(data)
                self._head_left = left
            if left is not None and left < 0:
                self._fail(UpstreamProtocolError("response head too large", sent=True))
            elif len(self._headers) > MAX_FIELDS:
                # A head still arriving, or trailers (`left` None: the head is in);
                # each is checked whole once complete too.
                section = "header" if left is not None else "trailer"
                self._fail(
                    UpstreamProtocolError(f"response {section} section too large", sent=True)
                )
            if self._complete:
                # Finished after the parser returned: the completion may reuse this
                # connection for the next request, which must not happen mid-parse.
                self._complete = False
                self._finish()
        except httptools.HttpParserUpgrade as exc:
            self._switched(data[exc.args[0] :])
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadDone):
                # llhttp does not know the request was HEAD and would wait for the
                # body Content-Length announces: a fresh parser for the next response.
                self.parser = httptools.HttpResponseParser(self)
                self._finish()
            elif isinstance(exc.__context__, UpstreamError):
                self._fail(exc.__context__)
            else:
                self._invalid(str(exc.__context__ or exc))
        except httptools.HttpParserError as exc:
            self._invalid(str(exc))
        finally:
            client.release_writes()

    def _invalid(self, why: str) -> None:
        if self._complete:
            # The response was whole; what followed it is junk: finish, never reuse.
            self._complete = False
            self.keep_alive = False
            self._finish()
            return
        self._fail(UpstreamProtocolError(f"invalid response: {why}", sent=True))

    def eof_received(self) -> bool | None:
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.upstream_eof()
            return True
        return None  # close

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed = self.closed
        self.closed = True
        self._write_paused = False
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.upstream_lost()
            return
        if not was_closed:
            self._on_close(self)
        if self.out is None or self.finished:
            return
        out = self.out
        if out.started and self.close_delimited:
            # RFC 9112 §6.3: a response with neither Content-Length nor chunked
            # coding ends when the connection closes.
            self._finish()
            return
        if self.got_bytes:
            self._fail(UpstreamProtocolError("connection closed mid-response", sent=True))
        else:
            self._fail(
                UpstreamProtocolError("connection closed before a response", sent=True, stale=True)
            )

    # ------------------------------------------------------------ parser callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        # Runs once per field of every response: only the append. A head and trailers
        # are bounded after each read (data_received) and once complete.
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        headers = self._headers
        self._headers = []  # trailers, if any, arrive in a list of their own
        if len(headers) > MAX_FIELDS:
            raise UpstreamProtocolError("response header section too large", sent=True)
        if not 100 <= status <= 599:
            # RFC 9110 §15: "Values outside the range 100..599 are invalid." llhttp
            # takes any three digits; such a response is never passed on (nor stored).
            raise UpstreamProtocolError(f"invalid status code {status}", sent=True)
        if status < 200 and status != 101:
            # RFC 9110 §15.2: interim responses. A 100 lets the request body go (the
            # client gets its own 100 when its body is asked for: server/exchange.py);
            # others (103 Early Hints, RFC 8297) are forwarded, hop-by-hop fields
            # removed, to a client that can take them.
            self._interim = True
            waiter = self.continue_waiter
            self._v11 = False  # the final head may be in a later read: ask the parser
            if status == 100:
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif self.out is not None:
                block = response_head(headers, parser.get_http_version(), self.via)[0]
                self.out.interim(status, block)
            return
        self._head_left = None
        waiter = self.continue_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # a final answer before any 100: the body is not sent
        out = self.out
        assert out is not None
        if status == 101 and not self.upgrade:
            raise UpstreamProtocolError("101 to a request that asked for no upgrade", sent=True)
        self.keep_alive = parser.should_keep_alive()
        body = self.body
        if body is not None and not body.complete:
            # Answered before the client's body was all read: it cannot all be
            # consumed, so the client connection closes after this response.
            out.close_after()
        version = "1.1" if self._v11 else parser.get_http_version()
        block, length, has_date = response_head(headers, version, self.via, upgrade=status == 101)
        self.status = status
        self.head_at = monotonic()
        if self.extra_head:
            block += self.extra_head
        out.start_forwarded(status, block, length is not None, has_date, headers, version)
        if status == 101:
            return  # the parser raises HttpParserUpgrade next: see _switched
        if self.head_only:
            raise _HeadDone()
        if length is None and status not in (204, 304) and not _chunked(headers):
            self.close_delimited = True

    def on_body(self, body: bytes) -> None:
        out = self.out
        if out is not None:
            out.write(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        out = self.out
        if out is not None:
            trailers = self._headers
            if trailers and (
                len(trailers) > MAX_FIELDS or sum(len(n) + len(v) for n, v in trailers) > MAX_HEAD
            ):
                raise UpstreamProtocolError("response trailer section too large", sent=True)
            out.end(trailer_block(trailers) if trailers else b"")
        self._complete = True  # see data_received

    def _switched(self, rest: bytes) -> None:
        """The backend answered 101: the connection now carries the new protocol."""
        self.tunnel_data = rest
        self._finish()
        self.phase = TUNNELLING  # the handler sees it once `done` resolves


def _chunked(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if len(name) == 17 and name.lower() == b"transfer-encoding":
            return value.strip().lower().endswith(b"chunked")
    return False
