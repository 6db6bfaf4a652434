"""May a response be stored, and what of it is stored (RFC 9111 §3, §3.1, §3.3, §3.5).

https://www.rfc-editor.org/rfc/rfc9111#section-3
"A cache MUST NOT store a response to a request unless:
- the request method is understood by the cache;
- the response status code is final (see Section 15 of [HTTP]);
- if the response status code is 206 or 304, or the must-understand cache directive
  (see Section 5.2.2.3) is present: the cache understands the response status code;
- the no-store cache directive is not present in the response (see Section 5.2.2.5);
- if the cache is shared: the private response directive is either not present or
  allows a shared cache to store a modified response; see Section 5.2.2.7);
- if the cache is shared: the Authorization header field is not present in the request
  (see Section 11.6.2 of [HTTP]) or a response directive is present that explicitly
  allows shared caching (see Section 3.5); and
- the response contains at least one of the following: a public response directive
  (see Section 5.2.2.9); a private response directive, if the cache is not shared (see
  Section 5.2.2.7); an Expires header field (see Section 5.3); a max-age response
  directive (see Section 5.2.2.1); if the cache is shared: an s-maxage response
  directive (see Section 5.2.2.10); a cache extension that allows it to be cached (see
  Section 5.2.3); or a status code that is defined as heuristically cacheable (see
  Section 4.2.2)."

This cache adds refusals of its own (storing is never required): request no-store
(§5.2.1.5), Set-Cookie (CacheOptions.store_set_cookie), Vary: * (it can never match,
§4.1), incomplete bodies (§3.3), 206 (partial content is not combined, §3.4, so it is
never stored as if complete), responses with no freshness lifetime that could be
neither validated nor served stale (never because of their Age), hosts not
configured, and oversized bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..http.dates import format_http_date
from .directives import parse_cache_control
from .entry import Entry, build_entry
from .fields import Fields, FieldTuple, field_names, get_all, has
from .keys import VARY_STAR, primary_key, vary_names, vary_values
from .messages import CacheRequest, OriginResponse
from .options import CacheOptions
from .tags import parse_tags, strip_tags
from .targeted import response_directives

STORABLE_METHODS = frozenset({b"GET", b"HEAD"})

# §3.1: "The Connection header field and fields whose names are listed in it are
# required by Section 7.6.1 of [HTTP] to be removed before forwarding the message. This
# MAY be implemented by doing so before storage. Likewise, some fields' semantics
# require them to be removed before forwarding the message" — RFC 9110 §7.6.1 names
# Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade. "Header fields that
# are specific to the proxy that a cache uses when forwarding a request MUST NOT be
# stored ... this is limited to Proxy-Authenticate ..., Proxy-Authentication-Info ...,
# and Proxy-Authorization". Content-Length is replaced by the stored body's length
# (Entry.content_length) and Trailer by nothing (trailers are not stored).
NOT_STORED_FIELDS = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"trailer",
        b"proxy-authenticate",
        b"proxy-authentication-info",
        b"proxy-authorization",
        b"content-length",
    }
)


class StoreReason(Enum):
    """Why a response was or was not stored (also the Cache-Status detail)."""

    STORED = "stored"
    METHOD = "method"  # request method not GET/HEAD (§3)
    REQUEST_NO_STORE = "request-no-store"  # §5.2.1.5
    NOT_FINAL = "not-final"  # 1xx (§3)
    NOT_MODIFIED = "not-modified"  # a 304 is not a complete response to store
    PARTIAL = "partial"  # 206: not combined (§3.3, §3.4)
    MUST_UNDERSTAND = "must-understand"  # status not understood (§3, §5.2.2.3)
    NO_STORE = "no-store"  # §5.2.2.5
    PRIVATE = "private"  # §5.2.2.7
    AUTHORIZATION = "authorization"  # §3.5
    HOST = "host"  # request Host not configured
    VARY_STAR = "vary-star"  # §4.1
    INCOMPLETE = "incomplete"  # §3.3
    NOT_CACHEABLE = "not-cacheable"  # §3 last condition
    SET_COOKIE = "set-cookie"  # CacheOptions.store_set_cookie
    TOO_LARGE = "too-large"  # CacheOptions.max_object_size
    NO_REUSE = "no-reuse"  # stale on arrival, no validator, no stale permission


@dataclass(frozen=True, slots=True)
class StoreDecision:
    """The outcome of on_response().

    `entry` is what to store (None when not stored). `client_headers` are the origin's
    headers as the client must get them (tag fields removed), stored or not. `ttl` is
    the freshness remaining when the response arrived (lifetime - initial age).
    """

    reason: StoreReason
    entry: Entry | None
    client_headers: FieldTuple
    ttl: float = 0.0
    stripped: frozenset[bytes] = frozenset()

    @property
    def store(self) -> bool:
        """Whether to store `entry`."""
        return self.entry is not None


def content_length(headers: Fields) -> int | None:
    """The Content-Length value, None when absent or invalid (lines must agree)."""
    values = get_all(headers, b"content-length")
    if not values:
        return None
    members = {m.strip(b" \t") for v in values for m in v.split(b",")}
    if len(members) != 1:
        return None
    (only,) = members
    return int(only) if only.isdigit() and only.isascii() else None


def on_response(
    request: CacheRequest, response: OriginResponse, options: CacheOptions
) -> StoreDecision:
    """Decide whether `response` (to `request`) is stored, and build the entry."""
    client_headers = strip_tags(response.headers, options.tag_fields)

    def refuse(reason: StoreReason) -> StoreDecision:
        return StoreDecision(reason, None, client_headers)

    if request.method not in STORABLE_METHODS:
        return refuse(StoreReason.METHOD)
    request_cc = get_all(request.headers, b"cache-control")
    if request_cc and parse_cache_control(request_cc).no_store:
        # §5.2.1.5: "a cache MUST NOT store any part of either this request or any
        # response to it."
        return refuse(StoreReason.REQUEST_NO_STORE)
    status = response.status
    if status < 200:
        return refuse(StoreReason.NOT_FINAL)
    if status == 304:
        return refuse(StoreReason.NOT_MODIFIED)
    if status == 206:
        return refuse(StoreReason.PARTIAL)
    headers = response.headers
    # RFC 9213 §2.1: a targeted field (CDN-Cache-Control) replaces Cache-Control and
    # Expires for this cache.
    cc, targeted = response_directives(headers, options.targeted_fields)
    understood = status in options.understood_statuses
    if cc.must_understand and not understood:
        # §5.2.2.3: must-understand "limits caching of the response to a cache that
        # understands and conforms to the requirements for that response's status code".
        return refuse(StoreReason.MUST_UNDERSTAND)
    if cc.no_store and not (cc.must_understand and understood):
        # §5.2.2.3: "When a cache that implements the must-understand directive receives
        # a response that includes it, the cache SHOULD ignore the no-store directive if
        # it understands and implements the status code's caching requirements."
        return refuse(StoreReason.NO_STORE)
    if cc.private:
        # §5.2.2.7: unqualified private: "a shared cache MUST NOT store the response".
        return refuse(StoreReason.PRIVATE)
    if has(request.headers, b"authorization") and not (
        cc.public or cc.s_maxage is not None or cc.must_revalidate
    ):
        # §3.5: "A shared cache MUST NOT use a cached response to a request with an
        # Authorization header field ... unless the response contains a Cache-Control
        # field with a response directive ... that allows it to be stored by a shared
        # cache ... must-revalidate, public, and s-maxage."
        return refuse(StoreReason.AUTHORIZATION)
    if options.hosts and request.host not in options.hosts:
        return refuse(StoreReason.HOST)
    names = vary_names(headers)
    if names == VARY_STAR:
        return refuse(StoreReason.VARY_STAR)
    declared = content_length(headers)
    if request.method == b"GET":
        length = response.body_length
        # §3.3: "A response message is considered complete when all of the octets
        # indicated by its framing are available." A cache "MUST NOT use an incomplete
        # response to answer requests unless the response has been made complete".
        if not response.complete or (declared is not None and declared != length):
            return refuse(StoreReason.INCOMPLETE)
    else:
        # A HEAD response describes the GET's length only through Content-Length; one
        # without it could not answer a later HEAD faithfully (RFC 9110 §9.3.2).
        if not response.complete or declared is None:
            return refuse(StoreReason.INCOMPLETE)
        length = declared
    if not (
        cc.public
        or cc.max_age is not None
        or cc.s_maxage is not None
        or (not targeted and has(headers, b"expires"))
        or status in options.heuristic_statuses
        or cc.invalid_freshness  # max-age present but unreadable: stored stale (§4.2.1)
    ):
        return refuse(StoreReason.NOT_CACHEABLE)
    if options.max_object_size is not None and length > options.max_object_size:
        return refuse(StoreReason.TOO_LARGE)

    stored, stripped = stored_fields(headers, options, response.response_time)
    if not options.store_set_cookie and has(stored, b"set-cookie"):
        return refuse(StoreReason.SET_COOKIE)
    entry = build_entry(
        key=primary_key(request, options.key),
        method=request.method,
        status=status,
        headers=stored,
        request_time=response.request_time,
        response_time=response.response_time,
        vary=names,
        vary_values=vary_values(request.headers, names),
        content_length=length,
        options=options,
        tags=parse_tags(headers, options.tag_fields),
    )
    ttl = entry.lifetime - entry.initial_age
    if entry.never_reusable():
        # The response's age is left out on purpose: Age never refuses storage (RFC
        # 9111 §5.1; a client's max-stale may still accept an aged response).
        return StoreDecision(StoreReason.NO_REUSE, None, client_headers, ttl, stripped)
    return StoreDecision(StoreReason.STORED, entry, client_headers, ttl, stripped)


def storable(request: CacheRequest, response: OriginResponse, options: CacheOptions) -> bool:
    """Whether on_response() would store the response (RFC 9111 §3)."""
    return on_response(request, response, options).store


def excluded_fields(headers: Fields, options: CacheOptions) -> frozenset[bytes]:
    """Lower-case names of the fields §3.1 keeps out of storage for these headers."""
    names = set(NOT_STORED_FIELDS)
    names.update(options.tag_fields)
    for value in get_all(headers, b"connection"):
        names.update(field_names(value))
    cc = response_directives(headers, options.targeted_fields)[0]
    # §5.2.2.7: "If a qualified private response directive is present, with one or more
    # field names, then only the identified header fields are limited to a single user:
    # a shared cache MUST NOT store the listed header fields if they are present in the
    # original response but MAY store the remainder of the response message without
    # those fields."
    names.update(cc.private_fields)
    # §3.1: "The no-cache (Section 5.2.2.4) and private (Section 5.2.2.7) cache
    # directives can have arguments that prevent storage of header fields by all caches
    # and shared caches, respectively." Fields named by no-cache="..." MUST NOT be sent
    # without successful revalidation (§5.2.2.4): not storing them satisfies that.
    names.update(cc.no_cache_fields)
    return frozenset(names)


def stored_fields(
    headers: Fields, options: CacheOptions, response_time: float
) -> tuple[FieldTuple, frozenset[bytes]]:
    """(fields to store, names removed) for a response received at `response_time`."""
    drop = excluded_fields(headers, options)
    kept = tuple((k, v) for k, v in headers if k.lower() not in drop)
    removed = frozenset(k.lower() for k, _ in headers if k.lower() in drop)
    if not has(kept, b"date"):
        # RFC 9110 §6.6.1: "A recipient with a clock that receives a response message
        # without a Date header field MUST record the time it was received and append a
        # corresponding Date header field to the message's header section if it is
        # cached or forwarded downstream."
        kept += ((b"Date", format_http_date(response_time).encode("ascii")),)
    return kept, removed
