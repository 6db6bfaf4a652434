"""A scriptable HTTP/1.1 backend for the proxy tests, run as its own process.

    python backends.py --port P [--name NAME]         HTTP on 127.0.0.1:P
    python backends.py --unix PATH [--name NAME]      HTTP on a unix socket
    python backends.py --port P --websocket           WebSocket echo (the `websockets` package)

Written on asyncio streams and independent of frontdesk's code. The path says what
to do (see `handle`): echo the request as JSON, stream N bytes, sleep, close
mid-response, send garbage, answer 100-continue, send trailers. It prints "ready" on
stdout once it listens.

A whole backend can be made to misbehave, for the load-balancing tests: the request
`/_mode?set=MODE` (sent to the backend directly) switches every later request, whatever
its path, to MODE: "ok" (as described), "fail" (answer 500), "hang" (never answer),
"close" (close the connection without an answer) or "drop" (the same, counted, as a
server killed mid-request).
`/_health?set=STATE` does the same for `/healthz` alone (the active checks' path):
"ok" (200 "ok"), "fail" (503), "sick" (200 "sick") or "hang".
`/hold` answers only once `/_release` has been requested (directly): a request that
stays in flight exactly as long as a test needs, with no clock involved.

SIGTERM stops it as servers such as uvicorn do: the listener closes (new connections
are refused), connections waiting for a request are closed, requests being answered
finish (their connections close after the answer), then the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import sys
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024
BLOCK = bytes(range(256)) * (CHUNK // 256)

NAME = "backend"
CONNECTIONS = 0
IDLE_CLOSE: float | None = None  # close a keep-alive connection idle this long
STATS: dict[str, int] = {}  # "GET /echo" → requests seen; "aborted" → responses cut off
MODE = "ok"  # see the module docstring
OPEN: set[asyncio.StreamWriter] = set()  # every connection, for a graceful stop
IDLE: set[asyncio.StreamWriter] = set()  # those waiting for a request (head)
STOPPING = False  # SIGTERM received
HEALTH = "ok"  # what /healthz answers; see the module docstring
RELEASED = asyncio.Event()  # set by /_release: every /hold request answers


def count(key: str) -> None:
    STATS[key] = STATS.get(key, 0) + 1


class Req:
    def __init__(self, method: str, target: str, version: str, headers: list[tuple[str, str]]):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        url = urlsplit(target)
        self.path = url.path
        self.query = {k: v[0] for k, v in parse_qs(url.query).items()}

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


async def read_head(reader: asyncio.StreamReader) -> Req | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw[:-4].decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    return Req(method, target, version, headers)


async def body_chunks(reader: asyncio.StreamReader, req: Req, trailers: list):
    """Yield the request body as it arrives (Content-Length or chunked)."""
    length = req.header("content-length")
    if length is not None:
        left = int(length)
        while left:
            data = await reader.read(min(left, CHUNK))
            if not data:
                count("aborted upload")
                raise ConnectionError("body cut short")
            left -= len(data)
            yield data
    elif (req.header("transfer-encoding") or "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while True:
                    line = await reader.readuntil(b"\r\n")
                    if line == b"\r\n":
                        return
                    name, _, value = line.decode("latin-1").partition(":")
                    trailers.append((name, value.strip()))
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data


def head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def respond(writer, req: Req, status: int, body: bytes, extra=()) -> None:
    headers = [("Content-Length", str(len(body))), ("X-Backend", NAME), *extra]
    if status in (204, 304):
        headers = headers[1:]
        body = b""
    writer.write(head(status, headers) + (b"" if req.method == "HEAD" else body))
    await writer.drain()


async def cacheable(writer, req: Req, q: dict[str, str]) -> None:
    """/c/NAME?cc=..&etag=..&lm=..&status=..&sleep=..&vary=..&h=Name:Value&body=..: an
    origin for the cache tests. The body says how many times NAME was asked for, so a
    test can tell a cached answer from a fresh one; If-None-Match is honoured."""
    n = STATS[f"{req.method} {req.path}"]
    if "sleep" in q:
        await asyncio.sleep(float(q["sleep"]))
    extra: list[tuple[str, str]] = []
    for key, name in (
        ("cc", "Cache-Control"),
        ("etag", "ETag"),
        ("lm", "Last-Modified"),
        ("vary", "Vary"),
        ("expires", "Expires"),
    ):
        if key in q:
            extra.append((name, q[key]))
    if "h" in q:
        name, _, value = q["h"].partition(":")
        extra.append((name, value))
    etag = q.get("etag")
    inm = req.header("if-none-match")
    if etag and inm and etag in [t.strip() for t in inm.split(",")]:
        count(f"304 {req.path}")
        await respond(writer, req, 304, b"", extra)
        return
    body = q.get("body", f"{req.path} #{n}").encode()
    if "size" in q:  # a large body: the count first, then filler
        body = (body + b"." * int(q["size"]))[: int(q["size"])]
    await respond(writer, req, int(q.get("status", "200")), body, extra)


async def handle(reader, writer, req: Req, conn_id: int, n: int) -> bool:
    """Answer one request; False closes the connection."""
    global MODE, HEALTH
    path = req.path
    q = req.query
    count(f"{req.method} {path}")
    if path == "/stats":
        await respond(writer, req, 200, json.dumps(STATS).encode())
        return True
    if path == "/_mode":
        MODE = q["set"]
        await respond(writer, req, 200, MODE.encode())
        return True
    if path == "/_health":
        HEALTH = q["set"]
        await respond(writer, req, 200, HEALTH.encode())
        return True
    if path == "/_release":
        RELEASED.set()
        await respond(writer, req, 200, b"released")
        return True
    if path == "/healthz":
        if HEALTH == "hang":
            await asyncio.sleep(3600)
        status, body = {"fail": (503, b"failing"), "sick": (200, b"sick")}.get(HEALTH, (200, b"ok"))
        await respond(writer, req, status, body)
        return True
    if MODE == "close":
        return False  # close every connection without an answer (an origin going down)
    if MODE == "fail":
        await respond(writer, req, 500, b"failing")
        return True
    if MODE == "drop":
        count(f"dropped {req.method} {path}")
        return False
    if MODE == "hang":
        await asyncio.sleep(3600)
    if path.startswith("/raw-upgrade"):
        # 101, then echo raw bytes in upper case until EOF; then say bye and close.
        writer.write(head(101, [("Upgrade", "echo"), ("Connection", "Upgrade")]))
        await writer.drain()
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.write(b"BYE")
        await writer.drain()
        return False
    if path.startswith("/close-before"):
        return False  # close with no answer at all
    if path.startswith("/garbage"):
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        return "keep" in q  # keep: the connection stays open, as if it were usable
    if path.startswith("/continue"):
        if req.header("expect") and q.get("refuse"):
            await respond(writer, req, 417, b"no thanks")
            return False
        if req.header("expect"):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    trailers: list[tuple[str, str]] = []
    digest = hashlib.sha256()
    received = 0
    async for chunk in body_chunks(reader, req, trailers):
        received += len(chunk)
        digest.update(chunk)
        if "slow_read" in q:
            await asyncio.sleep(float(q["slow_read"]))
    if path.startswith("/sleep/"):
        await asyncio.sleep(float(path.split("/")[2]))
    if path == "/hold":
        await RELEASED.wait()
    if path.startswith("/bytes/"):
        n = int(path.split("/")[2])
        chunked = "chunked" in q
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n))
        writer.write(head(200, [framing, ("X-Backend", NAME)]))
        if req.method == "HEAD":
            return True
        left = n
        try:
            while left:
                piece = BLOCK[: min(left, CHUNK)]
                left -= len(piece)
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                await writer.drain()
        except ConnectionError:
            count("aborted")
            raise
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
    if path.startswith("/close-mid"):
        writer.write(head(200, [("Content-Length", "100000")]) + b"x" * 1000)
        await writer.drain()
        return False
    if path.startswith("/trailers"):
        writer.write(head(200, [("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")]))
        writer.write(b"5\r\nhello\r\n0\r\nX-Checksum: abc123\r\n\r\n")
        await writer.drain()
        return True
    if path.startswith("/many-fields"):
        # ?n=N fields in the head, or (&trailers) in the trailer section.
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(int(q.get("n", "300"))))
        if "trailers" in q:
            writer.write(head(200, [("Transfer-Encoding", "chunked")]))
            writer.write(b"2\r\nok\r\n0\r\n" + fields + b"\r\n")
        else:
            writer.write(head(200, [("Content-Length", "2")])[:-2] + fields + b"\r\nok")
        await writer.drain()
        return True
    if path.startswith("/http10"):
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nold one")
        await writer.drain()
        return False
    if path.startswith("/no-length"):
        writer.write(head(200, [("Connection", "close")]) + b"until-close")
        await writer.drain()
        return False
    if path.startswith("/early-hints"):
        # RFC 8297: a 103 (hop-by-hop fields to be removed), then the final response.
        writer.write(
            head(
                103,
                [("Link", "</style.css>; rel=preload"), ("Connection", "X-Hop"), ("X-Hop", "1")],
            )
        )
        await respond(
            writer,
            req,
            200,
            f"hinted #{STATS[f'GET {path}']}".encode(),
            [("Cache-Control", "max-age=60")],
        )
        return True
    if path.startswith("/bad-status/"):
        # A status outside 100..599 (RFC 9110 §15), with a response that would be cached.
        writer.write(
            head(
                int(path.split("/")[2]), [("Content-Length", "2"), ("Cache-Control", "max-age=60")]
            )
            + b"ok"
        )
        await writer.drain()
        return True
    if path.startswith("/status/"):
        await respond(writer, req, int(path.split("/")[2]), b"status body")
        return True
    if path.startswith("/c/"):
        await cacheable(writer, req, q)
        return True
    if path.startswith("/hop"):
        extra = [
            ("Connection", "X-Secret, keep-alive"),
            ("X-Secret", "drop me"),
            ("Keep-Alive", "timeout=5"),
            ("X-Kept", "yes"),
        ]
        await respond(writer, req, 200, b"hop", extra)
        return True
    # default: echo the request as JSON
    info = {
        "backend": NAME,
        "method": req.method,
        "target": req.target,
        "version": req.version,
        "headers": req.headers,
        "body_length": received,
        "body_sha256": digest.hexdigest(),
        "trailers": trailers,
        "connection": conn_id,
        "request_on_connection": n,
    }
    body = json.dumps(info).encode()
    await respond(writer, req, 200, body, [("Content-Type", "application/json")])
    return req.header("connection") != "close"


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global CONNECTIONS
    CONNECTIONS += 1
    conn_id = CONNECTIONS
    n = 0
    drop_next = False
    OPEN.add(writer)
    try:
        while not STOPPING:
            IDLE.add(writer)
            if IDLE_CLOSE is not None and n:
                try:
                    req = await asyncio.wait_for(read_head(reader), IDLE_CLOSE)
                except TimeoutError:
                    break
            else:
                req = await read_head(reader)
            IDLE.discard(writer)
            if req is None:
                break
            n += 1
            if drop_next:
                # /close-next: this request arrives on a connection the backend is
                # closing; it is read and dropped without an answer.
                count(f"dropped {req.method} {req.path}")
                break
            if req.path.startswith("/close-next"):
                drop_next = True
            if not await handle(reader, writer, req, conn_id, n):
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        OPEN.discard(writer)
        IDLE.discard(writer)
        writer.close()


async def stop_gracefully(server: asyncio.AbstractServer) -> None:
    """SIGTERM: refuse new connections, close idle ones, let answers in progress end."""
    global STOPPING
    STOPPING = True
    server.close()
    for writer in list(IDLE):
        writer.close()
    deadline = asyncio.get_running_loop().time() + 30
    while OPEN and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


async def websocket_echo(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, max_size=None):
        print("ready", flush=True)
        await asyncio.Future()


async def main() -> None:
    global NAME, IDLE_CLOSE
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--unix")
    parser.add_argument("--name", default="backend")
    parser.add_argument("--websocket", action="store_true")
    parser.add_argument("--idle-close", type=float)
    args = parser.parse_args()
    NAME = args.name
    IDLE_CLOSE = args.idle_close
    if args.websocket:
        await websocket_echo(args.port)
        return
    if args.unix:
        server = await asyncio.start_unix_server(serve_connection, args.unix)
    else:
        server = await asyncio.start_server(serve_connection, "127.0.0.1", args.port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await stop_gracefully(server)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
