"""Instructions per request, counted by callgrind: a figure a noisy machine cannot move.

    .venv/bin/python bench/instructions.py CONFIG PATH [-H "Name: value" ...]
                     [-X METHOD] [--src DIR] [--requests N]

Builds a worker's context from CONFIG in this process, connects one HttpProtocol to a
fake transport and feeds it the same keep-alive request (`GET PATH`, or -X's method, Host
and the -H fields) over and over, as wrk would, but without sockets: what is counted is the
server's own work per request in user space (parser callbacks, routing, the action, the
fast lane), not the kernel's. The first three requests warm up (a proxied route fetches
from its backend once, so a cache route is then answered from the cache).

A plain proxy route's backend is reached over a real socket in the warm-up; with
`--replay`, its answer to the last warm-up request is recorded, the pooled connection's
socket is swapped for a fake one, and each request is then followed by that answer
fed to the connection: the count is the proxy's own work on both sides, without the
loop, the sockets or the backend.

The process runs twice under `valgrind --tool=callgrind`, with N and 5N requests; the
difference divided by 4N is the figure, so start-up and imports cancel out. `--src` runs
another checkout's `src` (PYTHONPATH) to compare two versions on the same request.
Timings on this 2-core VM drift by ±10% between runs; this count repeats within about
±1%, so it can tell a 300-instruction change apart (about 1% of a cache hit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from callgrind import per_request


class _Transport:
    """Accepts writes and answers what the protocol asks of a transport."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 80)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...


async def _feed(config: str, request: bytes, n: int, replay: bool, timed: bool) -> None:
    import gc

    from frontdesk.config.load import load_file
    from frontdesk.pipeline import build_context
    from frontdesk.proxy.connection import UpstreamConnection
    from frontdesk.server.protocol import HttpProtocol

    heard: list[bytes] = []
    if replay:
        received = UpstreamConnection.data_received

        def recording(self: UpstreamConnection, data: bytes) -> None:
            heard.append(data)
            received(self, data)

        UpstreamConnection.data_received = recording  # type: ignore[method-assign]
    proto = HttpProtocol(build_context(load_file(config)))
    transport = _Transport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    for _ in range(3):
        heard.clear()
        before = transport.writes
        proto.data_received(request)
        for _ in range(500):  # the slow lane and a backend fetch need the loop
            if transport.writes > before:
                break
            await asyncio.sleep(0.01)
        else:
            sys.exit(f"no answer to {request!r}")
    one = proto.data_received
    if replay:
        UpstreamConnection.data_received = received  # type: ignore[method-assign]
        conns = [o for o in gc.get_objects() if isinstance(o, UpstreamConnection)]
        if len(conns) != 1 or not heard:
            sys.exit("--replay: the route must proxy to one backend, without a cache")
        conn, answer = conns[0], b"".join(heard)
        conn.transport.pause_reading()  # the real socket stays open, unread
        conn.transport = _Transport()

        def one(request: bytes) -> None:
            proto.data_received(request)
            conn.data_received(answer)
            conn.requests = 0  # never retired by the pool's keepalive_requests

    gc.disable()
    began = time.perf_counter()
    for _ in range(n):
        one(request)
    took = time.perf_counter() - began
    if transport.writes < n:
        sys.exit("some requests were not answered")
    if timed:
        print(f"{took / n * 1e6:.2f} µs per request (wall, {n} requests, no sockets)")
        sys.stdout.flush()
    os._exit(0)  # no teardown in the count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("path")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("-X", "--method", default="GET", help="GET (default), HEAD...")
    parser.add_argument("--src", help="a checkout's src directory to run instead")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--replay", action="store_true", help="a proxy route: replay its backend's answer"
    )
    parser.add_argument(
        "--time", action="store_true", help="time N requests here instead (µs, noisier)"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fields = "".join(f"{h}\r\n" for h in args.header)
    request = f"{args.method} {args.path} HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n".encode()
    if args.child is not None or args.time:
        import uvloop

        n = args.child if args.child is not None else args.requests
        uvloop.run(_feed(args.config, request, n, args.replay, args.time))
        return
    child = [args.config, args.path, "-X", args.method]
    if args.replay:
        child.append("--replay")
    for field in args.header:
        child += ["-H", field]
    count = per_request(__file__, child, args.requests, args.src)
    print(f"{count:.0f} instructions per request")


if __name__ == "__main__":
    main()
