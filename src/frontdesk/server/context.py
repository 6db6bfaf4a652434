"""Everything a worker's connections share, built once from the config."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.log import AccessLog, error_log
from frontdesk.server.actions import Action, NotFound, Redirect, Respond
from frontdesk.server.clock import Clock
from frontdesk.server.response import FixedResponse, error_response

if TYPE_CHECKING:
    from frontdesk.cache.runtime import CacheRuntime
    from frontdesk.config.model import Config, Route
    from frontdesk.proxy.pool import UpstreamPool
    from frontdesk.server.connection import Connection
    from frontdesk.server.protocol import HttpProtocol
    from frontdesk.server.request import Request


def _nothing() -> None:
    pass


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits and timeouts (sizes in bytes, times in seconds)."""

    max_uri_size: int = 8 * 1024
    max_header_size: int = 32 * 1024
    max_headers: int = 100
    max_body_size: int = 1024 * 1024  # 0 = unlimited
    max_connections: int = 20000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 15.0
    write_timeout: float = 30.0


class WorkerContext:
    """Routes, limits, clock and logs of one worker; connections hold a reference."""

    def __init__(
        self,
        routes: RouteTable[Action],
        limits: Limits,
        server_header: str,
        access_log: AccessLog,
        clock: Clock | None = None,
    ) -> None:
        self.routes = routes
        self.limits = limits
        self.server_header = server_header
        self.server_line = (
            f"Server: {server_header}\r\n".encode("latin-1") if server_header else b""
        )
        self.access_log = access_log
        self.clock = clock or Clock()
        self.not_found: Action = NotFound(server_header)
        self.connections: set[HttpProtocol] = set()
        self.closing = False
        # At max_connections the worker stops accepting (the kernel queues further
        # clients in the backlog) and resumes at 90%; the worker sets the hooks.
        self.accept_paused = False
        self.pause_accepting: Callable[[], None] = _nothing
        self.resume_accepting: Callable[[], None] = _nothing
        # keepalive_timeout = 0 disables keep-alive: every answer says close.
        self.keep_alive = limits.keepalive_timeout > 0
        self._errors: dict[tuple[int, str], FixedResponse] = {}
        # Parsed Host values and request-targets, keyed by their raw bytes: real
        # traffic repeats both, and the cache is cleared whenever it fills up.
        self.host_cache: dict[bytes, str] = {}
        self.target_cache: dict[bytes, tuple[str, str, str | None]] = {}
        # Requests answered, for `frontdesk status`: counted here on every path but
        # the fast lane, whose answers each connection counts (see requests_served).
        self.requests = 0
        self.started = time.time()
        # The proxy's per-worker connection pools, by [pool.NAME]; swept by the tick.
        self.upstream_pools: dict[str, UpstreamPool] = {}
        # The [cache.NAME] caches that routes use, as this worker holds them.
        self.caches: dict[str, CacheRuntime] = {}

    def at_capacity(self) -> None:
        if not self.accept_paused:
            self.accept_paused = True
            error_log.warning(
                "max_connections (%d) reached: not accepting until some close",
                self.limits.max_connections,
            )
            self.pause_accepting()

    def below_capacity(self) -> None:
        if len(self.connections) <= self.limits.max_connections * 9 // 10 and not self.closing:
            self.accept_paused = False
            self.resume_accepting()

    def error(self, status: int, reason: str) -> FixedResponse:
        key = (status, reason)
        resp = self._errors.get(key)
        if resp is None:
            resp = self._errors[key] = error_response(status, reason, server=self.server_header)
        return resp

    def requests_served(self) -> int:
        return self.requests + sum(c.served for c in self.connections)

    def log_request(self, req: Request, status: int, size: int) -> None:
        self.requests += 1
        log = self.access_log
        if log.enabled:
            log.record(
                req.peer,
                self.clock.log_time,
                req.method,
                req.target,
                req.version,
                status,
                size,
                req.header(b"referer"),
                req.header(b"user-agent"),
            )

    def log_error_request(self, conn: Connection, status: int, target: bytes, size: int) -> None:
        self.requests += 1
        log = self.access_log
        if log.enabled:
            try:
                method = conn.parser.get_method() or b"-"
            except Exception:  # the parser may not have got as far as the method
                method = b"-"
            log.record(
                conn.peer,
                self.clock.log_time,
                method or b"-",
                target or b"-",
                "1.1",
                status,
                size,
                None,
                None,
            )

    def log_exception(self, req: Request) -> None:
        error_log.exception("action failed on %s %r", req.method.decode(), req.path)


def build_context(config: Config) -> WorkerContext:
    s = config.server
    limits = Limits(
        max_uri_size=s.max_uri_size,
        max_header_size=s.max_header_size,
        max_headers=s.max_headers,
        max_body_size=s.max_body_size,
        max_connections=s.max_connections,
        header_timeout=s.header_timeout,
        body_timeout=s.body_timeout,
        keepalive_timeout=s.keepalive_timeout,
        write_timeout=s.write_timeout,
    )
    clock = Clock()
    pools = build_pools(config, clock)
    caches = build_caches(config)
    table = RouteTable(
        [
            (build_matcher(r), build_action(r, s.server_header, config, pools, caches))
            for r in config.routes
        ]
    )
    access_log = AccessLog(s.access_log, s.access_log_format)
    ctx = WorkerContext(table, limits, s.server_header, access_log, clock)
    ctx.upstream_pools = pools
    ctx.caches = caches
    return ctx


def build_caches(config: Config) -> dict[str, CacheRuntime]:
    """One CacheRuntime per [cache.NAME] that a route uses. Its responses are stored only
    for the hosts its routes match (any host when one of them matches every host)."""
    if not config.caches:
        return {}
    from frontdesk.cache.runtime import build_cache

    hosts: dict[str, set[str] | None] = {}
    for r in config.routes:
        if r.cache is None:
            continue
        names = _as_tuple(r.match.host)
        seen = hosts.setdefault(r.cache, set())
        if not names or any("*" in n for n in names):
            hosts[r.cache] = None  # any host (a wildcard: the matcher guards it)
        elif seen is not None:
            seen.update(n.lower().rstrip(".") for n in names)
    return {
        name: build_cache(name, config.caches[name], frozenset(allowed or ()))
        for name, allowed in hosts.items()
    }


def build_pools(config: Config, clock: Clock) -> dict[str, UpstreamPool]:
    """One UpstreamPool per [pool.NAME] that a route uses (per worker: not shared)."""
    from frontdesk.proxy.pool import UpstreamPool
    from frontdesk.proxy.starting import load_page

    via = _via(config.server.server_header)
    used = {r.proxy.pool for r in config.routes if r.proxy is not None}
    pools = {
        name: UpstreamPool(name, pool, clock, via)
        for name, pool in config.pools.items()
        if name in used
    }
    page = load_page(config.server.starting_page)
    for p in pools.values():
        p.starting_page = page
    return pools


def _via(server_header: str) -> bytes:
    # RFC 9110 §7.6.3: received-by is a pseudonym when the host is not to be named;
    # the first word of the Server header, as a token.
    word = server_header.split("/")[0].split()[0] if server_header.strip() else "frontdesk"
    return word.encode("latin-1")


def _as_tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def build_matcher(route: Route) -> Matcher:
    m = route.match
    if m is None:
        return Matcher()
    headers = m.header or {}
    return Matcher.build(
        hosts=_as_tuple(m.host),
        prefix=m.path,
        exact=m.exact,
        regex=m.regex,
        methods=_as_tuple(m.method),
        headers=list(headers.items()),
    )


def build_action(
    route: Route,
    server: str,
    config: Config | None = None,
    pools: dict[str, UpstreamPool] | None = None,
    caches: dict[str, CacheRuntime] | None = None,
) -> Action:
    if route.proxy is not None and config is not None and pools is not None:
        from frontdesk.proxy.handler import ProxyAction

        trusted = tuple(ipaddress.ip_network(n) for n in config.server.trusted_proxies)
        pool = pools[route.proxy.pool]
        action: Action = ProxyAction(route.proxy, pool, trusted, pool.via)
        if route.cache is not None and caches is not None:
            from frontdesk.cache.action import CachedProxy

            action = CachedProxy(action, caches[route.cache])  # type: ignore[arg-type]
    elif route.respond is not None:
        r = route.respond
        resp = FixedResponse.build(
            r.status, list(r.headers.items()), r.body.encode(), server=server
        )
        action = Respond(resp)
    elif route.redirect is not None:
        action = Redirect(route.redirect.status, route.redirect.to, server)
    elif route.static is not None:
        from frontdesk.static.action import StaticFiles  # brotli only when used

        action = StaticFiles(route.static, route.match.path, server)
    else:  # the config validator guarantees exactly one action per route
        raise ValueError("route has no action")
    action.name = route.name or ""
    return action
