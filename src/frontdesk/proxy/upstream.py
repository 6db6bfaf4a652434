"""One backend server of a pool, as a worker sees it: its address, its connections
and its counters. Health and selection live in the pool's balancer (frontdesk.balance)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from frontdesk.admin.metrics import UpstreamSeries
from frontdesk.config.types import host_port

if TYPE_CHECKING:
    from frontdesk.proxy.connection import UpstreamConnection


def host_header(address: tuple[str, int] | str) -> bytes:
    """The Host a request to this server carries when it names no other: "host:port"
    (RFC 9110 §7.2, an IPv6 literal in brackets), or "localhost" for a unix socket."""
    if isinstance(address, str):
        return b"localhost"
    return host_port(*address).encode("ascii")


class Backend:
    """One server of a pool, as a worker sees it: its address and its connections."""

    __slots__ = (
        "address",
        "label",
        "host_header",
        "idle",
        "open",
        "in_flight",
        "fails",
        "member",
        "stats",
        "used",
        "used_before",
        "retired",
    )

    def __init__(self, address: tuple[str, int] | str, label: str) -> None:
        self.address = address  # (host, port), or a unix socket path
        self.label = label  # as written in the config (or found by DNS): the member id
        self.host_header = host_header(address)
        self.idle: deque[UpstreamConnection] = deque()  # most recently used at the right
        self.open = 0  # connections open (idle, busy or connecting)
        self.in_flight = 0  # requests being forwarded now
        self.fails = 0  # consecutive connect failures
        # Connections that carried a request in this window of the pool's idle cap, and
        # in the window before (UpstreamPool.release, UpstreamPool.sweep).
        self.used = 0
        self.used_before = 0
        # Drained or disabled by an operator: it takes no new request, so a connection
        # to it is closed when its exchange ends instead of kept idle (UpstreamPool).
        self.retired = False
        # Its entry in the pool's balancer (frontdesk.balance.Member); None in a pool of
        # one server, which has no balancer.
        self.member: Any = None
        # Answers, failures and latency as this worker saw them (admin/metrics.py).
        self.stats = UpstreamSeries()
