"""Streaming exchanges on a connection: one action at a time, pipelined ones queued.

A streaming action (static files, the proxy) runs as a task; requests parsed while it
runs wait in a queue, and reading pauses, so answers are never reordered and nothing
is buffered without bound. Flow control both ways lives here too.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from frontdesk.server.exchange import BodyReader, ClientDisconnected, ResponseWriter
from frontdesk.server.request import Queued, Request
from frontdesk.server.response import CONN_CLOSE, FixedResponse

if TYPE_CHECKING:
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

_NEVER = float("inf")


class StreamingMixin:
    """The streaming half of HttpProtocol (which holds the state declared here)."""

    __slots__ = (
        "state",
        "deadline",
        "_reader",
        "_active",
        "_queue",
        "_pending_error",
        "_read_paused",
        "_write_paused",
        "_drain_waiter",
    )

    state: int
    deadline: float
    _reader: BodyReader | None
    _active: asyncio.Task[None] | None
    _queue: deque[Queued]
    _pending_error: FixedResponse | None
    _read_paused: bool
    _write_paused: bool
    _drain_waiter: asyncio.Future[None] | None

    if TYPE_CHECKING:
        ctx: WorkerContext
        clock: Clock
        limits: Limits
        transport: Any

        def _respond(self, req: Request, resp: FixedResponse) -> None: ...
        def _flush(self) -> None: ...
        def _linger_close(self) -> None: ...
        def write(self, data: bytes) -> None: ...

    def _complete_queued(self, req: Request, action: Action) -> None:
        reader = self._reader
        self._reader = None
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

    # ----------------------------------------------------------------- streaming actions

    def _start(self, req: Request, action: Action, reader: BodyReader | None) -> None:
        writer = ResponseWriter(self, req)  # type: ignore[arg-type]
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
        if self.ctx.closing:
            req.keep_alive = False
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
