"""An HTTP/2 request, from its HEADERS to the route's action: the same Request, route
table and Action interface as HTTP/1.1 (server/protocol.py), so every route — static
files with ranges and validators, the proxy, the cache, access rules, fixed answers —
behaves the same over both.

`H2Dispatch` is the half of `H2Protocol` (h2conn.py) that knows requests; the other
half knows frames, windows and the socket.

A request that the connection's fast receive path took (h2fast.py: `h2` has not seen
its HEADERS) comes to `fresh_request`. With no access log to feed, a GET that a fixed
answer's route matches is answered there and then, as on HTTP/1.1's fast lane: no
Request, no stream object, its HEADERS and DATA frames rendered once a second, the
answers counted by runs (Action.fast_answers). Any other request takes the general
path, `request`, with a "fresh" stream: a whole answer from memory that fits the
windows (a small static file, an error, a redirect) is still written without `h2`
(`send_whole_fresh`); a streamed one is handed to `h2` first (`adopt`).
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

from frontdesk.http.target import parse_host, parse_target
from frontdesk.server.actions import ANSWERED
from frontdesk.server.h2fields import H2Request, field_lines, literal_block, response_fields
from frontdesk.server.h2stream import H2BodyReader, H2ResponseWriter, H2Stream
from frontdesk.server.request import Request
from frontdesk.server.response import NO_BODY_STATUS

if TYPE_CHECKING:
    from frontdesk.http.routing import RouteTable
    from frontdesk.server.actions import Action
    from frontdesk.server.clock import Clock
    from frontdesk.server.context import Limits, WorkerContext
    from frontdesk.server.response import FixedResponse


class H2Settings(Protocol):
    """The `[http2]` table as the server sees it (config/http2.py; the server package
    knows no config model)."""

    @property
    def max_concurrent_streams(self) -> int: ...
    @property
    def max_header_list_size(self) -> int: ...
    @property
    def initial_window_size(self) -> int: ...
    @property
    def connection_window_size(self) -> int: ...
    @property
    def max_resets(self) -> int: ...
    @property
    def max_control_frames(self) -> int: ...


_MEMO = 1024  # fixed answers' HTTP/2 fields remembered per worker (cleared when full)
_fixed_memo: dict[bytes, list[tuple[bytes, bytes]]] = {}
# The fast lane's frames of a fixed answer, by (answer, HSTS value): [the Date line
# they were rendered with, the HEADERS frame's first 5 octets, the rest of that frame
# and the DATA frame's first 5 octets, the body]; the stream id goes between.
_fast_frames: dict[tuple[FixedResponse, bytes], list[Any]] = {}
_MAX_FRAME = 16384  # RFC 9113 §4.2: no peer's SETTINGS_MAX_FRAME_SIZE is smaller
_CACHE_SIZE = 4096  # hosts and targets remembered per worker (as server/protocol.py)


def fixed_fields(resp: FixedResponse) -> list[tuple[bytes, bytes]]:
    """The HEADERS of a pre-serialised answer (its status line and header lines)."""
    fields = _fixed_memo.get(resp.head)
    if fields is None:
        block = resp.head.partition(b"\r\n")[2]
        fields = response_fields(resp.status, field_lines(block))
        if len(_fixed_memo) >= _MEMO:
            _fixed_memo.clear()
        _fixed_memo[resp.head] = fields
    return fields


class H2Dispatch:
    """Requests of one HTTP/2 connection: parse, route, run the action, log."""

    ctx: WorkerContext
    clock: Clock
    limits: Limits
    settings: H2Settings
    routes: RouteTable[Action]
    catch_all: Action | None
    peer: str
    https: bool
    served: int
    streams: dict[int, H2Stream]
    hsts: dict[str, bytes]
    hsts_default: bytes
    server_field: tuple[bytes, bytes] | None
    fast_lane: bool  # no access log to feed: fixed answers skip the Request
    run_action: Action | None  # the fast lane's current run (as Connection's)
    run_since: int

    # Provided by H2Protocol:
    def send_head(self, stream: H2Stream, fields: list[tuple[bytes, bytes]], end: bool) -> None:
        raise NotImplementedError

    def send_body(self, stream: H2Stream, data: bytes, end: bool) -> None:
        raise NotImplementedError

    def date_field(self) -> tuple[bytes, bytes]:
        raise NotImplementedError

    def send_whole(self, stream: H2Stream, fields: list[tuple[bytes, bytes]], body: bytes) -> bool:
        raise NotImplementedError

    def refuse_stream(self, stream_id: int, reason: str) -> None:
        raise NotImplementedError

    def adopt(self, stream_id: int) -> None:
        raise NotImplementedError

    def send_fast(self, stream_id: int, data: bytes, size: int) -> bool:
        raise NotImplementedError

    def send_whole_fresh(
        self, stream: H2Stream, fields: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        raise NotImplementedError

    # ---------------------------------------------------------------- the fast lane

    def fresh_request(self, stream_id: int, head: H2Request | str) -> None:
        """A body-less request the fast receive path took: answered here when a fixed
        answer's route matches a GET (the fast lane), else by the general path with a
        fresh stream. `head` may be shared (MemoDecoder.head): it is not changed."""
        if self.fast_lane and head.__class__ is H2Request:
            h: H2Request = head
            ctx = self.ctx
            # Only what the general path has checked and remembered takes the lane:
            # a host and a target seen before, a section within the limit.
            authority = h.authority
            host = ctx.host_cache.get(authority) if authority is not None else None
            parsed = ctx.target_cache.get(h.target)
            if (
                h.method == b"GET"
                and host is not None
                and parsed is not None
                and h.size <= self.settings.max_header_list_size
            ):
                action = self.catch_all or self.routes.match(
                    b"GET", host, parsed[0], h.headers
                ) or ctx.not_found  # fmt: skip
                fixed = action.fixed
                if fixed is not None and self._fast_fixed(stream_id, fixed, host):
                    if action is not self.run_action:
                        self.end_run()
                        self.run_action = action
                        self.run_since = self.served
                    self.served += 1
                    return
        self.request(stream_id, head, True, fresh=True)

    def _fast_fixed(self, stream_id: int, fixed: FixedResponse, host: str) -> bool:
        """Write a fixed answer's frames (HEADERS, DATA with END_STREAM) for a stream
        `h2` never saw; False when they do not fit the windows or a frame."""
        hsts = self.hsts.get(host, self.hsts_default) if self.hsts_default or self.hsts else b""
        key = (fixed, hsts)
        frames = _fast_frames.get(key)
        date_line = self.clock.date_line
        if frames is None or frames[0] is not date_line:
            fields = list(fixed_fields(fixed))
            fields.append(self.date_field())
            if hsts:
                fields.append((b"strict-transport-security", hsts))
            block = literal_block(fields)
            body = fixed.body
            if len(block) > _MAX_FRAME or len(body) > _MAX_FRAME:
                return False
            if body:
                first = len(block).to_bytes(3, "big") + b"\x01\x04"  # HEADERS, END_HEADERS
                rest = block + len(body).to_bytes(3, "big") + b"\x00\x01"  # DATA, END_STREAM
            else:
                first = len(block).to_bytes(3, "big") + b"\x01\x05"  # ... and END_STREAM
                rest = block
            frames = [date_line, first, rest, body]
            if len(_fast_frames) >= _MEMO:
                _fast_frames.clear()
            _fast_frames[key] = frames
        sid = stream_id.to_bytes(4, "big")
        body = frames[3]
        if body:
            data = b"".join((frames[1], sid, frames[2], sid, body))
        else:
            data = b"".join((frames[1], sid, frames[2]))
        return self.send_fast(stream_id, data, len(body))

    def end_run(self) -> None:
        """Fold the fast lane's current run into its action's count."""
        action = self.run_action
        if action is not None:
            action.fast_answers += self.served - self.run_since
            self.run_action = None

    # ------------------------------------------------------------------ requests

    def extra_fields(self, req: Request) -> list[tuple[bytes, bytes]] | None:
        """Fields of the listener's own on every answer: HSTS on TLS (RFC 6797 §7.1)."""
        if not self.hsts_default and not self.hsts:
            return None
        value = self.hsts.get(req.host, self.hsts_default)
        return [(b"strict-transport-security", value)] if value else None

    def request(
        self, stream_id: int, head: H2Request | str, ended: bool, fresh: bool = False
    ) -> None:
        """A complete HEADERS block opened stream `stream_id` (`fresh`: `h2` does not
        know the stream yet, see `answer` and `start`)."""
        if isinstance(head, str):
            if fresh:
                self.adopt(stream_id)
            # RFC 9113 §8.1.1: a malformed request is a stream error (PROTOCOL_ERROR).
            self.refuse_stream(stream_id, head)
            return
        stream = H2Stream(self, stream_id)  # type: ignore[arg-type]
        stream.fresh = fresh
        stream.remote_done = ended
        self.streams[stream_id] = stream
        ctx = self.ctx
        limits = self.limits
        method = head.method
        target = head.target
        req = Request(
            method, target, "/", "", "2.0", list(head.headers), "", True, self.peer, False,
            not ended, self.clock.now, route="-", began=monotonic(),
        )  # fmt: skip
        req.https = self.https
        stream.req = req
        if head.size > self.settings.max_header_list_size:
            return self.refuse(stream, req, 431, "request header section too large")
        authority = head.authority
        if authority is None:
            return self.refuse(stream, req, 400, "missing :authority")
        host = ctx.host_cache.get(authority)
        if host is None:
            host = parse_host(authority)
            if not host:
                return self.refuse(stream, req, 400, "invalid :authority")
            if len(ctx.host_cache) < _CACHE_SIZE:
                ctx.host_cache[authority] = host
        req.host = host
        if len(target) > limits.max_uri_size:
            return self.refuse(stream, req, 414, "request-target too long")
        parsed = ctx.target_cache.get(target)
        if parsed is None:
            t = parse_target(target, method)
            if t is None:
                return self.refuse(stream, req, 400, "invalid request-target")
            parsed = (t.path, t.query, t.host)
            if t.path != "*":  # asterisk-form depends on the method: not remembered
                if len(ctx.target_cache) >= _CACHE_SIZE:
                    ctx.target_cache.clear()
                ctx.target_cache[target] = parsed
        req.path, req.query = parsed[0], parsed[1]
        headers = req.headers
        action = self.catch_all or self.routes.match(method, host, req.path, headers)
        if action is None:
            action = ctx.not_found
        req.route = action.label
        expect = False
        if not ended:
            max_body = action.max_body_size
            if max_body is None:
                max_body = limits.max_body_size
            stream.max_body = max_body
            length = req.header(b"content-length") if head.has_length else None
            if length is not None and max_body and int(length) > max_body:
                return self.refuse(stream, req, 413, "request body too large")
            value = req.header(b"expect")
            if value is not None:
                # RFC 9110 §10.1.1: the only expectation defined is 100-continue.
                if value.lower() != b"100-continue":
                    return self.refuse(stream, req, 417, "unsupported expectation")
                expect = req.expect_continue = True
        if action.streaming:
            self.start(stream, req, action, expect)
            return
        try:
            resp = action.fixed or action.respond(req)
        except Exception:  # a bug in an action: a 500 on this stream, as in stream()
            self.ctx.log_exception(req)
            return self.refuse(stream, req, 500, "internal error")
        if resp is None:  # a non-streaming action that streams this one (a large file)
            self.start(stream, req, action, expect)
        else:
            self.answer(stream, req, resp)

    def start(self, stream: H2Stream, req: Request, action: Action, expect: bool) -> None:
        if stream.fresh:
            stream.fresh = False
            self.adopt(stream.id)
        writer = H2ResponseWriter(stream, req)
        stream.writer = writer
        if not req.has_body or not action.streaming:
            try:
                exchange = action.begin(req, writer) if action.streaming else None
            except Exception:
                stream.failed(req, writer)
                return
            if exchange is ANSWERED:
                stream.exchange_done(req, writer)
                return
            if exchange is not None:
                stream.active = exchange
                return
            stream.run_task(req, action, None, writer)
            return
        reader = H2BodyReader(stream, expect)
        stream.reader = reader
        stream.run_task(req, action, reader, writer)

    def answer(self, stream: H2Stream, req: Request, resp: FixedResponse) -> None:
        """A whole answer known in advance (fixed, redirects, errors, small files)."""
        fields = list(fixed_fields(resp))
        fields.append(self.date_field())
        extra = self.extra_fields(req)
        if extra:
            fields.extend(extra)
        body = resp.body
        head_only = req.method == b"HEAD" or resp.status in NO_BODY_STATUS
        if stream.fresh:
            stream.fresh = False
            if self.send_whole_fresh(stream, fields, b"" if head_only else body):
                self.answered(stream, req, resp.status, 0 if head_only else len(body))
                return
            self.adopt(stream.id)
        if not self.send_whole(stream, fields, b"" if head_only else body):
            self.send_head(stream, fields, head_only or not body)
            if body and not head_only:
                self.send_body(stream, body, True)
        self.answered(stream, req, resp.status, 0 if head_only else len(body))

    def refuse(self, stream: H2Stream, req: Request, status: int, reason: str) -> None:
        """An error answer (bad request, body too large, an action that failed)."""
        if stream.closed:
            return
        self.answer(stream, req, self.ctx.error(status, reason))

    def answered(self, stream: H2Stream, req: Request, status: int, sent: int) -> None:
        """The response is complete (or given up): the access log and metrics."""
        ctx = self.ctx
        if ctx.access_log.enabled:
            ctx.log_request(req, status, sent)
        else:
            if self.run_action is not None:
                self.end_run()  # `served` counts this answer too: the run ends before it
            self.served += 1
            ctx.observe(req, status)

    def trailer_fields(self, fields: Any) -> list[tuple[bytes, bytes]]:
        """Request trailers for the action (the proxy forwards them), as HTTP/1.1 has
        them: pseudo-header fields have no place there (RFC 9113 §8.1)."""
        return [(bytes(n), bytes(v)) for n, v in fields if n[:1] != b":"]
