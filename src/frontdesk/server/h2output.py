"""The sending half of an HTTP/2 connection: HEADERS and DATA within the flow-control
windows (RFC 9113 §5.2), backpressure on the streams' sources, stream ends and resets.

A response's bytes go out as far as the stream's and the connection's send windows
allow; the rest waits on the stream (`H2Stream.pending`) and its source is paused
(`H2Stream.backed_up`: the proxy's backend connection, a file's reads) until a
WINDOW_UPDATE (`_unblock`). Writes made while the connection reads are sent in one
batch at the end of the read; others within one loop turn (`_wrote`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import h2.connection
import h2.exceptions
from h2.errors import ErrorCodes
from h2.stream import StreamInputs

from frontdesk.log import error_log
from frontdesk.server.h2fields import literal_block, response_fields

if TYPE_CHECKING:
    from frontdesk.server.clock import Clock
    from frontdesk.server.h2stream import H2Stream

__all__ = ["H2Output"]

_SEND_HEADERS = StreamInputs.SEND_HEADERS
_SEND_DATA = StreamInputs.SEND_DATA
_SEND_END_STREAM = StreamInputs.SEND_END_STREAM
_MAX_FRAME = 16384  # RFC 9113 §4.2: no peer's SETTINGS_MAX_FRAME_SIZE is smaller


def whole_frames(stream_id: int, block: bytes, body: bytes) -> bytes:
    """HEADERS (END_HEADERS) and DATA (END_STREAM) frames, or one HEADERS frame with
    both flags when there is no body (RFC 9113 §6.1, §6.2)."""
    sid = stream_id.to_bytes(4, "big")
    head = len(block).to_bytes(3, "big")
    if body:
        return b"".join(
            (head, b"\x01\x04", sid, block, len(body).to_bytes(3, "big"), b"\x00\x01", sid, body)
        )
    return b"".join((head, b"\x01\x05", sid, block))


class H2Output:
    """HEADERS, DATA, END_STREAM and RST_STREAM of a connection's responses."""

    _h2: h2.connection.H2Connection
    _hold: int
    _flush_soon: bool
    _blocked: dict[int, H2Stream]
    _date_line: bytes
    _date: tuple[bytes, bytes]
    streams: dict[int, H2Stream]
    transport: Any
    closed: bool
    write_paused: bool
    clock: Clock
    peer: str

    def _set_deadline(self) -> None:
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by H2FastPath (before this in the MRO)

        def send_fast(self, stream_id: int, data: bytes, size: int) -> bool: ...

    def hold_writes(self) -> None:
        self._hold += 1

    def release_writes(self) -> None:
        self._hold -= 1
        if not self._hold:
            self._flush()

    def _wrote(self) -> None:
        if not self._hold and not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        data = self._h2.data_to_send()
        if data and not self.closed:
            self.transport.write(data)

    def date_field(self) -> tuple[bytes, bytes]:
        line = self.clock.date_line
        if line is not self._date_line:
            self._date_line = line
            self._date = (b"date", line[6:-2])  # b"Date: ...\r\n"
        return self._date

    def send_head(self, stream: H2Stream, fields: list[tuple[bytes, bytes]], end: bool) -> None:
        if stream.closed:
            return
        self._h2.send_headers(stream.id, fields, end_stream=end)
        if end:
            self._ended(stream)
        self._wrote()

    def send_whole(self, stream: H2Stream, fields: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """A whole response (HEADERS, and DATA when there is a body) written as frames
        here, when it fits the windows and one frame each: one pass through h2's
        stream state machine instead of two calls that build frame objects. False:
        send it the general way."""
        if stream.closed:
            return True
        conn = self._h2
        state = conn.streams.get(stream.id)
        size = len(body)
        frame = conn.max_outbound_frame_size
        if (
            state is None
            or size > frame
            or size > conn.outbound_flow_control_window
            or size > state.outbound_flow_control_window
        ):
            return False
        block = conn.encoder.encode(fields)
        if len(block) > frame:
            return False
        machine = state.state_machine
        machine.process_input(_SEND_HEADERS)
        if size:
            machine.process_input(_SEND_DATA)
            conn.outbound_flow_control_window -= size
            state.outbound_flow_control_window -= size
        machine.process_input(_SEND_END_STREAM)
        conn._data_to_send += whole_frames(stream.id, block, body)
        self._ended(stream)
        self._wrote()
        return True

    def send_whole_fresh(
        self, stream: H2Stream, fields: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        """`send_whole` for a stream `h2` has not seen (h2fast.py): the frames go out
        without it when they fit the windows and one frame each. False: adopt it."""
        if len(body) > _MAX_FRAME or self._h2.encoder.table_size_changes:
            return False
        block = literal_block(fields)  # what LiteralEncoder gives with no size update
        if len(block) > _MAX_FRAME:
            return False
        if not self.send_fast(stream.id, whole_frames(stream.id, block, body), len(body)):
            return False
        self._ended(stream)
        self._wrote()
        return True

    def send_body(self, stream: H2Stream, data: bytes, end: bool) -> None:
        if stream.closed:
            return
        if stream.pending:
            stream.pending.append(data)
            stream.pending_size += len(data)
            stream.end_pending = stream.end_pending or end
            stream.backed_up()
            return
        if not self._push(stream, data, end) and end:
            stream.end_pending = True
        self._wrote()

    def _push(self, stream: H2Stream, data: bytes, end: bool) -> bool:
        """Send what the windows allow of `data`; keep the rest. True if all went."""
        conn = self._h2
        sid = stream.id
        size = len(data)
        window = conn.local_flow_control_window(sid)
        frame = conn.max_outbound_frame_size
        if size <= window and size <= frame:
            conn.send_data(sid, data, end_stream=end)
            if end:
                self._ended(stream)
            return True
        offset = 0
        while offset < size and window > 0:
            n = min(size - offset, window, frame)
            last = offset + n == size
            conn.send_data(sid, data[offset : offset + n], end_stream=end and last)
            offset += n
            window -= n
        if offset == size:
            if end:
                self._ended(stream)
            return True
        rest = data[offset:]
        stream.pending.appendleft(rest)
        stream.pending_size += len(rest)
        self._blocked[sid] = stream
        if stream.pending_size > 64 * 1024 or self.write_paused:
            stream.backed_up()
        return False

    def _unblock(self, stream: H2Stream) -> None:
        """Window has opened: send what waits, then END_STREAM (and trailers) if due."""
        del self._blocked[stream.id]
        pending = stream.pending
        end = stream.end_pending
        trailers = stream.trailers
        while pending:
            data = pending.popleft()
            stream.pending_size -= len(data)
            if not self._push(stream, data, end and not pending and not trailers):
                break
        else:
            stream.end_pending = False
            if end and trailers:
                self._finish(stream)
        self._wrote()
        stream.wake()

    def end_body(self, stream: H2Stream, trailers: list[tuple[bytes, bytes]] | None) -> None:
        """The response is complete: END_STREAM now, or after the bytes still waiting."""
        if stream.closed:
            return
        stream.trailers = trailers or []
        if stream.pending:
            stream.end_pending = True
            return
        self._finish(stream)
        self._wrote()

    def _finish(self, stream: H2Stream) -> None:
        trailers = stream.trailers
        if trailers:
            # RFC 9113 §8.1: trailers are a HEADERS frame that ends the stream.
            fields = response_fields(0, trailers)[1:]
            self._h2.send_headers(stream.id, fields, end_stream=True)
        else:
            self._h2.end_stream(stream.id)
        self._ended(stream)

    def _ended(self, stream: H2Stream) -> None:
        """END_STREAM is on its way: the stream is done on our side."""
        stream.closed = True
        self.streams.pop(stream.id, None)
        if not stream.remote_done:
            # RFC 9113 §8.1: a complete response before the whole request; the server
            # "MAY request that the client abort transmission ... by sending a
            # RST_STREAM with an error code of NO_ERROR".
            try:
                self._h2.reset_stream(stream.id, ErrorCodes.NO_ERROR)
            except h2.exceptions.StreamClosedError:
                pass
        if not self.streams:
            self._set_deadline()

    def reset(self, stream: H2Stream, internal: bool = False) -> None:
        """Give up a stream from our side (a response that cannot be completed)."""
        if stream.closed:
            return
        stream.closed = True
        self.streams.pop(stream.id, None)
        self._blocked.pop(stream.id, None)
        stream.pending.clear()
        stream.pending_size = 0
        code = ErrorCodes.INTERNAL_ERROR if internal else ErrorCodes.CANCEL
        try:
            self._h2.reset_stream(stream.id, code)
        except h2.exceptions.StreamClosedError:
            pass
        if stream.reader is not None:
            from frontdesk.server.exchange import ClientDisconnected

            stream.reader.abort(ClientDisconnected())
        self._wrote()

    def refuse_stream(
        self, stream_id: int, reason: str, code: ErrorCodes = ErrorCodes.PROTOCOL_ERROR
    ) -> None:
        if reason:
            error_log.info("http2 stream from %s reset: %s", self.peer, reason)
        self._h2.reset_stream(stream_id, code)

    def consumed(self, stream: H2Stream, size: int) -> None:
        """An action has read `size` bytes of the body: the windows may reopen."""
        if not self.closed:
            self._h2.acknowledge_received_data(size, stream.id)
            self._wrote()
