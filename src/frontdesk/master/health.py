"""Active health checks, run once by the master for every worker.

For each pool with `health.path`, every server gets one HTTP/1.1 request per
`interval` (`Connection: close`: a check must not hold a connection the backend
could count against its limits), answered within `timeout`. A pass is a status in
`expect_status` and, when `expect_body` is set, a body that contains it
(`balance.response_passes`); `rise` passes / `fall` failures in a row flip the
server (`balance.Pool.record_check`). A flip is logged here, once, and the pool's
new state goes to every worker at once. The servers that passed a round are sent
too ({"type": "checked", "since": when the round began, "passed": [...]}): a worker
that ejected one of them on its own traffic before the round began takes it back
(`balance.Pool.checks_passed`; the master's and the workers' `time.monotonic()` are
one clock, CLOCK_MONOTONIC being system-wide).

A server counts as up until checks say otherwise: from start (or from being added)
it takes `fall` failed checks to take it down.

`probe()` is one check, `HealthChecker.check_once()` one round over a pool (every
server at the same time); master/periodic.py runs the rounds.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httptools

from frontdesk.balance import Change, response_passes
from frontdesk.config.proxy import Health, split_upstream
from frontdesk.config.upstream_tls import UpstreamTls
from frontdesk.log import error_log
from frontdesk.master.periodic import PoolJob
from frontdesk.master.pools import MasterPool
from frontdesk.proxy.upstream import host_header
from frontdesk.tls.client import client_context, server_hostname

BODY_LIMIT = 64 * 1024  # of a check's body, kept for `expect_body`; the rest is read and dropped


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    detail: str  # for the log: "status 200", "status 503", "timeout after 2s", ...


class _ClosedEarly(Exception):
    """The server closed the connection before a whole response head."""


class _Answer:
    """httptools callbacks for one check response."""

    def __init__(self) -> None:
        self.status = 0
        self.head_done = False
        self.done = False
        self.body = bytearray()

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        room = BODY_LIMIT - len(self.body)
        if room > 0:
            self.body += body[:room]

    def on_message_complete(self) -> None:
        self.done = True


def check_request(method: str, path: str, host: bytes) -> bytes:
    # RFC 9112 §3.2: a client MUST send Host in every HTTP/1.1 request.
    return (
        f"{method} {path} HTTP/1.1\r\n".encode("ascii")
        + b"Host: "
        + host
        + b"\r\nUser-Agent: frontdesk-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )


async def _exchange(
    address: tuple[str, int] | str, request: bytes, head_only: bool, tls: UpstreamTls | None
) -> _Answer:
    if isinstance(address, str):
        reader, writer = await asyncio.open_unix_connection(address)
    elif tls is not None:  # the pool speaks TLS: so does its check (cert verified too)
        reader, writer = await asyncio.open_connection(
            address[0],
            address[1],
            ssl=_client_context(tls),
            server_hostname=server_hostname(tls, address[0]),
        )
    else:
        reader, writer = await asyncio.open_connection(address[0], address[1])
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    try:
        writer.write(request)
        # The answer to HEAD has no body whatever its Content-Length says (RFC 9110
        # §9.3.2), and the parser cannot be told so: stop at the end of the head.
        while not answer.done and not (head_only and answer.head_done):
            data = await reader.read(65536)
            if not data:
                if not answer.head_done:
                    raise _ClosedEarly()
                break  # a body delimited by the connection closing (RFC 9112 §6.3)
            parser.feed_data(data)
        answer.status = parser.get_status_code()
    finally:
        writer.close()
    return answer


_contexts: dict[UpstreamTls, ssl.SSLContext] = {}


def _client_context(tls: UpstreamTls) -> ssl.SSLContext:
    context = _contexts.get(tls)
    if context is None:
        if len(_contexts) > 64:
            _contexts.clear()  # configs of reloads gone by
        context = _contexts[tls] = client_context(tls)
    return context


async def probe(
    address: tuple[str, int] | str, host: bytes, health: Health, tls: UpstreamTls | None = None
) -> Verdict:
    """One active check of one server."""
    assert health.path is not None
    request = check_request(health.method, health.path, host)
    try:
        answer = await asyncio.wait_for(
            _exchange(address, request, health.method == "HEAD", tls), health.timeout
        )
    except TimeoutError:
        return Verdict(False, f"no answer in {health.timeout:g}s")
    except httptools.HttpParserError:
        return Verdict(False, "invalid response")
    except _ClosedEarly:
        return Verdict(False, "closed before a response")
    except ssl.SSLError as exc:
        return Verdict(False, f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        return Verdict(False, f"connect failed: {exc.strerror or exc}")
    status = answer.status
    expect = health.expect_body
    passed = response_passes(
        status,
        bytes(answer.body),
        expect_status=health.expect_status,
        expect_body=expect.encode() if expect is not None else None,
    )
    if passed or not response_passes(status, expect_status=health.expect_status):
        return Verdict(passed, f"status {status}")
    return Verdict(False, f"status {status}, body without {expect!r}")


HISTORY = 60  # check results kept per server for the admin API


class HealthChecker(PoolJob):
    """The master's active checks: a round per `interval` for each pool with a path."""

    def __init__(
        self,
        on_change: Callable[[MasterPool], None],
        on_passed: Callable[[MasterPool, float, list[str]], None],
    ) -> None:
        super().__init__(on_change)
        self.on_passed = on_passed  # (pool, round began, members that passed)
        # The last HISTORY results per (pool, member), oldest first: (wall-clock time,
        # passed, detail); the admin API shows them (last check, health history).
        self.results: dict[tuple[str, str], deque[tuple[float, bool, str]]] = {}

    def wants(self, pool: MasterPool) -> bool:
        return pool.config.health.path is not None

    def interval(self, pool: MasterPool) -> float:
        return pool.config.health.interval

    async def check_once(self, pool: MasterPool) -> None:
        """Check every server of `pool` (at the same time); record and log the flips."""
        health = pool.config.health
        members = [m.id for m in pool.balance.members]
        began = time.monotonic()
        addresses = [split_upstream(m) for m in members]
        tls = pool.config.tls
        verdicts = await asyncio.gather(*(probe(a, host_header(a), health, tls) for a in addresses))
        now = time.monotonic()
        changed = False
        current = {m.id for m in pool.balance.members}
        passed = []
        for member, verdict in zip(members, verdicts, strict=True):
            if member not in current:
                continue  # removed (DNS) while it was being checked
            if verdict.passed:
                passed.append(member)
            kept = self.results.setdefault((pool.name, member), deque(maxlen=HISTORY))
            kept.append((time.time(), verdict.passed, verdict.detail))
            event = pool.balance.record_check(member, now, verdict.passed)
            if event is None:
                continue
            changed = True
            if event.change is Change.DOWN:
                error_log.error(
                    "pool %r: server %s is down: %d failed health checks in a row (last: %s);"
                    " no requests go to it until %d pass — check that server's log, or GET "
                    "%s on it",
                    pool.name,
                    member,
                    health.fall,
                    verdict.detail,
                    health.rise,
                    health.path,
                )
            else:
                error_log.warning(
                    "pool %r: server %s is up: %d health checks passed in a row",
                    pool.name,
                    member,
                    health.rise,
                )
        if changed:
            self.on_change(pool)
        if passed:
            self.on_passed(pool, began, passed)
