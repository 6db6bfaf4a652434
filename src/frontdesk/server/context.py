"""Everything a worker's connections share.

Built once from the config by frontdesk.pipeline (which composes each route's chain
of features); the server package itself knows only the `Action` interface.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from frontdesk.admin.metrics import RequestMetrics
from frontdesk.http.routing import RouteTable
from frontdesk.log import AccessLog, error_log
from frontdesk.server.actions import Action, NotFound
from frontdesk.server.clock import Clock
from frontdesk.server.response import FixedResponse, error_response

if TYPE_CHECKING:
    from frontdesk.server.connection import Connection
    from frontdesk.server.request import Request


def _nothing() -> None:
    pass


class ClientConnection(Protocol):
    """What the worker asks of a client connection: HTTP/1.1 (server/protocol.py) and
    HTTP/2 (server/h2conn.py) alike."""

    deadline: float
    served: int
    transport: Any
    run_action: Any  # the fast lane's current run (an Action), or None
    run_since: int

    def on_deadline(self) -> None: ...

    def shutdown(self, grace_idle: float) -> None: ...


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
        self.connections: set[ClientConnection] = set()
        self.closing = False
        # While draining (a reload): how long a kept-alive connection may stay idle
        # before it is closed; 0 when shutting down (server/connection.py).
        self.idle_grace = 0.0
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
        # The proxy's per-worker connection pools, by [pool.NAME], and the [cache.NAME]
        # caches routes use: set by frontdesk.pipeline; opaque here (the server package
        # never imports a feature), typed where they are used (frontdesk.worker).
        self.upstream_pools: dict[str, Any] = {}
        self.caches: dict[str, Any] = {}
        # Counters by route, method and status class (admin/metrics.py); the master
        # gathers them over the control channel when /metrics is read.
        self.metrics = RequestMetrics()
        self.actions: list[Action] = []  # one per route, in order (their fast-lane counts)
        # Request ids for the access log of requests the proxy did not forward (it
        # makes its own): a random prefix and a counter, as the proxy's.
        self._id_prefix = os.urandom(6).hex().encode("ascii")
        self._ids = itertools.count(1)

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

    def metrics_snapshot(self) -> dict[str, object]:
        """The counters for the master (admin/metrics.py), fast-lane answers included."""
        live: dict[int, int] = {}  # the fast lane's runs of open connections
        for c in self.connections:
            run = c.run_action
            if run is not None:
                live[id(run)] = live.get(id(run), 0) + c.served - c.run_since
        fast: list[tuple[str, str, int, int]] = []
        for a in [*self.actions, self.not_found]:
            for method, status, count in a.fast_counts(live.get(id(a), 0)):
                fast.append((a.label, method, status, count))
        upstream = [
            (name, b.label, b.stats) for name, p in self.upstream_pools.items() for b in p.backends
        ]
        return self.metrics.snapshot(fast, upstream)

    def requests_served(self) -> int:
        return self.requests + sum(c.served for c in self.connections)

    def observe(self, req: Request, status: int) -> None:
        """Count one answer in the metrics (every path but the fast lane)."""
        self.metrics.observe(req.route, req.method, status, time.monotonic() - req.began)

    def request_id(self, req: Request) -> bytes:
        rid = req.request_id
        if not rid:
            rid = req.request_id = b"%s-%x" % (self._id_prefix, next(self._ids))
        return rid

    def log_request(self, req: Request, status: int, size: int) -> None:
        self.requests += 1
        elapsed = time.monotonic() - req.began
        self.metrics.observe(req.route, req.method, status, elapsed)
        log = self.access_log
        if log.json:
            log.extra(
                self.request_id(req), req.route, req.upstream, req.cache_status,
                req.upstream_ttfb, elapsed,
            )  # fmt: skip
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
        try:
            method = conn.parser.get_method() or b"-"
        except Exception:  # the parser may not have got as far as the method
            method = b"-"
        self.metrics.observe("-", method, status, 0.0)
        log = self.access_log
        if log.enabled:
            if log.json:
                rid = b"%s-%x" % (self._id_prefix, next(self._ids))
                log.extra(rid, "-", "", "", -1.0, 0.0)
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
