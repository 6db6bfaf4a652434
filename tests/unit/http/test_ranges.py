"""RFC 9110 §14: Range parsing and resolution, table-driven plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.ranges import UNSATISFIABLE, ByteRange, multipart_parts, parse, resolve


@pytest.mark.parametrize(
    "header, length, expected",
    [
        (b"bytes=0-0", 10, [ByteRange(0, 0)]),
        (b"bytes=0-", 10, [ByteRange(0, 9)]),
        (b"bytes=2-5", 10, [ByteRange(2, 5)]),
        (b"bytes=5-100", 10, [ByteRange(5, 9)]),  # §14.1.2: last-pos clipped
        (b"bytes=-3", 10, [ByteRange(7, 9)]),
        (b"bytes=-30", 10, [ByteRange(0, 9)]),
        (b"BYTES = 1-2", 10, None),  # whitespace around "=" is not allowed
        (b"Bytes=1-2", 10, [ByteRange(1, 2)]),  # unit is case-insensitive
        (b"bytes=10-", 10, UNSATISFIABLE),
        (b"bytes=-0", 10, UNSATISFIABLE),
        (b"bytes=0-", 0, UNSATISFIABLE),
        (b"bytes=20-30, 40-50", 10, UNSATISFIABLE),
        (b"bytes=20-30, 1-2", 10, [ByteRange(1, 2)]),  # the satisfiable one stays
        (b"bytes=5-2", 10, None),  # invalid: ignored
        (b"bytes=a-b", 10, None),
        (b"items=0-1", 10, None),
        (b"bytes=", 10, None),
        (b"bytes=0-1,,4-5", 1000, [ByteRange(0, 1), ByteRange(4, 5)] and [ByteRange(0, 5)]),
        (b"bytes=0-1, 500-600", 1000, [ByteRange(0, 1), ByteRange(500, 600)]),
        (b"bytes=500-600, 0-1", 1000, [ByteRange(0, 1), ByteRange(500, 600)]),  # sorted
        (b"bytes=0-100, 50-150", 1000, [ByteRange(0, 150)]),  # overlap merged
    ],
)
def test_rfc9110_14_resolve(header, length, expected):
    assert resolve(header, length, 16) == expected


def test_too_many_ranges_after_merging_are_ignored():
    spread = b"bytes=" + b",".join(b"%d-%d" % (i * 1000, i * 1000 + 1) for i in range(20))
    assert resolve(spread, 100_000, 16) is None
    assert len(resolve(spread, 100_000, 20)) == 20  # type: ignore[arg-type]


def test_overlapping_ranges_are_not_amplified():
    many = b"bytes=" + b",".join([b"0-"] * 50)
    assert resolve(many, 1000, 16) == [ByteRange(0, 999)]


def test_multipart_parts_frame_each_range():
    ranges = [ByteRange(0, 1), ByteRange(500, 600)]
    heads, tail = multipart_parts(ranges, 1000, b"text/plain", b"BOUND")
    assert heads[0] == (
        b"\r\n--BOUND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/1000\r\n\r\n"
    )
    assert tail == b"\r\n--BOUND--\r\n"


specs = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 3000), st.none() | st.integers(0, 3000)),
        st.tuples(st.none(), st.integers(0, 3000)),
    ),
    min_size=1,
    max_size=40,
)


def _header(items):
    out = []
    for first, last in items:
        if first is None:
            out.append(f"-{last}")
        elif last is None:
            out.append(f"{first}-")
        else:
            out.append(f"{min(first, last)}-{max(first, last)}")
    return ("bytes=" + ",".join(out)).encode()


@given(specs, st.integers(0, 2000), st.integers(1, 20))
def test_resolved_ranges_are_sorted_disjoint_and_inside(items, length, max_ranges):
    got = resolve(_header(items), length, max_ranges)
    if got is None or got is UNSATISFIABLE:
        return
    assert 1 <= len(got) <= max_ranges
    for r in got:
        assert 0 <= r.start <= r.end < length
    for a, b in zip(got, got[1:], strict=False):
        assert a.end < b.start  # sorted, disjoint: never more bytes than the file
    assert sum(r.length for r in got) <= length


@given(specs, st.integers(1, 2000))
def test_every_requested_byte_is_covered(items, length):
    header = _header(items)
    got = resolve(header, length, 1000)
    parsed = parse(header)
    assert parsed is not None
    wanted = set()
    for first, last in parsed:
        if first is None:
            wanted.update(range(max(0, length - last), length) if last else ())
        elif first < length:
            wanted.update(
                range(first, min(last if last is not None else length - 1, length - 1) + 1)
            )
    if not wanted:
        assert got is UNSATISFIABLE
    else:
        assert isinstance(got, list)
        covered = {i for r in got for i in range(r.start, r.end + 1)}
        assert wanted <= covered
