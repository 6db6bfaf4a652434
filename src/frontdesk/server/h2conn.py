"""One HTTP/2 connection (RFC 9113): an asyncio.Protocol driving the `h2` library.

`h2` parses frames, decodes and encodes HPACK and keeps the stream states and flow-
control windows; this shell feeds it bytes, turns its events into requests
(h2dispatch.py) and writes what it has to send. Around it:

- flow control both ways: a response's bytes go out as far as the stream's and the
  connection's windows allow (§5.2), the rest waits on the stream, its source paused
  (`H2Stream.backed_up`: the proxy's backend, a file's reads) until WINDOW_UPDATE;
  request bodies are acknowledged only as actions read them (h2stream.py);
- a full socket stops reading, so a client that does not read cannot make the server
  queue answers to its PINGs and SETTINGS without bound (§6.7, CVE-2019-9512);
- floods (rapid reset, CONTINUATION, control and empty frames) are judged by
  h2guard.py on the raw frame headers, before `h2` buffers or decodes anything, and
  answered with GOAWAY ENHANCE_YOUR_CALM; the HPACK bomb stops at the decoder's limit;
- the HEADERS frames that open a stream with a body-less request are taken by the
  fast receive path (h2fast.py) instead of `h2`'s event machinery.

The worker treats it as any client connection: `deadline`/`on_deadline` (idle, write
stall), `shutdown` (GOAWAY, then close when the streams in flight are done), `served`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.events as ev
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from frontdesk.log import error_log
from frontdesk.server.h2dispatch import H2Dispatch, H2Settings
from frontdesk.server.h2fast import H2FastPath
from frontdesk.server.h2fields import LiteralEncoder, MemoDecoder, request_head
from frontdesk.server.h2guard import FrameGuard
from frontdesk.server.h2output import H2Output

if TYPE_CHECKING:
    from frontdesk.http.routing import RouteTable
    from frontdesk.server.actions import Action
    from frontdesk.server.context import WorkerContext
    from frontdesk.server.h2stream import H2Stream

__all__ = ["H2Protocol"]

_NEVER = float("inf")
_S = h2.settings.SettingCodes
_WARN_EVERY = 10.0  # seconds between warnings of one kind: a flood must not flood the log
_warned: dict[str, list[float]] = {}  # kind → [when last logged, floods not logged since]


def _warn_flood(peer: str, why: str) -> None:
    kind = why.partition(":")[0]
    now = time.monotonic()
    seen = _warned.setdefault(kind, [-_WARN_EVERY, 0])
    if now - seen[0] < _WARN_EVERY:
        seen[1] += 1
        return
    more = f" ({seen[1]:.0f} more since the last warning)" if seen[1] else ""
    error_log.warning("http2 connection from %s closed: %s%s", peer, why, more)
    seen[0] = now
    seen[1] = 0


class H2Protocol(H2FastPath, H2Output, H2Dispatch, asyncio.Protocol):
    """A client connection that speaks HTTP/2 (after ALPN "h2", or an h2c preface)."""

    def __init__(
        self,
        ctx: WorkerContext,
        settings: H2Settings,
        https: bool,
        routes: RouteTable[Action],
        hsts: dict[str, bytes] | None = None,
    ) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.limits = ctx.limits
        self.settings = settings
        self.https = https
        self.routes = routes
        self.catch_all = routes.catch_all
        hsts = dict(hsts or {})
        self.hsts_default = hsts.pop("*", b"")
        self.hsts = hsts
        server = ctx.server_header
        self.server_field = (b"server", server.encode("latin-1")) if server else None
        self.peer = "-"
        self.served = 0
        # The fast lane (H2Dispatch.fresh_request) counts its answers by runs, as
        # HTTP/1.1's does (server/connection.py).
        self.fast_lane = not ctx.access_log.enabled
        self.run_action: Action | None = None
        self.run_since = 0
        self._max_streams = settings.max_concurrent_streams
        self._peer_window = 65535  # §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE's initial value
        self.streams: dict[int, H2Stream] = {}
        self.transport: Any = None
        self.deadline = _NEVER
        self.write_paused = False
        self.closed = False
        self._going_away = False  # GOAWAY sent: no new streams, close when idle
        self._hold = 0
        self._flush_soon = False
        self._blocked: dict[int, H2Stream] = {}  # streams with bytes waiting for window
        self._date_line = b""
        self._date = (b"date", b"")
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            # Request fields are checked by h2fields.py (one pass, and a malformed
            # request resets its stream instead of ending the connection); response
            # fields are built lower case and filtered there too.
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = h2.connection.H2Connection(config)
        limit = settings.max_header_list_size
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                _S.MAX_CONCURRENT_STREAMS: settings.max_concurrent_streams,
                _S.MAX_HEADER_LIST_SIZE: limit,
                _S.INITIAL_WINDOW_SIZE: settings.initial_window_size,
                _S.ENABLE_PUSH: 0,
            },
        )
        # Decoding stops (and the connection ends) at twice the advertised limit: a
        # section between the two is decoded and answered 431, a bomb is not.
        self._decoder = conn.decoder = MemoDecoder()
        conn.decoder.max_header_list_size = 2 * limit
        conn.encoder = LiteralEncoder()
        self._h2 = conn
        self._guard = FrameGuard(
            2 * limit, settings.max_resets, settings.max_control_frames, ctx.clock.now
        )

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = peer[0]
        now = self.clock.now
        ctx = self.ctx
        ctx.connections.add(self)
        if len(ctx.connections) >= self.limits.max_connections:
            ctx.at_capacity()
        conn = self._h2
        conn.initiate_connection()
        extra = self.settings.connection_window_size - 65535
        if extra > 0:  # §6.9.2: the connection window starts at 65,535 whatever SETTINGS say
            conn.increment_flow_control_window(extra)
        self.deadline = now + self.limits.header_timeout
        if ctx.closing:
            self.shutdown(0.0)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ctx = self.ctx
        ctx.connections.discard(self)
        self.end_run()
        ctx.requests += self.served
        self.served = 0
        if ctx.accept_paused:
            ctx.below_capacity()
        streams = list(self.streams.values())
        self.streams.clear()
        self._blocked.clear()
        for stream in streams:
            stream.cancel()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        guard = self._guard
        why = guard.feed(data, self.clock.now)
        if why is not None:
            self._calm(why)
            return
        self._hold += 1
        try:
            if guard.heads:
                self._receive_split(data, guard.heads)
            else:
                self._receive(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued a GOAWAY with the error's code (§5.4.1): send it, close.
            if isinstance(exc, h2.exceptions.DenialOfServiceError):
                _warn_flood(self.peer, str(exc))
            else:
                error_log.info("http2 connection from %s ended: %s", self.peer, exc)
            self._close()
            return
        finally:
            self._hold -= 1
        self._flush()
        self._set_deadline()

    def _event(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is ev.RequestReceived:
            sid = event.stream_id  # type: ignore[attr-defined]
            if self._going_away:
                self.refuse_stream(sid, "", ErrorCodes.REFUSED_STREAM)
                return
            head = request_head(event.headers)  # type: ignore[attr-defined]
            self.request(sid, head, event.stream_ended is not None)  # type: ignore[attr-defined]
        elif kind is ev.DataReceived:
            self._data(event)  # type: ignore[arg-type]
        elif kind is ev.StreamEnded:
            stream = self.streams.get(event.stream_id)  # type: ignore[attr-defined]
            if stream is not None:
                stream.remote_done = True
                if stream.reader is not None:
                    stream.reader.end()
        elif kind is ev.WindowUpdated:
            sid = event.stream_id  # type: ignore[attr-defined]
            if sid:
                stream = self._blocked.get(sid)
                if stream is not None:
                    self._unblock(stream)
            elif self._blocked:
                for stream in list(self._blocked.values()):
                    self._unblock(stream)
        elif kind is ev.StreamReset:
            stream = self.streams.pop(event.stream_id, None)  # type: ignore[attr-defined]
            if stream is not None:
                self._blocked.pop(stream.id, None)
                stream.cancel()
        elif kind is ev.TrailersReceived:
            stream = self.streams.get(event.stream_id)  # type: ignore[attr-defined]
            if stream is not None and stream.reader is not None:
                stream.reader.trailers = self.trailer_fields(event.headers)  # type: ignore[attr-defined]
        elif kind is ev.RemoteSettingsChanged:
            if _S.INITIAL_WINDOW_SIZE in event.changed_settings:  # type: ignore[attr-defined]
                self._peer_window = self._h2.remote_settings.initial_window_size
                for stream in list(self._blocked.values()):
                    self._unblock(stream)
        elif kind is ev.ConnectionTerminated:
            self._going_away = True  # the client's GOAWAY: finish what is in flight
            if not self.streams:
                self._close()

    def _data(self, event: ev.DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        data = event.data or b""
        flow = event.flow_controlled_length or 0
        reader = stream.reader if stream is not None else None
        if stream is None or reader is None:
            # Nobody reads this body (a closed stream, an action that answered without
            # it): acknowledged at once, so the connection's window stays open.
            if flow:
                self._h2.acknowledge_received_data(flow, event.stream_id)
            return
        if flow > len(data):  # padding counts against the window but is nobody's to read
            self._h2.acknowledge_received_data(flow - len(data), stream.id)
        stream.body_size += len(data)
        if stream.max_body and stream.body_size > stream.max_body:
            from frontdesk.server.exchange import BadRequestBody

            stream.reader = None
            reader.abort(BadRequestBody(413, "request body too large"))
            self._h2.acknowledge_received_data(len(data), stream.id)
            return
        if data:
            reader.feed(data)

    def pause_writing(self) -> None:
        # The socket is full: stop reading (no more requests, PINGs or SETTINGS to
        # answer) and stop the streams' sources until it drains.
        self.write_paused = True
        self.transport.pause_reading()
        self.deadline = min(self.deadline, self.clock.now + self.limits.write_timeout)
        for stream in self.streams.values():
            stream.backed_up()

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.closed:
            self.transport.resume_reading()
        for stream in list(self.streams.values()):
            stream.wake()
        self._set_deadline()

    def eof_received(self) -> bool | None:
        return None  # a half-closed HTTP/2 client is gone: close

    # ------------------------------------------------------- timeouts, shutdown

    def _set_deadline(self) -> None:
        if self.write_paused:
            return
        if self.streams:
            self.deadline = _NEVER
        elif self._going_away:
            self._close()
        else:
            self.deadline = self.clock.now + self.limits.keepalive_timeout

    def on_deadline(self) -> None:
        """Called by the worker's tick once `clock.now` has passed `deadline`."""
        self.deadline = _NEVER
        if self.write_paused:
            self.transport.abort()  # a client that stopped reading our responses
            return
        self._goaway(ErrorCodes.NO_ERROR)
        self._close()

    def shutdown(self, grace_idle: float) -> None:
        """Say GOAWAY (§6.8): streams in flight finish, no new one starts."""
        if not self._going_away:
            self._goaway(ErrorCodes.NO_ERROR)
        if not self.streams:
            if grace_idle <= 0:
                self._close()
            else:
                self.deadline = min(self.deadline, self.clock.now + grace_idle)

    def _goaway(self, code: ErrorCodes) -> None:
        # Written around h2: its own close_connection would end the connection's state
        # machine, and the streams still in flight could not finish.
        self._going_away = True
        frame = GoAwayFrame(0, last_stream_id=self._h2.highest_inbound_stream_id)
        frame.error_code = code
        self._flush()
        if not self.closed:
            self.transport.write(frame.serialize())

    def _calm(self, why: str) -> None:
        _warn_flood(self.peer, why)
        self._goaway(ErrorCodes.ENHANCE_YOUR_CALM)
        self._close()

    def _close(self) -> None:
        self._flush()
        if not self.closed:
            self.closed = True
            self.transport.close()
