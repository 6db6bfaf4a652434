"""Targeted cache control (RFC 9213): `CDN-Cache-Control`, or a field of this cache's
own, takes the place of Cache-Control (and Expires) for this cache.

https://www.rfc-editor.org/rfc/rfc9213#section-2.1
"When a cache that implements this specification receives a response with one or more
of the header field names on its target list, the cache MUST select the first (in target
list order) field with a valid, non-empty value and use its value to determine the
caching policy for the response, and it MUST ignore the Cache-Control and Expires header
fields in that response, unless no valid, non-empty value is available from the listed
header fields."

The target list is CacheOptions.targeted_fields: the config's `targeted_field`, if any,
then CDN-Cache-Control (§3: it targets every CDN cache, and frontdesk is the CDN-like
cache in front of its origins). A targeted field is a Structured Field Dictionary
(§2.2, RFC 8941); one that fails to parse is ignored ("that field SHOULD be ignored by
the cache"). Its members are read with the Cache-Control rules (directives.py), so the
directives mean the same in both: max-age, s-maxage, no-store, no-cache, private,
must-revalidate ... in either direction (more or less caching than Cache-Control says).
The fields are passed on to the client unchanged: they may target caches downstream.
"""

from __future__ import annotations

from ..http.structured import parse_dictionary
from .directives import CacheControl, parse_cache_control
from .fields import Fields, get_all

CDN_CACHE_CONTROL = b"cdn-cache-control"


def targeted_directives(lines: list[bytes]) -> CacheControl | None:
    """The directives of a targeted field's lines, or None when it is not a valid,
    non-empty Dictionary (§2.2)."""
    members = parse_dictionary(lines)
    if members is None:
        return None
    parts: list[str] = []
    for key, kind, text in members:
        # §2.2: directives without a value are Booleans; quoted-strings are Strings;
        # tokens are Tokens, Integers or Decimals.
        if kind == "boolean":
            if text == "1":
                parts.append(key)  # ?0 is false: the directive is absent
        elif kind in ("integer", "decimal", "token"):
            parts.append(f"{key}={text}")  # a negative or decimal delta reads as invalid
        elif kind == "string":
            parts.append(key + '="' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            # A byte sequence or inner list is no directive's value: an argument that
            # cannot be read, taken in the most restrictive way (directives.py).
            parts.append(key + "=:")
    return parse_cache_control([", ".join(parts).encode("ascii")])


def response_directives(headers: Fields, targets: tuple[bytes, ...]) -> tuple[CacheControl, bool]:
    """(the directives this cache follows, whether they come from a targeted field).

    When they do, the caller ignores Expires too (§2.1)."""
    for name in targets:
        lines = get_all(headers, name)
        if lines:
            cc = targeted_directives(lines)
            if cc is not None:
                return cc, True
    return parse_cache_control(get_all(headers, b"cache-control")), False
