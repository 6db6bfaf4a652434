"""An action that answers from memory or, per request, streams (respond() → None):
the protocol runs stream() for those, in order with the answers around them."""

from __future__ import annotations

import asyncio

from test_protocol import _run_until, connect, make_ctx, responses

from frontdesk.server.actions import Action
from frontdesk.server.clock import Clock
from frontdesk.server.exchange import BodyReader, ResponseWriter
from frontdesk.server.request import Request
from frontdesk.server.response import FixedResponse


class Sometimes(Action):
    """/mem answered from memory (also in the hot lane), /disk streamed."""

    hot_lane = True

    def __init__(self) -> None:
        self.memory = FixedResponse.build(200, [], b"mem", server="t")
        self.streamed = 0
        self.hot_calls = 0

    def hot(self, method, url, path, raw_host, headers, clock: Clock):  # type: ignore[no-untyped-def]
        self.hot_calls += 1
        return self.memory.rendered(clock.date_line) if path == "/mem" else None

    def respond(self, req: Request) -> FixedResponse | None:
        return self.memory if req.path == "/mem" else None

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        self.streamed += 1
        for _ in range(3):  # a few loop turns, as a thread hop would take
            await asyncio.sleep(0)
        out.start(200, [], 4)
        out.write(b"disk")


async def test_respond_none_streams_and_keeps_order() -> None:
    action = Sometimes()
    ctx = make_ctx([("/mem", action), ("/disk", action)])
    proto, t = connect(ctx)
    proto.data_received(
        b"GET /disk HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /mem HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /disk HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    await _run_until(lambda: bytes(t.out).count(b"HTTP/1.1 200") == 4 and t.out.endswith(b"fixed"))
    assert [r[2] for r in responses(bytes(t.out))] == [b"disk", b"mem", b"disk", b"fixed"]
    assert action.streamed == 2
    assert not t.closed
    # The connection is reusable afterwards, and a lone /mem takes the hot lane.
    t.out.clear()
    before = action.hot_calls
    proto.data_received(b"GET /mem HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [r[2] for r in responses(bytes(t.out))] == [b"mem"]
    assert action.hot_calls == before + 1


async def test_respond_none_with_connection_close() -> None:
    action = Sometimes()
    proto, t = connect(make_ctx([("/disk", action)]))
    proto.data_received(b"GET /disk HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    await _run_until(lambda: t.eof)
    [(status, headers, body)] = responses(bytes(t.out))
    assert (status, body, headers[b"connection"]) == (200, b"disk", b"close")
