"""HTTP/2 work per request, in process: instructions (callgrind) or a cProfile.

    .venv/bin/python bench/h2instructions.py CONFIG [PATH] [--streams 16]
                     [--requests N] [--src DIR] [--profile]

The HTTP/2 counterpart of bench/instructions.py. Builds a worker's context from CONFIG
in this process, connects one H2Protocol (as a TLS listener makes it after ALPN "h2")
to a fake transport, and feeds it what h2load -m STREAMS sends: batches of STREAMS
HEADERS frames (GET PATH, END_STREAM; HPACK with indexing, so from the second batch
on each block is a few table references), one batch per data_received, plus the
WINDOW_UPDATE a client sends for the DATA it has read (none here: h2load's windows
are 2**30 - 1). What is counted is frontdesk's
and the `h2` library's work per request in user space, not TLS nor the kernel.

Default: the process runs twice under `valgrind --tool=callgrind`, with N and 5N
requests; the difference divided by 4N is the figure. `--profile` instead runs 5N
requests under cProfile and prints the functions by own and cumulative time; `--time`
prints their wall-clock time per request (noisy; for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from callgrind import per_request
from instructions import _Transport


class _Client:
    """h2load's side of the connection: the preface and SETTINGS made by the `h2`
    library as a client, then HEADERS frames built here (frame header + HPACK block),
    so that the client's own work stays out of the count. As nghttp2 does, the first
    request's fields are added to the HPACK dynamic table; every later block is the
    same few table references."""

    FIELDS = [
        (b":method", b"GET"),
        (b":path", b"/"),
        (b":scheme", b"https"),
        (b":authority", b"127.0.0.1:8443"),
        (b"user-agent", b"h2load nghttp2/1.52.0"),
    ]

    def __init__(self, path: str, streams: int) -> None:
        import h2.config
        import h2.connection
        from hpack import Encoder

        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.local_settings.initial_window_size = 2**30 - 1  # as h2load -w 30
        conn.initiate_connection()
        conn.increment_flow_control_window(2**30 - 1 - 65535)  # -W 30
        self._preface = conn.data_to_send()
        fields = [(n, path.encode() if n == b":path" else v) for n, v in self.FIELDS]
        encoder = Encoder()
        self.first = encoder.encode(fields)
        self.block = encoder.encode(fields)
        self.streams = streams
        self.next_id = 1
        self.sent = 0

    def preface(self) -> bytes:
        return self._preface

    def batch(self) -> bytes:
        """STREAMS requests in one read, as h2load writes them."""
        out = []
        for _ in range(self.streams):
            block = self.first if self.next_id == 1 else self.block
            head = len(block).to_bytes(3, "big") + b"\x01\x05" + self.next_id.to_bytes(4, "big")
            out.append(head + block)
            self.next_id += 2
        self.sent += self.streams
        return b"".join(out)


async def _feed(config: str, path: str, streams: int, n: int, profile: bool, timed: bool) -> None:
    import gc

    from frontdesk.config.load import load_file
    from frontdesk.pipeline import build_context
    from frontdesk.server.h2conn import H2Protocol

    cfg = load_file(config)
    ctx = build_context(cfg)
    proto = H2Protocol(ctx, cfg.http2, True, ctx.routes)
    transport = _Transport()
    client = _Client(path, streams)
    proto.connection_made(transport)  # type: ignore[arg-type]
    proto.data_received(client.preface())

    batches = max(1, n // streams)
    warm = [client.batch() for _ in range(3)]
    work = [client.batch() for _ in range(batches)]

    def run(inputs: list[bytes]) -> None:
        for data in inputs:
            proto.data_received(data)

    for data in warm:  # a static file is read in a thread the first time: the loop runs
        before = transport.writes
        proto.data_received(data)
        for _ in range(500):
            if transport.writes > before and not proto.streams:
                break
            await asyncio.sleep(0.01)
        else:
            sys.exit(f"no answer to {path}")
    before = transport.writes
    gc.disable()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run(work)
        prof.disable()
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        stats.print_callees("data_received")
    else:
        began = time.perf_counter()
        run(work)
        if timed:
            took = time.perf_counter() - began
            print(f"{took / (batches * streams) * 1e6:.1f} us per request (wall clock)")
    if transport.writes - before != batches or proto.closed:
        sys.exit("some requests were not answered")
    os._exit(0)  # no teardown in the count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("path", nargs="?", default="/")
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--src", help="a checkout's src directory to run instead")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--time", action="store_true", help="wall-clock time per request")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None or args.profile or args.time:
        import uvloop

        n = args.child if args.child is not None else 5 * args.requests
        feed = _feed(args.config, args.path, args.streams, n, args.profile, args.time)
        uvloop.run(feed)
        return
    child = [args.config, args.path, "--streams", str(args.streams)]
    count = per_request(__file__, child, args.requests, args.src)
    print(f"{count:.0f} instructions per request")


if __name__ == "__main__":
    main()
