"""A worker's connections to one pool's backends: keep-alive reuse, caps, connecting.

Idle connections wait in a per-backend LIFO (the most recently used goes first, so
the others can time out), except that one idle for more than half of
`keepalive_timeout` goes first: a load that keeps using the connections it opened keeps
them all, however its concurrency moves, while those it no longer uses expire after
`keepalive_timeout` idle. How many may wait follows the load too: at least `keepalive`,
and as many as carried a request lately (in this window or the one before, a window
being `keepalive_timeout` long), so that steady load never closes a connection it will
reopen a moment later. A worker therefore opens no more connections to a backend than
its peak of concurrent requests to it. A backend's open connections are capped by
`max_connections`.
A pooled connection the backend has closed is noticed before use (its transport is
closing, or EOF already arrived) and dropped. Timeouts are deadlines swept by the
worker's tick (`sweep`), not a timer per request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from time import monotonic
from typing import TYPE_CHECKING, Any

from frontdesk.balance import (
    Event,
    KeySource,
    MemberSpec,
    OutlierConfig,
    Pool,
    RetryBudget,
    SlowStart,
)
from frontdesk.balance.health import Change
from frontdesk.balance.keys import read_cookie
from frontdesk.balance.members import OK, SERVER_ERROR, AdminState, Member, Outcome
from frontdesk.balance.sticky import set_cookie
from frontdesk.config.proxy import split_upstream
from frontdesk.errors import UpstreamBusy, UpstreamConnectError, UpstreamTimeout
from frontdesk.log import error_log
from frontdesk.proxy.connection import UpstreamConnection
from frontdesk.proxy.starting import DEFAULT_PAGE
from frontdesk.proxy.upstream import Backend

if TYPE_CHECKING:
    from frontdesk.config.proxy import Pool as PoolConfig
    from frontdesk.server.clock import Clock
    from frontdesk.server.request import Request


class UpstreamPool:
    """One `[pool.NAME]` as seen by one worker."""

    def __init__(self, name: str, config: PoolConfig, clock: Clock, via: bytes) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.via = via
        self.backends = [Backend(split_upstream(s.address), s.address) for s in config.servers]
        # Answered while the pool has no server at all (an app starting): proxy/starting.py
        self.starting_page = DEFAULT_PAGE
        # One server: nothing to choose, so no balancer, health or budget is consulted
        # (the common case of a single app process). Ejecting it would only lead to
        # panic picks of the same server. (A name to resolve may become several.)
        self._single = None if config.balanced else self.backends[0]
        self.balance: Pool | None = None
        # The balancer, when nothing but its policy decides (no hash key, no sticky
        # cookie): take() then uses Pool.start_member, with no Pick or key extraction.
        self._plain: Pool | None = None
        self._backend_of: dict[object, Backend] = {}
        self._key: KeySource | None = None
        self._cookie: bytes | None = None
        self._cookie_name = ""
        self.budget = RetryBudget(ratio=config.retry_budget)
        self._panicking = False
        self.cookie_line = b""  # see pick()
        self._requests = 0  # first attempts not yet handed to the budget
        self.connections: set[UpstreamConnection] = set()  # every open one, for sweep()
        self._waiters: list[asyncio.Future[None]] = []  # requests waiting for a free slot
        # The idle cap's window (sweep): its number, and when it ends.
        self._window = 0
        self._window_end = 0.0
        # An idle connection whose deadline is this close is taken first (take_idle).
        self._half_idle = config.keepalive_timeout / 2
        if self._single is None:
            self._build_balance(config)
        self.ssl: ssl.SSLContext | None = None  # TLS to the servers (pool `tls`)
        if config.tls is not None:
            from frontdesk.tls.client import client_context

            self.ssl = client_context(config.tls)

    def _build_balance(self, config: PoolConfig) -> None:
        passive = config.health.passive
        sticky = config.sticky
        balance = Pool(
            [MemberSpec(s.address, s.weight) for s in config.servers],
            config.balance,
            outlier=OutlierConfig(passive.consecutive, passive.base, passive.max),
            slow_start=SlowStart(period=config.slow_start),
            sticky_secret=sticky.secret.encode() if sticky is not None else None,
        )
        for backend, member in zip(self.backends, balance.members, strict=True):
            backend.member = member
            self._backend_of[member] = backend
        self.balance = balance
        if config.hash is not None:
            self._key = KeySource.parse(config.hash)
        if sticky is not None:
            self._cookie = sticky.cookie.encode("latin-1")
            self._cookie_name = sticky.cookie
        if self._key is None and sticky is None:
            self._plain = balance

    def apply_wire(self, wire: dict[str, Any]) -> None:
        """Adopt the master's state of this pool (active health, drain/disable, members
        found by DNS); an older generation than the one in effect is ignored.

        A pool of one server has no balancer, so nothing to adopt. Members that left
        lose their idle connections; requests in flight to them finish. So do members
        drained, disabled or found down: a server stopping gracefully (a drained one
        taken down for maintenance) need not wait for our idle connections to time out
        (HAProxy's `on-marked-down shutdown-sessions`, for idle ones only). A drained or
        disabled one also keeps none after its requests in flight end; a down one may
        still get panic-mode requests, so it keeps those (no connection per request)."""
        balance = self.balance
        if balance is None:
            return
        out_before = {b.label for b in self.backends if _out(b)}
        generation = balance.generation
        balance.apply_wire(wire, monotonic())
        if balance.generation == generation:
            return  # not newer than the state in effect
        old = {b.label: b for b in self.backends}
        backends = []
        for member in balance.members:
            backend = old.pop(member.id, None)
            if backend is None:
                backend = Backend(split_upstream(member.id), member.id)
                backend.member = member
            backends.append(backend)
        self.backends = backends
        self._backend_of = {b.member: b for b in backends}
        for gone in old.values():
            _close_idle(gone)
        for backend in backends:
            backend.retired = backend.member.admin is not AdminState.ACTIVE
            if _out(backend) and backend.label not in out_before:
                _close_idle(backend)

    def checks_passed(self, member_ids: list[str], since: float) -> None:
        """The master's active checks begun at `since` passed for these members: end
        this worker's ejections of them that began before (balance.Pool.checks_passed);
        the tick logs each return."""
        if self.balance is not None:
            self.balance.checks_passed(member_ids, since)

    @property
    def empty(self) -> bool:
        """No server at all: an app's pool before its first instance is ready."""
        return not self.backends

    def in_flight_to(self, member_id: str) -> int:
        """Attempts under way to one server, counted from the pick (so one still
        connecting counts too): the master stops a drained app instance at 0."""
        for b in self.backends:
            if b.label == member_id:
                picked = b.member.in_flight if b.member is not None else 0
                return max(picked, b.in_flight)
        return 0

    def snapshot(self, now: float) -> dict[str, Any]:
        """What `frontdesk status` shows of this pool in this worker."""
        servers = []
        for b in self.backends:
            m = b.member
            servers.append(
                {
                    "server": b.label,
                    "state": "up" if m is None else _member_state(m, now),
                    "weight": 1 if m is None else m.weight,
                    "in_flight": b.in_flight,
                    "open": b.open,
                    "idle": len(b.idle),
                    # Seconds (peak EWMA of response times, fading while idle); the
                    # passive ejections in a row (balance/health.py Outlier).
                    "latency_ewma": 0.0 if m is None else m.latency_estimate(now),
                    "ejections": 0 if m is None else m.outlier.ejections,
                }
            )
        policy = "single" if self.balance is None else self.config.balance
        return {"pool": self.name, "balance": policy, "servers": servers}

    # ---------------------------------------------------------------- selection

    def pick(self, req: Request, exclude: Sequence[Backend] = ()) -> Backend | None:
        """The backend for one attempt of `req`, not one of `exclude` (tried already).

        Sets `cookie_line`: the Set-Cookie header line the answer must carry (a sticky
        session starts or moves), or b"". The caller reads it at once."""
        single = self._single
        if single is not None:
            return None if exclude else single
        balance = self.balance
        assert balance is not None
        key = self._key
        name = self._cookie
        choice = balance.pick(
            monotonic(),
            key.extract(req.peer, req.path, req.headers) if key is not None else None,
            read_cookie(req.headers, name) if name is not None else None,
            [b.member for b in exclude] if exclude else (),
        )
        if choice is None:
            return None
        if choice.panic:
            if not self._panicking:
                self._panicking = True  # logged once per episode, not per request
                error_log.error(
                    "pool %r: every server is out (ejected or down); requests go to %s "
                    "anyway (panic mode) — check the servers' logs, and `frontdesk status` "
                    "for their states",
                    self.name,
                    choice.member.id,
                )
        elif self._panicking:
            self._panicking = False
            error_log.warning("pool %r: out of panic mode", self.name)
        if choice.cookie is not None:
            value = set_cookie(self._cookie_name, choice.cookie)
            self.cookie_line = b"Set-Cookie: " + value + b"\r\n"
        elif name is not None:
            self.cookie_line = b""
        return self._backend_of[choice.member]

    def take(self, req: Request) -> tuple[Backend, UpstreamConnection | None] | None:
        """The task-free path's choice for `req`, in one call (it runs per request): the
        backend and a kept-alive connection to it, the attempt counted as started at
        `conn.started_at` (as `started`); or (backend, None): stream() connects and
        starts it; or None: no backend to try."""
        single = self._single
        if single is not None:
            return single, self.take_idle(single)
        plain = self._plain
        now = monotonic()
        member = plain.start_member(now) if plain is not None else None
        if member is None:  # a key or a cookie decides, or panic mode: the general pick
            backend = self.pick(req)
            if backend is None:
                return None
            conn = self.take_idle(backend)
            if conn is not None:
                conn.started_at = self.started(backend, first=True)
            return backend, conn
        if self._panicking:
            self._panicking = False
            error_log.warning("pool %r: out of panic mode", self.name)
        backend = self._backend_of[member]
        conn = self.take_idle(backend)
        if conn is None:
            plain.unstart(member)  # type: ignore[union-attr]  # stream() starts it
        else:
            self._requests += 1
            conn.started_at = now
        return backend, conn

    def started(self, backend: Backend, first: bool) -> float:
        """An attempt goes out to `backend` (`first`: not a retry); returns its start
        time, for its latency."""
        balance = self.balance
        if balance is None:
            return 0.0
        if first:
            # Counted here, handed to the budget by the tick (sweep) or before a retry:
            # an increment per request instead of a budget call.
            self._requests += 1
        balance.on_start(backend.member)
        return monotonic()

    def ended(self, backend: Backend, started: float, outcome: Outcome) -> None:
        """The attempt begun at `started` ended: feed the balancer, log an ejection."""
        balance = self.balance
        if balance is None:
            return
        now = monotonic()
        event = balance.on_end(backend.member, now, now - started, outcome)
        if event is not None:
            self._ejected(backend, event, now, outcome)

    def ended_status(self, backend: Backend, started: float, status: int) -> None:
        """A response arrived: 5xx counts against the server, anything else is OK.
        (`ended`, inlined: this runs once per proxied request.)"""
        balance = self.balance
        if balance is None:
            return
        now = monotonic()
        outcome = SERVER_ERROR if status >= 500 else OK
        event = balance.on_end(backend.member, now, now - started, outcome)
        if event is not None:
            self._ejected(backend, event, now, outcome)

    def _ejected(self, backend: Backend, event: Event, now: float, outcome: Outcome) -> None:
        if event.change is Change.EJECTED:
            error_log.error(
                "pool %r: server %s ejected for %.0f s after failures (last: %s); its "
                "requests go to the other servers — check that server's own log",
                self.name,
                backend.label,
                (event.until or now) - now,
                outcome.value,
            )

    def _count_requests(self, now: float) -> None:
        if self._requests:
            self.budget.record_request(now, self._requests)
            self._requests = 0

    def may_retry(self) -> bool:
        """A retry on another server, if the pool's retry budget allows one."""
        now = monotonic()
        self._count_requests(now)
        if self.budget.try_retry(now):
            return True
        error_log.warning(
            "pool %r: retry budget exhausted, not retrying: retries are over retry_budget "
            "of the requests, so the servers are failing — see the errors above",
            self.name,
        )
        return False

    # ---------------------------------------------------------------- connections

    def take_idle(self, backend: Backend) -> UpstreamConnection | None:
        idle = backend.idle
        while idle:
            # The most recently used, unless the longest idle is past half of its
            # keep-alive: reused now, it does not expire while the load still needs it
            # (to be reopened by the next burst).
            if idle[0].deadline <= self.clock.now + self._half_idle:
                conn = idle.popleft()
            else:
                conn = idle.pop()
            if not conn.closed and not conn.transport.is_closing():
                return conn
            conn.close()  # the backend closed it while idle
        return None

    async def acquire(
        self, backend: Backend, fresh: bool = False
    ) -> tuple[UpstreamConnection, bool]:
        """A connection to `backend`: (connection, reused). Raises UpstreamError.

        `fresh`: a new connection even if idle ones exist (a retry after a reused one
        failed: the others may be just as stale)."""
        conn = None if fresh else self.take_idle(backend)
        if conn is not None:
            return conn, True
        cap = self.config.max_connections
        if cap and backend.open >= cap:
            await self._wait_for_slot(backend)
            conn = self.take_idle(backend)
            if conn is not None:
                return conn, True
        return await self._connect(backend), False

    async def _wait_for_slot(self, backend: Backend) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.connect_timeout
        cap = self.config.max_connections
        while backend.open >= cap and not backend.idle:
            left = deadline - loop.time()
            if left <= 0:
                raise UpstreamBusy("every connection to the backend is busy")
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, left)
            except TimeoutError:
                raise UpstreamBusy("every connection to the backend is busy") from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(self, backend: Backend) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        config = self.config
        backend.open += 1

        def factory() -> UpstreamConnection:
            conn = UpstreamConnection(backend, self.clock, self.via, self._closed)
            conn.read_timeout = config.read_timeout
            conn.idle_timeout = config.idle_timeout
            conn.send_timeout = config.send_timeout
            return conn

        address = backend.address
        try:
            if isinstance(address, str):
                coro = loop.create_unix_connection(factory, address)
            elif self.ssl is not None and config.tls is not None:
                from frontdesk.tls.client import server_hostname

                coro = loop.create_connection(
                    factory,
                    address[0],
                    address[1],
                    ssl=self.ssl,
                    server_hostname=server_hostname(config.tls, address[0]),
                    ssl_handshake_timeout=config.connect_timeout,
                )
            else:
                coro = loop.create_connection(factory, address[0], address[1])
            transport, conn = await asyncio.wait_for(coro, config.connect_timeout)
        except TimeoutError:
            backend.open -= 1
            backend.fails += 1
            self._wake_one()
            raise UpstreamTimeout("connect timeout") from None
        except ssl.SSLError as exc:  # an OSError too: the certificate, the handshake
            backend.open -= 1
            backend.fails += 1
            self._wake_one()
            raise UpstreamConnectError(f"TLS handshake failed: {exc.reason or exc}") from None
        except OSError as exc:
            backend.open -= 1
            backend.fails += 1
            self._wake_one()
            raise UpstreamConnectError(f"connect failed: {exc.strerror or exc}") from None
        except asyncio.CancelledError:
            backend.open -= 1
            self._wake_one()
            raise
        if conn.closed:  # accepted, then closed at once (a backend shutting down)
            backend.open -= 1
            self._wake_one()
            raise UpstreamConnectError("connection closed as it opened")
        backend.fails = 0
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            # Small request heads must not wait for Nagle's algorithm.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections.add(conn)
        return conn

    def _closed(self, conn: UpstreamConnection) -> None:
        """A connection closed (by us or the backend): free its slot."""
        if conn in self.connections:
            self.connections.discard(conn)
            conn.backend.open -= 1
            try:
                conn.backend.idle.remove(conn)
            except ValueError:
                pass
            self._wake_one()

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        """The exchange on `conn` is over: keep it for the next request, or close it."""
        config = self.config
        backend = conn.backend
        if (
            reusable
            and not conn.closed
            and not backend.retired
            and config.keepalive > 0
            and conn.requests < config.keepalive_requests
            and not conn.transport.is_closing()
        ):
            conn.idle(config.keepalive_timeout)
            if conn.window != self._window:
                conn.window = self._window  # counted once per window
                backend.used += 1
            idle = backend.idle
            idle.append(conn)
            if len(idle) > config.keepalive and len(idle) > max(backend.used, backend.used_before):
                idle.popleft().close()  # the longest idle goes
            if self._waiters:
                self._wake_one()
        else:
            conn.detach()
            conn.close()

    def sweep(self, late: float) -> None:
        """Fire the deadlines (timeouts, idle expiry) that passed before `late`, and log
        servers whose ejection ended."""
        balance = self.balance
        if balance is not None:
            now = monotonic()
            self._count_requests(now)
            balance.eligible(now)  # ends the ejections that are due
            for event in balance.take_events():
                if event.change is Change.RETURNED:
                    error_log.warning(
                        "pool %r: server %s back in rotation after ejection",
                        self.name,
                        event.member,
                    )
        for conn in [c for c in self.connections if c.deadline <= late]:
            conn.on_deadline()
        if late >= self._window_end:
            # A new window of the idle cap: the count of connections used restarts,
            # and the last one's is remembered (a load that just dipped keeps its pool).
            self._window += 1
            self._window_end = late + self.config.keepalive_timeout
            for b in self.backends:
                b.used_before = b.used
                b.used = 0

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.close()


def _out(backend: Backend) -> bool:
    """Taken out of rotation: drained, disabled, or down by the active checks."""
    member = backend.member
    return member is not None and (member.admin is not AdminState.ACTIVE or not member.active.up)


def _close_idle(backend: Backend) -> None:
    idle = backend.idle
    while idle:
        idle.pop().close()


def _member_state(m: Member, now: float) -> str:
    """One word for a member: the operator's state first, then health."""
    if m.admin is not AdminState.ACTIVE:
        return str(m.admin.value)
    if not m.active.up:
        return "down"
    until = m.outlier.ejected_until
    if until is not None and until > now:
        return "ejected"
    return "up"
