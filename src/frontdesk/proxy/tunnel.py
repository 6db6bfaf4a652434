"""The byte relay after a 101 (Switching Protocols): WebSocket and other upgrades.

RFC 9110 §7.8: after the 101, the connection carries the new protocol; frontdesk
stops parsing HTTP on both sides and copies bytes as they come. Flow control: when
one side's write buffer is full, the other side's reading pauses (the client
connection and the upstream connection call each other's pause/resume). A half-close
(EOF) is passed on; the tunnel ends when both directions have ended, either side is
lost, or no byte moved for `timeout` seconds (the client connection's deadline, swept
by the worker's tick).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from frontdesk.server.connection import TUNNEL

if TYPE_CHECKING:
    from frontdesk.proxy.connection import UpstreamConnection


class Tunnel:
    __slots__ = ("client", "upstream", "timeout", "clock", "done", "_client_eof", "_upstream_eof")

    def __init__(
        self, client: Any, upstream: UpstreamConnection, timeout: float, done: asyncio.Future[None]
    ) -> None:
        self.client = client  # the client Connection (server/connection.py)
        self.upstream = upstream
        self.timeout = timeout
        self.clock = client.clock
        self.done = done
        self._client_eof = False
        self._upstream_eof = False

    def open(self, from_client: bytes, from_upstream: bytes) -> None:
        """Start relaying; the bytes each side sent right after the heads go first."""
        client = self.client
        client.state = TUNNEL
        client.tunnel = self
        client.flow_peer = self.upstream
        self.upstream.tunnel = self
        self._touch()
        if from_upstream:
            self.from_upstream(from_upstream)
        if from_client:
            self.from_client(from_client)
        client.resume_reading()

    def _touch(self) -> None:
        # One idle deadline for both directions, on the client connection.
        self.client.deadline = self.clock.now + self.timeout

    def from_client(self, data: bytes) -> None:
        self._touch()
        if not self.upstream.closed:
            self.upstream.transport.write(data)

    def from_upstream(self, data: bytes) -> None:
        self._touch()
        transport = self.client.transport
        if not transport.is_closing():
            transport.write(data)

    def client_eof(self) -> None:
        self._client_eof = True
        upstream = self.upstream
        if self._upstream_eof:
            self.close()
        elif not upstream.closed and upstream.transport.can_write_eof():
            upstream.transport.write_eof()

    def upstream_eof(self) -> None:
        self._upstream_eof = True
        transport = self.client.transport
        if self._client_eof:
            self.close()
        elif not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    def upstream_lost(self) -> None:
        self.close()

    def close(self) -> None:
        """End both sides (what is buffered for the client is still sent)."""
        self.upstream.close()
        transport = self.client.transport
        if not transport.is_closing():
            transport.close()
        if not self.done.done():
            self.done.set_result(None)
