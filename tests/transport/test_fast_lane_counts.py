"""The fast lane's answers in the metrics: counted by runs per connection (no counter
per answer on that lane), by method and by status, with the slow lane's answers in
between, while the connection is open and after it closes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_protocol import FakeTransport

from frontdesk.config import load_text
from frontdesk.pipeline import build_context
from frontdesk.server.protocol import HttpProtocol


def _config(root: Path) -> str:
    return f"""
[server]
access_log = "off"
[[route]]
name = "fixed"
match = {{ exact = "/fixed" }}
respond = {{ status = 200, body = "fixed" }}
[[route]]
name = "files"
match = {{ path = "/s/" }}
static = {{ root = "{root}" }}
"""


def _counts(snapshot: dict[str, Any]) -> dict[tuple[str, str, int], int]:
    return {(r[0], r[1], r[2]): r[3] for r in snapshot["requests"] if r[3]}


async def _ask(proto: HttpProtocol, t: FakeTransport, raw: bytes) -> tuple[int, dict[bytes, bytes]]:
    """Send one request and wait for the head of its answer (the slow lane needs the
    loop); the heads are read here, bodies aside (a HEAD's answer has none)."""
    before = len(t.out)
    proto.data_received(raw)
    for _ in range(500):
        head, found, _ = bytes(t.out[before:]).partition(b"\r\n\r\n")
        if found:
            lines = head.split(b"\r\n")
            fields = dict(line.lower().split(b": ", 1) for line in lines[1:])
            return int(lines[0][9:12]), fields
        await asyncio.sleep(0.001)
    raise AssertionError(f"no answer to {raw!r}")


async def test_fast_answers_are_counted_by_route_method_and_status(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a" * 100)
    ctx = build_context(load_text(_config(tmp_path), "test.toml"))
    proto, t = HttpProtocol(ctx), FakeTransport()
    proto.connection_made(t)
    get = b"GET /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    status, fields = await _ask(proto, t, get)  # loads the file: the slow lane
    assert status == 200
    etag = fields[b"etag"]
    for _ in range(3):
        assert (await _ask(proto, t, get))[0] == 200
    for _ in range(2):
        assert (await _ask(proto, t, b"HEAD /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 200
    conditional = b"GET /s/a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + b"\r\n\r\n"
    for _ in range(3):
        assert (await _ask(proto, t, conditional))[0] == 304
    for _ in range(2):  # another action: a new run
        assert (await _ask(proto, t, b"GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 200
    # HTTP/1.0 takes the slow lane: the run ends before it is counted there.
    slow = b"GET /fixed HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
    assert (await _ask(proto, t, slow))[0] == 200
    assert (await _ask(proto, t, get))[0] == 200
    assert ctx.actions[1].fast_answers < 9, "every answer was counted one by one"

    expected = {
        ("files", "GET", 2): 5,
        ("files", "HEAD", 2): 2,
        ("files", "GET", 3): 3,
        ("fixed", "GET", 2): 3,
    }
    assert _counts(ctx.metrics_snapshot()) == expected  # the live run included
    proto.connection_lost(None)
    assert _counts(ctx.metrics_snapshot()) == expected  # folded in, not twice
