"""Invalidation after unsafe requests (RFC 9111 §4.4).

https://www.rfc-editor.org/rfc/rfc9111#section-4.4
"A cache MUST invalidate the target URI (Section 7.1 of [HTTP]) when it receives a
non-error status code in response to an unsafe request method (including methods whose
safety is unknown). A cache MAY invalidate other URIs when it receives a non-error
status code in response to an unsafe request method ... In particular, the URI(s) in
the Location and Content-Location response header fields (if present) are candidates
for invalidation ... However, a cache MUST NOT trigger an invalidation under these
conditions if the origin (Section 4.3.1 of [HTTP]) of the URI to be invalidated differs
from that of the target URI". "A "non-error response" is one with a 2xx (Successful)
or 3xx (Redirection) status code."

The keys returned are primary keys (keys.py); the store removes, or marks invalid, every
entry under them. Location and Content-Location are resolved against the target URI
(RFC 3986 §5) and their paths normalised as request targets are (http/target.py), so
that they name the keys requests for those URIs would use.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from ..http.target import normalize_path
from .fields import Fields, get_first
from .keys import make_key, primary_key
from .messages import DEFAULT_PORTS, CacheRequest
from .options import KeyOptions

# RFC 9110 §9.2.1: "the GET, HEAD, OPTIONS, and TRACE methods are defined to be safe."
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE"})


def target_uri(request: CacheRequest) -> str:
    """The request's target URI, as an absolute URI string (RFC 9110 §7.1)."""
    port = request.port
    default = DEFAULT_PORTS.get(request.scheme)
    host = request.host if port is None or port == default else f"{request.host}:{port}"
    query = f"?{request.query}" if request.query else ""
    return f"{request.scheme}://{host}{request.path}{query}"


def invalidated_keys(
    request: CacheRequest, status: int, response_headers: Fields, options: KeyOptions
) -> tuple[str, ...]:
    """The primary keys to invalidate after `request` got a response with `status`."""
    if request.method in SAFE_METHODS or not 200 <= status < 400:
        return ()
    keys = [primary_key(request, options)]
    base = target_uri(request)
    origin = (request.scheme.lower(), request.host.lower(), request.effective_port)
    for name in (b"location", b"content-location"):
        value = get_first(response_headers, name)
        if value is None:
            continue
        key = _same_origin_key(base, origin, value, options)
        if key is not None and key not in keys:
            keys.append(key)
    return tuple(keys)


def _same_origin_key(
    base: str, origin: tuple[str, str, int], reference: bytes, options: KeyOptions
) -> str | None:
    try:
        text = reference.decode("ascii").strip()
        parts = urlsplit(urljoin(base, text))
        port = parts.port
    except (UnicodeDecodeError, ValueError):
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # urlsplit drops an IPv6 literal's brackets; http/target keeps them
        host = f"[{host}]"
    if scheme not in DEFAULT_PORTS or not host:
        return None
    effective = port if port is not None else DEFAULT_PORTS[scheme]
    # RFC 9110 §4.3.1: the origin is the triple (scheme, host, port).
    if (scheme, host, effective) != origin:
        return None
    path = normalize_path(parts.path or "/")
    if path is None:
        return None
    return make_key(scheme, host, port, path, parts.query, options)
