"""master/health.py: one check against small in-process servers on 127.0.0.1, each
scripted as the bytes it answers; and a round over a pool (`check_once`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from frontdesk.config.model import Config
from frontdesk.config.proxy import Health
from frontdesk.master.health import HealthChecker, check_request, probe
from frontdesk.master.pools import MasterPool, PoolStates

Answer = Callable[[bytes], bytes | None]  # request bytes -> what to send (None: hang)


@pytest.fixture
async def backend() -> AsyncIterator[Callable[[Answer], asyncio.Future[int]]]:
    servers: list[asyncio.AbstractServer] = []
    writers: list[asyncio.StreamWriter] = []
    requests: list[bytes] = []

    async def start(answer: Answer) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            request = await reader.readuntil(b"\r\n\r\n")
            requests.append(request)
            reply = answer(request)
            if reply is None:
                await asyncio.sleep(30)
            else:
                writer.write(reply)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    start.requests = requests  # type: ignore[attr-defined]
    yield start  # type: ignore[misc]
    for s in servers:
        s.close()
    for w in writers:
        w.close()
    await asyncio.sleep(0)  # let the transports finish closing


def health(**keys: object) -> Health:
    keys.setdefault("path", "/healthz")
    keys.setdefault("timeout", "0.3s")
    return Health.model_validate(keys)


def reply(status: int, body: bytes = b"ok", framing: str = "length") -> bytes:
    head = f"HTTP/1.1 {status} X\r\n"
    if framing == "length":
        head += f"Content-Length: {len(body)}\r\n"
    elif framing == "chunked":
        head += "Transfer-Encoding: chunked\r\n"
        body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    return head.encode() + b"\r\n" + body


def test_the_check_request() -> None:
    assert check_request("HEAD", "/healthz", b"[::1]:9001") == (
        b"HEAD /healthz HTTP/1.1\r\nHost: [::1]:9001\r\n"
        b"User-Agent: frontdesk-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("answer", "keys", "passed", "detail"),
    [
        (reply(200), {}, True, "status 200"),
        (reply(204, b""), {}, True, "status 204"),
        (reply(302), {}, True, "status 302"),
        (reply(503), {}, False, "status 503"),
        (reply(200), {"expect_status": "201"}, False, "status 200"),
        (reply(200, b"all ok", "chunked"), {"expect_body": "ok"}, True, "status 200"),
        (reply(200, b"sick"), {"expect_body": "ok"}, False, "status 200, body without 'ok'"),
        (reply(200, b"ok until close", "close"), {"expect_body": "close"}, True, "status 200"),
        (b"NOT HTTP AT ALL\r\n\r\n", {}, False, "invalid response"),
        (b"", {}, False, "closed before a response"),
        (None, {}, False, "no answer in 0.3s"),
    ],
)
async def test_probe_verdicts(backend, answer, keys, passed, detail) -> None:
    port = await backend(lambda request: answer)
    verdict = await probe(("127.0.0.1", port), b"127.0.0.1:%d" % port, health(**keys))
    assert (verdict.passed, verdict.detail) == (passed, detail)


async def test_head_stops_at_the_end_of_the_head(backend) -> None:
    # Content-Length of a GET's body but none sent (RFC 9110 §9.3.2): no wait for it.
    port = await backend(lambda request: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    verdict = await probe(("127.0.0.1", port), b"h", health(method="HEAD", timeout="2s"))
    assert verdict.passed
    assert backend.requests[0].startswith(b"HEAD /healthz HTTP/1.1\r\nHost: h\r\n")


async def test_refused_connection_fails() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    verdict = await probe(("127.0.0.1", port), b"h", health())
    assert not verdict.passed and verdict.detail.startswith("connect failed")


async def test_a_round_records_flips_and_reports_them_once(backend) -> None:
    good = await backend(lambda request: reply(200))
    bad = await backend(lambda request: reply(500))
    config = Config.model_validate(
        {
            "route": [{"proxy": {"pool": "p"}}],
            "pool": {
                "p": {
                    "servers": [f"127.0.0.1:{good}", f"127.0.0.1:{bad}"],
                    "health": {"path": "/healthz", "fall": 2, "rise": 1},
                }
            },
        }
    )
    (pool,) = PoolStates(config)
    changed: list[MasterPool] = []
    passes: list[tuple[float, list[str]]] = []
    checker = HealthChecker(changed.append, lambda p, since, ids: passes.append((since, ids)))
    before = time.monotonic()
    await checker.check_once(pool)
    assert changed == []  # one failure of two
    ((since, passed),) = passes
    assert passed == [f"127.0.0.1:{good}"] and before <= since <= time.monotonic()
    await checker.check_once(pool)
    assert changed == [pool]
    states = {m["id"]: m["up"] for m in pool.balance.to_wire()["members"]}
    assert states == {f"127.0.0.1:{good}": True, f"127.0.0.1:{bad}": False}
    await checker.check_once(pool)
    assert changed == [pool]  # still down: nothing new to send
