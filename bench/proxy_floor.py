"""The proxy floor: the least a uvloop + httptools reverse proxy can do per request.

    python bench/proxy_floor.py -c FRONTDESK.toml

Proxies the listen address of a frontdesk config (a proxy scenario's) to the first
server of its first pool, in one process, over kept-alive upstream connections (one
per client connection in flight, opened on demand and reused). Per request it collects
the request's fields (the one way httptools shows them), writes the request line and
those fields, plus X-Forwarded-For, to an idle upstream connection, collects the
response's fields and body, and writes the status line, the fields less the hop-by-hop
Connection / Keep-Alive, and the body to the client. No checks, no timeouts, no
balancing, no Via, no access log: bodiless GETs to one origin that answers with a
Content-Length, as the proxy scenarios send.

Measured beside nginx and frontdesk in the same rounds (the "floor" server of
proxy-1k-nginx-origin), it shows how much of frontdesk's gap to nginx is what any
Python proxy on uvloop and httptools pays here, and how much is frontdesk's own.
"""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from typing import Any

import httptools
import uvloop

_HOP = frozenset({b"connection", b"keep-alive"})


class Upstream(asyncio.Protocol):
    """One kept-alive connection to the origin."""

    def __init__(self, idle: list[Upstream]) -> None:
        self.idle = idle
        self.client: Client | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.fields: list[bytes] = []
        self.body: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.idle:
            self.idle.remove(self)
        if self.client is not None:
            self.client.transport.close()

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in _HOP:
            self.fields += (name, b": ", value, b"\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        head = b"HTTP/1.1 %d OK\r\n" % self.parser.get_status_code()
        data = b"".join([head, *self.fields, b"\r\n", *self.body])
        self.fields = []
        self.body = []
        self.idle.append(self)
        if client is not None:
            client.transport.write(data)


class Client(asyncio.Protocol):
    """One client connection."""

    def __init__(self, origin: tuple[str, int], idle: list[Upstream]) -> None:
        self.origin = origin
        self.idle = idle
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.fields: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.forwarded = f"X-Forwarded-For: {peer[0]}\r\n\r\n".encode("ascii")

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields += (name, b": ", value, b"\r\n")

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        data = b"".join([method, b" ", self.url, b" HTTP/1.1\r\n", *self.fields, self.forwarded])
        self.fields = []
        if self.idle:
            upstream = self.idle.pop()
            upstream.client = self
            upstream.transport.write(data)
        else:
            asyncio.ensure_future(self._connect(data))

    async def _connect(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(lambda: Upstream(self.idle), *self.origin)
        upstream.client = self
        upstream.transport.write(data)


async def serve(host: str, port: int, origin: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    idle: list[Upstream] = []
    server = await loop.create_server(lambda: Client(origin, idle), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True, help="a proxy scenario's TOML")
    args = parser.parse_args()
    with open(args.config, "rb") as f:
        config = tomllib.load(f)
    host, port = config["server"]["listen"][0].rsplit(":", 1)
    pool = config["route"][0]["proxy"]["pool"]
    origin_host, origin_port = config["pool"][pool]["servers"][0].rsplit(":", 1)
    uvloop.run(serve(host, int(port), (origin_host, int(origin_port))))


if __name__ == "__main__":
    main()
