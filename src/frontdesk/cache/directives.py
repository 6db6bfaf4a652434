"""Cache-Control parsing (RFC 9111 §5.2, §1.2.2; RFC 5861; RFC 8246).

https://www.rfc-editor.org/rfc/rfc9111#section-5.2
    Cache-Control   = #cache-directive
    cache-directive = token [ "=" ( token / quoted-string ) ]
"Cache directives are identified by a token, to be compared case-insensitively, and
have an optional argument that can use both token and quoted-string syntax. For the
directives defined below that define arguments, recipients ought to accept both forms,
even if a specific form is required for generation."

Duplicates and invalid values, §4.2.1: "When there is more than one value present for a
given directive (e.g., two Expires header field lines or multiple Cache-Control: max-age
directives), either the first occurrence should be used or the response should be
considered stale. If directives conflict (e.g., both max-age and no-cache are present),
the most restrictive directive should be honored. Caches are encouraged to consider
responses that have invalid freshness information (e.g., a max-age directive with
non-integer content) to be stale."

What this module does with them (the most restrictive reading throughout):
- max-age / s-maxage repeated with the same value: that value. Repeated with different
  values, or with an invalid value: ``invalid_freshness`` is set and the value is None,
  so the response is stale on arrival (freshness.py). In a request, an invalid or
  conflicting max-age means max-age=0 (validate).
- stale-while-revalidate, stale-if-error, min-fresh, max-stale: conflicting or invalid
  values are dropped (no permission to serve stale is granted by a value we cannot read).
  max-stale with no value accepts any staleness (§5.2.1.2).
- no-cache / private: one unqualified occurrence makes the directive unqualified;
  otherwise the field names of every occurrence are collected.
- A directive that takes no argument but has one (``no-store=1``) is honoured when it
  restricts caching and ignored when it would relax it (``public=x``).
- Unknown directives are kept in ``extensions`` and otherwise ignored (§5.2.3: "Cache
  recipients MUST ignore unrecognized cache directives").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from .fields import LIST_MEMBER, skip_separators, split_list

DELTA_MAX = 2**31
"""§1.2.2: "If a cache receives a delta-seconds value greater than the greatest integer it
can represent, or if any of its subsequent calculations overflows, the cache MUST consider
the value to be 2147483648 (2^31) or the greatest positive integer it can conveniently
represent." Every delta-seconds value here is capped to it."""

ANY_STALENESS = DELTA_MAX
"""max-stale with no argument: "the client will accept a stale response of any age"."""

_DIGITS = re.compile(rb"[0-9]+")
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# One directive, then OWS and either a comma or the end.
_DIRECTIVE = re.compile(
    rb"[ \t]*(" + _TOKEN + rb")[ \t]*"
    rb"(?:=[ \t]*(?:(" + _TOKEN + rb')|"((?:[^"\\]|\\.)*)"))?'
    rb"[ \t]*(?:,|\Z)"
)
_NAME = re.compile(_TOKEN)
_ESCAPE = re.compile(rb"\\(.)")


def parse_delta(value: bytes) -> int | None:
    """delta-seconds (§1.2.2: ``delta-seconds = 1*DIGIT``), capped at 2^31; None if invalid."""
    if not _DIGITS.fullmatch(value):
        return None
    # Long digit strings: compare lengths before converting (no huge-int work).
    if len(value) > 10:
        return DELTA_MAX
    return min(int(value), DELTA_MAX)


def iter_directives(value: bytes) -> Iterator[tuple[str, bytes | None, bool]]:
    """(lower-cased name, argument or None, valid) for each directive of a field value.

    A syntactically broken member (``max-age=5 6``, an unterminated quote) is reported
    with valid=False and its name when one can be read, so that the caller can apply
    the "invalid freshness information" rule to it.
    """
    end = len(value)
    pos = skip_separators(value, 0)
    while pos < end:
        m = _DIRECTIVE.match(value, pos)
        if m is not None:
            name, token, quoted = m.group(1, 2, 3)
            if quoted is not None:
                arg: bytes | None = _ESCAPE.sub(rb"\1", quoted)
            else:
                arg = token
            yield name.decode("ascii").lower(), arg, True
            pos = skip_separators(value, m.end())
            continue
        n = _NAME.match(value, pos)
        name_text = n.group().decode("ascii").lower() if n else ""
        # Skip to the next comma that is not inside a quoted string.
        member = LIST_MEMBER.match(value, pos)
        pos = skip_separators(value, (member.end() if member else end) + 1)
        yield name_text, None, False


@dataclass(frozen=True, slots=True)
class CacheControl:
    """The directives of one message's Cache-Control field (request or response).

    Delta-seconds are ints capped at 2^31; None means absent (or unusable, see the
    module docstring).
    """

    # response directives (§5.2.2) and RFC 5861 / RFC 8246 extensions
    max_age: int | None = None
    s_maxage: int | None = None
    no_cache: bool = False  # unqualified: every reuse needs validation
    no_cache_fields: frozenset[bytes] = frozenset()  # qualified no-cache="a, b"
    no_store: bool = False
    private: bool = False  # unqualified
    private_fields: frozenset[bytes] = frozenset()  # qualified private="a, b"
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    must_understand: bool = False
    no_transform: bool = False
    immutable: bool = False
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None
    # request-only directives (§5.2.1)
    max_stale: int | None = None  # ANY_STALENESS when given without a value
    min_fresh: int | None = None
    only_if_cached: bool = False
    # bookkeeping
    invalid_freshness: bool = False  # conflicting or invalid max-age / s-maxage
    extensions: frozenset[str] = frozenset()

    @property
    def forbids_stale(self) -> bool:
        """§4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an
        explicit in-protocol directive (e.g., by a no-cache response directive, a
        must-revalidate response directive, or an applicable s-maxage or
        proxy-revalidate response directive; see Section 5.2.2)." §5.2.2.10: s-maxage
        "incorporates the semantics of the proxy-revalidate response directive" for a
        shared cache."""
        return (
            self.no_cache
            or self.must_revalidate
            or self.proxy_revalidate
            or self.s_maxage is not None
        )


EMPTY = CacheControl()
NO_CACHE = CacheControl(no_cache=True)

_DELTA_DIRECTIVES = {
    "max-age",
    "s-maxage",
    "stale-while-revalidate",
    "stale-if-error",
    "max-stale",
    "min-fresh",
}
_FLAG_DIRECTIVES = {
    "no-store": "no_store",
    "must-revalidate": "must_revalidate",
    "proxy-revalidate": "proxy_revalidate",
    "must-understand": "must_understand",
    "no-transform": "no_transform",
    "immutable": "immutable",
    "only-if-cached": "only_if_cached",
}


def parse_cache_control(values: Iterable[bytes]) -> CacheControl:
    """Parse every line of a Cache-Control field (all lines form one list, §5.2)."""
    return _parse(values)[0]


def _parse(values: Iterable[bytes]) -> tuple[CacheControl, bool]:
    """The directives, and whether max-age was conflicting or invalid."""
    deltas: dict[str, list[int | None]] = {}
    flags: dict[str, bool] = {}
    qualified: dict[str, set[bytes]] = {"no-cache": set(), "private": set()}
    unqualified: set[str] = set()
    public = False
    extensions: set[str] = set()
    for value in values:
        for name, arg, valid in iter_directives(value):
            if name in _DELTA_DIRECTIVES:
                if not valid:
                    deltas.setdefault(name, []).append(None)
                elif arg is None:
                    # Only max-stale may omit its argument (§5.2.1.2).
                    deltas.setdefault(name, []).append(
                        ANY_STALENESS if name == "max-stale" else None
                    )
                else:
                    deltas.setdefault(name, []).append(parse_delta(arg))
            elif name in _FLAG_DIRECTIVES:
                flags[_FLAG_DIRECTIVES[name]] = True
            elif name in qualified:
                names = split_list(arg) if valid and arg is not None else []
                if names:
                    qualified[name].update(n.lower() for n in names)
                else:
                    unqualified.add(name)
            elif name == "public":
                # public relaxes caching: only the valid, argument-free form counts.
                public = public or (valid and arg is None)
            elif name:
                extensions.add(name)

    def one(name: str) -> tuple[int | None, bool]:
        """(value, conflicting-or-invalid) for a delta directive."""
        seen = deltas.get(name)
        if not seen:
            return None, False
        first = seen[0]
        if first is None or any(v != first for v in seen):
            return None, True
        return first, False

    max_age, bad_max_age = one("max-age")
    s_maxage, bad_s_maxage = one("s-maxage")
    swr, _ = one("stale-while-revalidate")
    sie, _ = one("stale-if-error")
    min_fresh, _ = one("min-fresh")
    max_stale, _ = one("max-stale")
    cc = CacheControl(
        max_age=max_age,
        s_maxage=s_maxage,
        no_cache="no-cache" in unqualified,
        no_cache_fields=frozenset(() if "no-cache" in unqualified else qualified["no-cache"]),
        no_store=flags.get("no_store", False),
        private="private" in unqualified,
        private_fields=frozenset(() if "private" in unqualified else qualified["private"]),
        public=public,
        must_revalidate=flags.get("must_revalidate", False),
        proxy_revalidate=flags.get("proxy_revalidate", False),
        must_understand=flags.get("must_understand", False),
        no_transform=flags.get("no_transform", False),
        immutable=flags.get("immutable", False),
        stale_while_revalidate=swr,
        stale_if_error=sie,
        max_stale=max_stale,
        min_fresh=min_fresh,
        only_if_cached=flags.get("only_if_cached", False),
        invalid_freshness=bad_max_age or bad_s_maxage,
        extensions=frozenset(extensions),
    )
    return cc, bad_max_age


def request_directives(cache_control: list[bytes], pragma: list[bytes]) -> CacheControl:
    """A request's directives, with Pragma: no-cache when Cache-Control is absent.

    RFC 7234 §5.4: "When the Cache-Control header field is also present and understood
    in a request, Pragma is ignored"; without it, "Pragma: no-cache" means
    "Cache-Control: no-cache". RFC 9111 §5.4 deprecates Pragma but HTTP/1.0 clients
    still send it, so it is honoured on that condition. Pragma in responses has no
    defined meaning and is ignored.

    In a request, an invalid or conflicting max-age reads as max-age=0 (the most
    restrictive reading: the client does not accept the stored response unvalidated).
    """
    if not cache_control:
        for value in pragma:
            if any(item.lower() == b"no-cache" for item in split_list(value)):
                return NO_CACHE
        return EMPTY
    cc, bad_max_age = _parse(cache_control)
    return replace(cc, max_age=0) if bad_max_age else cc
