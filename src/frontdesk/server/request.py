"""The head of a request as actions see it, and a pipelined request waiting its turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontdesk.server.actions import Action
    from frontdesk.server.exchange import BodyReader


@dataclass(slots=True, eq=False)
class Request:
    """The head of one request, as actions and the access log see it."""

    method: bytes
    target: bytes  # as sent
    path: str  # normalised (http/target.py)
    query: str
    version: str  # "1.1" or "1.0"
    headers: list[tuple[bytes, bytes]]
    host: str
    keep_alive: bool  # cleared when the answer must close the connection
    peer: str
    expect_continue: bool
    has_body: bool
    start: float  # the worker clock's monotonic time when the head was complete
    upgrade: bool = False  # asks to switch protocols, and the action can tunnel it
    scratch: Any = None  # the action's own per-request state (the proxy: its backend)
    # For metrics and the access log (admin/metrics.py, log.py):
    route: str = "-"  # the matched route's label (its name, else "route[i]")
    began: float = 0.0  # time.monotonic() when the head was complete (latency)
    request_id: bytes = b""  # set by the proxy when it forwards, else made when logged
    upstream: str = ""  # the backend server that answered (proxy)
    upstream_ttfb: float = -1.0  # seconds from sending to the backend to its first byte
    cache_status: str = ""  # the Cache-Status member (cache)
    user: str = ""  # who an access rule authenticated (Basic auth), for rate limits and logs
    cleared: bool = False  # the route's guards have let this request through already

    def header(self, name: bytes) -> bytes | None:
        """First value of a header (name in lower case), or None."""
        for k, v in self.headers:
            if len(k) == len(name) and k.lower() == name:
                return v
        return None


@dataclass(slots=True, eq=False)
class Queued:
    """A pipelined request parsed while an earlier streaming exchange still runs."""

    req: Request
    action: Action
    reader: BodyReader | None
    complete: bool = False
