"""HTTP/2's fast receive path (server/h2fast.py) and fast lane (H2Dispatch.fresh_request),
driven through a fake transport with the `h2` library as the client: what the path
takes (body-less HEADERS on new streams) is answered exactly as `h2` would have it
answered, and everything it must not take (flow control that does not fit, resets,
the concurrency limit, malformed or out-of-order frames, GOAWAY) still behaves as
RFC 9113 says."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from h2.errors import ErrorCodes
from h2.stream import StreamClosedBy
from test_protocol import FakeTransport, StreamAction

from frontdesk.config import load_text
from frontdesk.http.routing import Matcher, RouteTable
from frontdesk.pipeline import build_context
from frontdesk.server.h2conn import H2Protocol

BODY = b"x" * 1024
CONFIG = f"""
[server]
access_log = "{{log}}"
[http2]
max_concurrent_streams = 8
[[route]]
name = "fixed"
match = {{ exact = "/" }}
respond = {{ status = 200, body = "{BODY.decode()}", headers = {{ Content-Type = "text/plain" }} }}
[[route]]
name = "empty"
match = {{ exact = "/empty" }}
respond = {{ status = 204 }}
[[route]]
name = "files"
match = {{ path = "/s/" }}
static = {{ root = "{{root}}", compress = false }}
[[route]]
name = "other"
match = {{ path = "/" }}
respond = {{ status = 200, body = "other" }}
"""
_S = h2.settings.SettingCodes


class Client:
    """The client's end of one H2Protocol: requests are queued with `get` and sent in
    one read with `send`; `read` parses what the server wrote."""

    def __init__(self, log: str = "off", window: int | None = None, **kw: Any) -> None:
        root = str(kw.get("root", tempfile.gettempdir()))
        text = CONFIG.replace("{log}", log).replace("{root}", root)
        cfg = load_text(text, "test.toml")
        self.ctx = build_context(cfg)
        routes = self.ctx.routes
        self.hold = asyncio.Event()
        if kw.get("slow"):
            slow = StreamAction(self._slow)
            slow.label = "slow"
            entries = [(Matcher.build(exact="/slow"), slow), *routes._entries]
            routes = RouteTable(entries)
        self.proto = H2Protocol(self.ctx, cfg.http2, True, routes, kw.get("hsts"))
        self.t = FakeTransport()
        self.proto.connection_made(self.t)
        self.h2_seen: set[int] = set()  # the streams whose HEADERS h2 received
        receive_event = self.proto._event

        def spy(event: Any) -> None:
            if isinstance(event, h2.events.RequestReceived):
                self.h2_seen.add(event.stream_id)
            receive_event(event)

        self.proto._event = spy  # type: ignore[method-assign]
        self.general: set[int] = set()  # the streams that took the general path (a Request)
        general = self.proto.request

        def spy_request(sid: int, *args: Any, **kw: Any) -> None:
            self.general.add(sid)
            general(sid, *args, **kw)

        self.proto.request = spy_request  # type: ignore[method-assign]
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False,
        )  # fmt: skip
        self.conn = h2.connection.H2Connection(config)
        if window is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=True, initial_values={_S.INITIAL_WINDOW_SIZE: window}
            )
        self.conn.initiate_connection()
        self.answers: dict[int, dict[str, Any]] = {}
        self.goaway: int | None = None
        self.ack = True
        self.send()
        self.read()

    async def _slow(self, req: Any, body: Any, out: Any) -> None:
        await self.hold.wait()
        out.start(200, [(b"content-type", b"text/plain")], 4)
        out.write(b"slow")

    def first(self) -> int:
        """The connection's first request: `h2` receives it (the preface, SETTINGS)."""
        sid = self.get()
        self.send()
        self.read()
        return sid

    def get(
        self, path: str = "/", fields: list[tuple[bytes, bytes]] | None = None,
        authority: bytes = b"a.test",
    ) -> int:  # fmt: skip
        sid = self.conn.get_next_available_stream_id()
        base = [(b":method", b"GET"), (b":path", path.encode()), (b":scheme", b"https")]
        if authority:
            base.append((b":authority", authority))
        self.conn.send_headers(sid, base + (fields or []), end_stream=True)
        self.answers[sid] = {"status": 0, "body": b"", "ended": False, "reset": None}
        return sid

    def send(self, extra: bytes = b"") -> None:
        self.proto.data_received(self.conn.data_to_send() + extra)

    def read(self) -> None:
        data = bytes(self.t.out)
        self.t.out.clear()
        for event in self.conn.receive_data(data):
            sid = getattr(event, "stream_id", 0)
            a = self.answers.get(sid)
            if isinstance(event, h2.events.ResponseReceived) and a is not None:
                a["headers"] = dict(event.headers)
                a["status"] = int(a["headers"][b":status"])
            elif isinstance(event, h2.events.DataReceived) and a is not None:
                a["body"] += event.data
                if self.ack:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, h2.events.StreamEnded) and a is not None:
                a["ended"] = True
            elif isinstance(event, h2.events.StreamReset) and a is not None:
                a["reset"] = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event.error_code
                if event.error_code == 0:  # graceful: answers may follow (h2_helpers.py)
                    self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        back = self.conn.data_to_send()  # acknowledgements, WINDOW_UPDATEs
        if back:
            self.proto.data_received(back)
            self.read()

    def fast(self, sid: int) -> bool:
        """Whether the server answered `sid` without `h2` ever holding its stream."""
        conn = self.proto._h2
        return (
            sid not in self.h2_seen
            and sid not in conn.streams
            and conn._closed_streams.get(sid) is StreamClosedBy.SEND_END_STREAM
        )

    def lane(self, sid: int) -> bool:
        """Whether `sid` was answered by the fast lane: without `h2`, and no Request."""
        return self.fast(sid) and sid not in self.general


def test_repeated_gets_to_a_fixed_answer_take_the_fast_lane() -> None:
    c = Client()
    first = c.get()  # the first request on a connection is h2's (the preface, SETTINGS)
    c.send()
    c.read()
    sids = [c.get() for _ in range(3)] + [c.get("/empty"), c.get("/else")]
    c.send()
    c.read()
    for sid in [first, *sids]:
        assert c.answers[sid]["ended"] and c.answers[sid]["reset"] is None
    for sid in [first, *sids[:3]]:
        a = c.answers[sid]
        assert (a["status"], a["body"]) == (200, BODY)
        h = a["headers"]
        assert h[b"content-length"] == b"1024" and h[b"content-type"] == b"text/plain"
        assert h[b"server"] == b"frontdesk" and b"date" in h
    assert (c.answers[sids[3]]["status"], c.answers[sids[3]]["body"]) == (204, b"")
    assert c.answers[sids[4]]["body"] == b"other"
    assert not c.fast(first)
    assert all(c.lane(sid) for sid in sids[:3])
    # A target seen for the first time is parsed on the general path (and remembered),
    # whose whole answers from memory still go out without h2.
    assert not c.lane(sids[3]) and not c.lane(sids[4])
    assert c.fast(sids[3]) and c.fast(sids[4])
    again = [c.get("/empty"), c.get("/else")]
    c.send()
    c.read()
    assert all(c.lane(sid) and c.answers[sid]["ended"] for sid in again)
    assert c.answers[again[0]]["status"] == 204 and c.answers[again[1]]["body"] == b"other"
    assert c.proto._h2.highest_inbound_stream_id == again[-1]
    assert not c.proto.streams and not c.t.closed


def test_fast_answers_are_counted_by_runs_in_the_metrics() -> None:
    c = Client(slow=True)
    c.get()
    c.send()
    for _ in range(3):
        c.get()
    c.get("/else")  # another action: a new run
    c.get("/else")
    c.get()
    c.send()
    c.read()
    assert c.ctx.requests_served() == 7

    def counts() -> dict[tuple[str, str, int], int]:
        return {(r[0], r[1], r[2]): r[3] for r in c.ctx.metrics_snapshot()["requests"] if r[3]}

    expected = {("fixed", "GET", 2): 5, ("other", "GET", 2): 2}
    assert counts() == expected  # the connection's current run included
    c.proto.connection_lost(None)
    assert counts() == expected and c.ctx.requests == 7  # folded in once, not twice


def test_an_access_log_turns_the_fast_lane_off(tmp_path: Any) -> None:
    c = Client(log=str(tmp_path / "access.log"))
    sids = [c.get() for _ in range(3)]
    c.send()
    c.read()
    assert [c.answers[s]["body"] for s in sids] == [BODY] * 3
    assert c.ctx.requests == 3  # each logged, none by runs
    assert c.proto.run_action is None


def test_a_window_too_small_for_the_body_falls_back_and_waits() -> None:
    c = Client(window=100)  # every stream's send window: 100 bytes
    c.first()
    sids = [c.get() for _ in range(3)]
    c.send()
    c.read()
    for sid in sids:
        assert not c.fast(sid)
        assert c.answers[sid]["ended"] and c.answers[sid]["body"] == BODY
    # The acknowledgements reopened the windows 100 bytes at a time: the client's h2
    # raises FlowControlError on any frame beyond a window, so none was.


def test_the_connection_window_is_charged_and_respected() -> None:
    c = Client()
    c.ack = False  # the client reads but never opens the connection window again
    c.first()
    sids = [c.get() for _ in range(3)]
    c.send()
    c.read()
    assert all(c.fast(s) for s in sids)
    assert c.proto._h2.outbound_flow_control_window == 65535 - 4 * 1024
    # 60 more fill the rest of the connection's 65,535-byte window and then some.
    more = []
    for _ in range(15):
        more += [c.get() for _ in range(4)]
        c.send()
        c.read()
    done = [s for s in more if c.answers[s]["ended"]]
    assert len(done) == 59  # 63 whole bodies fit 65,535 bytes
    assert c.proto._h2.outbound_flow_control_window >= 0
    c.ack = True
    c.conn.increment_flow_control_window(65535)
    c.send()
    c.read()
    assert all(c.answers[s]["ended"] and c.answers[s]["body"] == BODY for s in more)


def test_client_reset_of_an_answered_stream_is_ignored() -> None:
    c = Client()
    c.first()
    sid = c.get()
    c.conn.reset_stream(sid, ErrorCodes.CANCEL)
    c.send()  # HEADERS and RST_STREAM in one read: answered before the reset is seen
    nxt = c.get()
    c.send()
    c.read()
    assert c.fast(nxt) and c.answers[nxt]["body"] == BODY
    assert c.goaway is None and not c.t.closed


async def test_streaming_actions_are_handed_to_h2_and_can_be_reset() -> None:
    c = Client(slow=True)
    c.first()
    a = c.get("/slow")
    b = c.get("/slow")
    c.send()
    await asyncio.sleep(0)
    assert set(c.proto.streams) == {a, b}
    assert a in c.proto._h2.streams  # adopted: h2 holds the stream, half-closed (remote)
    c.conn.reset_stream(a, ErrorCodes.CANCEL)
    c.send()
    assert set(c.proto.streams) == {b}
    c.hold.set()
    for _ in range(10):
        await asyncio.sleep(0)
    c.read()
    assert c.answers[b]["ended"] and c.answers[b]["body"] == b"slow"
    assert not c.answers[a]["ended"] and c.answers[a]["body"] == b""
    assert not c.proto.streams


async def test_the_concurrency_limit_still_holds() -> None:
    c = Client(slow=True)  # max_concurrent_streams = 8
    c.get()
    c.send()
    c.read()
    held = [c.get("/slow") for _ in range(8)]
    c.send()
    assert len(c.proto.streams) == 8
    # A ninth, ignoring our SETTINGS (the client's h2 would not send it: raw frame).
    block = c.conn.encoder.encode([(b":method", b"GET"), (b":path", b"/"),
                                   (b":scheme", b"https"), (b":authority", b"a.test")])  # fmt: skip
    c.proto.data_received(_headers_frame(19, block))
    c.read()
    assert c.goaway == ErrorCodes.PROTOCOL_ERROR and c.t.closed  # as h2 has it
    assert not any(c.answers[s]["ended"] for s in held)


def test_malformed_requests_reset_their_stream_only() -> None:
    c = Client()
    c.first()
    bad = c.get("/", [(b"Upper", b"x")])  # §8.2.1: field names are lower case
    conn_specific = c.get("/", [(b"connection", b"keep-alive")])
    ok = c.get()
    c.send()
    c.read()
    assert c.answers[bad]["reset"] == ErrorCodes.PROTOCOL_ERROR
    assert c.answers[conn_specific]["reset"] == ErrorCodes.PROTOCOL_ERROR
    assert c.answers[ok]["body"] == BODY and c.goaway is None


def test_new_authorities_and_paths_go_the_general_way_first() -> None:
    c = Client()
    c.first()
    new = c.get("/?q=1", authority=b"b.test")
    c.send()
    c.read()
    assert c.answers[new]["body"] == BODY and not c.lane(new)  # parsed, then remembered
    again = c.get("/?q=1", authority=b"b.test")
    c.send()
    c.read()
    assert c.answers[again]["body"] == BODY and c.lane(again)


def test_missing_authority_is_400_on_the_general_path() -> None:
    c = Client()
    c.first()
    sid = c.get(authority=b"")
    c.send()
    c.read()
    assert c.answers[sid]["status"] == 400 and not c.lane(sid) and c.fast(sid)


def _headers_frame(sid: int, block: bytes, flags: int = 0x05) -> bytes:
    return len(block).to_bytes(3, "big") + bytes((1, flags)) + sid.to_bytes(4, "big") + block


def test_hsts_and_a_new_date_reach_fast_answers() -> None:
    c = Client(hsts={"*": b"max-age=60"})
    c.first()
    sid = c.get()
    c.send()
    c.read()
    assert c.fast(sid)
    assert c.answers[sid]["headers"][b"strict-transport-security"] == b"max-age=60"
    date = c.answers[sid]["headers"][b"date"]
    c.proto.clock.date_line = b"Date: Thu, 01 Jan 2099 00:00:00 GMT\r\n"
    sid = c.get()
    c.send()
    c.read()
    assert c.fast(sid) and c.answers[sid]["headers"][b"date"] != date
    assert c.answers[sid]["headers"][b"date"] == b"Thu, 01 Jan 2099 00:00:00 GMT"


async def test_static_files_small_from_memory_large_through_h2(tmp_path: Any) -> None:
    small, large = b"s" * 1000, bytes(range(256)) * 400  # 102,400 bytes
    (tmp_path / "small.txt").write_bytes(small)
    (tmp_path / "large.bin").write_bytes(large)
    c = Client(root=tmp_path)
    c.first()

    async def fetch(path: str) -> dict[str, Any]:
        sid = c.get(path)
        c.send()
        for _ in range(200):
            c.read()
            if c.answers[sid]["ended"]:
                break
            await asyncio.sleep(0.01)
        assert c.answers[sid]["ended"] and c.answers[sid]["reset"] is None
        return c.answers[sid] | {"fast": c.fast(sid), "sid": sid}

    for _ in range(3):  # the first reads the file (a thread), then from memory
        a = await fetch("/s/small.txt")
        assert (a["status"], a["body"]) == (200, small)
        assert a["headers"][b"content-length"] == b"1000" and b"etag" in a["headers"]
    assert a["fast"]  # a whole answer from memory: written without h2
    b = await fetch("/s/large.bin")
    assert b["body"] == large and not b["fast"]  # streamed: h2 held the stream
    assert not c.proto.streams and c.goaway is None
