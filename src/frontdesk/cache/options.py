"""The cache policy's knobs, as one frozen value built once at config load.

The config file's ``[cache.NAME]`` tables are mapped onto this (runtime.cache_options);
the pure modules only ever see a ``CacheOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# RFC 9110 §15.1: "Responses with status codes that are defined as heuristically
# cacheable (e.g., 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, and 501 in
# this specification) can be reused by a cache with heuristic expiration unless
# otherwise indicated by the method definition or explicit cache controls".
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})

# Status codes whose caching requirements this cache understands (RFC 9111 §3:
# "if the response status code is 206 or 304, or the must-understand cache directive
# is present: the cache understands the response status code"): those RFC 9110 defines.
UNDERSTOOD_STATUSES = frozenset(
    {200, 201, 202, 203, 204, 205, 206}
    | {300, 301, 302, 303, 304, 305, 307, 308}
    | set(range(400, 418))
    | {421, 422, 426}
    | set(range(500, 506))
)


@dataclass(frozen=True, slots=True)
class KeyOptions:
    """How the primary cache key is normalised (keys.py)."""

    sort_query: bool = False
    """Sort query parameters by name (stable: repeated names keep their order). Off by
    default: an origin may give order a meaning."""

    ignore_params: tuple[str, ...] = ()
    """Query parameters left out of the key: exact names, or prefixes ending in "*"
    (``"utm_*"``). The same parameters must be removed from the request sent to the
    origin (keys.strip_query), or a reflected value poisons the shared entry."""


@dataclass(frozen=True, slots=True)
class CacheOptions:
    """What the shared-cache policy may do beyond what RFC 9111 fixes."""

    heuristic_fraction: float = 0.1
    """RFC 9111 §4.2.2: the fraction of (Date - Last-Modified) used as a heuristic
    freshness lifetime; "A typical setting of this fraction might be 10%"."""

    max_heuristic: float = 86400.0
    """Upper bound (seconds) of a heuristic freshness lifetime (default one day)."""

    heuristic_statuses: frozenset[int] = HEURISTICALLY_CACHEABLE
    """Status codes that may be stored and given heuristic freshness without explicit
    freshness information (RFC 9110 §15.1)."""

    understood_statuses: frozenset[int] = UNDERSTOOD_STATUSES
    """Status codes whose caching requirements are understood (must-understand, §5.2.2.3)."""

    store_set_cookie: bool = False
    """Store responses that carry Set-Cookie. Off by default: a session cookie served
    from a shared cache hands one user's session to the next."""

    honor_request_no_cache: bool = True
    """Honour a client's no-cache, max-age and min-fresh (§5.2.1.4, §5.2.1.1,
    §5.2.1.3) by validating with the origin. Turning it off protects a slow origin from
    clients that force reloads."""

    hosts: frozenset[str] = frozenset()
    """Hosts (lower case, no port) whose responses may be stored; empty means any.
    Set from the route table, so that a request with a forged Host cannot fill the cache."""

    bypass_request_headers: frozenset[bytes] = frozenset()
    """Requests carrying any of these fields (lower case) skip the cache entirely
    (Cache-Status fwd=bypass), e.g. ``{b"cookie"}`` for an origin that personalises on
    cookies without sending Vary or private."""

    max_object_size: int | None = None
    """Responses with a larger body are not stored (bytes; None: no limit here)."""

    tag_fields: tuple[bytes, ...] = (b"surrogate-key", b"cache-tag")
    """Response fields read as purge tags, then removed before storing (tags.py)."""

    key: KeyOptions = field(default_factory=KeyOptions)
    """Primary-key normalisation."""

    name: str = "frontdesk"
    """The cache's identifier in Cache-Status (RFC 9211 §2)."""

    targeted_fields: tuple[bytes, ...] = (b"cdn-cache-control",)
    """RFC 9213 target list (lower case), first match wins over Cache-Control and
    Expires (targeted.py)."""


DEFAULT = CacheOptions()
