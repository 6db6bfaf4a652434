"""static/answer.py: the decision for a file, checked against the bytes it implies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.conditional import Conditions
from frontdesk.static.answer import NeedCoding, Plan, RequestFields, plan, request_fields
from frontdesk.static.resource import Resource, Variant

BOUNDARY = b"b0und"


def resource(data: bytes, offer: tuple[str, ...] = ()) -> Resource:
    identity = Variant("", len(data), b'"id"', None, data)
    res = Resource("f.bin", 1_700_000_000, {"": identity}, offer, offer)
    res.content_type = b"application/octet-stream"
    return res


def decide(data: bytes, **fields: object) -> Plan:
    p = plan(b"GET", RequestFields(**fields), resource(data), 8, BOUNDARY)  # type: ignore[arg-type]
    assert isinstance(p, Plan)
    return p


def header(p: Plan, name: bytes) -> bytes | None:
    return next((v for k, v in p.headers if k.lower() == name.lower()), None)


ranges = st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 300)).map(sorted), min_size=1, max_size=6
)


@given(st.binary(min_size=1, max_size=300), ranges)
def test_ranged_bodies_are_the_bytes_asked_for(data: bytes, spans: list[list[int]]) -> None:
    spec = b"bytes=" + b",".join(b"%d-%d" % (a, b) for a, b in spans)
    p = decide(data, range=spec)
    body = p.content()
    assert p.length == len(body)
    if p.status == 416:
        assert header(p, b"Content-Range") == b"bytes */%d" % len(data)
        assert all(a >= len(data) for a, _ in spans)
        return
    assert p.status == 206 and p.ranges
    if p.parts is None:
        r = p.ranges[0]
        assert body == data[r.start : r.end + 1]
        assert header(p, b"Content-Range") == b"bytes %d-%d/%d" % (r.start, r.end, len(data))
    else:
        assert header(p, b"Content-Type") == b"multipart/byteranges; boundary=" + BOUNDARY
        pieces = body.split(b"\r\n--" + BOUNDARY)
        assert pieces[0] == b"" and pieces[-1] == b"--\r\n"
        for piece, r in zip(pieces[1:-1], p.ranges, strict=True):
            assert piece.endswith(b"\r\n\r\n" + data[r.start : r.end + 1])
    wanted = {i for a, b in spans for i in range(a, min(b, len(data) - 1) + 1)}
    sent = {i for r in p.ranges for i in range(r.start, r.end + 1)}
    assert wanted <= sent and len(body) <= len(data) + 200 * len(p.ranges)


def test_304_carries_validators_but_no_content_metadata() -> None:
    p = decide(b"x" * 10, conditions=Conditions(if_none_match=b'"id"'))
    names = {k for k, _ in p.headers}
    assert p.status == 304 and p.content() == b""
    assert b"ETag" in names and b"Content-Type" not in names and b"Last-Modified" not in names


def test_if_range_mismatch_sends_everything() -> None:
    p = decide(b"abcdef", range=b"bytes=0-1", conditions=Conditions(if_range=b'"old"'))
    assert (p.status, p.content()) == (200, b"abcdef")


def test_missing_compressed_variant_is_asked_for_and_vary_is_set() -> None:
    res = resource(b"x" * 2000, offer=("br", "gzip"))
    fields = request_fields([(b"Accept-Encoding", b"gzip")])
    assert plan(b"GET", fields, res, 8, BOUNDARY) == NeedCoding("gzip")
    res.variants["gzip"] = Variant("gzip", 3, b'"id-gzip"', None, b"gz!")
    p = plan(b"GET", fields, res, 8, BOUNDARY)
    assert isinstance(p, Plan) and p.content() == b"gz!"
    assert (b"Vary", b"Accept-Encoding") in p.headers
    assert (b"Content-Encoding", b"gzip") in p.headers


def test_repeated_fields_are_combined() -> None:
    fields = request_fields([(b"If-None-Match", b'"a"'), (b"if-none-match", b'"id"')])
    assert fields.conditions.if_none_match == b'"a", "id"'
