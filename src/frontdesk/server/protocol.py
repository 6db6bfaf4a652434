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
from time import monotonic
from typing import TYPE_CHECKING, Any

import httptools

from frontdesk.errors import ProtocolError
from frontdesk.http.fields import COMMON_REQUEST_FIELDS
from frontdesk.http.framing import check_transfer_coding
from frontdesk.http.target import parse_host, parse_target
from frontdesk.log import error_log
from frontdesk.server.connection import (
    _NEVER,
    BODY,
    BUSY,
    CLOSED,
    HEAD,
    IDLE,
    LINGER,
    TUNNEL,
    Connection,
    Exchange,
)
from frontdesk.server.exchange import BodyReader, ClientDisconnected
from frontdesk.server.request import Queued, Request
from frontdesk.server.response import FixedResponse
from frontdesk.server.sendfile import answer_with_file

if TYPE_CHECKING:
    from frontdesk.server.actions import Action
    from frontdesk.server.context import WorkerContext


# Request fields the server itself never interprets (http/fields.py): a name found
# there as sent is passed by with one set lookup instead of being lower-cased and
# compared. Any other name, in any case, takes the exact path.
ORDINARY_FIELDS = COMMON_REQUEST_FIELDS
FRAMING_FIELDS = frozenset({b"expect", b"content-length", b"transfer-encoding", b"upgrade"})
_CACHE_SIZE = 4096  # Host values and request-targets remembered per worker


def _remember(cache: dict[bytes, Any], key: bytes, value: Any) -> None:
    """Bounded memo: cleared whole when full (cheap, and real traffic refills it)."""
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


def _authority(url: bytes) -> bytes:
    """The authority of an absolute-form target (http://authority/path?query)."""
    rest = url.partition(b"://")[2]
    end = len(rest)
    for stop in (b"/", b"?"):
        i = rest.find(stop)
        if 0 <= i < end:
            end = i
    return rest[:end]


def _with_host(headers: list[tuple[bytes, bytes]], authority: bytes) -> list[tuple[bytes, bytes]]:
    """The fields with Host replaced by `authority` (added when the request had none)."""
    fields = [(n, v) for n, v in headers if n.lower() != b"host"]
    fields.append((b"Host", authority))
    return fields


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing the rest of the buffer."""


class HttpProtocol(Connection):
    __slots__ = (
        "https",
        "on_url",
        "_answered",
        "_headers",
        "_head_size",
        "routes",
        "not_found",
        "catch_all",
        "host_cache",
        "target_cache",
        "_expect",
        "_body_size",
        "_force_close",
        "_body_raw",
        "_fresh",
        "_upgrade",
        "_content_length",
        "_max_body",
        "tunnel_data",
    )

    def __init__(self, ctx: WorkerContext) -> None:
        # True for HttpsProtocol (frontdesk/listeners.py), on a TLS listener. A slot,
        # not a class attribute: a class attribute read through a slotted instance is
        # not specialised by the interpreter, and the fast lane reads it.
        self.https = False
        self.ctx = ctx
        self.clock = ctx.clock
        self.limits = ctx.limits
        self.server_line = ctx.server_line
        self.extra_head = b""
        self.access_log = ctx.access_log if ctx.access_log.enabled else None
        self.routes = ctx.routes
        self.not_found = ctx.not_found
        self.catch_all = ctx.routes.catch_all
        # With no access log to feed and the worker not closing, fixed answers skip
        # building a Request (see on_headers_complete).
        self.fast_lane = self.access_log is None and not ctx.closing and ctx.keep_alive
        self.host_cache = ctx.host_cache
        self.target_cache = ctx.target_cache
        self.transport: Any = None
        # on_url is the C-level append of a list (the parser looks callbacks up once,
        # here): one Python call fewer per request. The target is joined, and its
        # length checked, when the head is complete.
        self._url_parts: list[bytes] = []
        self.on_url = self._url_parts.append
        self._answered = False
        self.parser = httptools.HttpRequestParser(self)
        self.peer = "-"
        self.state = IDLE
        self.deadline = _NEVER
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._expect = False
        self._body_size = 0
        self._req: Request | None = None
        self._action: Action | None = None
        self._reader: BodyReader | None = None
        self._active: Exchange | None = None
        self._queue: deque[Queued] = deque()
        self._in_feed = False
        self._out: list[bytes] = []
        self._close_after = False
        self._stop = False
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._pending_error: FixedResponse | None = None
        self._force_close = False
        self._body_raw = 0
        self._fresh: bytes | None = None
        self.served = 0
        self.run_action: Action | None = None
        self.run_since = 0
        self._upgrade = False
        self._content_length = -1
        self._max_body = self.limits.max_body_size
        self.flow_peer: Any = None
        self.tunnel: Any = None
        # Bytes that followed an Upgrade request's head, for the tunnel, if one opens.
        self.tunnel_data = b""

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
        if ctx.closing:
            # Accepted in the last loop turn before accepting stopped: the client may
            # have sent its request already, and closing now would reset it. Serve
            # it (the answer says Connection: close), under a short idle grace.
            self.fast_lane = False
            self.deadline = min(self.deadline, self.clock.now + 1.0)
        elif len(ctx.connections) >= self.limits.max_connections:
            ctx.at_capacity()  # stop accepting: further clients wait in the backlog

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = CLOSED
        ctx = self.ctx
        ctx.connections.discard(self)
        self.end_run()
        ctx.requests += self.served
        if ctx.accept_paused:
            ctx.below_capacity()
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
        if self.state == TUNNEL:
            self.tunnel.client_eof()  # half-close: the other direction may go on
            return True
        if self.state == LINGER:
            self.transport.close()
        elif self.state == HEAD or self.state == BODY:
            # The client half-closed mid-request: nothing more can complete it.
            self.transport.close()
        elif self._active is None and not self._queue:
            self.transport.close()
        # else keep the write side open to finish the response in progress
        return True

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == IDLE:
            self.state = HEAD  # its deadline is set below, if the head is not complete
            self._fresh = data  # a new request starts at data[0]
            self._head_size = len(data)
        elif state == HEAD:
            self._head_size += len(data)
        elif state == BODY:
            self.deadline = self.clock.now + self.limits.body_timeout
            self._body_raw += len(data)
        elif state == TUNNEL:
            self.tunnel.from_client(data)
            return
        elif state == LINGER or state == CLOSED:
            return  # discarded: the answer is already on its way and the socket closing
        self._in_feed = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # What follows the head is never parsed as HTTP: it is either kept for the
            # tunnel (an action that relays the Upgrade), or the request was answered
            # as plain HTTP/1.1 with Connection: close (see _framing_headers).
            self._stop = True
            if self._upgrade:
                self.tunnel_data = data[exc.args[0] :]
                self.pause_reading()  # nothing more is read until the 101 (or not)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ProtocolError):
                self._protocol_error(cause.status, cause.reason)
            elif not isinstance(cause, _Stop):
                self._in_feed = False
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
        self._in_feed = False
        now = self.state
        if now == HEAD or now == BODY:  # a request is still being read
            self._after_feed(state == IDLE)
        elif now == IDLE and self._url_parts:
            # These bytes also began the next request (pipelined) after the last one
            # answered: its head is being read. (Left idle, the next read would be
            # taken for its start: its version read off the wrong bytes, and its
            # header timeout started late.) Its bytes so far are not counted.
            self.state = HEAD
            self._head_size = 0
            self._after_feed(True)
        out = self._out
        if out:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
        if self._close_after:
            self._flush()

    def _after_feed(self, new_request: bool) -> None:
        state = self.state
        limits = self.limits
        if state == HEAD:
            if new_request:
                # The header timeout runs from a request's first byte (slowloris).
                self.deadline = self.clock.now + limits.header_timeout
            if self._head_size > limits.max_header_size:
                # Counted on raw bytes: llhttp buffers a header value split across
                # reads, so the limit must hold before the parser hands us the field.
                if len(self._url) > limits.max_uri_size:
                    self._protocol_error(414, "request-target too long")
                else:
                    self._protocol_error(431, "request header section too large")
        elif state == BODY:
            if self._headers:
                self._check_trailers()
            if self.state == BODY and (
                self._body_raw - self._body_size > self._overhead_allowance()
            ):
                # Chunk framing and trailers are not body data: bytes that are neither
                # must stay bounded, or a client streams trailers (or 1-byte chunks)
                # forever. (Go's net/http refuses "too much non-data" likewise.)
                self._protocol_error(400, "chunked framing or trailers too large")

    # ------------------------------------------------------------------ parser callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        # Kept minimal: this runs once per field of every request. Limits and the
        # fields the server itself interprets are checked in on_headers_complete;
        # fields after the head (chunked trailers) land in a list of their own.
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._stop:
            raise _Stop()
        headers = self._headers
        self._headers = []  # trailers, if any, go to a list of their own
        limits = self.limits
        if len(headers) > limits.max_headers:
            raise ProtocolError(431, "too many header fields")
        if self._head_size > limits.max_header_size:
            self._check_head_size(headers)
        raw_host: bytes | None = None
        hosts = 0
        framing = False
        for name, value in headers:
            if name not in ORDINARY_FIELDS:
                lname = name.lower()
                if lname == b"host":
                    raw_host = value
                    hosts += 1
                elif lname in FRAMING_FIELDS:
                    framing = True
        parser = self.parser
        method = parser.get_method()
        parts = self._url_parts
        url = parts[0] if len(parts) == 1 else b"".join(parts)
        # httptools formats the version as a new str on every call; when this request
        # is the first in the bytes just read, its request line is at their start and
        # the version can be read off there ("METHOD SP target SP version CRLF").
        fresh = self._fresh
        self._fresh = None
        if fresh is not None and fresh.startswith(b" HTTP/1.1\r\n", len(method) + 1 + len(url)):
            version = "1.1"
        else:
            version = parser.get_http_version()
            if version != "1.1" and version != "1.0":
                raise ProtocolError(505, "HTTP version not supported")
        has_body = self._framing_headers(headers) if framing else False
        if method == b"CONNECT":
            raise ProtocolError(405, "CONNECT is not supported")
        if hosts == 1:
            host = self.host_cache.get(raw_host)  # type: ignore[arg-type]
            if host is None:
                host = self._parse_host(raw_host, url, version)  # type: ignore[arg-type]
        elif hosts > 1:
            raise ProtocolError(400, "more than one Host header")  # RFC 9112 §3.2
        elif version == "1.1":
            raise ProtocolError(400, "missing Host header")  # RFC 9112 §3.2
        else:
            host = ""
        parts.clear()  # kept until here for the access log line of an error
        if len(url) > limits.max_uri_size:
            raise ProtocolError(414, "request-target too long")
        target = self.target_cache.get(url)
        if target is None:
            target = self._parse_target(url, method)
        path, query, target_host = target
        if target_host is not None:
            # RFC 9112 §3.2.2: absolute-form wins over Host, for routing and for what
            # is forwarded ("A proxy that forwards such a request MUST generate a new
            # Host field value based on the received request-target").
            host = target_host
            raw_host = _authority(url)
            headers = _with_host(headers, raw_host)
        action = self.catch_all or self.routes.match(method, host, path, headers) or self.not_found
        fixed = action.fixed
        if (
            (fixed is not None or action.hot_lane)
            and self.fast_lane
            and not framing
            and version == "1.1"
            and parser.should_keep_alive()
            and self._active is None
            and not self._queue
        ):
            # Fast lane: a body-less keep-alive request with no access log to feed,
            # answered from memory, needs no Request object and no task: a fixed
            # answer, or an action's own ready bytes (a cached static file).
            if fixed is None:
                try:
                    data = action.hot(method, url, path, raw_host, headers, self.clock)
                except Exception:
                    # A bug in a hot lane: logged; the general path answers (its
                    # respond() may still, or gives the 500).
                    error_log.exception("hot lane failed on %r", path)
                    data = None
                # A file body goes out with sendfile(2): not on TLS, where the normal
                # path reads and writes it through the TLS transport. (`__class__ is`:
                # the cheapest test, and `https` is read only for a file.)
                if data is not None and (data.__class__ is bytes or not self.https):
                    if data.__class__ is bytes:
                        self._out.append(data)
                    else:
                        answer_with_file(self, *data)
                    self._answered = True
                    if action is not self.run_action:
                        self._begin_run(action)
                    self.served += 1
                    return
            elif method != b"HEAD":
                date_line = self.clock.date_line
                if fixed._date is date_line:  # rendered this second already (inlined call)
                    self._out.append(fixed._rendered)
                else:
                    self._out.append(fixed.rendered(date_line))
                self._answered = True
                if action is not self.run_action:
                    self._begin_run(action)
                self.served += 1
                return
        self._dispatch(method, url, path, query, version, headers, host, has_body, action)

    def _begin_run(self, action: Action) -> None:
        """A fast answer from another action than the last one: a new run. Counting
        by runs keeps a per-answer counter off the fast lane (Action.fast_answers)."""
        self.end_run()
        self.run_action = action
        self.run_since = self.served

    def _dispatch(
        self,
        method: bytes,
        url: bytes,
        path: str,
        query: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        host: str,
        has_body: bool,
        action: Action,
    ) -> None:
        if self.run_action is not None:
            self.end_run()  # `served` counts this answer too: the run ends before it
        ctx = self.ctx
        keep_alive = (
            self.parser.should_keep_alive()
            and ctx.keep_alive
            and not ctx.closing
            and not self._force_close
        )
        self._force_close = False
        upgrade = self._upgrade
        if upgrade:
            # Only a body-less Upgrade request to an action that relays it is tunnelled
            # (a body would sit between the head and the new protocol's bytes); the
            # flag then stays set until the parser stops at the end of the head.
            upgrade = self._upgrade = action.tunnels and not has_body
        expect = self._expect
        if has_body:
            max_body = action.max_body_size
            if max_body is None:
                max_body = self.limits.max_body_size
            self._max_body = max_body
            if max_body and self._content_length > max_body:
                raise ProtocolError(413, "request body too large")
            self._expect = False
            self._body_size = 0
            self._body_raw = 0
            self.state = BODY
            self.deadline = self.clock.now + self.limits.body_timeout
        req = Request(
            method,
            url,
            path,
            query,
            version,
            headers,
            host,
            keep_alive,
            self.peer,
            expect,
            has_body,
            self.clock.now,
            upgrade,
            route=action.label,  # by name: other branches add fields after `scratch`
            began=monotonic(),
        )
        if self.https:
            req.https = True
        self._req = req
        self._action = action
        if action.streaming:
            reader = BodyReader(self, expect) if has_body else None
            self._reader = reader
            if self._active is None and not self._queue:
                self._start(req, action, reader)
            else:
                self._queue.append(Queued(req, action, reader))
                self.pause_reading()
        elif expect and has_body:
            # Answering without the body: no 100 (Continue) is sent, and since the
            # client may or may not send the body now, the connection cannot be
            # reused (RFC 9110 §10.1.1).
            req.keep_alive = False
            self._stop = True
            self._answer(req, action)
            raise _Stop()

    def _check_head_size(self, headers: list[tuple[bytes, bytes]]) -> None:
        # The read that completed the head may have carried body bytes too:
        # measure the head itself before refusing.
        if len(self._url) > self.limits.max_uri_size:
            raise ProtocolError(414, "request-target too long")  # the more specific answer
        size = len(self._url) + sum(len(n) + len(v) + 4 for n, v in headers)
        if size > self.limits.max_header_size:
            raise ProtocolError(431, "request header section too large")

    def _framing_headers(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Content-Length, Transfer-Encoding, Expect: the fields that frame a body.

        Returns whether the request has a body. llhttp has already refused the
        smuggling shapes (CL with TE, repeated CL, TE on HTTP/1.0 without chunked).
        """
        te: bytes | None = None
        content_length = -1
        self._content_length = -1
        if self.parser.should_upgrade():
            # RFC 9110 §7.8 lets a server ignore Upgrade, but llhttp has stopped
            # parsing at the end of the head and would take the body, if any, for the
            # new protocol: answer, then close, so no byte after the head is ever read
            # as a request. A proxy route relays it instead (see _dispatch).
            self._force_close = True
            self._upgrade = True
        for name, value in headers:
            lname = name.lower()
            if lname == b"transfer-encoding":
                te = value if te is None else te + b"," + value
            elif lname == b"content-length":
                content_length = int(value)  # llhttp checked: digits only
            elif lname == b"expect":
                # RFC 9110 §10.1.1: the only expectation defined is 100-continue.
                if value.lower() != b"100-continue":
                    raise ProtocolError(417, "unsupported expectation")
                self._expect = True
        if te is not None:
            check_transfer_coding(te)
            if self.parser.get_http_version() == "1.0":
                # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty
                # framing: process the message, then close the connection.
                self._force_close = True
            return True
        self._content_length = content_length  # checked against the route's limit
        return content_length > 0

    def _parse_host(self, raw: bytes, url: bytes, version: str) -> str:
        host = parse_host(raw)
        if host is None:
            raise ProtocolError(400, "invalid Host header")
        if not host:
            # An empty Host is for a target URI without an authority (RFC 9110 §7.2);
            # an http(s) URI has one, so an HTTP/1.1 request in origin-form (or
            # asterisk-form) with an empty Host has an invalid field value: 400
            # (RFC 9112 §3.2). Not remembered, so that each one is checked here.
            if version == "1.1" and (url[:1] == b"/" or url == b"*"):
                raise ProtocolError(400, "empty Host header")
            return host
        _remember(self.host_cache, raw, host)
        return host

    def _parse_target(self, url: bytes, method: bytes) -> tuple[str, str, str | None]:
        target = parse_target(url, method)
        if target is None:
            raise ProtocolError(400, "invalid request-target")
        result = (target.path, target.query, target.host)
        if target.path != "*":  # asterisk-form depends on the method: not cached
            _remember(self.target_cache, url, result)
        return result

    def _overhead_allowance(self) -> int:
        # The first read of the body may still carry the end of the head; chunk
        # framing of reasonable chunks is far below the data it frames.
        return self.limits.max_header_size + self._body_size + 65536

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        max_body = self._max_body
        if max_body and self._body_size > max_body:
            raise ProtocolError(413, "request body too large")
        if self._reader is not None:
            self._reader.feed(body)
        # a body for a non-streaming action is read and dropped, never buffered

    def on_message_complete(self) -> None:
        if self._answered:  # answered by the fast lane in on_headers_complete
            self._answered = False
            if self._active is None:
                self.state = IDLE
                self.deadline = self.clock.now + self.limits.keepalive_timeout
            else:  # a file body still being sent (answer_with_file)
                self.state = BUSY
                self.deadline = _NEVER
            return
        req = self._req
        action = self._action
        if req is None or action is None:
            return
        self._req = None
        if self._headers:
            self._end_trailers()
        if action.streaming or self._active is not None or self._queue:
            self._complete_queued(req, action)
        else:
            self.state = IDLE
            self.deadline = self.clock.now + self.limits.keepalive_timeout
            if self.ctx.closing:
                req.keep_alive = False  # shutting down or draining: last answer here
            self._answer(req, action)
        if not req.keep_alive:
            self._stop = True  # nothing after a request that ends the connection
            if not req.upgrade:
                raise _Stop()
            # A tunnelled Upgrade: llhttp stops by itself and says where the bytes of
            # the new protocol begin (HttpParserUpgrade, see data_received).

    def _trailers_too_large(self) -> bool:
        """Trailers, arrived or arriving, are held to the limits of a head (431)."""
        trailers = self._headers
        size = sum(len(n) + len(v) + 4 for n, v in trailers)
        return len(trailers) > self.limits.max_headers or size > self.limits.max_header_size

    def _end_trailers(self) -> None:
        too_large = self._trailers_too_large()
        trailers = self._headers
        self._headers = []
        if too_large:
            raise ProtocolError(431, "trailer section too large")
        if self._reader is not None:
            self._reader.trailers = trailers  # a proxy passes them on

    def _check_trailers(self) -> None:
        if self._trailers_too_large():
            self._headers = []
            self._protocol_error(431, "trailer section too large")
