"""The parser/router fuzzer (tests/fuzz/fuzz_requests.py) in small: a few hundred cases
in every test run, plus regressions for what the full runs found."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from frontdesk.config import load_text
from frontdesk.pipeline import build_context
from frontdesk.server.protocol import HttpProtocol


def _load_fuzzer() -> ModuleType:
    path = Path(__file__).parent.parent / "fuzz" / "fuzz_requests.py"
    spec = importlib.util.spec_from_file_location("fuzz_requests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_requests"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzzer()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fuzz_smoke(seed: int) -> None:
    stats = fuzz.run_sync(600, seed)  # ~250-300 cases per seed
    assert stats.cases >= 200
    assert stats.failures == [], "\n".join(stats.failures)
    assert set(stats.statuses) <= fuzz.EXPECTED_STATUSES
    assert stats.responses > stats.cases / 2


def _feed(chunks: list[bytes], warm: list[bytes] | None = None) -> bytes:
    """Run `warm` on one connection, then `chunks` on a new one; return what the second wrote."""

    async def go() -> bytes:
        ctx = build_context(load_text(fuzz.CONFIG, "fuzz.toml"))
        loop = asyncio.get_running_loop()
        out = b""
        for stream in (warm or [], chunks):
            proto = HttpProtocol(ctx)
            transport = fuzz.FakeTransport(loop, proto)
            proto.connection_made(transport)
            for chunk in stream:
                proto.data_received(chunk)
            out = b"".join(transport.writes)
            proto.connection_lost(None)
        return out

    return asyncio.run(go())


def test_fake_transport_sees_a_plain_exchange() -> None:
    out = _feed([b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"])
    (resp,) = fuzz.parse_responses(out, [False])
    assert (resp.status, resp.body) == (200, b"ok")


def test_upgrade_request_followed_by_a_closing_request() -> None:
    """Regression: an ignored Upgrade is answered and the connection closed; the bytes
    after its head are never parsed (they may be a body, or the new protocol)."""
    out = _feed(
        [
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            b"GET / HTTP/1.0\r\n\r\n"
        ]
    )
    responses = fuzz.parse_responses(out, [False, False])
    assert [r.status for r in responses] == [404]
    assert b"Connection: close" in out


def test_connect_is_refused_even_when_its_target_is_cached() -> None:
    """Regression: CONNECT was refused only while its target was not cached."""
    warm = [b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"]
    out = _feed([b"CONNECT /healthz HTTP/1.1\r\nHost: a\r\n\r\n"], warm)
    (resp,) = fuzz.parse_responses(out, [False])
    assert resp.status in (400, 405)
