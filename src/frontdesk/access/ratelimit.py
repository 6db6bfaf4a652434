"""The rate limit check of a route: a token bucket per key, 429 beyond it.

The answer follows the IETF httpapi RateLimit header fields draft
(draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` states the quota
(`q` requests per window of `w` seconds: the burst, and the time it takes to refill),
`RateLimit` what is left (`r`) and in how many seconds it is whole again (`t`);
`Retry-After` (RFC 9110 §10.2.3) says when the next request can succeed.

Where the buckets live: this process (one worker), a shared-memory table (several
workers of one master), or Redis (several frontdesk instances; `redis` set).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from frontdesk.access.buckets import Buckets, Taken
from frontdesk.access.rules import real_address
from frontdesk.pipeline.layer import PENDING, Check, Guard, Layer
from frontdesk.server.response import FixedResponse

if TYPE_CHECKING:
    from frontdesk.access.client import Networks
    from frontdesk.access.redis_buckets import RedisBuckets
    from frontdesk.config.access import RateLimit
    from frontdesk.server.actions import Action
    from frontdesk.server.request import Request

__all__ = ["RateLimitCheck", "rate_limit_stats", "too_many"]


class Table(Protocol):
    @property
    def max_keys(self) -> int: ...

    def take(self, key: str, now: float) -> Taken: ...

    def size(self) -> int: ...


def too_many(taken: Taken, policy: str, server: str) -> FixedResponse:
    retry = max(1, math.ceil(taken.retry_after))
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Retry-After", str(retry)),
        ("RateLimit-Policy", policy),
        ("RateLimit", f'"route";r=0;t={max(1, math.ceil(taken.reset))}'),
    ]
    return FixedResponse.build(429, headers, b"429 Too Many Requests\n", server=server)


class RateLimitCheck(Check):
    def __init__(
        self,
        cfg: RateLimit,
        trusted: Networks,
        server: str,
        table: Table | None = None,
        remote: RedisBuckets | None = None,
    ) -> None:
        self.trusted = trusted
        self.server = server
        self.table: Table = table or Buckets(cfg.rate, cfg.capacity, cfg.max_keys)
        self.remote = remote
        window = max(1, math.ceil(cfg.capacity / cfg.rate))
        self.policy = f'"route";q={cfg.capacity};w={window}'
        kind, _, header = cfg.key.partition(":")
        self.kind = kind
        self.header = header.lower().encode("latin-1")

    def key(self, req: Request) -> str:
        if self.kind == "user" and req.user:
            return "u:" + req.user
        if self.kind == "header":
            value = req.header(self.header)
            if value is not None:
                return "h:" + value.decode("latin-1")
        return "a:" + real_address(req, self.trusted)

    def check(self, req: Request) -> Any:
        if self.remote is not None:
            return PENDING
        taken = self.table.take(self.key(req), req.start)
        return None if taken.allowed else too_many(taken, self.policy, self.server)

    async def settle(self, req: Request) -> FixedResponse | None:
        assert self.remote is not None
        taken = await self.remote.take(self.key(req))
        return None if taken.allowed else too_many(taken, self.policy, self.server)


def rate_limit_stats(chains: Iterable[Action]) -> list[dict[str, Any]]:
    """The bucket tables of a worker's rate-limited routes: keys tracked and the most
    they may hold, and whether the table is shared by the workers (counted once) or
    the worker's own. Read when the admin API asks, never per request; a limit kept
    in Redis is left out (Redis holds its keys, with expiry)."""
    out = []
    for chain in chains:
        action = chain
        while isinstance(action, Layer):
            if isinstance(action, Guard):
                for c in action.checks:
                    if isinstance(c, RateLimitCheck) and c.remote is None:
                        out.append(
                            {
                                "route": chain.label,
                                "keys": c.table.size(),
                                "max_keys": c.table.max_keys,
                                "shared": not isinstance(c.table, Buckets),
                            }
                        )
            action = action.inner
    return out
