"""The client's side of a write-through (RFC 9111 §4.4): nothing of the response reaches
the client until the invalidation it triggers is done.

"A cache MUST invalidate the target URI ... when it receives a non-error status code in
response to an unsafe request method". Invalidating after the response went out leaves
a window in which the client, already holding its answer, asks again and gets the entry
the invalidation is about to remove (from another worker, or from this one), and a
GET it then sends with only-if-cached finds nothing, since the entry it was just served
was purged under it. So the purge starts as the response head arrives, and the head and
everything after it are held until the purge is over: a local purge ends within the
loop's next turn, a Redis one within its round trip. The proxy keeps streaming into the
hold meanwhile; it is short enough that no flow control is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from frontdesk.server.exchange import ResponseWriter

from .invalidation import invalidated_keys

if TYPE_CHECKING:
    from frontdesk.server.request import Request

    from .messages import CacheRequest
    from .runtime import CacheRuntime


class InvalidatingWriter(ResponseWriter):
    """Wraps the client's writer for an unsafe request sent through the cache."""

    def __init__(self, out: ResponseWriter, runtime: CacheRuntime, creq: CacheRequest) -> None:
        self.out = out
        self.conn = out.conn
        self.runtime = runtime
        self.creq = creq
        self.purging: asyncio.Task[int] | None = None
        self._released: asyncio.Future[None] | None = None  # set once the held calls ran
        self._held: list[Callable[[], None]] | None = None

    @property
    def request(self) -> Request:
        return self.out.request

    @property
    def head_only(self) -> bool:
        return self.out.head_only

    def start_forwarded(
        self,
        status: int,
        block: bytes,
        has_length: bool,
        has_date: bool,
        fields: Any = None,
        version: str = "1.1",
    ) -> None:
        keys = invalidated_keys(self.creq, status, tuple(fields or ()), self.runtime.options.key)
        if keys and self.purging is None:
            self._held = []
            loop = asyncio.get_running_loop()
            self._released = loop.create_future()
            self.purging = loop.create_task(self.runtime.purge(keys=keys))
            self.purging.add_done_callback(self._release)
        out = self.out
        self._do(lambda: out.start_forwarded(status, block, has_length, has_date, fields, version))

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], content_length: int | None = None
    ) -> None:
        out = self.out
        self._do(lambda: out.start(status, headers, content_length))

    def interim(self, status: int, block: bytes) -> None:
        out = self.out
        self._do(lambda: out.interim(status, block))

    def write(self, data: bytes) -> None:
        out = self.out
        self._do(lambda: out.write(data))

    def end(self, trailers: bytes = b"") -> None:
        out = self.out
        self._do(lambda: out.end(trailers))

    def abort(self) -> None:
        self._do(self.out.abort)

    def close_after(self) -> None:
        self._do(self.out.close_after)

    async def drain(self) -> None:
        await self.settled()
        await self.out.drain()

    async def settled(self) -> None:
        """Until the invalidation is over and all that was held has reached the client."""
        # Not the purge task itself: its done callbacks (the release) run a loop turn
        # after it ends, and awaiting a task already done does not yield.
        if self._released is not None:
            await asyncio.shield(self._released)

    def _do(self, call: Callable[[], None]) -> None:
        if self._held is None:
            call()
        else:
            self._held.append(call)

    def _release(self, _: object) -> None:
        held, self._held = self._held or [], None
        released = self._released
        assert released is not None
        try:
            for call in held:
                call()
        except Exception as exc:  # the client went away, say: the request's task hears it
            released.set_exception(exc)
        else:
            released.set_result(None)
