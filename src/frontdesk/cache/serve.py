"""The answer built from a stored response (RFC 9111 §4, §4.3.2; RFC 9110 §13, §14, §15.4.5).

answer() turns a selected Entry into the status, header fields and byte range the
shell sends: the stored 200 as is, a 304 when the client's own If-None-Match /
If-Modified-Since says it has it, a 206 or 416 for a Range request. The body itself
stays in the store: `CachedAnswer.body` is a (start, end) slice of it.

Ranges: a small resolver for single byte ranges lives here (parse_range). A request
for several ranges is answered with the whole 200, which RFC 9110 §14.2 allows ("A
server MAY ignore the Range header field"). It should be replaced by http/ranges.py
(being written for static files) once that lands, to share multipart/byteranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..http.dates import parse_http_date
from .entry import Entry
from .fields import (
    STAR,
    Fields,
    FieldTuple,
    get_all,
    get_first,
    parse_etag,
    parse_etag_list,
    strong_match,
    weak_match,
)
from .freshness import format_age

# RFC 9110 §15.4.5: "The server generating a 304 response MUST generate any of the
# following header fields that would have been sent in a 200 (OK) response to the same
# request: Content-Location, Date, ETag, and Vary; Cache-Control and Expires". "a sender
# SHOULD NOT generate representation metadata other than the above listed fields unless
# said metadata exists for the purpose of guiding cache updates (e.g., Last-Modified
# might be useful if the response does not have an ETag field)."
NOT_MODIFIED_FIELDS = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
)

# RFC 9110 §8.8.2.2: a Last-Modified date is strong for a cache when "the presented
# Last-Modified time is at least 60 seconds before the Date value" of the entry.
STRONG_LAST_MODIFIED_MARGIN = 60.0


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """What to send: status, fields, and the slice [start, end) of the stored body."""

    status: int
    headers: FieldTuple
    body: tuple[int, int] | None  # None: no content (HEAD, 304, 416, 204)


def answer(
    method: bytes,
    request_headers: Fields,
    entry: Entry,
    now: float,
    *,
    status_member: bytes | None = None,
) -> CachedAnswer:
    """The response to a GET or HEAD answered from `entry` at `now`.

    §4: "When a stored response is used to satisfy a request without validation, a
    cache MUST generate an Age header field (Section 5.1), replacing any present in the
    response with a value equal to the stored response's current_age". `status_member`
    (our Cache-Status member, status.py) is appended when given.
    """
    # The names are spelled as every other answer of frontdesk spells them (the hot
    # lane's render_hit, the proxy, static files): one spelling whichever lane answers.
    extra: FieldTuple = ((b"Age", format_age(entry.age(now))),)
    if status_member is not None:
        extra += ((b"Cache-Status", status_member),)
    if entry.status == 200 and _has_preconditions(request_headers):
        if not_modified(request_headers, entry):
            return CachedAnswer(304, not_modified_fields(entry) + extra, None)
        if method == b"GET":
            ranged = _range_answer(request_headers, entry, extra)
            if ranged is not None:
                return ranged
    length = entry.content_length
    body = (0, length) if method == b"GET" and length else None
    if entry.status in _NO_CONTENT_LENGTH:
        return CachedAnswer(entry.status, entry.served + extra, body)
    framing = ((b"Content-Length", b"%d" % length),)
    return CachedAnswer(entry.status, entry.served + extra + framing, body)


# RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field in any response
# with a status code of 1xx (Informational) or 204 (No Content)"; a 304 describes the
# stored length only when it equals the 200's, which is not worth the risk.
_NO_CONTENT_LENGTH = frozenset({204, 304})


# Lengths and names of the request fields answer() acts on (one pass, no lowercasing
# of fields that cannot match).
_PRECONDITION_FIELDS = {
    13: b"if-none-match",
    17: b"if-modified-since",
    5: b"range",
}


def _has_preconditions(headers: Fields) -> bool:
    for k, _ in headers:
        wanted = _PRECONDITION_FIELDS.get(len(k))
        if wanted is not None and k.lower() == wanted:
            return True
    return False


def not_modified(request_headers: Fields, entry: Entry) -> bool:
    """Whether the client's preconditions say it already has `entry` (RFC 9111 §4.3.2).

    "the If-Match and If-Unmodified-Since conditional header fields are not applicable
    to a cache, and If-None-Match takes precedence over If-Modified-Since."
    RFC 9110 §13.1.2: If-None-Match "*" is false when a representation exists; a list is
    false when "one of the listed tags matches the entity tag of the selected
    representation" by weak comparison. §13.1.3: If-Modified-Since is ignored when
    If-None-Match is present, when it is not a valid HTTP-date or has more than one
    member; it is false when the representation was not modified after that date.
    RFC 9111 §4.3.2: "If a request contains an If-Modified-Since header field and the
    Last-Modified header field is not present in a stored response, a cache SHOULD use
    the stored response's Date field value".
    """
    inm = get_all(request_headers, b"if-none-match")
    if inm:
        if len(inm) == 1 and entry.etag is not None:
            quick = _one_tag_match(inm[0], entry.etag)
            if quick is not None:
                return quick
        tags = parse_etag_list(b", ".join(inm))
        if tags is STAR:
            return True
        if not isinstance(tags, list) or entry.etag is None:
            return False
        return any(weak_match(t, entry.etag) for t in tags)
    ims = get_all(request_headers, b"if-modified-since")
    if len(ims) != 1:
        return False
    since = parse_http_date(ims[0].decode("latin-1"))
    if since is None:
        return False
    modified = entry.last_modified if entry.last_modified is not None else entry.date
    return modified <= since


def _one_tag_match(value: bytes, etag: bytes) -> bool | None:
    """If-None-Match's answer for the value a browser sends back, one quoted tag with
    nothing around it, without parsing: None for any other shape (a list, "*", W/,
    white space), which the general rule above decides.

    A valid `etag` equals `value` only when `value` is a valid entity-tag; a value
    that differs is either invalid (the field is then ignored: false) or another tag
    (no weak match: false). RFC 9110 §8.8.3.2: the weak comparison ignores W/.
    """
    if value[:1] != b'"' or value[-1:] != b'"' or b"," in value:
        return None
    return value == (etag if etag[:1] == b'"' else etag[2:])


def not_modified_fields(entry: Entry) -> FieldTuple:
    has_etag = entry.etag is not None
    return tuple(
        (k, v)
        for k, v in entry.headers
        if k.lower() in NOT_MODIFIED_FIELDS or (not has_etag and k.lower() == b"last-modified")
    )


# RFC 9110 §14.1.1:
#   ranges-specifier = range-unit "=" range-set
#   range-set        = 1#range-spec
#   range-spec       = int-range / suffix-range / other-range
#   int-range        = first-pos "-" [ last-pos ]
#   suffix-range     = "-" suffix-length
_RANGE_SPEC = re.compile(rb"[ \t]*(?:([0-9]+)-([0-9]*)|-([0-9]+))[ \t]*")


def parse_range(value: bytes, length: int) -> tuple[int, int] | None | Literal[False]:
    """Resolve a Range value against a representation of `length` bytes.

    (start, end) for one satisfiable range (end exclusive); False when the range set is
    valid but unsatisfiable (→ 416); None when the field must be ignored (→ 200):
    another unit, invalid syntax, several ranges, or an empty representation.
    """
    if value[:6] == b"bytes=" and length > 0:
        # The common shape first, parsed without the regular expression: one
        # int-range or suffix-range with nothing around it ("bytes=0-99",
        # "bytes=100-", "bytes=-500"), what players and PDF viewers send. Anything
        # else (lists, spaces, other units) takes the general rule below.
        first, dash, last = value[6:].partition(b"-")
        if dash and first.isdigit():  # bytes.isdigit(): ASCII digits only
            start = int(first)
            if not last:
                return (start, length) if start < length else False
            if last.isdigit():
                end = int(last)
                if end < start:
                    return None  # §14.1.1: invalid if last-pos < first-pos
                return (start, min(end, length - 1) + 1) if start < length else False
        elif dash and not first and last.isdigit():
            n = int(last)
            return (max(0, length - n), length) if n > 0 else False
    return _parse_range_set(value, length)


def _parse_range_set(value: bytes, length: int) -> tuple[int, int] | None | Literal[False]:
    """parse_range's general rule: any range-set, any white space, any unit."""
    unit, eq, spec = value.partition(b"=")
    if not eq or unit.strip(b" \t").lower() != b"bytes" or length <= 0:
        return None
    members = [m for m in spec.split(b",") if m.strip(b" \t")]
    if not members:
        return None
    ranges: list[tuple[int, int]] = []
    for member in members:
        m = _RANGE_SPEC.fullmatch(member)
        if m is None:
            return None
        first, last, suffix = m.group(1, 2, 3)
        if suffix is not None:
            n = int(suffix)
            # "a suffix-range is satisfiable if the suffix-length is not zero"
            if n > 0:
                ranges.append((max(0, length - n), length))
            continue
        start = int(first)
        if last:
            end = int(last)
            if end < start:
                return None  # §14.1.1: invalid if last-pos < first-pos
            end = min(end, length - 1) + 1
        else:
            end = length
        # "An int-range is satisfiable if the first-pos is less than the selected
        # representation's current length"
        if start < length:
            ranges.append((start, end))
    if not ranges:
        return False
    if len(ranges) > 1:
        return None
    return ranges[0]


def if_range_holds(request_headers: Fields, entry: Entry) -> bool:
    """RFC 9110 §13.1.5: the Range applies only if If-Range (when present) matches.

    An entity-tag must match the stored one by strong comparison; a date must equal
    Last-Modified exactly and be a strong validator (§8.8.2.2).
    """
    raw = get_first(request_headers, b"if-range")
    if raw is None:
        return True
    tag = parse_etag(raw)
    if tag is not None:
        return entry.etag is not None and strong_match(tag, entry.etag)
    when = parse_http_date(raw.decode("latin-1"))
    lm = entry.last_modified
    if when is None or lm is None:
        return False
    return when == lm and entry.date - lm >= STRONG_LAST_MODIFIED_MARGIN


def _range_answer(request_headers: Fields, entry: Entry, extra: FieldTuple) -> CachedAnswer | None:
    """206 or 416 for a Range request on a stored 200, None to send the whole 200."""
    lines = get_all(request_headers, b"range")
    if len(lines) != 1 or not if_range_holds(request_headers, entry):
        return None
    length = entry.content_length
    resolved = parse_range(lines[0], length)
    if resolved is None:
        return None
    base = entry.served
    if resolved is False:
        # RFC 9110 §15.5.17: "a server generating a 416 response to a byte-range request
        # SHOULD generate a Content-Range header field specifying the current length".
        fields = (
            (b"Content-Range", b"bytes */%d" % length),
            (b"Content-Length", b"0"),
        )
        return CachedAnswer(416, base + extra + fields, None)
    start, end = resolved
    # RFC 9110 §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range )
    fields = (
        (b"Content-Range", b"bytes %d-%d/%d" % (start, end - 1, length)),
        (b"Content-Length", b"%d" % (end - start)),
    )
    return CachedAnswer(206, base + extra + fields, (start, end))
