"""HTTP/2's fast receive path (server/h2fast.py) with frames it must leave to `h2` or
answer as `h2` would: out-of-order and even stream ids, broken header blocks, the
HPACK bomb, PRIORITY, table size updates, GOAWAY, and any split of the bytes."""

from __future__ import annotations

from typing import Any

import pytest
from h2.errors import ErrorCodes
from hpack import Encoder
from hypothesis import given, settings
from hypothesis import strategies as st
from test_h2fast import _S, BODY, Client, _headers_frame


@pytest.mark.parametrize(
    ("why", "sid", "expected"),
    [
        ("a stream id already used", 3, ErrorCodes.STREAM_CLOSED),
        ("an even stream id", 8, ErrorCodes.PROTOCOL_ERROR),
    ],
)
def test_out_of_order_stream_ids_are_connection_errors(why: str, sid: int, expected: int) -> None:
    c = Client()
    for _ in range(3):
        c.get()  # streams 1, 3, 5
    c.send()
    c.read()
    block = Encoder().encode([(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"),
                              (b":authority", b"a.test")])  # fmt: skip
    c.proto.data_received(_headers_frame(sid, block))
    c.read()
    assert c.goaway == expected, why
    assert c.t.closed


def test_a_broken_header_block_ends_the_connection() -> None:
    c = Client()
    c.first()
    c.proto.data_received(_headers_frame(3, b"\xff\xff\xff\xff\x7f"))  # an index far off
    c.read()
    assert c.goaway == ErrorCodes.PROTOCOL_ERROR and c.t.closed


def test_an_hpack_bomb_on_the_fast_path_is_enhance_your_calm() -> None:
    c = Client()
    c.first()
    enc = Encoder()
    # One big field added to the client's table, then referenced over and over:
    # a small block that decodes to far more than twice the 32 KB limit.
    first = enc.encode([(b"x-big", b"y" * 4000)])
    bomb = first + bytes(enc.encode([(b"x-big", b"y" * 4000)])) * 30
    c.proto.data_received(_headers_frame(3, bomb))
    c.read()
    assert c.goaway == ErrorCodes.ENHANCE_YOUR_CALM and c.t.closed


def test_priority_in_headers_is_ignored_unless_a_stream_depends_on_itself() -> None:
    c = Client()
    c.first()
    fields = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"),
              (b":authority", b"a.test")]  # fmt: skip
    c.conn.send_headers(3, fields, end_stream=True, priority_weight=16, priority_depends_on=1)
    c.answers[3] = {"status": 0, "body": b"", "ended": False, "reset": None}
    raw = c.conn.data_to_send()
    assert raw[4] & 0x20  # the PRIORITY flag
    c.proto.data_received(raw)
    c.read()
    assert c.answers[3]["body"] == BODY and c.fast(3)
    block = c.conn.encoder.encode(fields)
    self_dep = (5).to_bytes(4, "big") + b"\x0f"
    c.proto.data_received(_headers_frame(5, self_dep + block, 0x25))
    c.read()
    assert c.goaway == ErrorCodes.PROTOCOL_ERROR  # h2's verdict, as before


def test_a_header_table_size_change_goes_through_the_encoder() -> None:
    c = Client()
    c.first()
    c.conn.update_settings({_S.HEADER_TABLE_SIZE: 0})
    sid = c.get()
    c.send()
    raw = bytes(c.t.out)
    c.read()
    assert c.answers[sid]["body"] == BODY and not c.fast(sid)
    # RFC 7541 §4.2: the first block after the change starts with a size update.
    at = raw.index(b"\x01\x04" + sid.to_bytes(4, "big"))
    assert raw[at + 6] & 0xE0 == 0x20
    nxt = c.get()
    c.send()
    c.read()
    assert c.fast(nxt) and c.answers[nxt]["body"] == BODY


def test_after_goaway_new_streams_are_refused() -> None:
    c = Client()
    c.first()
    c.proto.shutdown(5.0)
    sid = c.get()
    c.send()  # sent before the client has read the GOAWAY
    raw = bytes(c.t.out)
    goaway = (8).to_bytes(3, "big") + b"\x07\x00" + bytes(4) + (1).to_bytes(4, "big")
    assert raw.startswith(goaway + bytes(4))  # last stream 1, NO_ERROR
    rst = (4).to_bytes(3, "big") + b"\x03\x00" + sid.to_bytes(4, "big")
    assert raw[len(goaway) + 4 :] == rst + int(ErrorCodes.REFUSED_STREAM).to_bytes(4, "big")


def test_frames_split_across_reads_are_received_whole() -> None:
    c = Client()
    c.first()
    sids = [c.get() for _ in range(6)]
    data = c.conn.data_to_send()
    for i in range(0, len(data), 7):  # every frame boundary lands somewhere odd
        c.proto.data_received(data[i : i + 7])
    c.read()
    assert all(c.answers[s]["body"] == BODY for s in sids)
    assert c.goaway is None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60), max_size=30))
def test_any_split_gives_the_same_answers(cuts: list[int]) -> None:
    """Requests of every kind (fast, general, malformed, new targets) cut anywhere are
    answered as when they come in one read."""

    def run(split: bool) -> list[tuple[int, bytes, Any]]:
        c = Client()
        c.get()
        c.send()
        c.read()
        sids = [c.get(), c.get("/else"), c.get("/", [(b"Bad", b"1")]), c.get(), c.get("/empty")]
        sids += [c.get("/else"), c.get(authority=b""), c.get()]
        data = c.conn.data_to_send()
        i = 0
        for cut in [*cuts, len(data)] if split else [len(data)]:
            c.proto.data_received(data[i : i + cut])
            i += cut
            if i >= len(data):
                break
        c.read()
        assert c.goaway is None
        return [(c.answers[s]["status"], c.answers[s]["body"], c.answers[s]["reset"]) for s in sids]

    assert run(True) == run(False)
