"""Real-socket test: many concurrent keep-alive connections on one worker."""

from __future__ import annotations

import asyncio
import time

CONNECTIONS = 500
REQUESTS = 3

ROUTES = """
[[route]]
match = { regex = "^/c/[0-9]+$" }
respond = { body = "pong" }
"""


async def _client(port: int, n: int, opened: asyncio.Event, counter: list[int]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    counter[0] += 1
    if counter[0] == CONNECTIONS:
        opened.set()
    await opened.wait()  # every connection is open before any request is sent
    bodies = []
    try:
        for i in range(REQUESTS):
            writer.write(b"GET /c/%d HTTP/1.1\r\nHost: x\r\nX-Req: %d\r\n\r\n" % (n, i))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert b"connection: close" not in head.lower()
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            bodies.append(await reader.readexactly(length))
    finally:
        writer.close()
    return bodies


async def _run(port: int) -> list[list[bytes]]:
    opened = asyncio.Event()
    counter = [0]
    tasks = [_client(port, n, opened, counter) for n in range(CONNECTIONS)]
    return await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)


def test_many_concurrent_keep_alive_connections(server):
    srv = server(ROUTES, backlog=1024)
    start = time.monotonic()
    results = asyncio.run(_run(srv.port))
    elapsed = time.monotonic() - start
    assert len(results) == CONNECTIONS
    assert all(bodies == [b"pong"] * REQUESTS for bodies in results)
    assert elapsed < 20, elapsed
    assert srv.proc.poll() is None


def test_connections_over_max_connections_wait_in_backlog(server):
    """Config docs: "Most open client connections per worker; more wait in the listen
    backlog." So the connection over the limit is served once another one closes,
    rather than being accepted and dropped."""
    srv = server(ROUTES, max_connections=2)
    time.sleep(0.3)  # the readiness probe's connection is gone
    first, second = srv.connect(), srv.connect()
    try:
        request = b"GET /c/1 HTTP/1.1\r\nHost: x\r\n\r\n"
        assert first.exchange(request).body == b"pong"
        assert second.exchange(request).body == b"pong"
        with srv.connect() as third:
            third.send(request)
            time.sleep(0.3)
            first.close()
            assert third.read_response(timeout=3.0).body == b"pong"
    finally:
        first.close()
        second.close()
