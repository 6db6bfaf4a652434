"""The fast receive path of an HTTP/2 connection: the HEADERS frames that open a
stream with a body-less request, taken without `h2`'s event machinery.

Profiled under h2load, `h2` spent about two thirds of a request's CPU time on the
receiving side: a frame object (and its repr, for a log line nobody reads), the
connection and stream state machines, an event object, a stream object and a scan of
every stream to count the open ones. For the frame most requests are — one HEADERS
frame with END_HEADERS and END_STREAM (RFC 9113 §6.2), on a new stream — this does
what `h2` would, in a few lines:

- `FrameGuard` (h2guard.py) notes where such frames start while it walks the frame
  headers; the bytes before each go to `h2` first (and their events are handled), so
  frames are processed in order and `h2`'s buffer is at a frame boundary;
- the frame is `h2`'s again unless the connection is open and not going away, the
  stream id is odd and higher than any before (§5.1.1), the concurrency limit is not
  reached and the frame is within SETTINGS_MAX_FRAME_SIZE: `h2` then raises the
  right error, and nothing here has changed its state;
- the block is decoded by the connection's HPACK decoder (MemoDecoder.head), its
  errors mapped as `h2` maps them (a connection error; the HPACK bomb is
  ENHANCE_YOUR_CALM), and the stream id is recorded as the highest seen;
- the request goes to `H2Dispatch.fresh_request`: a fixed answer's frames are
  written directly (`send_fast`: the connection's send window is charged, the stream
  is recorded as closed by our END_STREAM, as `h2` records the streams it forgets);
  anything else is handed to `h2` (`adopt`: the stream `h2` would have made, in the
  half-closed (remote) state, §5.1) and served by the general path.

`h2` is pinned below 5 (pyproject.toml): this reads and sets its connection's
attributes, as h2output.py's `send_whole` does.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import h2.connection
import h2.exceptions
import h2.stream
from hpack import HPACKError, OversizedHeaderListError

from frontdesk.server.h2guard import END_STREAM, PRIORITY_FLAG

if TYPE_CHECKING:
    from frontdesk.server.h2fields import H2Request, MemoDecoder
    from frontdesk.server.h2stream import H2Stream

__all__ = ["H2FastPath"]

_OPEN = h2.connection.ConnectionState.SERVER_OPEN
_RECV_HEADERS = h2.stream.StreamInputs.RECV_HEADERS
_RECV_END_STREAM = h2.stream.StreamInputs.RECV_END_STREAM
_CLOSED_BY_US = h2.stream.StreamClosedBy.SEND_END_STREAM
_FRAME_HEAD = struct.Struct(">BHBBI")  # RFC 9113 §4.1: length (24 bits), type, flags, id
_remember = OrderedDict.__setitem__  # h2's SizeLimitDict without its per-item trim


class H2FastPath:
    """The fast receive path of H2Protocol (h2conn.py)."""

    _h2: h2.connection.H2Connection
    _decoder: MemoDecoder
    _going_away: bool
    _max_streams: int
    _peer_window: int  # the peer's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's window
    closed: bool
    streams: dict[int, H2Stream]

    if TYPE_CHECKING:  # provided by H2Protocol and H2Dispatch (after this in the MRO)

        def _event(self, event: Any) -> None: ...

        def fresh_request(self, stream_id: int, head: H2Request | str) -> None: ...

    def _receive(self, data: bytes) -> None:
        """Bytes for `h2`; its events handled in order."""
        for event in self._h2.receive_data(data):
            self._event(event)

    def _receive_split(self, data: bytes, heads: list[int]) -> None:
        """`data`, with the HEADERS frames at `heads` (FrameGuard.heads) taken here
        when they can be, and everything else handed to `h2` in order."""
        start = 0
        for pos in heads:
            if pos > start:
                self._receive(data[start:pos])
                if self.closed:
                    return
                start = pos
            end = self._take(data, pos)
            if end:
                start = end
        if start < len(data):
            self._receive(data[start:] if start else data)

    def _take(self, data: bytes, pos: int) -> int:
        """Take the HEADERS frame at `pos` (a whole header block in `data`); its end,
        or 0 when it is `h2`'s to receive."""
        high, low, _, flags, sid = _FRAME_HEAD.unpack_from(data, pos)
        if not flags & END_STREAM or self._going_away:
            return 0
        conn = self._h2
        sid &= 0x7FFFFFFF
        length: int = high << 16 | low
        if (
            not sid & 1
            or sid <= conn.highest_inbound_stream_id
            or len(self.streams) >= self._max_streams
            or length > conn.max_inbound_frame_size
            or conn.state_machine.state is not _OPEN
        ):
            return 0
        start = pos + 9
        end = start + length
        if flags & PRIORITY_FLAG:
            # §5.3.2: priority signals are deprecated and ignored; a stream that
            # depends on itself is left to `h2`, which ends the connection.
            if length < 5 or int.from_bytes(data[start : start + 4], "big") & 0x7FFFFFFF == sid:
                return 0
            start += 5
        try:
            head = self._decoder.head(data[start:end])
        except OversizedHeaderListError as exc:
            # As h2.connection._decode_headers: the HPACK bomb.
            why = f"Oversized header block: {exc}"
            raise self._fail(h2.exceptions.DenialOfServiceError(why)) from exc
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            why = f"Error decoding header block: {exc}"
            raise self._fail(h2.exceptions.ProtocolError(why)) from exc
        conn.highest_inbound_stream_id = sid
        self.fresh_request(sid, head)
        return end

    def _fail(self, exc: h2.exceptions.ProtocolError) -> h2.exceptions.ProtocolError:
        """A connection error (§5.4.1): GOAWAY queued, as `h2` queues it."""
        self._h2._terminate_connection(exc.error_code)
        return exc

    def adopt(self, stream_id: int) -> None:
        """Hand `h2` the stream of a request the fast path took: the stream it would
        have opened on HEADERS with END_STREAM (half-closed (remote), §5.1)."""
        conn = self._h2
        if len(conn.streams) >= 2 * self._max_streams:
            # `h2` forgets its closed streams only when it counts the open ones.
            conn.open_inbound_streams  # noqa: B018
        state = h2.stream.H2Stream(
            stream_id,
            config=conn.config,
            inbound_window_size=conn.local_settings.initial_window_size,
            outbound_window_size=conn.remote_settings.initial_window_size,
        )
        state.max_outbound_frame_size = conn.max_outbound_frame_size
        conn.streams[stream_id] = state
        machine = state.state_machine
        machine.process_input(_RECV_HEADERS)
        machine.process_input(_RECV_END_STREAM)

    def send_fast(self, stream_id: int, data: bytes, size: int) -> bool:
        """Queue a whole answer's frames (`size` bytes of DATA) for a stream `h2` never
        saw; False when the body does not fit the send windows (§6.9.1) or a table
        size update must go first (RFC 7541 §4.2: the encoder emits it)."""
        conn = self._h2
        if (
            size > conn.outbound_flow_control_window
            or size > self._peer_window
            or conn.encoder.table_size_changes
        ):
            return False
        conn.outbound_flow_control_window -= size
        conn._data_to_send += data
        closed = conn._closed_streams
        _remember(closed, stream_id, _CLOSED_BY_US)
        if len(closed) > conn.MAX_CLOSED_STREAMS:
            closed._check_size_limit()  # type: ignore[attr-defined]
        return True
