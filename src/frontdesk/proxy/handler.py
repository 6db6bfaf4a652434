"""The `proxy` route action: select a backend → connect (or reuse) → relay → retry.

Two paths. The common one, a body-less request with a kept-alive connection ready
(`begin`), runs without a Task: the head is built in one join (forward.py, with the
target and the client's Hop cached), written on the pooled connection, and the
upstream connection's parser callbacks write the response to the client as it
arrives and call `_done` at its end (connection.py). Everything else (connecting,
uploads, 100-continue, upgrades, retries) runs `stream()` as a Task. Everything that
does not depend on the request was computed when the config was loaded.

Failures (errors.py UpstreamError) become 502/503/504 with a short body naming no
internals; details go to the error log. Retries (RFC 9110 §9.2.2 idempotence):
  * a connect failure, connect timeout or full server: nothing was sent, so any
    request moves on to a server of the pool not tried yet, up to `retries` times and
    within the pool's retry budget;
  * a reused keep-alive connection closed before any response byte (the backend
    closed it as the request went out: `UpstreamError.stale`): an idempotent request
    without a body is sent once more on a fresh connection; a fresh connection closed
    that way (a server going down), first or after that retry, sends it once to
    another server of the pool;
  * anything that may have reached the backend otherwise is never retried (a read
    timeout included).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import os
import re
from time import monotonic
from typing import TYPE_CHECKING, Any

from frontdesk.balance.members import OK, Outcome
from frontdesk.errors import UpstreamConnectError, UpstreamError, UpstreamTimeout
from frontdesk.log import error_log
from frontdesk.proxy.connection import CLIENT_GONE, TUNNELLING
from frontdesk.proxy.forward import Hop, RequestPolicy, is_trusted, request_head, trailer_block
from frontdesk.proxy.rewrite import NO_REWRITE, PathRewrite, upstream_target
from frontdesk.proxy.starting import HEADERS as STARTING_HEADERS
from frontdesk.proxy.tunnel import Tunnel
from frontdesk.server.actions import Action

if TYPE_CHECKING:
    from frontdesk.config.proxy import Proxy
    from frontdesk.proxy.connection import UpstreamConnection
    from frontdesk.proxy.pool import UpstreamPool
    from frontdesk.proxy.upstream import Backend
    from frontdesk.server.connection import Exchange
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request

# RFC 9110 §9.2.2: "the request methods PUT, DELETE, and safe request methods are
# idempotent" (safe: GET, HEAD, OPTIONS, TRACE, §9.2.1).
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
# RFC 9110 §10.1.1: a client that sent Expect: 100-continue "ought to" send the body
# anyway after a while; frontdesk waits this long for the backend's 100 before it does.
CONTINUE_WAIT = 1.0
_CACHE_SIZE = 4096  # targets and client hops remembered per route
_TEXT_PLAIN = [(b"Content-Type", b"text/plain; charset=utf-8")]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def build_rewrite(config: Proxy) -> PathRewrite:
    if config.strip_prefix is not None:
        return PathRewrite(strip_prefix=config.strip_prefix)
    if config.replace_prefix is not None:
        r = config.replace_prefix
        return PathRewrite(replace_from=r.from_, replace_to=r.to)
    if config.rewrite is not None:
        return PathRewrite(regex=re.compile(config.rewrite.regex), regex_to=config.rewrite.to)
    return NO_REWRITE


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ProxyAction(Action):
    """Forward to a pool; one instance per route, per worker."""

    streaming = True
    tunnels = True

    def __init__(
        self, config: Proxy, pool: UpstreamPool, trusted: tuple[Network, ...], via: bytes
    ) -> None:
        self.pool = pool
        self.trusted = trusted
        self.rewrite = build_rewrite(config)
        self.max_body_size = config.max_body_size
        mode = config.host_header
        self.host_from_upstream = mode == "upstream"
        fixed_host = None if mode in ("client", "upstream") else mode.encode("latin-1")
        self.policy = RequestPolicy(via=via, host=fixed_host)
        self._via = via
        # host_header = "upstream": one policy per backend, made on first use (DNS
        # discovery adds backends after the config is loaded).
        self._upstream_policies: dict[Backend, RequestPolicy] = {}
        self._targets: dict[bytes, bytes] = {}
        self._hops: dict[str, Hop] = {}
        self._hops_tls: dict[str, Hop] = {}  # requests that came over TLS (proto https)
        self._forwarding: dict[tuple[str, bytes, bytes, bytes, str], bytes] = {}
        # X-Request-ID: a random per-worker prefix and a counter; unique without
        # reading the random source for every request.
        self._id_prefix = os.urandom(8).hex().encode("ascii")
        self._ids = itertools.count(1)

    # ---------------------------------------------------------------- per request

    def _target(self, req: Request) -> bytes:
        target = upstream_target(req.target, req.path, req.query, self.rewrite)
        if len(self._targets) >= _CACHE_SIZE:
            self._targets.clear()
        self._targets[req.target] = target
        return target

    def upstream_target(self, req: Request) -> bytes:
        """The request-target sent to the backend (after the route's rewrite)."""
        target = self._targets.get(req.target)
        return target if target is not None else self._target(req)

    def _request_id(self, req: Request) -> bytes:
        """The request's id, sent to the backend as X-Request-ID and written in the
        access log: the client's own when it is one of `trusted_proxies` (a balancer in
        front that made it), otherwise made here."""
        rid = b""
        if self.trusted and is_trusted(req.peer, self.trusted):
            rid = req.header(b"x-request-id") or b""
        if not rid:
            rid = b"%s-%x" % (self._id_prefix, next(self._ids))
        req.request_id = rid
        return rid

    def _hop(self, peer: str, https: bool) -> Hop:
        trusted = is_trusted(peer, self.trusted) if self.trusted else False
        hop = Hop(peer, trusted, b"https" if https else b"http")
        hops = self._hops_tls if https else self._hops
        if len(hops) >= _CACHE_SIZE:
            hops.clear()
            self._forwarding.clear()  # bounded with the hops it is keyed on
        hops[peer] = hop
        return hop

    def _upstream_policy(self, backend: Backend) -> RequestPolicy:
        if len(self._upstream_policies) >= _CACHE_SIZE:
            self._upstream_policies.clear()  # backends that DNS took away
        policy = RequestPolicy(via=self._via, host=backend.host_header)
        self._upstream_policies[backend] = policy
        return policy

    def _head(self, req: Request, backend: Backend, request_id: bytes) -> bytes:
        target = self._targets.get(req.target)
        if target is None:
            target = self._target(req)
        hop = (self._hops_tls if req.https else self._hops).get(req.peer)
        if hop is None:
            hop = self._hop(req.peer, req.https)
        policy = self.policy
        if self.host_from_upstream:
            policy = self._upstream_policies.get(backend) or self._upstream_policy(backend)
        if len(self._forwarding) >= _CACHE_SIZE:
            self._forwarding.clear()
        return request_head(
            req.method,
            target,
            req.version,
            req.headers,
            hop,
            policy,
            request_id,
            has_body=req.has_body,
            upgrade=req.upgrade,
            fallback_host=backend.host_header,
            memo=self._forwarding,
        )

    # ---------------------------------------------------------- task-free fast path

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        """A body-less request with a kept-alive connection ready: sent right here,
        finished by the upstream connection's callbacks (`_done`), no Task. Anything
        else (connecting, uploads, upgrades, retries) goes through `stream()`."""
        if req.upgrade:
            return None
        pool = self.pool
        taken = pool.take(req)
        if taken is None:
            return None
        backend, conn = taken
        if conn is None:
            # stream() connects to the backend chosen here (and sets its cookie).
            req.scratch = (backend, pool.cookie_line)
            return None
        conn.begin(
            self._head(req, backend, req.request_id or self._request_id(req)),
            out,
            out.conn,
            self._done,
            head_only=req.method == b"HEAD",
            upgrade=False,
        )
        conn.req = req
        conn.extra_head = pool.cookie_line
        backend.in_flight += 1
        return conn

    def _done(self, conn: UpstreamConnection, exc: UpstreamError | None) -> None:
        req = conn.req
        out = conn.out
        backend = conn.backend
        backend.in_flight -= 1
        _account(req, conn, backend, exc)
        pool = self.pool
        balance = pool.balance
        if balance is not None:
            if exc is None and conn.status < 500:
                # pool.ended_status of an OK answer, inlined (once per request); an OK
                # outcome never ejects, so there is no event to log.
                now = monotonic()
                balance.on_end(backend.member, now, now - conn.started_at, OK)
            elif exc is None:
                pool.ended_status(backend, conn.started_at, conn.status)
            else:
                pool.ended(backend, conn.started_at, outcome_of(exc))
        if exc is CLIENT_GONE or req is None or out is None:
            return
        client = out.conn
        if exc is None:
            pool.release(conn, conn.keep_alive)
            client.exchange_done(req, out)
            return
        conn.detach()
        if exc.stale and not out.started and req.method in IDEMPOTENT:
            # The kept-alive connection was closed under us: `stream()` retries (as a
            # Task) on a fresh connection to the same server, as the general path
            # does (the other idle ones are as old: a restarted backend closed them
            # all); the request was counted already.
            req.scratch = Retry(backend, conn.extra_head)
            client.run_task(req, self, None, out)
            return
        self._answer(req, out, exc, backend.label)
        client.exchange_done(req, out)

    # ------------------------------------------------------------- the general path

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        pool = self.pool
        request_id = req.request_id or self._request_id(req)
        retries = pool.config.retries
        tried: list[Backend] = []
        idempotent = req.method in IDEMPOTENT and body is None
        fresh_once = idempotent  # once: a fresh connection to the same server
        move_once = idempotent  # once: another server, when a fresh connection dies
        fresh = False
        first = True  # the retry budget counts first attempts
        backend: Backend | None = None
        cookie = b""
        scratch = req.scratch
        if isinstance(scratch, Retry):
            # begin()'s reused connection was stale: what the loop below does for
            # its own reused connections.
            first = False
            backend, cookie = scratch.backend, scratch.cookie
            fresh_once = False
            fresh = True
        elif scratch is not None:
            backend, cookie = scratch  # chosen by begin()
        req.scratch = None
        while True:
            if backend is None:
                backend = pool.pick(req, tried)
                cookie = pool.cookie_line
                if backend is None:
                    if pool.empty and not out.started:
                        self._starting(out)
                        return
                    self._answer(req, out, UpstreamError("no backend available"), "-")
                    return
            started = pool.started(backend, first=first)
            first = False
            try:
                conn, reused = await pool.acquire(backend, fresh=fresh)
            except UpstreamError as exc:
                pool.ended(backend, started, outcome_of(exc))
                backend.stats.failed()  # metrics and the access log: no connection
                req.upstream = backend.label
                # Nothing was sent: any request may go to another backend, if the
                # pool has one not tried yet and its retry budget allows.
                tried.append(backend)
                if retries > 0:
                    retries -= 1
                    backend = pool.pick(req, tried)
                    cookie = pool.cookie_line
                    fresh = False
                    if backend is not None and pool.may_retry():
                        continue
                self._answer(req, out, exc, tried[-1].label)
                return
            except BaseException:
                pool.ended(backend, started, ABORTED_OUTCOME)  # the client went away
                raise
            head = self._head(req, backend, request_id)
            backend.in_flight += 1
            conn.extra_head = cookie
            outcome: Outcome | None = ABORTED_OUTCOME
            try:
                await self._exchange(conn, req, head, body, out)
                outcome = None
            except UpstreamError as exc:
                outcome = outcome_of(exc)
                if exc.stale and not out.started and (fresh_once if reused else move_once):
                    if reused:
                        # The backend closed a kept-alive connection as we reused it.
                        fresh_once = False
                        fresh = True
                        continue
                    # A new connection closed before any answer: the server is likely
                    # going down (also after a reused one did: a server killed with
                    # several connections open). An idempotent request may be sent
                    # again (RFC 9110 §9.2.2), to another server.
                    move_once = False
                    tried.append(backend)
                    other = pool.pick(req, tried)
                    if other is not None and pool.may_retry():
                        backend, cookie, fresh = other, pool.cookie_line, False
                        continue
                self._answer(req, out, exc, backend.label)
                return
            finally:
                backend.in_flight -= 1
                _account(req, conn, backend, outcome)
                if outcome is None:
                    pool.ended_status(backend, started, conn.status)
                else:
                    pool.ended(backend, started, outcome)
            return

    async def _exchange(
        self,
        conn: UpstreamConnection,
        req: Request,
        head: bytes,
        body: BodyReader | None,
        out: ResponseWriter,
    ) -> None:
        client = out.conn
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conn.begin(
            head,
            out,
            client,
            done,
            head_only=req.method == b"HEAD",
            upgrade=req.upgrade,
            streams_body=body is not None,
        )
        conn.body = body
        body_sent = True
        try:
            if body is not None:
                body_sent = await self._send_body(conn, req, body)
            conn.sent()
            await done
        except BaseException:
            # An upstream failure, or the client gone (cancelled): the request is
            # abandoned, so its connection is too (RFC 9112 §9.6: framing lost).
            conn.detach()
            conn.abort()
            raise
        if conn.phase == TUNNELLING:
            await self._tunnel(conn, req, client)
            return
        self.pool.release(conn, conn.keep_alive and body_sent)

    async def _send_body(self, conn: UpstreamConnection, req: Request, body: BodyReader) -> bool:
        """Stream the request body; False if the backend answered before it was sent."""
        loop = asyncio.get_running_loop()
        if req.expect_continue:
            # End to end (RFC 9110 §10.1.1): the backend's 100 lets the body go, and
            # the first read sends the client its own 100 (server/exchange.py).
            waiter: asyncio.Future[None] = loop.create_future()
            conn.continue_waiter = waiter
            handle = loop.call_later(CONTINUE_WAIT, _wake, waiter)
            try:
                await waiter
            finally:
                handle.cancel()
            if conn.finished or (conn.out is not None and conn.out.started):
                return False
        chunked = req.header(b"content-length") is None
        async for chunk in body:
            if conn.finished or conn.closed:
                return False
            # RFC 9112 §7.1: chunk = chunk-size CRLF chunk-data CRLF
            conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            await conn.drain()
        if chunked and not conn.closed:
            trailers = trailer_block(body.trailers) if body.trailers else b""
            conn.write(b"0\r\n%b\r\n" % trailers)
        return True

    async def _tunnel(self, conn: UpstreamConnection, req: Request, client: Any) -> None:
        req.keep_alive = False  # the connection never returns to HTTP
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        tunnel = Tunnel(client, conn, self.pool.config.tunnel_timeout, done)
        early, client.tunnel_data = client.tunnel_data, b""
        tunnel.open(early, conn.tunnel_data)
        conn.tunnel_data = b""
        try:
            await done
        finally:
            tunnel.close()

    def _starting(self, out: ResponseWriter) -> None:
        """503 + Retry-After and the starting page: the pool's app is not ready yet."""
        page = self.pool.starting_page
        out.start(503, STARTING_HEADERS, len(page))
        out.write(page)

    def _answer(self, req: Request, out: ResponseWriter, exc: UpstreamError, where: str) -> None:
        error_log.warning(
            "proxy to pool %r (%s) failed for %s %r (request %s): %s; answered %d — %s",
            self.pool.name,
            where,
            req.method.decode("latin-1"),
            req.path,
            req.request_id.decode("latin-1") or "-",
            exc.detail,
            exc.status,
            _HINTS.get(exc.status, "see the backend's log"),
        )
        if out.started:
            out.abort()  # the client sees the response end early
            return
        body = f"{exc.status} {_REASONS.get(exc.status, '')}: {exc.reason}\n".encode()
        out.start(exc.status, _TEXT_PLAIN, len(body))
        out.write(body)


ABORTED_OUTCOME = Outcome.ABORTED


class Retry:
    """req.scratch of a request that _done hands to stream() to send again."""

    __slots__ = ("backend", "cookie")

    def __init__(self, backend: Backend, cookie: bytes) -> None:
        self.backend = backend
        self.cookie = cookie


def outcome_of(exc: UpstreamError) -> Outcome:
    """How a failed attempt counts for the server's health (balance.Outcome)."""
    if exc is CLIENT_GONE or exc.stale:
        # The client left, or a kept-alive connection closed as it was reused (a race
        # any backend may lose): neither says the server is failing.
        return Outcome.ABORTED
    if isinstance(exc, UpstreamTimeout):
        return Outcome.CONNECT_ERROR if not exc.sent else Outcome.TIMEOUT
    if isinstance(exc, UpstreamConnectError):
        return Outcome.CONNECT_ERROR
    if exc.status == 503:
        return Outcome.ABORTED  # every connection busy: our cap, not the server's fault
    return Outcome.SERVER_ERROR  # an invalid or cut-off response


_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _account(
    req: Request | None, conn: UpstreamConnection, backend: Backend, failed: object
) -> None:
    """One exchange with `backend` in its metrics and on `req` for the access log: the
    answer's status class and time to the response head, or a failure (no head)."""
    head_at = conn.head_at
    if failed is None or head_at:
        backend.stats.answered(conn.status, head_at - conn.sent_at if head_at else 0.0)
    else:
        backend.stats.failed()
    if req is not None:
        req.upstream = backend.label
        req.upstream_ttfb = head_at - conn.sent_at if head_at else -1.0


# What to do about a failed exchange, by the status the client got (the error log).
_HINTS = {
    502: "is the server running and listening at that address? see its log",
    503: "every connection to the pool is busy: raise max_connections or add servers",
    504: "the server is too slow: look at its log, or raise the pool's timeouts",
}
