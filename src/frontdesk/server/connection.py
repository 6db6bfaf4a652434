"""A client connection's state and output; HttpProtocol (protocol.py) parses input.

Here: answers (pre-serialised or streamed), protocol errors and lingering close,
per-phase deadlines, flow control both ways, and streaming exchanges. A streaming
action (static files, the proxy) runs as a task; requests parsed while it runs wait in
a queue and reading pauses, so answers are never reordered and nothing is buffered
without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from frontdesk.server.actions import ANSWERED
from frontdesk.server.exchange import (
    BadRequestBody,
    BodyReader,
    ClientDisconnected,
    ResponseWriter,
)
from frontdesk.server.request import Queued, Request
from frontdesk.server.response import CONN_CLOSE, CONN_KEEP_ALIVE, CONTINUE, FixedResponse

if TYPE_CHECKING:
    from frontdesk.log import AccessLog
    from frontdesk.server.actions import Action
    from frontdesk.server.clock import Clock
    from frontdesk.server.context import Limits, WorkerContext

# Connection states; `deadline` means something different in each.
IDLE = 0  # between requests: deadline = keep-alive (or first-request header) timeout
HEAD = 1  # part of a request head received: deadline = header timeout (slowloris)
BODY = 2  # reading a request body: deadline = body idle timeout
BUSY = 3  # request read, response in progress: only a write stall times out
LINGER = 4  # response sent, write side shut, draining what the client still sends
CLOSED = 5
TUNNEL = 6  # switched protocols (101): bytes relayed as they are; deadline = idle timeout

_NEVER = float("inf")
_LINGER_TIME = 2.0  # seconds a closing connection drains what the client still sends


class Exchange(Protocol):
    """What runs a streaming action: a Task, or an object of the action's own that
    finishes by calling `Connection.exchange_done` (the proxy's task-free path)."""

    def cancel(self) -> Any: ...


class Connection(asyncio.Protocol):
    """A client connection's state and output: answers, errors, closing, timeouts,
    flow control and streaming exchanges. HttpProtocol adds the parsing on top."""

    __slots__ = (
        "ctx",
        "clock",
        "limits",
        "server_line",
        "extra_head",
        "transport",
        "parser",
        "peer",
        "_url_parts",
        "access_log",
        "fast_lane",
        "_req",
        "_action",
        "_in_feed",
        "_out",
        "_close_after",
        "_stop",
        "state",
        "deadline",
        "_reader",
        "_active",
        "_queue",
        "_pending_error",
        "_read_paused",
        "_write_paused",
        "_drain_waiter",
        "served",
        "run_action",
        "run_since",
        "flow_peer",
        "tunnel",
    )

    state: int
    served: int  # answers not counted by ctx.log_request (no access log to feed)
    # The fast lane counts its answers by runs: while consecutive fast answers come
    # from one action, a run is `served - run_since` of `run_action` (see
    # HttpProtocol._begin_run), so the lane pays one identity test per request.
    run_action: Action | None
    run_since: int
    deadline: float
    _reader: BodyReader | None
    _active: Exchange | None
    _queue: deque[Queued]
    _pending_error: FixedResponse | None
    _read_paused: bool
    _write_paused: bool
    _drain_waiter: asyncio.Future[None] | None
    # The proxy: the upstream connection whose reading follows this client's write
    # buffer (paused above the high-water mark), and the tunnel after a 101.
    flow_peer: Any
    tunnel: Any

    ctx: WorkerContext
    clock: Clock
    limits: Limits
    server_line: bytes
    extra_head: bytes  # header lines of the connection's own (HSTS on TLS), or b""
    transport: Any
    parser: Any
    peer: str
    _url_parts: list[bytes]
    access_log: AccessLog | None
    fast_lane: bool
    _req: Request | None
    _action: Action | None
    _in_feed: bool
    _out: list[bytes]
    _close_after: bool
    _stop: bool

    def end_run(self) -> None:
        """Fold the fast lane's current run into its action's count."""
        action = self.run_action
        if action is not None:
            action.fast_answers += self.served - self.run_since
            self.run_action = None

    @property
    def _url(self) -> bytes:
        """The request-target received so far (for limits and the error log)."""
        parts = self._url_parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # ----------------------------------------------------------------- streaming actions

    def _complete_queued(self, req: Request, action: Action) -> None:
        reader = self._reader
        self._reader = None
        if action.streaming and reader is None and self._active is None and not self._queue:
            # Answered already: a task-free exchange that finished inside begin() (a
            # cache hit). The connection waits for the next request.
            self.state = IDLE
            self.deadline = self.clock.now + self.limits.keepalive_timeout
            return
        self.state = BUSY
        self.deadline = _NEVER
        if action.streaming:
            if reader is not None:
                reader.end()
            for q in self._queue:
                if q.req is req:
                    q.complete = True
        else:
            q = Queued(req, action, None)
            q.complete = True
            self._queue.append(q)
            self.pause_reading()

    def _start(self, req: Request, action: Action, reader: BodyReader | None) -> None:
        writer = ResponseWriter(self, req)  # type: ignore[arg-type]
        if reader is None:
            # An action may finish a body-less request without a Task (a Task per
            # request is a measurable share of a proxied request's CPU time).
            try:
                exchange = action.begin(req, writer)
            except Exception:
                if not self._failed(req, writer):
                    self._after_exchange(req, writer, None)  # half sent: closes
                return
            if exchange is ANSWERED:
                self.exchange_done(req, writer)
                return
            if exchange is not None:
                self._active = exchange
                return
        self.run_task(req, action, reader, writer)

    def run_task(
        self, req: Request, action: Action, reader: BodyReader | None, writer: ResponseWriter
    ) -> None:
        """Run `action.stream` as a Task (also: an action's task-free attempt handing over)."""
        self._active = asyncio.get_running_loop().create_task(
            self._run(req, action, reader, writer)
        )

    async def _run(
        self, req: Request, action: Action, reader: BodyReader | None, writer: ResponseWriter
    ) -> None:
        try:
            await action.stream(req, reader, writer)
            writer.end()
        except BadRequestBody:
            self._refuse_body(req, writer)
            return
        except (ClientDisconnected, asyncio.CancelledError):
            return
        except Exception:
            if self._failed(req, writer):
                return
        self._after_exchange(req, writer, reader)

    def _failed(self, req: Request, writer: ResponseWriter) -> bool:
        """An action raised: logged, and a 500 if nothing was sent yet (then True: the
        exchange is over). After a response began, its framing is lost: the connection
        closes once the exchange ends."""
        self.ctx.log_exception(req)
        req.keep_alive = False
        if writer.started:
            return False
        self._active = None
        self._respond(req, self.ctx.error(500, "internal error"))
        if not self._in_feed:  # else data_received sends it (and closes) at its end
            self._flush()
        return True

    def _refuse_body(self, req: Request, writer: ResponseWriter) -> None:
        """The body the action was reading is malformed (see `_protocol_error`): answer
        the error now, unless a response has begun, and close. The action has dropped
        its side already (the proxy aborts the upstream connection: its framing is lost)."""
        self._active = None
        resp = self._pending_error
        self._pending_error = None
        self._queue.clear()
        req.keep_alive = False
        if resp is not None and not writer.started and self.state != CLOSED:
            head_only = req.method == b"HEAD"
            self.write(resp.with_connection(self.clock.date_line, CONN_CLOSE, head_only))
            self.ctx.log_request(req, resp.status, 0 if head_only else len(resp.body))
        elif writer.started:
            writer.abort()
            self.ctx.log_request(req, writer.status, writer.sent)
        self._linger_close()

    def exchange_done(self, req: Request, writer: ResponseWriter) -> None:
        """A task-free exchange (see `_start`) has finished its response."""
        if not writer.ended:
            writer.end()
        self._after_exchange(req, writer, None)

    def _after_exchange(
        self, req: Request, writer: ResponseWriter, reader: BodyReader | None
    ) -> None:
        if self.access_log is not None:  # None when logging is off: skip the call
            self.ctx.log_request(req, writer.status, writer.sent)
        else:
            self.ctx.observe(req, writer.status)
        self._active = None
        ctx = self.ctx
        if ctx.closing and (not req.keep_alive or ctx.idle_grace <= 0):
            req.keep_alive = False
        elif ctx.closing:
            # Draining, and this answer began before the drain: it told the client
            # to keep the connection, which may be sending its next request right
            # now. Closing would lose that request (a POST cannot be retried); it is
            # taken and answered with Connection: close, and an idle connection is
            # closed after the grace (shutdown(), once the queue has moved on).
            self.fast_lane = False
        if req.keep_alive and reader is not None and not reader.complete:
            # The action answered without reading the whole body: the rest of it is
            # still on the wire, so the connection cannot carry another request.
            req.keep_alive = False
        if not req.keep_alive:
            self._queue.clear()
            self._linger_close()
            return
        self._next_in_queue()
        if ctx.closing:
            self.shutdown(ctx.idle_grace)

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
            self._answer(q.req, q.action)
            if self._active is not None:
                return  # the action chose to stream this one
            if not q.req.keep_alive:
                self._queue.clear()
                self._linger_close()
                return
        if not self._queue and self._active is None:
            pending = self._pending_error
            if pending is not None:
                self.write(pending.with_connection(self.clock.date_line, CONN_CLOSE, False))
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

    def pause_writing(self) -> None:
        self._write_paused = True
        self.deadline = min(self.deadline, self.clock.now + self.limits.write_timeout)
        if self.flow_peer is not None:
            self.flow_peer.pause_reading()  # a slow client slows the backend's reading

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.state == BUSY:
            self.deadline = _NEVER
        if self.flow_peer is not None:
            self.flow_peer.resume_reading()
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ------------------------------------------------------------------------ responses

    def _answer(self, req: Request, action: Action) -> None:
        """A non-streaming action's answer; one that returns None is streamed instead
        (a static file that is not in memory)."""
        try:
            resp = action.fixed or action.respond(req)
        except Exception:
            # A bug in an action is a 500 and a traceback in the error log, as in
            # stream(): not an exception out of data_received, which drops the
            # connection and every request queued on it.
            self.ctx.log_exception(req)
            req.keep_alive = False
            resp = self.ctx.error(500, "internal error")
        if resp is None:
            self.state = BUSY
            self.deadline = _NEVER
            self._start(req, action, None)
        else:
            self._respond(req, resp)

    def _respond(self, req: Request, resp: FixedResponse) -> None:
        date_line = self.clock.date_line
        head_only = req.method == b"HEAD"
        if req.keep_alive and not resp.close and req.version == "1.1":
            if head_only:
                data = resp.with_connection(date_line, b"", True)
            else:
                data = resp.rendered(date_line)
        else:
            if resp.close or not req.keep_alive:
                req.keep_alive = False
                conn = CONN_CLOSE
                self._close_after = True
            else:
                conn = CONN_KEEP_ALIVE  # an HTTP/1.0 client that asked for it
            data = resp.with_connection(date_line, conn, head_only)
        if self.extra_head:  # fields of the connection's own (HSTS on TLS): after the status
            end = data.index(b"\r\n") + 2
            data = data[:end] + self.extra_head + data[end:]
        self.write(data)
        if self.access_log is not None:
            self.ctx.log_request(req, resp.status, 0 if head_only else len(resp.body))
        else:
            self.served += 1
            self.ctx.observe(req, resp.status)

    def write(self, data: bytes) -> None:
        """Queue bytes for the client; while parsing, batched into one send."""
        if self._in_feed:
            self._out.append(data)
        elif self.state != CLOSED:
            self.transport.write(data)

    def hold_writes(self) -> None:
        """Batch what is written until release_writes(): one send for a head and body
        that arrive from a backend in one read."""
        self._in_feed = True

    def release_writes(self) -> None:
        self._in_feed = False
        out = self._out
        if out:
            if self.state != CLOSED:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

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
        transport = self.transport
        if self.state == CLOSED:
            return
        out = self._out
        if out:  # batched answers go out before the FIN
            transport.write(b"".join(out))
            out.clear()
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
            # An action reading this body (the proxy) stops at once and the error is
            # answered then (`_refuse_body`), rather than after the body timeout.
            self._reader.abort(BadRequestBody(status, reason))
            self._reader = None
        if self._active is not None or self._queue:
            # Earlier pipelined answers are still being produced: the error follows
            # them, then the connection closes (never reordered).
            self._stop = True
            self._close_after = True
            self._pending_error = resp
            return
        try:
            head_only = self.parser.get_method() == b"HEAD"
        except Exception:  # the parser may not have got as far as the method
            head_only = False
        # RFC 9110 §9.3.2: no content in an answer to HEAD, errors included.
        self.write(resp.with_connection(self.clock.date_line, CONN_CLOSE, head_only))
        self.ctx.log_error_request(self, status, self._url, 0 if head_only else len(resp.body))
        self._stop = True
        self._close_after = True
        self.state = BUSY

    def _parser_error(self, message: str) -> None:
        if "HTTP version" in message or "PRI/Upgrade" in message:
            self._protocol_error(505, "HTTP version not supported")
        elif "Transfer-Encoding" in message:
            # llhttp refuses a request whose final coding is not chunked: RFC 9112
            # §6.3 makes that a 400, whatever the codings are.
            self._protocol_error(400, "invalid Transfer-Encoding")
        else:
            self._protocol_error(400, "malformed request")

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
        self.fast_lane = False  # the next answer must say Connection: close
        if self.state == IDLE and self._active is None and not self._queue:
            if grace_idle <= 0:
                self.transport.close()
            else:
                self.deadline = min(self.deadline, self.clock.now + grace_idle)
