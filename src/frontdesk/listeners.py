"""What each listening socket runs: plain HTTP, HTTP over TLS, or a redirect to HTTPS.

A listen entry's table (config/tls.py `Listener`) picks the protocol class and the
route table its connections start from; everything else (limits, clock, pools,
caches, the connection set) is the worker's one WorkerContext, shared by all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdesk.config.model import Config
from frontdesk.config.tls import Listener
from frontdesk.config.types import split_listen
from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.server.actions import Action, Redirect
from frontdesk.server.context import WorkerContext
from frontdesk.server.protocol import HttpProtocol

__all__ = ["HttpsProtocol", "RoutedProtocol", "factories"]


class HttpsProtocol(HttpProtocol):
    """HTTP/1.1 over TLS (uvloop's SSL transport carries the bytes): requests are
    marked https, so the proxy sends X-Forwarded-Proto: https."""

    __slots__ = ()

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.https = True

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


def _routed(table: RouteTable[Action]) -> type[RoutedProtocol]:
    return type("RoutedProtocol", (RoutedProtocol,), {"__slots__": (), "table": table})


def _hsts(values: dict[str, str]) -> type[HstsProtocol]:
    lines = {h: b"Strict-Transport-Security: %b\r\n" % v.encode() for h, v in values.items()}
    default = lines.pop("*", b"")
    attrs = {"__slots__": (), "hsts": lines, "hsts_default": default}
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
    for listener in config.listeners():
        cls: type[HttpProtocol]
        if listener.tls and config.tls is not None and config.tls.hsts:
            cls = _hsts(config.tls.hsts)
        elif listener.tls:
            cls = HttpsProtocol
        elif listener.redirect_https:
            cls = _routed(RouteTable([*front, (Matcher(), https_redirect(config))]))
        else:
            cls = plain
        out.append((listener, lambda cls=cls: cls(ctx)))  # type: ignore[misc]
    return out
