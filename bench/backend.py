"""The upstream both proxies forward to in the proxy scenarios: as fast as it can be.

    python bench/backend.py [--header "Name: value" ...] PORT [PORT ...]

A ~40-line uvloop + httptools server answering every request with 200 and a 1 KiB
body, keep-alive; `--header` adds a field to every response (the cache scenarios'
`Cache-Control: max-age=3600`). It is the same process for nginx and frontdesk, pinned to its own
core by the harness, so the proxies' cost is what differs.
"""

from __future__ import annotations

import argparse
import asyncio

import httptools
import uvloop

BODY = b"y" * 1024


def make_response(extra: list[str]) -> bytes:
    fields = "".join(f"{line}\r\n" for line in extra).encode("latin-1")
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%bContent-Length: %d\r\n\r\n"
    return head % (fields, len(BODY)) + BODY


class Backend(asyncio.Protocol):
    response = make_response([])
    """The same bytes for every request; main() sets it once from the command line."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
        self.out: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()
            return
        if self.out:
            self.transport.write(b"".join(self.out))  # type: ignore[attr-defined]
            self.out.clear()

    def on_message_complete(self) -> None:
        self.out.append(self.response)


async def main(ports: list[int]) -> None:
    # Several ports (a pool of servers) in one process: the pool scenarios cost the
    # backend the same CPU as the single-server one.
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Backend, "127.0.0.1", port, backlog=4096) for port in ports]
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the proxy scenarios' upstream")
    parser.add_argument("--header", action="append", default=[], help='"Name: value"')
    parser.add_argument("ports", type=int, nargs="+")
    args = parser.parse_args()
    Backend.response = make_response(args.header)
    uvloop.run(main(args.ports))
