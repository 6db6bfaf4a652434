"""The Cache-Status response field (RFC 9211).

https://www.rfc-editor.org/rfc/rfc9211#section-2
    Cache-Status = sf-list; each member: a cache identifier (sf-token or sf-string)
    with parameters: hit, fwd, fwd-status, ttl, stored, collapsed, key, detail.
"The field's members represent caches that have handled the request. ... the last
member represents the cache closest to the client": a cache appends its member, so
the shell adds our member as a new field line after any received from upstream.

Parameters are separated by "; " as in the RFC's examples (RFC 8941 §4.2 parsers
discard the space).
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache


class Fwd(Enum):
    """RFC 9211 §2.2: why the request went forward."""

    # "The cache was configured to not handle this request."
    BYPASS = "bypass"
    # "The request method's semantics require the request to be forwarded."
    METHOD = "method"
    # "The cache did not contain any responses that matched the request's URI."
    URI_MISS = "uri-miss"
    # "... matched the request's URI, but could not select a response that matched it"
    VARY_MISS = "vary-miss"
    # "The cache did not contain any responses that could be used to satisfy this request."
    MISS = "miss"
    # "... a fresh response for the request, but the request's semantics (e.g.,
    # Cache-Control request directives) did not allow its use."
    REQUEST = "request"
    # "The cache was able to select a response for the request, but it was stale."
    STALE = "stale"
    # "... a partial response ..., but it did not contain all of the requested ranges"
    PARTIAL = "partial"


# RFC 8941 §3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" )
_SF_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*\Z")


def _sf_string(text: str) -> str:
    """RFC 8941 §3.3.3 sf-string: printable ASCII, with \\ and " escaped."""
    if not all(0x20 <= ord(c) < 0x7F for c in text):
        text = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=64)
def _item(text: str) -> str:
    return text if _SF_TOKEN.match(text) else _sf_string(text)


def cache_status(
    name: str = "frontdesk",
    *,
    hit: bool = False,
    fwd: Fwd | None = None,
    fwd_status: int | None = None,
    ttl: float | None = None,
    stored: bool = False,
    collapsed: bool = False,
    key: str | None = None,
    detail: str | None = None,
) -> bytes:
    """Our member of Cache-Status, e.g. ``frontdesk; hit; ttl=376`` or
    ``frontdesk; fwd=uri-miss; fwd-status=200; stored``.

    §2.1 hit: "the request was satisfied by the cache; that is, it was not forwarded";
    §2.2 fwd is the reason it was forwarded; §2.4 ttl the remaining freshness lifetime
    in whole seconds, negative when stale ("a negative value indicates that the
    response is stale"); §2.5 stored whether the response was stored.
    """
    parts = [_item(name)]
    if hit:
        parts.append("hit")
    if fwd is not None:
        parts.append(f"fwd={fwd.value}")
    if fwd_status is not None:
        parts.append(f"fwd-status={int(fwd_status)}")
    if ttl is not None:
        parts.append(f"ttl={int(ttl)}")
    if stored:
        parts.append("stored")
    if collapsed:
        parts.append("collapsed")
    if key is not None:
        parts.append(f"key={_sf_string(key)}")
    if detail is not None:
        parts.append(f"detail={_item(detail)}")
    return "; ".join(parts).encode("ascii")


_PARAM = re.compile(r'\s*([a-z*][a-z0-9_\-.*]*)(?:=("(?:[^"\\]|\\.)*"|[^;]*))?\s*')


def parse_member(member: bytes) -> tuple[str, dict[str, str | int | bool]]:
    """A Cache-Status member back into (cache name, parameters): for tests and logs.

    Integers become int, bare parameters True, strings are unescaped.
    """
    text = member.decode("ascii")
    head, *params = _split_params(text)
    name = head.strip()
    if name.startswith('"'):
        name = _unquote(name)
    out: dict[str, str | int | bool] = {}
    for p in params:
        m = _PARAM.fullmatch(p)
        if m is None:
            continue
        k, v = m.group(1), m.group(2)
        if v is None:
            out[k] = True
        elif v.startswith('"'):
            out[k] = _unquote(v)
        elif re.fullmatch(r"-?[0-9]+", v):
            out[k] = int(v)
        else:
            out[k] = v.strip()
    return name, out


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s.strip()[1:-1])


def _split_params(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quoted = esc = False
    for c in text:
        if esc:
            esc = False
        elif c == "\\" and quoted:
            esc = True
        elif c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    parts.append("".join(cur))
    return parts
