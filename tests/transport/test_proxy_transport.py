"""The proxy's task-free path driven by fake transports on both sides: exact bytes.

A kept-alive upstream connection (fake transport) is put in the pool by hand; the
client side is the real HttpProtocol. The backend's answer is fed in arbitrary
pieces, so the parser callbacks are exercised at every split point.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocol import FakeTransport, responses

from frontdesk.config import load_text
from frontdesk.pipeline import build_context
from frontdesk.proxy.connection import UpstreamConnection
from frontdesk.server.context import WorkerContext
from frontdesk.server.protocol import HttpProtocol

CONFIG = """
[server]
access_log = "off"
[[route]]
proxy = { pool = "app" }
[pool.app]
servers = ["127.0.0.1:9"]
"""

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-App: 1\r\n\r\nhello"


def setup() -> tuple[WorkerContext, HttpProtocol, FakeTransport, UpstreamConnection, FakeTransport]:
    ctx = build_context(load_text(CONFIG, "t.toml"))
    pool = ctx.upstream_pools["app"]
    backend = pool.backends[0]
    up = UpstreamConnection(backend, ctx.clock, pool.via, pool._closed)
    up_t = FakeTransport()
    up.connection_made(up_t)
    pool.connections.add(up)
    backend.open += 1
    backend.idle.append(up)
    client = HttpProtocol(ctx)
    client_t = FakeTransport()
    client.connection_made(client_t)
    return ctx, client, client_t, up, up_t


def test_request_sent_and_response_relayed_without_a_task() -> None:
    ctx, client, client_t, up, up_t = setup()
    client.data_received(b"GET /a?b HTTP/1.1\r\nHost: site\r\n\r\n")
    head = bytes(up_t.out)
    assert head.startswith(b"GET /a?b HTTP/1.1\r\nHost: site\r\n")
    assert b"\r\nVia: 1.1 frontdesk\r\n" in head and head.endswith(b"\r\n\r\n")
    assert client._active is up  # no Task: the upstream connection runs the exchange
    up.data_received(RESPONSE)
    [(status, headers, body)] = responses(bytes(client_t.out))
    assert (status, body) == (200, b"hello")
    assert headers[b"x-app"] == b"1" and headers[b"via"] == b"1.1 frontdesk"
    assert client._active is None and ctx.upstream_pools["app"].backends[0].idle[-1] is up


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(RESPONSE) * 2 - 1), max_size=6))
def test_response_split_anywhere(cuts: list[int]) -> None:
    _, client, client_t, up, _ = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    data = b"HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + RESPONSE
    points = sorted({c for c in cuts if c < len(data)})
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        up.data_received(data[start:end])
    [(status, _, body)] = responses(bytes(client_t.out))
    assert (status, body) == (200, b"hello")  # the 103 is not forwarded
    assert b"103" not in bytes(client_t.out)


def test_response_to_head_has_no_body_and_the_connection_is_reused() -> None:
    _, client, client_t, up, up_t = setup()
    client.data_received(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    out = bytes(client_t.out)
    assert b"Content-Length: 1000\r\n" in out and out.endswith(b"\r\n\r\n")
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert client._active is up and up_t.out.count(b"HTTP/1.1\r\n") == 2
    up.data_received(RESPONSE)
    assert bytes(client_t.out).endswith(b"hello")


def test_bytes_after_a_complete_response_mean_no_reuse() -> None:
    ctx, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(RESPONSE + b"JUNK")
    assert bytes(client_t.out).endswith(b"hello")
    assert up_t.closed and not ctx.upstream_pools["app"].backends[0].idle


def test_slow_client_pauses_the_backend() -> None:
    _, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    client.pause_writing()  # the client's buffer went above its high-water mark
    assert not up_t.reading
    client.resume_writing()
    assert up_t.reading


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b"NOT HTTP\r\n\r\n", 502),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 502),  # not asked for
    ],
)
def test_invalid_responses_give_502_and_close_the_connection(reply: bytes, status: int) -> None:
    _, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(reply)
    [(got, _, body)] = responses(bytes(client_t.out))
    assert got == status and b"invalid response from backend" in body
    assert up_t.closed


def test_client_gone_aborts_the_upstream_exchange() -> None:
    ctx, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    client.connection_lost(None)
    assert up_t.closed and up not in ctx.upstream_pools["app"].connections


def test_runaway_response_headers_give_502() -> None:
    _, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(b"HTTP/1.1 200 OK\r\n")
    for i in range(300):
        up.data_received(b"X-Field-%d: v\r\n" % i)
    [(status, _, _)] = responses(bytes(client_t.out))
    assert status == 502 and up_t.closed


def test_runaway_response_head_bytes_give_502() -> None:
    _, client, client_t, up, up_t = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up.data_received(b"HTTP/1.1 200 OK\r\nX-Long: ")
    for _ in range(20):
        if up_t.closed:
            break
        up.data_received(b"v" * 8192)
    [(status, _, _)] = responses(bytes(client_t.out))
    assert status == 502 and up_t.closed


def test_large_body_in_the_same_read_as_the_head_is_fine() -> None:
    _, client, client_t, up, _ = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    body = b"z" * 200_000
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
    [(status, _, got)] = responses(bytes(client_t.out))
    assert status == 200 and got == body
