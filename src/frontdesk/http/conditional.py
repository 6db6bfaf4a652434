"""Conditional requests (RFC 9110 §13): which answer the validators call for.

Pure: the request's precondition fields and the selected representation's validators
in, a decision out. The caller has already chosen the representation (content coding
included), so the ETag compared here is that representation's own.

https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2 — the order of evaluation:
  1. If-Match present: false → 412 (unless the change already happened: not for GET);
  2. else If-Unmodified-Since present: false → 412;
  3. If-None-Match present: false → 304 for GET/HEAD, 412 otherwise;
  4. else, GET/HEAD and If-Modified-Since present: false → 304;
  5. GET with Range and If-Range: false → ignore Range (see `range_allowed`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from frontdesk.http.dates import parse_http_date


class Precondition(enum.Enum):
    """What the preconditions decide (RFC 9110 §13.2.2)."""

    PROCEED = "proceed"  # no precondition failed: answer as if there were none
    NOT_MODIFIED = "not_modified"  # 304 (RFC 9110 §15.4.5)
    FAILED = "failed"  # 412 (RFC 9110 §15.5.13)


@dataclass(frozen=True, slots=True)
class Validators:
    """The selected representation's validators: a strong ETag (with quotes) or b""
    when validators are off, and the Last-Modified time in whole seconds (or None)."""

    etag: bytes
    last_modified: int | None


@dataclass(frozen=True, slots=True)
class Conditions:
    """The precondition fields of a request, raw (combined when repeated) or None."""

    if_match: bytes | None = None
    if_none_match: bytes | None = None
    if_modified_since: bytes | None = None
    if_unmodified_since: bytes | None = None
    if_range: bytes | None = None

    @property
    def any(self) -> bool:
        return (
            self.if_match is not None
            or self.if_none_match is not None
            or self.if_modified_since is not None
            or self.if_unmodified_since is not None
        )


def _etags(value: bytes) -> list[tuple[bool, bytes]] | None:
    """A comma-separated entity-tag list as (weak, opaque-tag-with-quotes) pairs.

    RFC 9110 §8.8.3: entity-tag = [ weak ] opaque-tag; weak = %s"W/";
    opaque-tag = DQUOTE *etagc DQUOTE. Returns None for "*". An element that is not
    an entity-tag is skipped: it cannot match anything.
    """
    if value.strip() == b"*":
        return None
    tags: list[tuple[bool, bytes]] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i : i + 1]
        if c in (b" ", b"\t", b","):
            i += 1
            continue
        weak = value.startswith(b"W/", i)
        if weak:
            i += 2
        if value[i : i + 1] == b'"':
            end = value.find(b'"', i + 1)
            if end < 0:
                break
            tags.append((weak, value[i : end + 1]))
            i = end + 1
        else:  # junk: skip to the next comma
            end = value.find(b",", i)
            i = n if end < 0 else end + 1
    return tags


def strong_match(header: bytes, etag: bytes) -> bool:
    """If-Match (RFC 9110 §13.1.1): "*" or a listed tag that matches strongly."""
    if not etag:
        return header.strip() == b"*"
    tags = _etags(header)
    if tags is None:
        return True
    # §8.8.3.2 strong comparison: both not weak, opaque-tags identical.
    return any(not weak and tag == etag for weak, tag in tags)


def weak_match(header: bytes, etag: bytes) -> bool:
    """If-None-Match (RFC 9110 §13.1.2): "*" or a listed tag that matches weakly."""
    tags = _etags(header)
    if tags is None:
        return True  # "*": the representation exists
    if not etag:
        return False
    # §8.8.3.2 weak comparison: opaque-tags identical, W/ ignored on either side.
    bare = etag[2:] if etag.startswith(b"W/") else etag
    return any(tag == bare for _, tag in tags)


def _date(value: bytes) -> int | None:
    try:
        return parse_http_date(value.decode("latin-1"))
    except (ValueError, TypeError):
        return None


def evaluate(method: bytes, cond: Conditions, v: Validators) -> Precondition:
    """RFC 9110 §13.2.2, steps 1-4, for an existing representation."""
    safe = method == b"GET" or method == b"HEAD"
    # Step 1: If-Match (§13.1.1).
    if cond.if_match is not None:
        if not strong_match(cond.if_match, v.etag):
            return Precondition.FAILED
    # Step 2: If-Unmodified-Since only when If-Match is absent (§13.1.4: "A recipient
    # MUST ignore If-Unmodified-Since if the request contains an If-Match header
    # field"), and an invalid date is ignored.
    elif cond.if_unmodified_since is not None and v.last_modified is not None:
        since = _date(cond.if_unmodified_since)
        if since is not None and v.last_modified > since:
            return Precondition.FAILED
    # Step 3: If-None-Match (§13.1.2).
    if cond.if_none_match is not None:
        if weak_match(cond.if_none_match, v.etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
    # Step 4: If-Modified-Since only for GET/HEAD and when If-None-Match is absent
    # (§13.1.3: "A recipient MUST ignore If-Modified-Since if the request contains an
    # If-None-Match header field").
    elif safe and cond.if_modified_since is not None and v.last_modified is not None:
        since = _date(cond.if_modified_since)
        if since is not None and v.last_modified <= since:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED


def range_allowed(if_range: bytes | None, v: Validators) -> bool:
    """RFC 9110 §13.1.5 If-Range: whether a Range header may be honoured.

    "A recipient MUST ignore the Range header field if the If-Range condition
    evaluates to false." The condition is true when the entity-tag matches strongly
    (a weak tag never does), or when the date is exactly the Last-Modified time
    (§13.1.5: the comparison is an exact match, and only against a strong validator;
    a Last-Modified a second or more in the past counts as strong enough here, as
    nginx does).
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(b'"') or value.startswith(b"W/"):
        return bool(v.etag) and value == v.etag and not value.startswith(b"W/")
    since = _date(value)
    return since is not None and v.last_modified is not None and since == v.last_modified
