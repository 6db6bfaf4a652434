"""Each route's chain, composed once at load time: access → rate limit → cache → action.

This module sits above the features (static, proxy, cache, access) and the server
shell: it is the one place that knows them all. The server package sees only the
`Action` at the head of each chain.

How to add a layer: write a `Layer` subclass (pipeline/layer.py) and a wrapper
`(route, parts, action) -> Action` that returns `action` itself when the route does
not use the layer (so a route pays nothing for it), and insert the wrapper in
`WRAPPERS` at its place: they run innermost first, each wrapping what the previous
ones built.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.log import AccessLog
from frontdesk.server.actions import Action, NotFound, Redirect, Respond
from frontdesk.server.clock import Clock
from frontdesk.server.context import Limits, WorkerContext
from frontdesk.server.response import FixedResponse

if TYPE_CHECKING:
    from frontdesk.cache.runtime import CacheRuntime
    from frontdesk.config.model import Config, Route
    from frontdesk.proxy.pool import UpstreamPool


@dataclass
class Parts:
    """What the chains of one worker share: its pools, caches and access rules."""

    config: Config
    clock: Clock
    pools: dict[str, UpstreamPool] = field(default_factory=dict)
    caches: dict[str, CacheRuntime] = field(default_factory=dict)
    # Built access rules by [access.NAME], shared by the routes naming them.
    access: dict[str, Any] = field(default_factory=dict)
    # The `internal = true` routes (X-Accel-Redirect targets), set once all are built.
    internal: Internal = field(default_factory=lambda: Internal())


@dataclass
class Internal:
    table: RouteTable[Action] | None = None


Wrapper = Callable[["Route", Parts, Action], Action]


def _wrap_cache(route: Route, parts: Parts, action: Action) -> Action:
    if route.cache is None or route.proxy is None:
        return action
    from frontdesk.cache.action import CachedProxy

    return CachedProxy(action, parts.caches[route.cache])  # type: ignore[arg-type]


def _wrap_guard(route: Route, parts: Parts, action: Action) -> Action:
    # Access rules and the rate limit share one Guard layer: the rate limit is its
    # last check, so it counts only requests the rules let through.
    if route.access_name is None and route.rate_limit is None:
        return action
    from frontdesk.access.build import route_checks
    from frontdesk.pipeline.layer import Guard

    return Guard(action, route_checks(route, parts))


def _wrap_accel(route: Route, parts: Parts, action: Action) -> Action:
    # Only proxy answers can carry X-Accel-Redirect, and only when a route can serve it.
    if route.proxy is None or not any(r.internal for r in parts.config.routes):
        return action
    from frontdesk.access.accel import AccelRedirect

    return AccelRedirect(action, parts.internal, parts.config.server.server_header)


WRAPPERS: list[Wrapper] = [_wrap_cache, _wrap_accel, _wrap_guard]
"""Layers, innermost first: a route's action is wrapped by each in turn."""


def build_route(route: Route, parts: Parts) -> Action:
    """The head of `route`'s chain."""
    action = build_action(route, parts)
    for wrap in WRAPPERS:
        action = wrap(route, parts, action)
    action.name = route.name or ""
    return action


def build_action(route: Route, parts: Parts) -> Action:
    """What the route does (the end of its chain)."""
    server = parts.config.server.server_header
    if route.proxy is not None:
        from frontdesk.proxy.handler import ProxyAction

        trusted = tuple(ipaddress.ip_network(n) for n in parts.config.server.trusted_proxies)
        pool = parts.pools[route.proxy.pool]
        action: Action = ProxyAction(route.proxy, pool, trusted, pool.via)
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


def build_context(config: Config) -> WorkerContext:
    """A worker's routes (each a built chain), limits, clock and logs."""
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
    parts = Parts(config, clock, build_pools(config, clock), build_caches(config))
    entries: list[tuple[Matcher, Action]] = []
    internal: list[tuple[Matcher, Action]] = []
    not_found = NotFound(s.server_header)
    chains: list[Action] = []  # one per route, in order (metrics read their counts)
    for i, r in enumerate(config.routes):
        matcher, chain = build_matcher(r), build_route(r, parts)
        chain.label = route_label(r, i)
        chains.append(chain)
        if r.internal:
            # Never reachable from outside: a request for it gets the 404 of no route.
            internal.append((matcher, chain))
            entries.append((matcher, not_found))
        else:
            entries.append((matcher, chain))
    parts.internal.table = RouteTable(internal) if internal else None
    table = RouteTable(entries)
    access_log = AccessLog(s.access_log, s.access_log_format)
    ctx = WorkerContext(table, limits, s.server_header, access_log, clock)
    ctx.upstream_pools = parts.pools
    ctx.caches = parts.caches
    ctx.actions = chains
    return ctx


def route_label(route: Route, index: int) -> str:
    """A route's name in metrics, the access log and `frontdesk explain`."""
    return route.name or f"route[{index}]"


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
