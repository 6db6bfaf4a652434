"""RFC 9110 §12.5.3 Accept-Encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.negotiate import choose_encoding, parse_accept_encoding

AVAILABLE = ("br", "zstd", "gzip")


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, ""),  # no field: identity
        (b"", ""),
        (b"gzip", "gzip"),
        (b"gzip, deflate, br, zstd", "br"),  # equal weights: server preference
        (b"gzip;q=1.0, br;q=0.5", "gzip"),
        (b"br;q=0, gzip", "gzip"),
        (b"*", "br"),
        (b"*;q=0.5, gzip;q=0.1", "br"),
        (b"br;q=0.5, gzip;q=0.9", "gzip"),  # unlisted identity ranks last
        (b"identity", ""),
        (b"identity;q=1, gzip;q=0.5", ""),
        (b"x-gzip", "gzip"),  # §8.4.1.3 alias
        (b"GZIP", "gzip"),  # case-insensitive
        (b"gzip;q=abc", ""),  # malformed weight: member ignored
        (b"gzip;q=2", ""),
        (b"deflate", ""),
        (b"identity;q=0", None),  # nothing acceptable
        (b"*;q=0", None),
    ],
)
def test_rfc9110_12_5_3_choose(header, expected):
    assert choose_encoding(header, AVAILABLE) == expected


def test_parse_weights():
    assert parse_accept_encoding(b"gzip;q=0.8, br ; q=0.9,") == {b"gzip": 0.8, b"br": 0.9}


@given(
    st.lists(
        st.tuples(st.sampled_from(["br", "gzip", "zstd", "identity", "*"]), st.integers(0, 1000)),
        max_size=6,
    )
)
def test_never_picks_a_coding_refused_or_unavailable(members):
    header = ", ".join(f"{c};q={q / 1000:.3f}" for c, q in members).encode()
    got = choose_encoding(header, ("br", "gzip"))
    prefs = parse_accept_encoding(header)
    assert got in ("", "br", "gzip", None)
    if got:
        q = prefs.get(got.encode(), prefs.get(b"*"))
        assert q is not None and q > 0
