"""Decide the answer for a file: which representation, which status, which headers.

No I/O: a Resource (what is known about the file) and the request's fields in, a
Plan out; the action then writes it from memory or streams it from disk. Decide,
then act (as aiohttp's `_FileResponseResult`).
"""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.http.conditional import Conditions, Precondition, Validators, evaluate, range_allowed
from frontdesk.http.negotiate import choose_encoding
from frontdesk.http.ranges import UNSATISFIABLE, ByteRange, multipart_parts, resolve
from frontdesk.static.resource import Resource, Variant

Header = tuple[bytes, bytes]

VARY = (b"Vary", b"Accept-Encoding")
ACCEPT_RANGES = (b"Accept-Ranges", b"bytes")


@dataclass(slots=True)
class RequestFields:
    """The request fields a file answer depends on, raw; None when absent."""

    accept_encoding: bytes | None = None
    range: bytes | None = None
    conditions: Conditions = Conditions()


_FIELDS = {
    b"accept-encoding": "accept_encoding",
    b"range": "range",
    b"if-match": "if_match",
    b"if-none-match": "if_none_match",
    b"if-modified-since": "if_modified_since",
    b"if-unmodified-since": "if_unmodified_since",
    b"if-range": "if_range",
}


def request_fields(headers: list[tuple[bytes, bytes]]) -> RequestFields:
    """Collect the fields; repeated list fields are joined with "," (RFC 9110 §5.3)."""
    found: dict[str, bytes] = {}
    for name, value in headers:
        key = _FIELDS.get(name.lower())
        if key is not None:
            found[key] = found[key] + b", " + value if key in found else value
    cond = Conditions(
        found.get("if_match"),
        found.get("if_none_match"),
        found.get("if_modified_since"),
        found.get("if_unmodified_since"),
        found.get("if_range"),
    )
    return RequestFields(found.get("accept_encoding"), found.get("range"), cond)


@dataclass(slots=True)
class Plan:
    """What to send: status, header fields (without Content-Length, Date, Server,
    Connection), and the content: `body` from memory, or `ranges` of `variant`."""

    status: int
    headers: list[Header]
    variant: Variant | None = None
    ranges: list[ByteRange] | None = None  # None: the whole variant
    body: bytes | None = None  # a fixed body (error texts)
    parts: tuple[list[bytes], bytes] | None = None  # multipart heads and tail
    length: int = 0  # Content-Length

    def content(self) -> bytes:
        """The whole body, for a variant held in memory (or a fixed body)."""
        if self.body is not None:
            return self.body
        if self.variant is None:
            return b""  # 304
        assert self.variant.body is not None
        data = self.variant.body
        if self.ranges is None:
            return data
        if self.parts is None:
            r = self.ranges[0]
            return data[r.start : r.end + 1]
        heads, tail = self.parts
        out: list[bytes] = []
        for head, r in zip(heads, self.ranges, strict=True):
            out += (head, data[r.start : r.end + 1])
        out.append(tail)
        return b"".join(out)


@dataclass(frozen=True, slots=True)
class NeedCoding:
    """The chosen coding must be compressed first (in a thread), then plan again."""

    coding: str


def _text(status: int, message: str) -> bytes:
    return f"{status} {message}\n".encode()


def plan(
    method: bytes, fields: RequestFields, res: Resource, max_ranges: int, boundary: bytes
) -> Plan | NeedCoding:
    coding = choose_encoding(fields.accept_encoding, res.offer) or ""
    variant = res.variants.get(coding)
    if variant is None:
        return NeedCoding(coding)
    validators = Validators(variant.etag, res.last_modified)
    # RFC 9110 §15.4.5: a 304 carries the fields a 200 would have among Cache-Control,
    # Content-Location, Date, ETag, Expires and Vary; Last-Modified only without ETag.
    meta: list[Header] = []
    if variant.etag:
        meta.append((b"ETag", variant.etag))
    if res.cache_control:
        meta.append((b"Cache-Control", res.cache_control))
    if res.negotiable:
        meta.append(VARY)  # RFC 9110 §12.5.5: the answer depends on Accept-Encoding
    cond = fields.conditions
    if cond.any:
        decision = evaluate(method, cond, validators)
        if decision is Precondition.NOT_MODIFIED:
            if not variant.etag:
                meta.append((b"Last-Modified", res.last_modified_text()))
            return Plan(304, meta)
        if decision is Precondition.FAILED:
            body = _text(412, "Precondition Failed")
            return Plan(
                412, [(b"Content-Type", b"text/plain; charset=utf-8")], body=body, length=len(body)
            )
    headers = meta
    headers.append((b"Last-Modified", res.last_modified_text()))
    headers.append(ACCEPT_RANGES)
    if variant.encoding:
        headers.append((b"Content-Encoding", variant.encoding.encode("ascii")))
    ctype = (b"Content-Type", res.content_type)
    # RFC 9110 §14.2: only GET has range handling defined; HEAD ignores Range.
    if fields.range is not None and method == b"GET" and range_allowed(cond.if_range, validators):
        ranges = resolve(fields.range, variant.size, max_ranges)
        if ranges is UNSATISFIABLE:
            # RFC 9110 §15.5.17: "SHOULD generate a Content-Range header field
            # specifying the current length of the selected representation".
            body = _text(416, "Range Not Satisfiable")
            headers.append((b"Content-Range", b"bytes */%d" % variant.size))
            headers.append((b"Content-Type", b"text/plain; charset=utf-8"))
            return Plan(416, headers, body=body, length=len(body))
        if isinstance(ranges, list):
            if len(ranges) == 1:
                r = ranges[0]
                headers += (ctype, (b"Content-Range", r.content_range(variant.size)))
                return Plan(206, headers, variant, ranges, length=r.length)
            # RFC 9110 §14.6: several ranges → multipart/byteranges, each part with
            # its own Content-Type and Content-Range.
            heads, tail = multipart_parts(ranges, variant.size, res.content_type, boundary)
            length = sum(map(len, heads)) + len(tail) + sum(r.length for r in ranges)
            headers.append((b"Content-Type", b"multipart/byteranges; boundary=" + boundary))
            return Plan(206, headers, variant, ranges, parts=(heads, tail), length=length)
    headers.append(ctype)
    return Plan(200, headers, variant, length=variant.size)
