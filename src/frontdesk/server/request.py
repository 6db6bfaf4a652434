"""The head of a request as actions see it, and a pipelined request waiting its turn."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from frontdesk.server.actions import Action
    from frontdesk.server.exchange import BodyReader


class Request:
    """The head of one request, as actions and the access log see it."""

    __slots__ = (
        "method",
        "target",
        "path",
        "query",
        "version",
        "headers",
        "host",
        "keep_alive",
        "peer",
        "expect_continue",
        "has_body",
        "start",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        path: str,
        query: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        host: str,
        keep_alive: bool,
        peer: str,
        expect_continue: bool,
        has_body: bool,
        start: float,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.host = host
        self.keep_alive = keep_alive
        self.peer = peer
        self.expect_continue = expect_continue
        self.has_body = has_body
        self.start = start

    def header(self, name: bytes) -> bytes | None:
        """First value of a header (name in lower case), or None."""
        for k, v in self.headers:
            if len(k) == len(name) and k.lower() == name:
                return v
        return None


class Queued:
    """A pipelined request parsed while an earlier streaming exchange still runs."""

    __slots__ = ("req", "action", "reader", "complete")

    def __init__(self, req: Request, action: Action, reader: BodyReader | None) -> None:
        self.req = req
        self.action = action
        self.reader = reader
        self.complete = False
