"""App-authorised downloads: a backend answers `X-Accel-Redirect: /protected/report.pdf`
and frontdesk serves that file instead (nginx X-Accel-Redirect, Apache X-Sendfile).

The app decides who may download; frontdesk does the sending, through a route marked
`internal = true` (which clients cannot request themselves: 404), with everything a
static route does (ranges, validators, conditional requests, sendfile). The backend's
Content-Disposition and Cache-Control are kept on the file's answer; the rest of its
answer (its body, if any) is dropped. A redirect whose path has a `..` segment, or
that no internal route takes, is refused: the backend is never allowed to climb out
of the internal route's root.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from frontdesk.http.target import parse_target
from frontdesk.pipeline.layer import Layer, write_fixed
from frontdesk.server.request import Request
from frontdesk.server.response import FixedResponse

if TYPE_CHECKING:
    from frontdesk.http.routing import RouteTable
    from frontdesk.server.actions import Action
    from frontdesk.server.connection import Exchange
    from frontdesk.server.exchange import BodyReader, ResponseWriter

__all__ = ["AccelRedirect"]

log = logging.getLogger("frontdesk.error")

_KEEP = (b"content-disposition", b"cache-control")
# What the internal answer takes from the original request (validators, ranges,
# encodings); the rest (cookies, credentials) is none of a file's business.
_PASS = frozenset(
    {
        b"range",
        b"if-range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"accept-encoding",
        b"host",
    }
)


class _Intercept:
    """The writer the proxy sees: passes the answer through, unless it carries
    X-Accel-Redirect, in which case the answer is held back entirely."""

    def __init__(self, out: ResponseWriter) -> None:
        self.out = out
        self.conn = out.conn
        self.target: bytes | None = None
        self.kept: list[tuple[bytes, bytes]] = []
        self.started = False
        self.ended = False
        self.status = 0
        self.sent = 0

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], length: int | None = None
    ) -> None:
        self.started = True
        self.status = status
        self.out.start(status, headers, length)

    def start_forwarded(
        self,
        status: int,
        block: bytes,
        has_length: bool,
        has_date: bool,
        fields: Any = None,
        version: str = "1.1",
    ) -> None:
        self.started = True
        self.status = status
        if not isinstance(fields, list):  # a stored answer (the cache): read the block
            fields = [
                (n.strip(), v.strip())
                for n, _, v in (line.partition(b":") for line in block.split(b"\r\n") if line)
            ]
        for name, value in fields:
            lname = name.lower()
            if lname == b"x-accel-redirect":
                self.target = value.strip()
            elif lname in _KEEP:
                self.kept.append((name, value))
        if self.target is None:
            self.out.start_forwarded(status, block, has_length, has_date, fields, version)

    def write(self, data: bytes) -> None:
        if self.target is None:
            self.out.write(data)

    async def drain(self) -> None:
        if self.target is None:
            await self.out.drain()

    def end(self, trailers: bytes = b"") -> None:
        self.ended = True
        if self.target is None:
            self.out.end(trailers)

    def close_after(self) -> None:
        self.out.close_after()

    def abort(self) -> None:
        self.ended = True
        if self.target is None:
            self.out.abort()

    def count_sent(self, n: int) -> None:
        self.out.count_sent(n)

    @property
    def connection(self) -> Any:
        return self.out.connection

    @property
    def head_only(self) -> bool:
        return self.out.head_only

    @property
    def request(self) -> Request:
        return self.out.request


class _WithFields:
    """The writer the internal route sees: the backend's kept fields replace its own."""

    def __init__(self, out: ResponseWriter, kept: list[tuple[bytes, bytes]]) -> None:
        self._out = out
        self._kept = kept
        self._names = {n.lower() for n, _ in kept}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], length: int | None = None
    ) -> None:
        merged = [(n, v) for n, v in headers if n.lower() not in self._names] + self._kept
        self._out.start(status, merged, length)


class AccelRedirect(Layer):
    """Wraps a proxy route's chain (outside its cache): see the module docstring."""

    def __init__(self, inner: Action, internal: Any, server: str) -> None:
        super().__init__(inner)
        # A holder whose `table` (the internal routes) is set once every route is built.
        self.internal = internal
        self.hot_lane = False  # a stored answer may be a redirect: never sent as it is
        self.fixed = None
        self.not_found = _text(404, "Not Found", server)
        self.refused = _text(403, "Forbidden: X-Accel-Redirect outside the internal routes", server)

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        return None  # the answer is looked at: always in stream()

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        sink = _Intercept(out)
        await self.inner.stream(req, body, sink)  # type: ignore[arg-type]
        if sink.target is None:
            return
        if out.started:
            return  # the proxy answered an error itself after the head (not ours)
        await self._serve(req, sink.target, sink.kept, out)

    async def _serve(
        self, req: Request, target: bytes, kept: list[tuple[bytes, bytes]], out: ResponseWriter
    ) -> None:
        raw_path = target.split(b"?", 1)[0]
        decoded = unquote(raw_path.decode("latin-1"))
        parsed = parse_target(raw_path, b"GET") if raw_path.startswith(b"/") else None
        if parsed is None or ".." in decoded.split("/") or "\\" in decoded or "\0" in decoded:
            log.error("X-Accel-Redirect %r refused: not a plain absolute path", target)
            write_fixed(out, self.refused)
            return
        method = b"HEAD" if req.method == b"HEAD" else b"GET"
        headers = [(n, v) for n, v in req.headers if n.lower() in _PASS]
        table: RouteTable[Action] | None = self.internal.table
        action = table.match(method, req.host, parsed.path, headers) if table else None
        if action is None:
            log.error("X-Accel-Redirect %r: no internal route takes it", target)
            write_fixed(out, self.not_found)
            return
        sub = Request(
            method,
            raw_path,
            parsed.path,
            "",
            req.version,
            headers,
            req.host,
            req.keep_alive,
            req.peer,
            False,
            False,
            req.start,
        )
        writer: Any = _WithFields(out, kept)
        resp = None if action.streaming else (action.fixed or action.respond(sub))
        if resp is not None:
            write_fixed(out, _replace_fields(resp, kept))
        else:
            await action.stream(sub, None, writer)
        req.keep_alive = sub.keep_alive


def _text(status: int, text: str, server: str) -> FixedResponse:
    from frontdesk.access.rules import refusal

    return refusal(status, text, server)


def _replace_fields(resp: FixedResponse, kept: list[tuple[bytes, bytes]]) -> FixedResponse:
    if not kept:
        return resp
    names = {n.lower() for n, _ in kept}
    lines = resp.head.split(b"\r\n")
    status_line, fields = lines[0], [line for line in lines[1:] if line]
    fields = [f for f in fields if f.split(b":", 1)[0].strip().lower() not in names]
    fields += [n + b": " + v for n, v in kept]
    head = b"\r\n".join([status_line, *fields]) + b"\r\n"
    return FixedResponse(resp.status, head, resp.body, resp.close)
