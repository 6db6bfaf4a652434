"""Validation with the origin (RFC 9111 §4.3) and updating stored fields (§3.2).

The shell forwards a VALIDATE decision with `Decision.conditional` set, then:
- 304: freshen() picks the stored responses the 304 describes (§4.3.4), merges its
  fields into them (§3.2) and says which to answer with;
- a full response: storage.on_response() as for any miss (§4.3.3: "the cache ... MAY
  store it", replacing the variant with the same Vary values);
- 5xx or no response: policy.stale_on_error() says whether the stale entry may answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..http.dates import format_http_date, parse_http_date
from .entry import Entry, build_entry
from .fields import (
    Fields,
    FieldTuple,
    get_first,
    is_weak,
    parse_etag,
    weak_match,
)
from .messages import OriginResponse
from .options import CacheOptions
from .storage import content_length, excluded_fields
from .tags import parse_tags


def conditional_headers(entries: Sequence[Entry]) -> FieldTuple:
    """Preconditions for validating `entries` (the stored responses that match), §4.3.1.

    "When generating a conditional request for validation, a cache:
    - MUST send the relevant entity tags (using If-Match, If-None-Match, or If-Range) if
      the entity tags were provided in the stored response(s) being validated.
    - SHOULD send the Last-Modified value (using If-Modified-Since) if the request is not
      for a subrange, a single stored response is being validated, and that response
      contains a Last-Modified value."
    The set replaces any If-None-Match / If-Modified-Since the client sent: the client's
    own conditions are then evaluated against the validated entry (serve.py).
    """
    tags: list[bytes] = []
    for e in entries:
        if e.etag is not None and e.etag not in tags:
            tags.append(e.etag)
    out: list[tuple[bytes, bytes]] = []
    if tags:
        out.append((b"if-none-match", b", ".join(tags)))
    if len(entries) == 1:
        lm = get_first(entries[0].headers, b"last-modified")
        if lm is not None and entries[0].last_modified is not None:
            out.append((b"if-modified-since", lm.strip(b" \t")))
    return tuple(out)


# Client preconditions and range fields that a validation request must not carry: the
# cache asks about its own stored responses, and wants a full 200 if they are outdated
# (a 206 to a client's Range could not be stored, §3.3).
_CLIENT_CONDITIONAL_FIELDS = frozenset(
    {
        b"if-none-match",
        b"if-modified-since",
        b"if-range",
        b"range",
    }
)


def validation_request_fields(request_headers: Fields, conditional: FieldTuple) -> FieldTuple:
    """The header fields of the request sent to validate (VALIDATE, STALE_REVALIDATE).

    §4.3.1: "a cache either starts with a request it is attempting to satisfy or -- if
    it is initiating the request independently -- synthesizes a request using a stored
    response by copying the method, target URI, and request header fields identified
    by the Vary header field ... It then updates that request with one or more
    precondition header fields." The client's own preconditions and Range are replaced
    by `conditional` (Decision.conditional); its other fields, the Vary-nominated ones
    among them, are kept (requests with If-Match / If-Unmodified-Since are never
    validated: decide() forwards them).
    """
    kept = tuple((k, v) for k, v in request_headers if k.lower() not in _CLIENT_CONDITIONAL_FIELDS)
    return kept + conditional


# §3.2: the stored response's fields are updated from a 304 "with the following
# exceptions: Header fields excepted from storage in Section 3.1, Header fields that the
# cache's stored response depends upon, ..., Header fields that are automatically
# processed and removed by the recipient, ..., and The Content-Length header field."
# "some fields are automatically processed and removed by the HTTP implementation, such
# as the Content-Range header field; implementations MAY exclude these fields from
# updating stored responses." Content-Length is among the §3.1 exclusions (storage.py).
# Content-Encoding and Content-MD5 describe the stored body's bytes, which a 304 does not
# replace (it says the selected representation is unchanged): §3.2 lets a cache keep
# "those fields necessary to assure integrity of the stored response", and taking a new
# coding or digest from a 304 would label the old bytes wrongly (gzip sent as "br").
_NOT_UPDATED_EXTRA = frozenset({b"content-range", b"content-encoding", b"content-md5"})


def update_fields(
    stored: Fields, new: Fields, options: CacheOptions, response_time: float
) -> FieldTuple:
    """The stored fields updated with those of a 304 (or HEAD 200) per §3.2.

    "the cache MUST add each header field in the provided response to the stored
    response, replacing field values that are already present". Replaced fields keep
    the position of their first stored line. Date and Age describe the message, not the
    representation: a 304 without Date is dated `response_time` (RFC 9110 §6.6.1) and
    the stored Age is dropped unless the 304 has one (its age is computed afresh from
    the 304's times, §4.2.3).
    """
    drop = excluded_fields(new, options) | _NOT_UPDATED_EXTRA
    incoming: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for k, v in new:
        low = k.lower()
        if low not in drop:
            incoming.setdefault(low, []).append((k, v))
    if b"date" not in incoming:
        incoming[b"date"] = [(b"Date", format_http_date(response_time).encode("ascii"))]
    replaced = set(incoming) | {b"age"}
    out: list[tuple[bytes, bytes]] = []
    placed: set[bytes] = set()
    for k, v in stored:
        low = k.lower()
        if low in replaced:
            if low not in placed and low in incoming:
                out.extend(incoming[low])
                placed.add(low)
            continue
        out.append((k, v))
    for low, lines in incoming.items():
        if low not in placed:
            out.extend(lines)
    return tuple(out)


def select_for_update(entries: Sequence[Entry], response_headers: Fields) -> list[Entry]:
    """§4.3.4: which stored responses a 304 describes.

    `entries` is "the initial set": the stored responses that could have been chosen for
    the request (those decide() validated). "that initial set of stored responses is
    further filtered by the first match of:
    - If the new response contains one or more strong validators ..., then each of those
      strong validators identifies a selected representation for update. All the stored
      responses in the initial set with one of those same strong validators are
      identified for update. If none of the initial set contains at least one of the
      same strong validators, then the cache MUST NOT use the new response to update any
      stored responses.
    - If the new response contains no strong validators but does contain one or more
      weak validators, and those validators correspond to one of the initial set's
      stored responses, then the most recent of those matching stored responses is
      identified for update.
    - If the new response does not include any form of validator (such as where a
      client generates an If-Modified-Since request from a source other than the
      Last-Modified response header field), and there is only one stored response in the
      initial set, and that stored response also lacks a validator, then that stored
      response is identified for update."
    An ETag without W/ is the strong validator; Last-Modified is treated as weak (RFC
    9110 §8.8.2.2: it is strong only under conditions a cache cannot check here).

    One departure: a 304 without any validator when the initial set is a single stored
    response selects it even when that response has validators. The third rule guards
    against a client's If-Modified-Since "from a source other than the Last-Modified";
    here the preconditions were the cache's own, made from that one response alone
    (conditional_headers replaces the client's), so the 304 can only be about it. Its
    origin broke RFC 9110 §15.4.5 ("MUST generate ... ETag" it would send in a 200) by
    leaving the validator out; repeating the request unconditionally would double the
    origin's work for the same answer, and every common cache reuses the response.
    """
    raw = get_first(response_headers, b"etag")
    etag = parse_etag(raw) if raw is not None else None
    lm = get_first(response_headers, b"last-modified")
    if etag is not None and not is_weak(etag):
        return [e for e in entries if e.etag == etag]
    weak: list[Entry] = []
    if etag is not None:
        weak = [e for e in entries if e.etag is not None and weak_match(e.etag, etag)]
    elif lm is not None:
        value = lm.strip(b" \t")
        weak = [
            e
            for e in entries
            if (stored := get_first(e.headers, b"last-modified")) is not None
            and stored.strip(b" \t") == value
        ]
    if etag is not None or lm is not None:
        if not weak:
            return []
        return [max(weak, key=lambda e: (e.date, e.response_time))]
    if len(entries) == 1:
        return [entries[0]]
    return []


def _updated(
    old: Entry, response: OriginResponse, options: CacheOptions, tags: tuple[str, ...]
) -> Entry:
    """`old` with its fields updated from `response` (§3.2) and its ages taken afresh
    from the validating exchange's times (§4.2.3); body, variant and handle kept."""
    return build_entry(
        key=old.key,
        method=old.method,
        status=old.status,
        headers=update_fields(old.headers, response.headers, options, response.response_time),
        request_time=response.request_time,
        response_time=response.response_time,
        vary=old.vary,
        vary_values=old.vary_values,
        content_length=old.content_length,
        options=options,
        tags=tags or old.tags,
        ref=old.ref,
    )


@dataclass(frozen=True, slots=True)
class Freshened:
    """The outcome of freshen().

    `updates` pairs each old entry with its replacement (None: remove it, the 304 made
    it unstorable). `serve` is the entry to answer with (the 304 validated it), or None
    when the 304 matched no stored response: then the request must be repeated without
    preconditions.
    """

    updates: tuple[tuple[Entry, Entry | None], ...]
    serve: Entry | None


def freshen(entries: Sequence[Entry], response: OriginResponse, options: CacheOptions) -> Freshened:
    """Apply a 304 to the stored responses it validates (§4.3.4, §3.2).

    `entries` is Decision.validating. "For each stored response identified, the cache
    MUST update its header fields with the header fields provided in the 304 (Not
    Modified) response, as per Section 3.2."
    """
    chosen = select_for_update(entries, response.headers)
    if not chosen:
        return Freshened((), None)
    new_tags = parse_tags(response.headers, options.tag_fields)
    updates: list[tuple[Entry, Entry | None]] = []
    serve: Entry | None = None
    for old in chosen:
        new = _updated(old, response, options, new_tags)
        keep = not (new.cc.no_store or new.cc.private)
        updates.append((old, new if keep else None))
        if serve is None or (new.date, new.response_time) > (serve.date, serve.response_time):
            serve = new
    return Freshened(tuple(updates), serve)


def freshen_with_head(
    entries: Sequence[Entry], response: OriginResponse, options: CacheOptions
) -> tuple[tuple[Entry, Entry], ...]:
    """Update or mark stale the stored GET responses after a 200 to a HEAD (§4.3.5).

    "When a cache makes an inbound HEAD request for a target URI and receives a 200 (OK)
    response, the cache SHOULD update or invalidate each of its stored GET responses
    that could have been chosen for that request ... if the stored response and HEAD
    response have matching values for any received validator fields (ETag and
    Last-Modified) and, if the HEAD response has a Content-Length header field, the
    value of Content-Length matches that of the stored response, the cache SHOULD update
    the stored response as described below; otherwise, the cache SHOULD consider the
    stored response to be stale." `entries` are the matching stored responses
    (policy.matching); each comes back updated (§3.2) or with a zero lifetime.
    """
    if response.status != 200:
        return ()
    headers = response.headers
    raw_etag = get_first(headers, b"etag")
    etag = parse_etag(raw_etag) if raw_etag is not None else None
    raw_lm = get_first(headers, b"last-modified")
    lm = parse_http_date(raw_lm.decode("latin-1")) if raw_lm is not None else None
    length = content_length(headers)
    new_tags = parse_tags(headers, options.tag_fields)
    out: list[tuple[Entry, Entry]] = []
    for old in entries:
        if old.method != b"GET":
            continue
        same = (
            (raw_etag is None or (etag is not None and etag == old.etag))
            and (raw_lm is None or (lm is not None and lm == old.last_modified))
            and (length is None or length == old.content_length)
        )
        if not same:
            out.append((old, replace(old, lifetime=0.0, heuristic=False)))
            continue
        out.append((old, _updated(old, response, options, new_tags)))
    return tuple(out)
