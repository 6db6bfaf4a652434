"""10,000 idle keep-alive connections on one worker: memory stays bounded, all still work."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from proc_helpers import Server, config_text, free_port

CONNECTIONS = 10_000
RSS_LIMIT_MB = 200
REQUEST = b"GET /cap HTTP/1.1\r\nHost: capacity\r\n\r\n"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        assert name.lower() != "connection", line  # the connection must stay open
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _run(port: int, worker: int) -> tuple[float, float, float]:
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    gate = asyncio.Semaphore(256)  # connects in flight at once: stay under the backlog

    async def open_one() -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conns.append((reader, writer))
            assert await _exchange(reader, writer) == 200

    t0 = time.monotonic()
    try:
        await asyncio.gather(*(open_one() for _ in range(CONNECTIONS)))
        opened = time.monotonic() - t0
        assert len(conns) == CONNECTIONS
        await asyncio.sleep(1.0)  # let the worker settle (access log, tick)
        rss = _rss_mb(worker)
        t1 = time.monotonic()
        statuses = await asyncio.gather(*(_exchange(r, w) for r, w in conns))
        again = time.monotonic() - t1
        assert statuses == [200] * CONNECTIONS
        return rss, opened, again
    finally:
        for _, w in conns:
            w.close()
        await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)


@pytest.mark.slow
def test_ten_thousand_idle_keepalive_connections(serve: Callable[..., Server]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = CONNECTIONS + 1000
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    # Raised before the server starts, so the master and its worker inherit it.
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        port = free_port()
        extra = 'keepalive_timeout = "120s"\nheader_timeout = "60s"\nbacklog = 4096'
        srv = serve(config_text(port, workers=1, extra_server=extra), port)
        (worker,) = srv.wait_workers(1)
        baseline = _rss_mb(worker)
        rss, opened, again = asyncio.run(asyncio.wait_for(_run(port, worker), 90))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print(
        f"\n{CONNECTIONS} idle keep-alive connections: worker VmRSS {rss:.1f} MB "
        f"(idle worker {baseline:.1f} MB, {(rss - baseline) * 1024 / CONNECTIONS:.1f} KB each); "
        f"opened in {opened:.1f}s, second round in {again:.1f}s"
    )
    assert rss < RSS_LIMIT_MB
    assert srv.proc.poll() is None
