"""HTTP/2 request fields to the core's request head, and responses back (RFC 9113 §8)."""

from __future__ import annotations

import pytest
from hpack import Decoder, Encoder
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.server.h2fields import (
    H2Request,
    LiteralEncoder,
    MemoDecoder,
    field_lines,
    request_head,
    response_fields,
)

BASE = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/a?b=1"),
    (b":authority", b"ex.com"),
]


MISSING = "missing :method, :scheme or :path"


def head(*extra: tuple[bytes, bytes], base: list[tuple[bytes, bytes]] = BASE) -> H2Request | str:
    return request_head([*base, *extra])


def test_a_plain_request() -> None:
    r = head((b"accept", b"*/*"))
    assert isinstance(r, H2Request)
    assert (r.method, r.target, r.scheme, r.authority) == (b"GET", b"/a?b=1", b"https", b"ex.com")
    # §8.3.1: :authority is what an HTTP/1.1 request carries as Host.
    assert r.headers == [(b"accept", b"*/*"), (b"host", b"ex.com")]
    assert r.size == sum(len(n) + len(v) + 32 for n, v in [*BASE, (b"accept", b"*/*")])


def test_cookie_crumbs_are_joined() -> None:
    r = head((b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2"))
    assert isinstance(r, H2Request)
    assert (b"cookie", b"a=1; b=2") in r.headers  # §8.2.3
    assert [n for n, _ in r.headers].count(b"cookie") == 1


def test_host_without_authority_and_matching_host() -> None:
    r = request_head([*BASE[:3], (b"host", b"h.test")])
    assert isinstance(r, H2Request) and r.authority == b"h.test"
    r = head((b"host", b"EX.com"))
    assert isinstance(r, H2Request) and r.headers == [(b"host", b"ex.com")]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ([(b"connection", b"close")], "connection-specific field"),
        ([(b"keep-alive", b"5")], "connection-specific field"),
        ([(b"proxy-connection", b"x")], "connection-specific field"),
        ([(b"transfer-encoding", b"chunked")], "connection-specific field"),
        ([(b"upgrade", b"h2c")], "connection-specific field"),
        ([(b"te", b"gzip")], "TE other than trailers"),
        ([(b"Accept", b"x")], "invalid field name"),
        ([(b"x", b"a\r\nb")], "invalid field value"),
        ([(b"x", b" lead")], "invalid field value"),
        ([(b"x", b"nul\x00")], "invalid field value"),
        ([(b"host", b"other.com")], "host and :authority differ"),
        ([(b"x", b"1"), (b":method", b"GET")], "pseudo-header field after a regular field"),
        ([(b":protocol", b"websocket")], "unknown pseudo-header field"),
        ([(b":path", b"/again")], "repeated :path"),
    ],
)
def test_malformed_requests(fields: list[tuple[bytes, bytes]], why: str) -> None:
    assert head(*fields) == why


@pytest.mark.parametrize(
    ("base", "why"),
    [
        (BASE[1:], MISSING),
        ([(b":method", b"CONNECT"), (b":authority", b"x:443")], MISSING),
        ([(b":method", b"CONNECT"), *BASE[1:]], "CONNECT"),
        ([BASE[0], BASE[1], (b":path", b"")], "invalid :path"),
        ([BASE[0], BASE[1], (b":path", b"a/b")], "invalid :path"),
        ([BASE[0], BASE[1], (b":path", b"/a b")], "invalid :path"),
        ([BASE[0], BASE[1], (b":path", b"*")], "asterisk :path for a method other than OPTIONS"),
    ],
)
def test_bad_pseudo_headers(base: list[tuple[bytes, bytes]], why: str) -> None:
    assert request_head(base) == why


def test_te_trailers_is_allowed() -> None:
    assert isinstance(head((b"te", b"trailers")), H2Request)
    r = request_head([(b":method", b"OPTIONS"), (b":scheme", b"http"), (b":path", b"*")])
    assert isinstance(r, H2Request) and r.authority is None


def test_response_fields_are_lower_case_without_connection_fields() -> None:
    block = (
        b"Content-Type: text/plain\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\nX-A:  v \r\n"
    )
    fields = response_fields(200, field_lines(block))
    assert fields == [(b":status", b"200"), (b"content-type", b"text/plain"), (b"x-a", b"v")]
    assert response_fields(599, [(b"Keep-Alive", b"1")]) == [(b":status", b"599")]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b":status", b"server", b"content-type", b"date", b"x-a", b"etag"]),
            st.binary(max_size=200),
        ),
        max_size=12,
    )
)
def test_literal_encoder_round_trips_and_leaves_the_table_empty(
    fields: list[tuple[bytes, bytes]],
) -> None:
    encoder, decoder = LiteralEncoder(), Decoder()
    for _ in range(2):  # the second time from the memo
        assert decoder.decode(encoder.encode(fields), raw=True) == fields
    assert len(decoder.header_table.dynamic_entries) == 0


def test_literal_encoder_signals_a_table_size_change() -> None:
    encoder, decoder = LiteralEncoder(), Decoder()
    fields = [(b":status", b"200"), (b"x-long", b"v" * 100)]
    encoder.header_table_size = 256  # RFC 7541 §4.2: the next block starts with the update
    block = encoder.encode(fields)
    assert block[0] & 0xE0 == 0x20
    assert decoder.decode(block, raw=True) == fields


def test_memo_decoder_follows_the_dynamic_table() -> None:
    """Indexed-only blocks are remembered; a block that changes the table forgets them."""
    encoder, decoder = Encoder(), MemoDecoder()
    first = [(b":path", b"/a"), (b"x-user", b"ann")]
    assert decoder.decode(encoder.encode(first), raw=True) == first  # literals, indexed
    again = encoder.encode(first)
    assert all(b & 0x80 for b in again)  # now only references
    assert decoder.decode(again, raw=True) == first
    assert decoder.decode(again, raw=True) == first  # from the memo
    # The encoder evicts and re-adds: the same reference bytes now mean other fields.
    encoder.header_table_size = decoder.header_table_size = 100
    other = [(b":path", b"/b"), (b"x-user", b"bob")]
    for fields in (other, other, first, first):
        assert decoder.decode(encoder.encode(fields), raw=True) == fields


def test_memo_decoder_head_is_remembered_with_the_fields() -> None:
    """`head` gives what request_head makes of a block; for an indexed-only block it is
    remembered (the same object) until a block changes the table."""
    encoder, decoder = Encoder(), MemoDecoder()
    fields = [(b":method", b"GET"), (b":path", b"/a"), (b":scheme", b"https"),
              (b":authority", b"a.test")]  # fmt: skip
    first = decoder.head(encoder.encode(fields))
    assert isinstance(first, H2Request) and first.target == b"/a"
    again = encoder.encode(fields)
    head = decoder.head(again)
    assert head == first and decoder.head(again) is head
    bad = encoder.encode([*fields, (b"connection", b"close")])  # adds to the table
    assert decoder.head(bad) == "connection-specific field"
    # The table has changed: the same reference bytes now mean other fields (the
    # indices moved), and what was remembered for them is gone.
    assert decoder.head(again) == "connection-specific field"
    assert decoder.head(encoder.encode(fields)) == first
