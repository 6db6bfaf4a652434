"""The connection Protocol driven by a fake transport: no sockets, exact bytes.

Streaming actions (what static files and the proxy plug in as) are exercised here
with small test actions: bodies reach the action chunk by chunk, 100-continue is
sent only when the action reads, pipelined requests wait their turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.config import load_text
from frontdesk.pipeline import build_context
from frontdesk.server.actions import Action
from frontdesk.server.context import WorkerContext
from frontdesk.server.exchange import BodyReader, ResponseWriter
from frontdesk.server.protocol import ORDINARY_FIELDS, HttpProtocol
from frontdesk.server.request import Request

CONFIG = """
[server]
access_log = "off"
max_body_size = "64KB"
[[route]]
match = { exact = "/fixed" }
respond = { status = 200, body = "fixed", headers = { "Content-Type" = "text/plain" } }
[[route]]
match = { path = "/" }
respond = { status = 200, body = "other" }
"""


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.eof = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "write after close"
        self.out += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default


StreamFn = Callable[[Request, BodyReader | None, ResponseWriter], Awaitable[None]]


class StreamAction(Action):
    streaming = True

    def __init__(self, fn: StreamFn) -> None:
        self.fn = fn

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        await self.fn(req, body, out)


def make_ctx(routes: list[tuple[str, Action]] | None = None) -> WorkerContext:
    ctx = build_context(load_text(CONFIG, "test.toml"))
    if routes:
        from frontdesk.http.routing import Matcher, RouteTable

        entries = [(Matcher.build(exact=path), action) for path, action in routes]
        ctx.routes = RouteTable([*entries, *ctx.routes._entries])
    return ctx


def connect(ctx: WorkerContext) -> tuple[HttpProtocol, FakeTransport]:
    proto = HttpProtocol(ctx)
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport


def responses(raw: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Parse every response in `raw` with h11 as an independent client parser."""
    out = []
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(raw)
    while True:
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return out
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status, headers = event.status_code, {k: v for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                out.append((status, headers, body))
                break
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return out
        conn.start_next_cycle()


def test_fixed_response_bytes() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n")
    [(status, headers, body)] = responses(bytes(t.out))
    assert (status, body) == (200, b"fixed")
    assert headers[b"content-length"] == b"5"
    assert b"date" in headers and headers[b"server"] == b"frontdesk"
    assert not t.closed


def test_rfc9112_9_3_2_pipelined_answers_in_order_in_one_write() -> None:
    proto, t = connect(make_ctx())
    writes: list[bytes] = []
    t.write = lambda data: writes.append(bytes(data))  # type: ignore[method-assign]
    proto.data_received(
        b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"
        b"HEAD /fixed HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    assert len(writes) == 1  # batched: one send for the whole pipeline
    raw = writes[0]
    assert raw.index(b"fixed") < raw.index(b"other")
    assert raw.count(b"HTTP/1.1 200") == 3
    assert raw.endswith(b"\r\n\r\n")  # HEAD: headers only


def test_byte_by_byte_request() -> None:
    proto, t = connect(make_ctx())
    for byte in b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n":
        proto.data_received(bytes([byte]))
    assert [r[2] for r in responses(bytes(t.out))] == [b"fixed"]


def test_connection_close_closes_after_response_with_linger() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert b"Connection: close" in t.out
    assert t.eof  # FIN after the response; reads are drained until the peer closes
    proto.eof_received()
    assert t.closed


def test_http10_keep_alive_echoed() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: keep-alive" in t.out
    assert not t.eof


def test_body_to_fixed_route_is_drained_not_buffered() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
    assert t.out == b""  # answered once the body has been read
    proto.data_received(b"67890GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [r[2] for r in responses(bytes(t.out))] == [b"fixed", b"other"]


def test_body_over_limit_is_413_and_closes() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: 999999\r\n\r\n")
    assert t.out.startswith(b"HTTP/1.1 413 ")
    assert t.eof


async def _run_until(cond: Callable[[], bool], steps: int = 200) -> None:
    for _ in range(steps):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize(
    "body_bytes",
    [
        b"Content-Length: 11\r\n\r\nhello world",
        b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_streaming_action_gets_body_in_chunks(body_bytes: bytes) -> None:
    seen: list[bytes] = []

    async def echo(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        assert body is not None
        async for chunk in body:
            seen.append(chunk)
        data = b"".join(seen)
        out.start(200, [(b"Content-Type", b"text/plain")], len(data))
        out.write(data)

    proto, t = connect(make_ctx([("/echo", StreamAction(echo))]))
    proto.data_received(b"POST /echo HTTP/1.1\r\nHost: a\r\n" + body_bytes)
    await _run_until(lambda: b"hello world" in t.out)
    [(status, _, body)] = responses(bytes(t.out))
    assert (status, body) == (200, b"hello world")


async def test_rfc9110_10_1_1_continue_sent_only_when_action_reads() -> None:
    started = asyncio.Event()
    proceed = asyncio.Event()

    async def reader(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        started.set()
        await proceed.wait()
        assert body is not None
        data = b"".join([c async for c in body])
        out.start(200, [], len(data))
        out.write(data)

    proto, t = connect(make_ctx([("/up", StreamAction(reader))]))
    proto.data_received(
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    )
    await started.wait()
    assert t.out == b""  # nothing invited yet
    proceed.set()
    await _run_until(lambda: b"100 Continue" in t.out)
    proto.data_received(b"abc")
    await _run_until(lambda: t.out.endswith(b"abc"))
    assert t.out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")


async def test_pipelined_requests_wait_behind_a_streaming_answer() -> None:
    release = asyncio.Event()

    async def slow(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        await release.wait()
        out.start(200, [], 4)
        out.write(b"slow")

    proto, t = connect(make_ctx([("/slow", StreamAction(slow))]))
    proto.data_received(
        b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fixed HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    await asyncio.sleep(0)
    assert t.out == b""  # the fixed answer must not overtake the slow one
    assert not t.reading  # and no more requests are read meanwhile
    release.set()
    await _run_until(lambda: t.out.count(b"HTTP/1.1 200") == 3)
    assert [r[2] for r in responses(bytes(t.out))] == [b"slow", b"fixed", b"slow"]
    assert t.reading


async def test_chunked_response_when_length_unknown() -> None:
    async def gen(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        out.start(200, [])
        out.write(b"ab")
        await out.drain()
        out.write(b"cd")

    proto, t = connect(make_ctx([("/gen", StreamAction(gen))]))
    proto.data_received(b"GET /gen HTTP/1.1\r\nHost: a\r\n\r\n")
    await _run_until(lambda: t.out.endswith(b"0\r\n\r\n"))
    assert b"Transfer-Encoding: chunked" in t.out
    assert [r[2] for r in responses(bytes(t.out))] == [b"abcd"]


async def test_action_exception_gives_500_and_closes() -> None:
    async def broken(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        raise RuntimeError("bug")

    proto, t = connect(make_ctx([("/broken", StreamAction(broken))]))
    proto.data_received(b"GET /broken HTTP/1.1\r\nHost: a\r\n\r\n")
    await _run_until(lambda: bool(t.out))
    assert t.out.startswith(b"HTTP/1.1 500 ")
    assert b"bug" not in t.out  # no internals in the body
    assert t.eof or t.closed


async def test_backpressure_pauses_reading_when_action_lags() -> None:
    gate = asyncio.Event()

    async def lagging(req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        await gate.wait()
        assert body is not None
        total = 0
        async for chunk in body:
            total += len(chunk)
        out.start(200, [], len(str(total)))
        out.write(str(total).encode())

    ctx = make_ctx([("/lag", StreamAction(lagging))])
    ctx.limits = type(ctx.limits)(max_body_size=0)
    proto, t = connect(ctx)
    size = 1024 * 1024
    proto.data_received(b"POST /lag HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
    for _ in range(size // 65536):
        proto.data_received(b"x" * 65536)
    assert not t.reading  # buffered past the high-water mark: the socket is paused
    gate.set()
    await _run_until(lambda: t.out.endswith(str(size).encode()))
    assert t.reading


@pytest.mark.parametrize(
    "pieces",
    [
        # The second request of a read is not at its start: its version is asked of
        # the parser, not read off the bytes where the first request's line was.
        [b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /fixed HTTP/1.0\r\nHost: a\r\n\r\n"],
        # The same target and method twice, the 1.0 one split across reads.
        [b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /fixed HT", b"TP/1.0\r\nHost: a\r\n\r\n"],
        # An empty line before the request line (RFC 9112 §2.2) shifts the line.
        [b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n", b"\r\nGET /fixed HTTP/1.0\r\n\r\n"],
    ],
)
def test_version_of_each_pipelined_request_is_its_own(pieces: list[bytes]) -> None:
    proto, t = connect(make_ctx())
    for piece in pieces:
        proto.data_received(piece)
    out = bytes(t.out)
    assert out.count(b"HTTP/1.1 200 OK") == 2
    # The HTTP/1.0 request without keep-alive ends the connection after its answer.
    assert out.endswith(b"fixed") and b"Connection: close" in out.split(b"fixed")[1]
    assert t.eof


def test_version_of_a_request_begun_in_an_earlier_read() -> None:
    # Found by the fuzzer: the second request began in the first read, and its head ends
    # at the first byte of the next, whose own request line has " HTTP/1.1\r\n" just
    # where the second's version would be were its line at that read's start. Taken for
    # HTTP/1.1, the HTTP/1.0 request without Host was answered 400.
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /ab HTTP/1.0\r\n\r")
    proto.data_received(b"\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n")
    out = bytes(t.out)
    assert out.count(b"HTTP/1.1 200 OK") == 2 and b"400" not in out
    assert out.endswith(b"other") and b"Connection: close" in out.split(b"fixed")[1]


def test_version_read_off_a_split_request_line() -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.")
    proto.data_received(b"0\r\n\r\n")
    assert t.out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in t.out


# The fields the server interprets are found in any case (RFC 9110 §5.1: field names
# are case-insensitive), also past the set of common names the head scan skips.
INTERPRETED = (b"host", b"content-length", b"transfer-encoding", b"expect", b"upgrade")


def test_no_interpreted_field_is_skipped_as_ordinary() -> None:
    assert not {name.lower() for name in ORDINARY_FIELDS} & set(INTERPRETED)


def any_case(name: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(
        *(st.sampled_from(sorted({bytes([c]).lower(), bytes([c]).upper()})) for c in name)
    ).map(b"".join)


@given(first=any_case(b"host"), second=any_case(b"host"))
def test_rfc9112_3_2_a_second_host_in_any_case_is_400(first: bytes, second: bytes) -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"GET /fixed HTTP/1.1\r\n" + first + b": a\r\n" + second + b": b\r\n\r\n")
    assert t.out.startswith(b"HTTP/1.1 400 ")


@given(name=any_case(b"content-length"))
def test_content_length_in_any_case_frames_the_body(name: bytes) -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"POST /fixed HTTP/1.1\r\nHost: a\r\n" + name + b": 19\r\n\r\n")
    proto.data_received(b"GET /x HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    # The first 19 bytes were the body, not a request: two answers, not three.
    assert [r[2] for r in responses(bytes(t.out))] == [b"fixed", b"other"]


@given(name=any_case(b"transfer-encoding"))
def test_unknown_transfer_coding_in_any_case_is_501(name: bytes) -> None:
    proto, t = connect(make_ctx())
    proto.data_received(b"POST /fixed HTTP/1.1\r\nHost: a\r\n" + name + b": gzip, chunked\r\n\r\n")
    assert t.out.startswith(b"HTTP/1.1 501 ")


@given(name=any_case(b"expect"))
def test_rfc9110_10_1_1_unknown_expectation_in_any_case_is_417(name: bytes) -> None:
    proto, t = connect(make_ctx())
    proto.data_received(
        b"POST /fixed HTTP/1.1\r\nHost: a\r\n" + name + b": x\r\nContent-Length: 1\r\n\r\n"
    )
    assert t.out.startswith(b"HTTP/1.1 417 ")
