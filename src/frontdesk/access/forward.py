"""Forward auth (nginx auth_request, Traefik ForwardAuth): ask an auth service.

For each request, a GET to the service carries the original method and URI
(X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host, X-Forwarded-For) and the
request fields named in `request_headers` (the credentials: Authorization, Cookie).
A 2xx answer lets the request through, with the fields named in `copy_headers` taken
from the answer onto the request (a client-sent field of the same name is removed
first: a client can never claim to be `X-User: admin` itself). A 401 or 403 goes back
to the client with the service's WWW-Authenticate; anything else, or no answer within
`timeout`, is 503 (the request is not let through on a failure).

Decisions can be remembered for `cache` seconds, keyed by the values of the
`request_headers` fields (bounded). Connections to the service are kept alive.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httptools

from frontdesk.access.rules import real_address, refusal
from frontdesk.pipeline.layer import PENDING, Check

if TYPE_CHECKING:
    from frontdesk.access.client import Networks
    from frontdesk.config.access import ForwardAuth
    from frontdesk.server.request import Request
    from frontdesk.server.response import FixedResponse

__all__ = ["ForwardAuthCheck", "Answer", "ask"]

MAX_DECISIONS = 4096
MAX_IDLE = 8
MAX_ANSWER = 64 * 1024


class Answer:
    """The auth service's answer: status and fields (its body is read and dropped)."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.done = False
        self.size = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER:
            raise ValueError("auth answer too large")

    def on_message_complete(self) -> None:
        self.done = True


async def ask(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
) -> tuple[Answer, bool]:
    """Send `head`, read one answer: (answer, whether the connection can be reused)."""
    writer.write(head)
    answer = Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.done:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("auth service closed the connection")
        parser.feed_data(data)
    answer.status = parser.get_status_code()
    return answer, parser.should_keep_alive()


class ForwardAuthCheck(Check):
    def __init__(self, cfg: ForwardAuth, trusted: Networks, server: str) -> None:
        url = urlsplit(cfg.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self.authority = url.netloc
        self.send = tuple(h.lower().encode("latin-1") for h in cfg.request_headers)
        self.copy = tuple(h.lower().encode("latin-1") for h in cfg.copy_headers)
        self.ttl = cfg.cache
        self.timeout = cfg.timeout
        self.trusted = trusted
        self.server = server
        self.unavailable = refusal(503, "Service Unavailable: authorization failed", server)
        self.decisions: dict[tuple[bytes | None, ...], tuple[float, Any]] = {}
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def _strip(self, req: Request) -> None:
        if self.copy:
            req.headers = [(n, v) for n, v in req.headers if n.lower() not in self.copy]

    def _key(self, req: Request) -> tuple[bytes | None, ...]:
        return tuple(req.header(name) for name in self.send)

    def _apply(self, req: Request, decision: Any) -> FixedResponse | None:
        if isinstance(decision, list):  # let through, with these fields
            req.headers = req.headers + decision
            return None
        return decision  # type: ignore[no-any-return]

    def check(self, req: Request) -> Any:
        self._strip(req)
        if self.ttl > 0:
            held = self.decisions.get(self._key(req))
            if held is not None and held[0] > req.start:
                return self._apply(req, held[1])
        return PENDING

    async def settle(self, req: Request) -> FixedResponse | None:
        try:
            answer = await asyncio.wait_for(self._ask(req), self.timeout)
        except (OSError, ValueError, TimeoutError, httptools.HttpParserError):
            return self.unavailable
        decision = self._decision(answer)
        if self.ttl > 0 and decision is not self.unavailable:
            if len(self.decisions) >= MAX_DECISIONS:
                self.decisions.clear()
            self.decisions[self._key(req)] = (time.monotonic() + self.ttl, decision)
        return self._apply(req, decision)

    def _decision(self, answer: Answer) -> Any:
        status = answer.status
        if 200 <= status < 300:
            return [(n, v) for n, v in answer.headers if n.lower() in self.copy]
        if status in (401, 403):
            extra = [
                ("WWW-Authenticate", v.decode("latin-1"))
                for n, v in answer.headers
                if n.lower() == b"www-authenticate"
            ]
            text = "Unauthorized" if status == 401 else "Forbidden"
            return refusal(status, text, self.server, extra)
        return self.unavailable

    async def _ask(self, req: Request) -> Answer:
        lines = [
            b"GET %s HTTP/1.1\r\n" % self.target.encode("latin-1"),
            b"Host: %s\r\n" % self.authority.encode("latin-1"),
            b"X-Forwarded-Method: %s\r\n" % req.method,
            b"X-Forwarded-Uri: %s\r\n" % req.target,
            b"X-Forwarded-Host: %s\r\n" % req.host.encode("latin-1"),
            b"X-Forwarded-For: %s\r\n" % real_address(req, self.trusted).encode("latin-1"),
        ]
        for name, value in req.headers:
            if name.lower() in self.send:
                lines.append(b"%s: %s\r\n" % (name, value))
        head = b"".join(lines) + b"\r\n"
        while self.idle:  # a kept-alive connection, if one still works
            reader, writer = self.idle.pop()
            try:
                answer, keep = await ask(reader, writer, head)
            except (OSError, ConnectionError, httptools.HttpParserError):
                writer.close()
                continue
            self._release(reader, writer, keep)
            return answer
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            answer, keep = await ask(reader, writer, head)
        except BaseException:
            writer.close()
            raise
        self._release(reader, writer, keep)
        return answer

    def _release(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool
    ) -> None:
        if keep and len(self.idle) < MAX_IDLE:
            self.idle.append((reader, writer))
        else:
            writer.close()
