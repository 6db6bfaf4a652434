"""Helpers for the cache tests: a frontdesk whose catch-all route goes through
[cache.main] to one backends.py origin (its `/c/` paths), and what reached the origin."""

from __future__ import annotations

import json

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
