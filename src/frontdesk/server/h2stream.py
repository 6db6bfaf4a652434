"""One HTTP/2 stream as route actions see it: the same Request, BodyReader and
ResponseWriter interface the HTTP/1.1 core gives them (server/exchange.py).

`H2Stream` stands where an action expects its client connection (`out.conn`): the
proxy ties its upstream reading to it (`flow_peer`), batches its writes
(`hold_writes`), finishes task-free exchanges (`exchange_done`). `H2ResponseWriter`
turns start/write/end into HEADERS and DATA frames of this stream; `H2BodyReader`
hands the request body over and reopens the flow-control window only as the action
consumes it, so a slow backend slows the upload (RFC 9113 §5.2).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from frontdesk.server.exchange import BadRequestBody, BodyReader, ClientDisconnected, ResponseWriter
from frontdesk.server.h2fields import field_lines, response_fields
from frontdesk.server.response import NO_BODY_STATUS

if TYPE_CHECKING:
    from frontdesk.server.actions import Action
    from frontdesk.server.connection import Exchange
    from frontdesk.server.h2conn import H2Protocol
    from frontdesk.server.request import Request

__all__ = ["H2Stream", "H2ResponseWriter", "H2BodyReader"]

# A response whose Content-Length is at most this has its head held until the body
# comes, to go out with it (one frame each).
SMALL = 16 * 1024
# A stream's response bytes waiting for flow-control window: above this the action's
# source (the proxy's backend connection) is paused, and drain() waits.
HIGH_WATER = 64 * 1024


class H2Stream:
    """One request and its response on an HTTP/2 connection."""

    __slots__ = (
        "proto",
        "id",
        "req",
        "reader",
        "writer",
        "pending",
        "pending_size",
        "end_pending",
        "trailers",
        "flow_peer",
        "active",
        "closed",
        "remote_done",
        "body_size",
        "max_body",
        "_waiter",
        "_peer_paused",
        "fresh",
    )

    # The body goes out in DATA frames: sendfile(2) never applies (server/sendfile.py
    # checks this attribute of the connection it is handed).
    https = True
    extra_head = b""
    tunnel_data = b""

    def __init__(self, proto: H2Protocol, stream_id: int) -> None:
        self.proto = proto
        self.id = stream_id
        self.req: Request | None = None
        self.reader: H2BodyReader | None = None
        self.writer: H2ResponseWriter | None = None
        self.pending: deque[bytes] = deque()  # response bytes waiting for window
        self.pending_size = 0
        self.end_pending = False  # END_STREAM goes after the pending bytes
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.flow_peer: Any = None
        self.active: Exchange | None = None
        self.closed = False  # reset, or the response complete
        self.remote_done = False  # the client's END_STREAM has arrived
        self.body_size = 0
        self.max_body = 0
        self._waiter: asyncio.Future[None] | None = None
        self._peer_paused = False
        # `h2` does not know this stream yet (taken by the fast receive path, h2fast.py):
        # a whole answer may still go out without it, anything else adopts it first.
        self.fresh = False

    # ------------------------------------------------------ what actions call on conn

    @property
    def ctx(self) -> Any:
        return self.proto.ctx

    @property
    def clock(self) -> Any:
        return self.proto.clock

    @property
    def limits(self) -> Any:
        return self.proto.limits

    @property
    def server_line(self) -> bytes:
        return self.proto.ctx.server_line

    def hold_writes(self) -> None:
        self.proto.hold_writes()

    def release_writes(self) -> None:
        self.proto.release_writes()

    def pause_reading(self) -> None:
        """The request body is bounded by the stream's window: nothing to pause."""

    def resume_reading(self) -> None:
        pass

    def send_continue(self) -> None:
        # RFC 9113 §8.1: interim responses are HEADERS frames without END_STREAM.
        if not self.closed:
            self.proto.send_head(self, [(b":status", b"100")], False)

    def exchange_done(self, req: Request, writer: ResponseWriter) -> None:
        """A task-free exchange (the proxy, a cache hit) has finished its response."""
        if not writer.ended:
            writer.end()
        self.active = None
        self.proto.answered(self, req, writer.status, writer.sent)

    def run_task(
        self, req: Request, action: Action, reader: BodyReader | None, writer: ResponseWriter
    ) -> None:
        self.active = asyncio.get_running_loop().create_task(self._run(req, action, reader, writer))

    async def _run(
        self, req: Request, action: Action, reader: BodyReader | None, writer: ResponseWriter
    ) -> None:
        try:
            await action.stream(req, reader, writer)
            writer.end()
        except BadRequestBody as exc:
            self.active = None
            self.proto.refuse(self, req, exc.args[0], exc.args[1])
            return
        except (ClientDisconnected, asyncio.CancelledError):
            return
        except Exception:
            self.failed(req, writer)
            return
        self.active = None
        self.proto.answered(self, req, writer.status, writer.sent)

    def failed(self, req: Request, writer: ResponseWriter) -> None:
        """The action raised (a bug): logged; a 500 if nothing was sent yet, else the
        stream is reset, its framing lost (RFC 9113 §8.1), and the exchange ends."""
        self.proto.ctx.log_exception(req)
        if not writer.started:
            self.active = None
            self.proto.refuse(self, req, 500, "internal error")
            return
        writer.abort()
        self.active = None
        self.proto.answered(self, req, writer.status, writer.sent)

    # -------------------------------------------------------------- flow control

    async def drain(self) -> None:
        """Wait while this stream's window, or the connection's socket, is full."""
        while self.pending_size > HIGH_WATER or self.proto.write_paused:
            if self.closed:
                raise ClientDisconnected()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.closed:
            raise ClientDisconnected()

    def wake(self) -> None:
        """Window or socket space has opened (or the stream is gone)."""
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        peer = self.flow_peer
        if self._peer_paused and peer is not None and self.pending_size <= HIGH_WATER:
            if not self.proto.write_paused or self.closed:
                self._peer_paused = False
                peer.resume_reading()

    def backed_up(self) -> None:
        """Too much waits for window or socket: the source stops (the proxy's backend)."""
        peer = self.flow_peer
        if not self._peer_paused and peer is not None:
            self._peer_paused = True
            peer.pause_reading()

    def cancel(self) -> None:
        """The client reset the stream, or the connection is gone: drop everything."""
        if self.closed and self.active is None and self.reader is None:
            return
        self.closed = True
        self.pending.clear()
        self.pending_size = 0
        active = self.active
        self.active = None
        if active is not None:
            active.cancel()
        if self.reader is not None:
            self.reader.abort(ClientDisconnected())
        self.wake()


class H2BodyReader(BodyReader):
    """The request body of one stream: its window reopens as the action reads."""

    __slots__ = ("_stream",)

    def __init__(self, stream: H2Stream, expect_continue: bool) -> None:
        super().__init__(cast(Any, stream), expect_continue)
        self._stream = stream

    async def read(self) -> bytes:
        chunk = await super().read()
        if chunk:
            self._stream.proto.consumed(self._stream, len(chunk))
        return chunk


class H2ResponseWriter(ResponseWriter):
    """A response as HEADERS and DATA frames of one stream (RFC 9113 §8.1)."""

    __slots__ = ("stream", "_length", "_held")

    def __init__(self, stream: H2Stream, req: Request) -> None:
        super().__init__(cast(Any, stream), req)
        self.stream = stream
        self._length = -1  # Content-Length, when known: the last DATA frame ends the stream
        # The fields of a small response's head, held until its body comes (usually at
        # once): head and body then go out together (H2Protocol.send_whole).
        self._held: list[tuple[bytes, bytes]] | None = None

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], content_length: int | None = None
    ) -> None:
        fields = list(headers)
        server = self.stream.proto.server_field
        if server is not None:
            fields.insert(0, server)
        if content_length is not None and status not in NO_BODY_STATUS:
            fields.append((b"content-length", b"%d" % content_length))
            self._length = content_length
        fields.append(self.stream.proto.date_field())
        self._head(status, fields)

    def start_forwarded(
        self,
        status: int,
        block: bytes,
        has_length: bool,
        has_date: bool,
        fields: object = None,
        version: str = "1.1",
    ) -> None:
        lines = field_lines(block)
        if has_length:
            for name, value in lines:
                if len(name) == 14 and name.lower() == b"content-length":
                    self._length = int(value)
        if not has_date:
            lines.append(self.stream.proto.date_field())
        self._head(status, lines)

    def interim(self, status: int, block: bytes) -> None:
        """A 1xx before the final answer (the proxy: a backend's 103 Early Hints)."""
        if not self.started and not self.stream.closed:
            fields = response_fields(status, field_lines(block))
            self.stream.proto.send_head(self.stream, fields, False)

    def _head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        self._no_body = self._req.method == b"HEAD" or status in NO_BODY_STATUS
        extra = self.stream.proto.extra_fields(self._req)
        if extra:
            headers.extend(extra)
        stream = self.stream
        if stream.closed:
            return
        end = self._no_body or self._length == 0
        fields = response_fields(status, headers)
        if not end and 0 < self._length <= SMALL:
            self._held = fields
            return
        stream.proto.send_head(stream, fields, end)
        if end:
            self.ended = True

    def _release(self, held: list[tuple[bytes, bytes]]) -> None:
        self._held = None
        self.stream.proto.send_head(self.stream, held, False)

    def write(self, data: bytes) -> None:
        if not data or self._no_body or self.ended:
            return
        held = self._held
        if held is not None:
            self._held = None
            if len(data) == self._length and self.stream.proto.send_whole(self.stream, held, data):
                self.sent = len(data)
                self.ended = True
                return
            self._release(held)
        self.sent += len(data)
        end = self.sent == self._length  # the last bytes of a known length end the stream
        if end:
            self.ended = True
        self.stream.proto.send_body(self.stream, data, end)

    async def drain(self) -> None:
        await self.stream.drain()

    def end(self, trailers: bytes = b"") -> None:
        if self.ended:
            return
        if not self.started:
            self.start(204, [])
            if self.ended:
                return
        if self._held is not None:
            self._release(self._held)
        self.ended = True
        self.stream.proto.end_body(self.stream, field_lines(trailers) if trailers else None)

    def close_after(self) -> None:
        """HTTP/1.1's "close the connection after this answer" means nothing to one
        stream of many: the stream ends (reset if the request is still arriving)."""

    def abort(self) -> None:
        """A started response cannot be completed: RST_STREAM (RFC 9113 §8.1)."""
        self.ended = True
        self._held = None
        self.stream.proto.reset(self.stream, internal=True)
