"""What each listening socket runs: plain HTTP, HTTP over TLS, or a redirect to HTTPS.

A listen entry's table (config/tls.py `Listener`) picks the protocol class and the
route table its connections start from; everything else (limits, clock, pools,
caches, the connection set) is the worker's one WorkerContext, shared by all.

HTTP/2 starts as one of these: a TLS connection whose ALPN chose "h2", or a plain
connection on an `h2c = true` listener that opens with the HTTP/2 preface (prior
knowledge, RFC 9113 §3.3), hands its transport to an H2Protocol (server/h2conn.py)
with the same routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from frontdesk.config.http2 import Http2
from frontdesk.config.model import Config
from frontdesk.config.tls import Listener
from frontdesk.config.types import split_listen
from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.server.actions import Action, Redirect
from frontdesk.server.context import WorkerContext
from frontdesk.server.h2conn import H2Protocol
from frontdesk.server.h2guard import PREFACE
from frontdesk.server.protocol import HttpProtocol

__all__ = ["HttpsProtocol", "RoutedProtocol", "H2cProtocol", "factories"]


class HttpsProtocol(HttpProtocol):
    """HTTP/1.1 over TLS (tls/transport.py's TlsConnection carries the bytes): requests are
    marked https, so the proxy sends X-Forwarded-Proto: https. When ALPN chose "h2"
    the connection is handed to an H2Protocol before any byte is read."""

    __slots__ = ()
    http2: Http2 | None = None  # set (per listener class) when HTTP/2 is offered
    h2_hsts: dict[str, bytes] = {}  # HSTS values by host for HTTP/2 answers ("*": any)

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.https = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.http2 is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                proto = H2Protocol(self.ctx, self.http2, True, self.routes, self.h2_hsts)
                transport.set_protocol(proto)
                proto.connection_made(transport)
                return
        super().connection_made(transport)

    def eof_received(self) -> bool | None:
        # TLS has no half-close (the peer's close_notify ends the session): the SSL
        # transport closes whatever this returns, and warns when it is True.
        super().eof_received()
        return None


class HstsProtocol(HttpsProtocol):
    """HTTPS with a Strict-Transport-Security field for the hosts `[tls] hsts` names
    (RFC 6797 §7.1), on every answer but those of the fast lane, which is off here:
    its answers are bytes rendered in advance."""

    __slots__ = ()
    hsts: dict[str, bytes] = {}
    hsts_default = b""

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.fast_lane = False

    def _dispatch(self, *args: Any) -> None:
        host = args[6]
        self.extra_head = self.hsts.get(host, self.hsts_default)
        super()._dispatch(*args)


class RoutedProtocol(HttpProtocol):
    """Plain HTTP with a route table of its own (ACME challenges in front, or the
    redirect to HTTPS in place of the routes)."""

    __slots__ = ()
    table: RouteTable[Action]

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.routes = self.table
        self.catch_all = self.table.catch_all


class H2cProtocol(HttpProtocol):
    """A plain listener with `h2c = true`: HTTP/1.1, unless the connection opens with
    the HTTP/2 preface ("PRI * HTTP/2.0..."), which no HTTP/1.1 request can."""

    __slots__ = ("_first",)
    http2: Http2

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self._first: bytes | None = b""  # the bytes read so far, until decided

    def data_received(self, data: bytes) -> None:
        first = self._first
        if first is None:
            super().data_received(data)
            return
        buf = first + data if first else data
        if buf.startswith(PREFACE):
            self.ctx.connections.discard(self)
            proto = H2Protocol(self.ctx, self.http2, False, self.routes)
            transport = self.transport
            transport.set_protocol(proto)
            proto.connection_made(transport)
            proto.data_received(buf)
        elif PREFACE.startswith(buf):
            self._first = buf  # a preface split across reads (or a very short request)
        else:
            self._first = None
            super().data_received(buf)


def _h2c(base: type[HttpProtocol], settings: Http2) -> type[HttpProtocol]:
    return type("H2cProtocol", (H2cProtocol, base), {"__slots__": (), "http2": settings})


def _h2(base: type[HttpsProtocol], settings: Http2) -> type[HttpsProtocol]:
    return type(base.__name__, (base,), {"__slots__": (), "http2": settings})


def _routed(table: RouteTable[Action]) -> type[RoutedProtocol]:
    return type("RoutedProtocol", (RoutedProtocol,), {"__slots__": (), "table": table})


def _hsts(values: dict[str, str]) -> type[HstsProtocol]:
    lines = {h: b"Strict-Transport-Security: %b\r\n" % v.encode() for h, v in values.items()}
    default = lines.pop("*", b"")
    h2_hsts = {h: v.encode() for h, v in values.items()}
    attrs = {"__slots__": (), "hsts": lines, "hsts_default": default, "h2_hsts": h2_hsts}
    return type("HstsProtocol", (HstsProtocol,), attrs)


def https_redirect(config: Config) -> Redirect:
    """308 to the same URL on the first TLS listener (its port left out when 443)."""
    port = next(split_listen(x.address)[1] for x in config.listeners() if x.tls)
    authority = "{host}" if port == 443 else f"{{host}}:{port}"
    return Redirect(308, f"https://{authority}{{uri}}", config.server.server_header)


def factories(
    config: Config,
    ctx: WorkerContext,
    challenge: Action | None = None,
) -> list[tuple[Listener, Callable[[], HttpProtocol]]]:
    """(listener, protocol factory) for each listen entry, in the config's order (the
    order of the sockets the master hands over). `challenge` answers ACME HTTP-01
    requests on the plain listeners before any route."""
    front: list[tuple[Matcher, Action]] = []
    if challenge is not None:
        front.append((Matcher.build(prefix="/.well-known/acme-challenge/"), challenge))
    plain: type[HttpProtocol] = HttpProtocol
    if front:
        plain = _routed(RouteTable([*front, *ctx.routes.entries()]))
    out: list[tuple[Listener, Callable[[], HttpProtocol]]] = []
    http2 = config.http2
    for listener in config.listeners():
        cls: type[HttpProtocol]
        if listener.tls:
            tls_cls: type[HttpsProtocol] = HttpsProtocol
            if config.tls is not None and config.tls.hsts:
                tls_cls = _hsts(config.tls.hsts)
            cls = _h2(tls_cls, http2) if http2.enabled else tls_cls
        elif listener.redirect_https:
            cls = _routed(RouteTable([*front, (Matcher(), https_redirect(config))]))
        elif listener.h2c:
            cls = _h2c(plain, http2)
        else:
            cls = plain
        out.append((listener, lambda cls=cls: cls(ctx)))  # type: ignore[misc]
    return out
