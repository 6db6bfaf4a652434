"""Purges as the control channel carries them, applied to one worker's caches.

A purge names URLs, a URL prefix or a tag, and optionally the cache (all caches when
absent). The master sends it to every worker: the first with ``"shared": true`` also
purges the tiers shared between workers (disk, Redis), the others only their own
memory tier. A purge made through one worker (the PURGE method, an invalidation) comes
back from the master to the others as resolved keys.

URLs are turned into primary keys by the route that would take them, since a key names
the URL as forwarded (after the route's rewrite, without ignored parameters). A prefix
is matched against keys as they are: ``http://host[:port]/path`` as forwarded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from frontdesk.http.target import normalize_path, parse_host

from .keys import make_key

if TYPE_CHECKING:
    from frontdesk.server.context import WorkerContext

    from .runtime import CacheRuntime


class PurgeError(ValueError):
    """A purge that cannot be understood (reported to the admin API's caller)."""


def split_url(url: str) -> tuple[str, int | None, str, str]:
    """(host, port, path, query) of an absolute http(s) URL given to `frontdesk purge`;
    the path normalised as a request's is (http/target.py)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PurgeError(f"expected an absolute URL such as http://example.com/page, got {url!r}")
    host = parse_host(parts.netloc.encode("latin-1", "replace"))
    try:
        port = parts.port
    except ValueError:
        port = None
        host = None
    if host is None:
        raise PurgeError(f"invalid host in {url!r}")
    path = normalize_path(parts.path or "/")
    if path is None:
        raise PurgeError(f"invalid path in {url!r}")
    return host, (None if port in (80, None) else port), path, parts.query


def prefix_key(url: str) -> str:
    """The key prefix for a URL prefix (keys always use the http scheme)."""
    host, port, path, query = split_url(url)
    return make_key("http", host, port, path, query)


async def apply(ctx: WorkerContext, msg: dict[str, Any]) -> int:
    """Carry out a purge message in this worker; the number of entries removed here."""
    shared = bool(msg.get("shared", True))
    name = msg.get("cache")
    caches = ctx.caches if not name else {name: ctx.caches[name]} if name in ctx.caches else {}
    keys: dict[str, list[str]] = {n: list(msg.get("keys", ())) for n in caches}
    for url in msg.get("urls", ()):
        found = _key_for_url(ctx, url)
        if found is not None and found[0].name in keys:
            keys[found[0].name].append(found[1])
    prefix = prefix_key(msg["prefix"]) if msg.get("prefix") else ""
    tag = str(msg.get("tag") or "")
    removed = 0
    for cache_name, runtime in caches.items():
        todo = tuple(keys[cache_name])
        if not (todo or prefix or tag):
            continue
        if shared:
            removed += await runtime.purge(keys=todo, prefix=prefix, tag=tag, everywhere=False)
        else:
            removed += await runtime.purge_local(list(todo), prefix, tag)
    return removed


def _key_for_url(ctx: WorkerContext, url: str) -> tuple[CacheRuntime, str] | None:
    """The cache and key a GET for `url` would use, or None when no cached route takes it."""
    from .action import CachedProxy

    host, port, path, query = split_url(url)
    action = ctx.routes.match(b"GET", host, path, [])
    while action is not None and not isinstance(action, CachedProxy):
        action = getattr(action, "inner", None)  # under the route's layers (access rules)
    if not isinstance(action, CachedProxy):
        return None
    raw = urlsplit(url)
    target = (raw.path or "/") + (f"?{raw.query}" if raw.query else "")
    return action.runtime, action.key_for_url(host, port, target, path, query)
