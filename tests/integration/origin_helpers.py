"""Helpers for the cache tests: a frontdesk whose catch-all route goes through
[cache.main] to one backends.py origin (its `/c/` paths), and what reached the origin."""

from __future__ import annotations

import json
import time

from proc_helpers import concurrently

_ROUTES = """
[[route]]
match = {{ exact = "/stats" }}
proxy = {{ pool = "app" }}

[[route]]
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{app}"]

"""


def cached_routes(app: str, cache: str, before: str = "") -> str:
    """Routes and pool for the origin at `app`; `cache` is the [cache.main] table (and
    anything after it), `before` routes tried first. /stats reaches the origin uncached."""
    return before + _ROUTES.format(app=app) + cache


def seen(srv, path: str, method: str = "GET") -> int:
    """How many requests for `path` reached the origin."""
    _, body = srv.get("/stats")
    return int(json.loads(body).get(f"{method} {path}", 0))


def wait_stored(srv, u: str, timeout: float = 30.0, headers: dict[str, str] | None = None) -> None:
    """Until `u` is in the cache: a response is stored as its last bytes go out, so the
    client can ask again (and reach the other worker) a moment before the store has it.
    Asks with only-if-cached (RFC 9111 §5.2.1.7), which never reaches the origin."""
    deadline = time.monotonic() + timeout
    while True:
        r, _ = srv.get(u, headers={**(headers or {}), "Cache-Control": "only-if-cached"})
        if r.status == 200:
            return
        assert r.status == 504 and time.monotonic() < deadline, r.status
        time.sleep(0.02)


def burst(srv, u: str, n: int) -> list[tuple[int, bytes]]:
    """(status, body) of `n` concurrent GETs of `u`, each on a connection of its own."""

    def one() -> tuple[int, bytes]:
        r, body = srv.get(u)
        return r.status, body

    return concurrently(n, one)
