"""The httptools floor: the least a uvloop + httptools server can do per request.

    python bench/floor.py -c FRONTDESK.toml

Serves the first route's `respond` answer of a frontdesk config (a fixed-body
scenario's) on its listen address, in one process. Per request it only collects the
header fields, which is the one way httptools shows them (a Python call per field) and
the least any server must do to find Host, then writes the pre-serialised answer. No
Host, framing or version checks, no routing, no access log. The Date line is
re-rendered once a second by a timer, as a server must send one (RFC 9110 §6.6.1).

With --scan it also makes the one check of the fields that every correct server must
make, frontdesk's own scan (exactly one Host, no unseen body framing) and nothing else.

On a `static` route's config it answers 304 Not Modified to everything, with the ETag
and Cache-Control frontdesk's own 304 carries: the floor of a revalidation
(static-1k-inm). On a listener with `tls = true` it speaks TLS through frontdesk's own
record path (frontdesk.tls.transport, the leanest a Python server has found) with the
config's certificate: the floor of HTTPS, where OpenSSL's work is the same for all.

Measured beside nginx and frontdesk in the same interleaved rounds, the two show how
much of the gap to nginx is the parser's own per-field cost, how much the least check
adds, and how much is the rest of frontdesk.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import ssl
import time
import tomllib
from collections.abc import Callable
from typing import Any

import httptools
import uvloop

from frontdesk.server.protocol import FRAMING_FIELDS, ORDINARY_FIELDS
from frontdesk.tls.transport import tls_factory

REFUSED = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Answer:
    """The response bytes, with a Date line that changes once a second."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        lines = [f"HTTP/1.1 {status} {'Not Modified' if status == 304 else 'OK'}"]
        lines.append("Server: floor")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if status != 304:  # RFC 9110 §15.4.5: a 304 has no content
            lines.append(f"Content-Length: {len(body)}")
        self.head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self.body = body
        self.data = b""
        self.closing = b""  # the same with `Connection: close` (RFC 9112 §9.6)

    def refresh(self, loop: asyncio.AbstractEventLoop) -> None:
        date = f"Date: {email.utils.formatdate(time.time(), usegmt=True)}\r\n".encode("ascii")
        self.data = self.head + date + b"\r\n" + self.body
        self.closing = self.head + date + b"Connection: close\r\n\r\n" + self.body
        loop.call_later(1.0, self.refresh, loop)


class Floor(asyncio.Protocol):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.fields: list[tuple[bytes, bytes]] = []
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value))

    def on_message_complete(self) -> None:
        self.fields = []
        self.answer_and_maybe_close()

    def answer_and_maybe_close(self) -> None:
        if self.parser.should_keep_alive():
            self.transport.write(self.answer.data)
        else:  # `Connection: close` (tls-handshake)
            self.transport.write(self.answer.closing)
            self.transport.close()


class CheckedFloor(Floor):
    """The floor plus the scan every correct server makes of a request's fields: exactly
    one Host (RFC 9112 §3.2, in any case), and no field that frames a body unseen. The
    same scan, over the same set of skipped names, as frontdesk's."""

    def on_message_complete(self) -> None:
        fields = self.fields
        self.fields = []
        hosts = 0
        framing = False
        for name, _ in fields:
            if name not in ORDINARY_FIELDS:
                lname = name.lower()
                if lname == b"host":
                    hosts += 1
                elif lname in FRAMING_FIELDS:
                    framing = True
        if hosts != 1 or framing:
            self.transport.write(REFUSED)
            self.transport.close()
        else:
            self.answer_and_maybe_close()


NOT_MODIFIED = Answer(304, {"ETag": '"floor-1k"', "Cache-Control": "public, max-age=60"}, b"")


def _tls_context(config: dict[str, Any]) -> ssl.SSLContext:
    """The listener context frontdesk builds from the same [tls] table."""
    from frontdesk.config.tls import Tls
    from frontdesk.tls.contexts import new_context

    tls = config["tls"]
    context = new_context(Tls.model_validate({"cert": tls["cert"], "key": tls["key"]}))
    context.load_cert_chain(tls["cert"], tls["key"])
    return context


async def serve(
    host: str,
    port: int,
    answer: Answer,
    protocol: type[Floor],
    context: ssl.SSLContext | None,
) -> None:
    loop = asyncio.get_running_loop()
    answer.refresh(loop)
    factory: Callable[[], asyncio.Protocol] = lambda: protocol(answer)  # noqa: E731
    if context is not None:
        factory = tls_factory(factory, context, 10.0)
    server = await loop.create_server(factory, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True, help="a fixed-body frontdesk TOML")
    parser.add_argument(
        "--scan", action="store_true", help="also scan the fields for Host and framing"
    )
    args = parser.parse_args()
    with open(args.config, "rb") as f:
        config = tomllib.load(f)
    listen = config["server"]["listen"][0]
    if isinstance(listen, dict):  # { address = "...", tls = true }
        context = _tls_context(config) if listen.get("tls") else None
        listen = listen["address"]
    else:
        context = None
    host, port = listen.rsplit(":", 1)
    route = config["route"][0]
    if "static" in route:
        answer = NOT_MODIFIED
    else:
        respond = route["respond"]
        answer = Answer(respond["status"], respond.get("headers", {}), respond["body"].encode())
    protocol = CheckedFloor if args.scan else Floor
    uvloop.run(serve(host, int(port), answer, protocol, context))


if __name__ == "__main__":
    main()
