"""A cold file is stat'ed, opened and read in a thread: a slow disk never stalls
the other connections of the worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from test_protocol import connect, responses

import frontdesk.static.action as static_action
from frontdesk.config import load_text
from frontdesk.pipeline import build_context


async def test_slow_disk_does_not_block_other_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("file")
    real_load = static_action.load

    def slow_load(*args: object) -> object:
        time.sleep(0.5)  # a cold NFS lookup, a spun-down disk
        return real_load(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(static_action, "load", slow_load)
    ctx = build_context(
        load_text(
            f'[server]\naccess_log = "off"\n'
            f'[[route]]\nmatch = {{ exact = "/fixed" }}\nrespond = {{ body = "fixed" }}\n'
            f'[[route]]\nmatch = {{ path = "/s/" }}\nstatic = {{ root = "{tmp_path}" }}\n',
            "t.toml",
        )
    )
    slow, t1 = connect(ctx)
    fast, t2 = connect(ctx)
    slow.data_received(b"GET /s/a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    fast.data_received(b"GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [r[2] for r in responses(bytes(t2.out))] == [b"fixed"]
    assert time.monotonic() - started < 0.1
    assert t1.out == b""  # still loading, in its thread
    for _ in range(100):
        if t1.out:
            break
        await asyncio.sleep(0.02)
    assert [r[2] for r in responses(bytes(t1.out))] == [b"file"]
