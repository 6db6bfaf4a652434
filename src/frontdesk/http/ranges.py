"""Byte ranges (RFC 9110 §14): parse a Range field and resolve it against a length.

Pure. `resolve(header, length, max_ranges)` says whether to send the whole
representation, some ranges (206), or nothing satisfiable (416).

https://www.rfc-editor.org/rfc/rfc9110#section-14.1.1
  ranges-specifier = range-unit "=" range-set
  range-set        = 1#range-spec
  range-spec       = int-range / suffix-range / other-range
  int-range        = first-pos "-" [ last-pos ]
  suffix-range     = "-" suffix-length
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start` to `end` inclusive, as in Content-Range."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, complete: int) -> bytes:
        # RFC 9110 §14.4: Content-Range: bytes first-pos "-" last-pos "/" complete-length
        return b"bytes %d-%d/%d" % (self.start, self.end, complete)


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """416: no range overlaps the representation (RFC 9110 §15.5.17)."""


UNSATISFIABLE = Unsatisfiable()

# What resolve() returns: None = ignore Range and send 200; a list = 206.
Resolution = list[ByteRange] | Unsatisfiable | None


def parse(header: bytes) -> list[tuple[int | None, int | None]] | None:
    """The range-set as (first, last) pairs; (None, n) is a suffix of n bytes.

    None when the field is not a valid bytes range-set: RFC 9110 §14.2 "A server MAY
    ignore the Range header field", and an invalid one is ignored (not a 416), as
    every major server does.
    """
    unit, eq, spec = header.partition(b"=")
    # §14.1: range units are case-insensitive.
    if not eq or unit.lower() != b"bytes":
        return None
    out: list[tuple[int | None, int | None]] = []
    for item in spec.split(b","):
        item = item.strip(b" \t")
        if not item:
            continue  # §5.6.1: empty list elements are allowed and ignored
        first, dash, last = item.partition(b"-")
        if not dash:
            return None
        if first:
            if not first.isdigit() or (last and not last.isdigit()):
                return None
            a, b = int(first), int(last) if last else None
            if b is not None and b < a:
                return None  # §14.1.1: invalid when last-pos < first-pos
            out.append((a, b))
        else:
            if not last.isdigit():
                return None
            out.append((None, int(last)))
    return out or None


def resolve(header: bytes, length: int, max_ranges: int) -> Resolution:
    """The ranges to send for `header` against a representation of `length` bytes.

    Overlapping and adjacent ranges are merged and sorted (§14.2: a server "MAY
    coalesce any of the ranges that overlap, or that are separated by a gap that is
    smaller than the overhead of sending multiple parts"), so the answer is never
    larger than the representation plus part headers. More than `max_ranges` ranges
    after merging: the Range field is ignored and the whole representation is sent
    (as nginx's max_ranges), never amplified.
    """
    specs = parse(header)
    if specs is None:
        return None
    if len(specs) > max_ranges * 4:
        return None  # a pathological list: not worth even merging
    ranges: list[ByteRange] = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last == 0 or length == 0:
                continue  # §14.1.3: a zero suffix-length is unsatisfiable
            ranges.append(ByteRange(max(0, length - last), length - 1))
        elif first < length:
            end = length - 1 if last is None else min(last, length - 1)
            ranges.append(ByteRange(first, end))
        # else: first-pos beyond the end, unsatisfiable on its own (§14.1.1)
    if not ranges:
        return UNSATISFIABLE
    ranges.sort(key=lambda r: r.start)
    merged = [ranges[0]]
    for r in ranges[1:]:
        last_range = merged[-1]
        # Merge overlapping ranges and ranges closer than a part header (~80 bytes).
        if r.start <= last_range.end + 80:
            if r.end > last_range.end:
                merged[-1] = ByteRange(last_range.start, r.end)
        else:
            merged.append(r)
    if len(merged) > max_ranges:
        return None
    return merged


def multipart_parts(
    ranges: list[ByteRange], length: int, content_type: bytes, boundary: bytes
) -> tuple[list[bytes], bytes]:
    """Part headers (one per range) and the closing delimiter of a multipart/byteranges
    body (RFC 9110 §14.6); the body is part_head[i] + the bytes of range i ... + tail.

    Each part: CRLF "--" boundary CRLF Content-Type CRLF Content-Range CRLF CRLF
    data; the body ends with CRLF "--" boundary "--" CRLF (RFC 2046 §5.1.1).
    """
    heads = []
    for r in ranges:
        fields = b"Content-Type: " + content_type + b"\r\n" if content_type else b""
        heads.append(
            b"\r\n--"
            + boundary
            + b"\r\n"
            + fields
            + b"Content-Range: "
            + r.content_range(length)
            + b"\r\n\r\n"
        )
    return heads, b"\r\n--" + boundary + b"--\r\n"
