"""A request to the origin made for the cache: the writer the proxy writes the response
to, deciding at the response head what reaches the client and what is stored.

The proxy (proxy/handler.py) writes a response to any object with the ResponseWriter
interface; `Fetch` is one, standing between the proxy and the client's writer:

- a normal response is stored when RFC 9111 §3 allows (storage.on_response), and
  passed to the client with its Cache-Status, the body going to both as it arrives;
  the store is fed by a task of its own, so a slow disk never stalls the client;
- a 304 to the cache's own conditional request (§4.3.4) is held back: the shell
  freshens the stored response and answers from it;
- a 5xx (or no answer) while validating is held back when stale-if-error / §4.3.3
  allows a stale answer (policy.stale_on_error);
- with no client (a background refresh, RFC 5861 §3) nothing is sent anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from frontdesk.log import error_log
from frontdesk.proxy.forward import response_head
from frontdesk.server.exchange import ResponseWriter

from .messages import OriginResponse
from .policy import ERROR_STATUSES, Action, stale_on_error
from .reply import write_head
from .serve import answer, not_modified
from .storage import content_length, on_response

if TYPE_CHECKING:
    from .messages import CacheRequest
    from .policy import Decision
    from .runtime import CacheRuntime, Flight
    from .store import BodyWriter

# A store that falls this far behind the client (a slow disk) is given up: the
# response still reaches the client, it is just not cached.
MAX_BACKLOG = 8 * 1024 * 1024

PASS = 0  # the client gets the origin's response
HOLD = 1  # nothing to the client yet: the shell answers after the fetch
SWALLOW = 2  # the client got its answer already (or there is none): body not sent


class NoClient:
    """The client side of a fetch nobody waits for (the proxy ties flow control to it)."""

    flow_peer: Any = None

    def hold_writes(self) -> None:
        pass

    def release_writes(self) -> None:
        pass


class Fetch(ResponseWriter):
    """What the proxy writes a cache fetch's response to (a ResponseWriter to it)."""

    def __init__(
        self,
        runtime: CacheRuntime,
        creq: CacheRequest,
        decision: Decision,
        out: ResponseWriter | None,
        via: bytes,
        *,
        client_conditional: bool = False,
        flight: Flight | None = None,
        may_store: bool = True,
    ) -> None:
        self.runtime = runtime
        self.creq = creq
        self.decision = decision
        self.out = out
        self.conn: Any = out.conn if out is not None else NoClient()
        self._req: Any = out.request if out is not None else None
        self.via = via
        self.client_conditional = client_conditional  # the client's If-* were taken off
        self.flight = flight
        self.may_store = may_store
        self.request_time = time.time()
        self.response_time = 0.0
        self.started = False
        self.ended = False
        self.status = 0
        self.sent = 0
        self.mode = PASS
        self.fields: tuple[tuple[bytes, bytes], ...] = ()  # the origin's response fields
        self.failed = False
        self.complete = False
        self._writer: BodyWriter | None = None
        self._chunks: deque[bytes] = deque()
        self._backlog = 0
        self._wake: asyncio.Future[None] | None = None
        self._pump: asyncio.Task[None] | None = None

    # ------------------------------------------------------------- the head

    def start_forwarded(
        self,
        status: int,
        block: bytes,
        has_length: bool,
        has_date: bool,
        fields: Any = None,
        version: str = "1.1",
    ) -> None:
        self.started = True
        self.status = status
        now = self.response_time = time.time()
        headers = self.fields = tuple(fields or ())
        decision = self.decision
        if self._validating() and (
            status == 304 or (status in ERROR_STATUSES and stale_on_error(decision, now, status))
        ):
            # §4.3.4 freshen, or §4.3.3 / RFC 5861 §4 serve stale: the shell answers.
            self.mode = HOLD
            return
        runtime = self.runtime
        options = runtime.options
        declared = content_length(headers)
        response = OriginResponse(status, headers, self.request_time, now, declared or 0)
        stored = on_response(self.creq, response, options)
        if not self.may_store and stored.entry is not None:
            stored = replace(stored, entry=None)
        if stored.entry is not None:
            self._writer = runtime.store.writer(stored.entry)
            self._pump = asyncio.get_running_loop().create_task(self._feed_store())
        elif self.flight is not None:
            self.flight.finish(False)  # waiters go to the origin themselves, now
        out = self.out
        if out is None:
            self.mode = SWALLOW
            return
        member = decision.status_member(options, fwd_status=status, stored=stored.store)
        out.request.cache_status = member.decode("latin-1")  # for the access log
        entry = stored.entry
        asked = out.request.headers
        if (
            self.client_conditional
            and entry is not None
            and status == 200
            and not_modified(asked, entry)
        ):
            # The client's own If-None-Match / If-Modified-Since were taken off so
            # that the origin sends the full response to store; they hold: a 304.
            reply = answer(b"GET", asked, entry, now, status_member=member)
            write_head(out, reply.status, reply.headers, self.via, has_length=False)
            self.mode = SWALLOW
            return
        if stored.client_headers != headers:  # tag fields removed (tags.py)
            block = response_head(stored.client_headers, version, self.via)[0]
        # The origin's fields go on: a write-through's writer reads Location and
        # Content-Location in them (write_through.py, RFC 9111 §4.4).
        out.start_forwarded(
            status,
            block + b"Cache-Status: " + member + b"\r\n",
            has_length,
            has_date,
            headers,
            version,
        )

    def interim(self, status: int, block: bytes) -> None:
        """A 1xx from the origin: passed to the client, never stored (RFC 9111 §3: only
        a final response is)."""
        if self.out is not None:
            self.out.interim(status, block)

    def start(
        self, status: int, headers: list[tuple[bytes, bytes]], content_length: int | None = None
    ) -> None:
        """The proxy's own error answer (no response from the origin)."""
        self.started = True
        self.status = status
        if self.flight is not None:
            self.flight.finish(False)
        if self._validating() and stale_on_error(self.decision, time.time(), None):
            self.mode = HOLD
            return
        if self.out is None:
            self.mode = SWALLOW
            return
        member = self.decision.status_member(self.runtime.options, fwd_status=status)
        self.out.request.cache_status = member.decode("latin-1")  # for the access log
        self.out.start(status, [*headers, (b"Cache-Status", member)], content_length)

    def _validating(self) -> bool:
        return self.decision.entry is not None and self.decision.action in (
            Action.VALIDATE,
            Action.STALE_REVALIDATE,
        )

    # ------------------------------------------------------------- the body

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.mode == PASS and self.out is not None:
            self.out.write(data)
        self.sent += len(data)
        if self._writer is not None and not self.failed:
            self._chunks.append(data)
            self._backlog += len(data)
            if self._backlog > MAX_BACKLOG:
                self._give_up("store too slow")
            self._wakeup()

    def end(self, trailers: bytes = b"") -> None:
        if self.ended:
            return
        self.ended = True
        if self.mode == PASS and self.out is not None:
            self.out.end(trailers)
        self.finished()

    def finished(self) -> None:
        """The proxy's exchange ended without an error: the body is complete."""
        if not self.failed:
            self.complete = True
            self._wakeup()

    def abort(self) -> None:
        self.ended = True
        if self.mode == PASS and self.out is not None:
            self.out.abort()
        self._give_up(None)

    def close(self) -> None:
        """The fetch is over: a body not complete by now is not stored."""
        if not self.complete:
            self._give_up(None)
        elif self._pump is None and self.flight is not None:
            self.flight.finish(False)

    def close_after(self) -> None:
        if self.out is not None:
            self.out.close_after()

    async def drain(self) -> None:
        if self.out is not None:
            await self.out.drain()

    @property
    def head_only(self) -> bool:
        return self.mode != PASS or self.out is None or self.out.head_only

    # ------------------------------------------------------------- the store

    def _give_up(self, why: str | None) -> None:
        if not self.failed:
            self.failed = True
            if why:
                error_log.info(
                    "cache %r: not storing %s: %s", self.runtime.name, self.creq.path, why
                )
            self._chunks.clear()
            self._wakeup()
        if self._pump is None and self.flight is not None:
            self.flight.finish(False)

    def _wakeup(self) -> None:
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    async def _feed_store(self) -> None:
        writer = self._writer
        assert writer is not None
        stored = False
        try:
            while True:
                chunks = self._chunks
                while chunks and not self.failed:
                    chunk = chunks.popleft()
                    self._backlog -= len(chunk)
                    if not await writer.write(chunk):
                        self.failed = True  # over max_object_size: passes through uncached
                if self.failed:
                    break
                if self.complete:
                    stored = await writer.commit()
                    break
                self._wake = asyncio.get_running_loop().create_future()
                await self._wake
                self._wake = None
        except Exception:
            error_log.exception("cache %r: storing %s failed", self.runtime.name, self.creq.path)
        finally:
            if not stored:
                await writer.abort()
            if self.flight is not None:
                self.flight.finish(stored)

    async def stored_now(self) -> bool:
        """Wait until the store has the response (or gave up); whether it was stored."""
        pump = self._pump
        if pump is None:
            return False
        await asyncio.shield(pump)
        return not self.failed
