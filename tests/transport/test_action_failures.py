"""An action that raises (a bug) costs its request a 500 and a traceback in the error
log, over HTTP/1.1 and HTTP/2, whichever lane it raised in: respond(), begin(), or the
hot lane (whose request then takes the general path). It never escapes
data_received, which would drop the connection and every request queued on it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_h2fast import Client
from test_protocol import _run_until, connect, make_ctx, responses

from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.server.actions import Action
from frontdesk.server.clock import Clock
from frontdesk.server.connection import Exchange
from frontdesk.server.exchange import ResponseWriter
from frontdesk.server.request import Request
from frontdesk.server.response import FixedResponse


class Broken(Action):
    """respond() raises."""

    def respond(self, req: Request) -> FixedResponse | None:
        raise RuntimeError("respond bug")


class BrokenBegin(Action):
    """A streaming action whose task-free begin() raises."""

    streaming = True

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        raise RuntimeError("begin bug")


class HalfBegin(Action):
    """begin() starts its answer, then raises: the framing is lost."""

    streaming = True

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        out.start(200, [], 10)
        out.write(b"abc")
        raise RuntimeError("half begin bug")


class BrokenHot(Action):
    """The hot lane raises; respond() answers the same request."""

    hot_lane = True

    def __init__(self) -> None:
        self.answer = FixedResponse.build(200, [], b"fine", server="t")

    def hot(self, method, url, path, raw_host, headers, clock: Clock):  # type: ignore[no-untyped-def]
        raise RuntimeError("hot bug")

    def respond(self, req: Request) -> FixedResponse | None:
        return self.answer


ROUTES = [
    ("/broken", Broken()),
    ("/begin", BrokenBegin()),
    ("/half", HalfBegin()),
    ("/hot", BrokenHot()),
]


@pytest.mark.parametrize("path", ["/broken", "/begin"])
async def test_http1_a_raising_action_is_a_500_and_a_log_line(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    proto, t = connect(make_ctx(ROUTES))
    with caplog.at_level(logging.ERROR, logger="frontdesk.error"):
        proto.data_received(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        await _run_until(lambda: t.closed or t.eof)
    [(status, headers, body)] = responses(bytes(t.out))
    assert (status, headers[b"connection"]) == (500, b"close")
    assert b"internal error" in body
    assert any("bug" in (r.exc_text or "") for r in caplog.records)


async def test_http1_a_raising_hot_lane_falls_back_to_the_general_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proto, t = connect(make_ctx(ROUTES))
    with caplog.at_level(logging.ERROR, logger="frontdesk.error"):
        proto.data_received(b"GET /hot HTTP/1.1\r\nHost: a\r\n\r\n" * 2)
    assert [(s, b) for s, _, b in responses(bytes(t.out))] == [(200, b"fine")] * 2
    assert not t.closed
    assert any("hot bug" in (r.exc_text or "") for r in caplog.records)


async def test_http1_an_answer_broken_off_closes_the_connection() -> None:
    """Content-Length promised 10 bytes and 3 came: only closing can tell the client."""
    proto, t = connect(make_ctx(ROUTES))
    proto.data_received(b"GET /half HTTP/1.1\r\nHost: a\r\n\r\n")
    await _run_until(lambda: t.closed or t.eof)
    assert bytes(t.out).startswith(b"HTTP/1.1 200") and bytes(t.out).endswith(b"abc")


async def test_http1_requests_before_the_failure_are_answered() -> None:
    proto, t = connect(make_ctx(ROUTES))
    proto.data_received(
        b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /broken HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    await _run_until(lambda: t.closed or t.eof)
    assert [(s, b) for s, _, b in responses(bytes(t.out))][0] == (200, b"fixed")
    assert [s for s, _, _ in responses(bytes(t.out))] == [200, 500]


@pytest.mark.parametrize("path", ["/broken", "/begin"])
async def test_http2_a_raising_action_is_a_500_on_its_stream_only(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    c = Client()
    entries = [(Matcher.build(exact=p), a) for p, a in ROUTES]
    c.proto.routes = RouteTable([*entries, *c.proto.routes._entries])
    c.proto.catch_all = None
    c.first()
    with caplog.at_level(logging.ERROR, logger="frontdesk.error"):
        bad = c.get(path)
        good = c.get("/")
        c.send()
        for _ in range(5):
            await asyncio.sleep(0)
        c.read()
    assert c.answers[bad]["status"] == 500 and c.answers[bad]["ended"]
    assert c.answers[good]["status"] == 200 and c.answers[good]["ended"]
    assert c.goaway is None
    assert any("bug" in (r.exc_text or "") for r in caplog.records)
