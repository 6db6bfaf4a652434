"""Cache keys: the primary key (RFC 9111 §2) and Vary secondary keys (§4.1).

Primary key
    ``scheme://host[:port]/path[?query]``. "The cache key is the information a cache
    uses to choose a response and is composed from, at a minimum, the request method
    and target URI used to retrieve the stored response" (§2). GET and HEAD share a
    key: a stored GET response can answer a HEAD (RFC 9110 §9.3.2); the entry records
    its method (entry.py). The host is lower case (RFC 3986 §3.2.2: case-insensitive),
    a trailing dot is dropped and the scheme's default port is omitted (RFC 9110 §4.2.3).
    The path is used as sent to the origin (no further normalisation here: the key must
    name what the origin was asked for). The query may have parameters removed or be
    sorted (KeyOptions).

Cache-poisoning rules followed
    - Key on what the origin is asked for, nothing else: the path and query in the key
      are the ones forwarded. A parameter left out of the key must also be left out of
      the forwarded request (strip_query), or an origin that reflects it (a utm_source
      echoed into a link) poisons the entry every other client then receives.
    - Parameter cloaking: only "&" separates parameters here; a parameter whose name or
      value contains ";" is never dropped, because origins that also split on ";"
      would see a hidden second parameter (``utm_x=1;callback=evil``).
    - Unkeyed request fields are never trusted: the cache builds no URL from
      X-Forwarded-Host, X-Forwarded-Proto, X-Original-URL or Forwarded (the proxy sets
      those itself and drops what the client sent). A field the origin uses to build
      the response must be named in Vary, and then it is part of the secondary key.
    - The Host is part of the key, and responses to requests for a host that is not
      configured are not stored (CacheOptions.hosts, storage.py), so a forged Host can
      neither read another host's entries nor fill the cache.
    - Normalisation only merges requests that mean the same thing to the origin.

Secondary keys (Vary, §4.1)
    "The header fields from two requests are defined to match if and only if those in
    the first request can be transformed to those in the second request by applying any
    of the following: adding or removing whitespace, where allowed in the header
    field's syntax; combining multiple header field lines with the same field name ...;
    normalizing both header field values in a way that is known to have identical
    semantics, according to the header field's specification (e.g., reordering field
    values when order is not significant; case-normalization, where values are defined
    to be case-insensitive)." What normalise_field() does:
    - every field: lines joined with ", " (§5.3), surrounding whitespace removed;
    - list fields whose tokens are case-insensitive (Accept, Accept-Charset,
      Accept-Encoding, Accept-Language): split into members, whitespace around "," ";"
      "=" removed, lower-cased, member order kept (q-values make order irrelevant only
      for ties; keeping it never merges requests that differ);
    - Accept-Encoding additionally: ";q=1" (the default weight) removed and members
      sorted: each coding's weight is explicit, so order carries no meaning there.
    An absent field is None and matches only an absent field; ``Vary: *`` never matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .fields import Fields, get_all, split_list
from .messages import DEFAULT_PORTS, CacheRequest
from .options import KeyOptions

# --- primary key ------------------------------------------------------------------


def primary_key(request: CacheRequest, options: KeyOptions | None = None) -> str:
    """The primary cache key of a request (GET and HEAD give the same key)."""
    return make_key(
        request.scheme, request.host, request.port, request.path, request.query, options
    )


def make_key(
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    query: str,
    options: KeyOptions | None = None,
) -> str:
    """``scheme://host[:port]path[?query]`` with the normalisations of the module docstring."""
    scheme = scheme.lower()
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    authority = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    q = normalize_query(query, options) if options is not None else query
    return f"{scheme}://{authority}{path}?{q}" if q else f"{scheme}://{authority}{path}"


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    for p in patterns:
        if p.endswith("*"):
            if name.startswith(p[:-1]):
                return True
        elif name == p:
            return True
    return False


def strip_query(query: str, options: KeyOptions) -> str:
    """The query without the ignored parameters (what to forward and to key on)."""
    if not options.ignore_params or not query:
        return query
    kept = []
    for param in query.split("&"):
        name = param.partition("=")[0]
        # Never drop a parameter that could hide another one behind ";" (cloaking).
        if ";" in param or not _ignored(name, options.ignore_params):
            kept.append(param)
    return "&".join(kept)


def normalize_query(query: str, options: KeyOptions) -> str:
    """The query as it goes into the key: ignored parameters removed, optionally sorted.

    Sorting is stable and by name only, so repeated names keep their relative order
    (``a=2&a=1`` is not ``a=1&a=2`` to most origins). Empty members (``a=1&&b=2``) are
    dropped when sorting.
    """
    query = strip_query(query, options)
    if options.sort_query and query:
        params = [p for p in query.split("&") if p]
        params.sort(key=lambda p: p.partition("=")[0])
        query = "&".join(params)
    return query


# --- secondary keys ---------------------------------------------------------------

VARY_STAR: tuple[bytes, ...] = (b"*",)

_CASE_INSENSITIVE_LISTS = frozenset(
    {b"accept", b"accept-charset", b"accept-encoding", b"accept-language"}
)
_SEPARATOR_WS = re.compile(rb"[ \t]*([;=])[ \t]*")
_WS_RUN = re.compile(rb"[ \t]+")
_DEFAULT_WEIGHT = re.compile(rb";q=1(?:\.0{0,3})?\Z")


def vary_names(response_headers: Fields) -> tuple[bytes, ...] | None:
    """Field names nominated by a response's Vary (lower case, sorted, unique).

    None when there is no Vary field (or it lists nothing); VARY_STAR when it has "*".
    The order of names in Vary carries no meaning, so they are sorted: two responses
    varying on the same fields get the same secondary-key shape.
    """
    lines = get_all(response_headers, b"vary")
    if not lines:
        return None
    names: set[bytes] = set()
    for line in lines:
        for item in split_list(line):
            names.add(item.lower())
    if not names:
        return None
    if b"*" in names:
        return VARY_STAR
    return tuple(sorted(names))


def normalize_field(name: bytes, lines: list[bytes]) -> bytes | None:
    """The normalised value of a request field for Vary matching (None when absent)."""
    if not lines:
        return None
    return _normalize(name, tuple(lines))


@lru_cache(maxsize=4096)
def _normalize(name: bytes, lines: tuple[bytes, ...]) -> bytes:
    # Memoised (bounded): clients send few distinct Accept-* values, and this runs for
    # every lookup of a response that has Vary.
    if name not in _CASE_INSENSITIVE_LISTS:
        return b", ".join(line.strip(b" \t") for line in lines).strip(b" \t")
    members = []
    for line in lines:
        for item in split_list(line):
            item = _SEPARATOR_WS.sub(rb"\1", item.lower())
            item = _WS_RUN.sub(b" ", item)
            if name == b"accept-encoding":
                item = _DEFAULT_WEIGHT.sub(b"", item)
            members.append(item)
    if name == b"accept-encoding":
        members.sort()
    return b",".join(members)


def vary_values(
    request_headers: Fields, names: tuple[bytes, ...] | None
) -> tuple[bytes | None, ...]:
    """The secondary key of a request for the given Vary names."""
    if not names or names == VARY_STAR:
        return ()
    return tuple(normalize_field(n, get_all(request_headers, n)) for n in names)


def vary_matches(
    names: tuple[bytes, ...] | None, stored: tuple[bytes | None, ...], request_headers: Fields
) -> bool:
    """§4.1: whether a stored response's nominated fields match those of a request."""
    if names is None:
        return True
    if names == VARY_STAR:
        # "A stored response with a Vary header field value containing a member "*"
        # always fails to match."
        return False
    return vary_values(request_headers, names) == stored
