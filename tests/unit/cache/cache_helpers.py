"""Builders for the cache policy tests: requests, origin responses, stored entries."""

from __future__ import annotations

from frontdesk.cache.entry import Entry
from frontdesk.cache.messages import CacheRequest, OriginResponse
from frontdesk.cache.options import CacheOptions
from frontdesk.cache.storage import StoreDecision, on_response
from frontdesk.http.dates import format_http_date

T0 = 1_700_000_000.0  # a fixed "now" for the origin's clock and ours
OPTIONS = CacheOptions()

Hdrs = list[tuple[bytes, bytes]]


def h(**fields: str) -> Hdrs:
    """Header list from keyword arguments: cache_control="x" → (b"cache-control", b"x")."""
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in fields.items()]


def date(t: float) -> str:
    return format_http_date(t)


def request(
    method: str = "GET",
    path: str = "/a",
    query: str = "",
    headers: Hdrs | None = None,
    host: str = "example.com",
    scheme: str = "https",
    port: int | None = None,
) -> CacheRequest:
    return CacheRequest(method.encode(), scheme, host, port, path, query, tuple(headers or ()))


def response(
    status: int = 200,
    headers: Hdrs | None = None,
    *,
    at: float = T0,
    delay: float = 0.0,
    body: int = 10,
    complete: bool = True,
    dated: bool = True,
) -> OriginResponse:
    """An origin response received at `at`, sent `delay` seconds earlier, with a Date of
    `at` unless `headers` has one or dated=False."""
    hs = list(headers or [])
    if dated and not any(k.lower() == b"date" for k, _ in hs):
        hs.append((b"date", date(at).encode()))
    return OriginResponse(status, tuple(hs), at - delay, at, body, complete)


def on(
    resp: OriginResponse, req: CacheRequest | None = None, options: CacheOptions = OPTIONS
) -> StoreDecision:
    return on_response(req or request(), resp, options)


def stored(
    headers: Hdrs | None = None,
    status: int = 200,
    *,
    req: CacheRequest | None = None,
    at: float = T0,
    body: int = 10,
    options: CacheOptions = OPTIONS,
    delay: float = 0.0,
) -> Entry:
    """The entry on_response() stores for a response; fails the test if not stored."""
    d = on(response(status, headers, at=at, body=body, delay=delay), req, options)
    assert d.entry is not None, d.reason
    return d.entry
