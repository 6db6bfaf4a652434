"""Real-socket tests: header (slowloris), keep-alive idle and body timeouts.

The worker checks deadlines on a 0.5 s tick, so a timeout fires up to about a tick
late (or, measured from the client, a tick early); SLACK covers that and scheduling.
"""

from __future__ import annotations

import select
import time

import pytest

TIMEOUT = 1.0
SLACK = 1.5

ROUTES = """
[[route]]
match = { exact = "/ok" }
respond = { body = "ok" }
"""


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(
        ROUTES,
        header_timeout=f"{TIMEOUT}s",
        keepalive_timeout=f"{TIMEOUT}s",
        body_timeout=f"{TIMEOUT}s",
    )


def readable(sock, wait: float) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def test_rfc9110_15_5_9_slowloris_gets_408_within_header_timeout(srv):
    with srv.connect() as c:
        start = time.monotonic()
        c.send(b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answered_at = None
        while time.monotonic() - start < TIMEOUT + SLACK + 1.0:
            if readable(c.sock, 0.3):
                answered_at = time.monotonic()
                break
            try:
                c.send(b"a")  # a byte every 0.3 s: each read is "progress"
            except (BrokenPipeError, ConnectionResetError):
                break
        assert answered_at is not None, "no answer to a head that never ends"
        elapsed = answered_at - start
        assert TIMEOUT - 0.6 <= elapsed <= TIMEOUT + SLACK, elapsed
        resp = c.read_response()
        assert resp.status == 408
        assert resp.closes
        assert resp.body.startswith(b"408 ")
        assert c.closed_within(3.0)


def test_silent_connection_closed_after_header_timeout(srv):
    with srv.connect() as c:
        start = time.monotonic()
        data = c.read_until_close(timeout=TIMEOUT + SLACK + 1.0)
        elapsed = time.monotonic() - start
    assert TIMEOUT - 0.6 <= elapsed <= TIMEOUT + SLACK, elapsed
    # Closing silently or with a 408 are both fine; anything else is not.
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data


def test_slow_but_complete_head_within_header_timeout_is_served(srv):
    head = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    with srv.connect() as c:
        for i in range(0, len(head), 8):
            c.send(head[i : i + 8])
            time.sleep(0.05)
        assert c.read_response().body == b"ok"


def test_rfc9112_9_5_idle_keep_alive_closed_after_keepalive_timeout(srv):
    with srv.connect() as c:
        assert c.exchange(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
        start = time.monotonic()
        assert c.closed_within(TIMEOUT + SLACK)
        elapsed = time.monotonic() - start
    assert elapsed >= TIMEOUT - 0.6, f"closed after {elapsed:.2f}s, keepalive_timeout is {TIMEOUT}s"


def test_keep_alive_survives_gaps_shorter_than_the_timeout(srv):
    with srv.connect() as c:
        for _ in range(4):
            assert c.exchange(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
            time.sleep(0.3)


@pytest.mark.parametrize(
    "framing, partial",
    [
        (b"Content-Length: 10\r\n", b"abc"),
        (b"Transfer-Encoding: chunked\r\n", b"5\r\nab"),
        (b"Transfer-Encoding: chunked\r\n", b""),
    ],
    ids=["content-length", "chunked-mid-chunk", "chunked-no-chunk"],
)
def test_rfc9110_15_5_9_stalled_body_gets_408_after_body_timeout(srv, framing, partial):
    with srv.connect() as c:
        c.send(b"POST /ok HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + partial)
        start = time.monotonic()
        assert readable(c.sock, TIMEOUT + SLACK + 1.0), "no answer to a stalled body"
        elapsed = time.monotonic() - start
        assert TIMEOUT - 0.6 <= elapsed <= TIMEOUT + SLACK, elapsed
        resp = c.read_response()
        assert resp.status == 408 and resp.closes
        assert c.closed_within(3.0)


def test_body_trickling_faster_than_body_timeout_is_served(srv):
    """body_timeout is the longest gap between reads, not a limit on the whole body."""
    with srv.connect() as c:
        c.send(b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):  # 8 × 0.3 s: longer than body_timeout in total
            time.sleep(0.3)
            c.send(b"b")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"ok"
        assert c.exchange(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").status == 200


def test_rfc9112_9_6_keepalive_timeout_zero_sends_connection_close(server):
    """keepalive_timeout = 0 disables keep-alive (config docs); RFC 9112 §9.6: a server
    that does not keep connections MUST send "close" in every response."""
    srv = server(ROUTES, keepalive_timeout=0)
    with srv.connect() as c:
        c.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        got = c.responses_until_close(timeout=3.0)
    assert len(got) == 1, [r.raw_head for r in got]
    assert got[0].status == 200 and got[0].closes
