"""A `proxy` route with ``cache = "NAME"``: answer from the cache, or fetch and store.

Three lanes, fastest first:
  hot()     a fresh memory hit for a GET/HEAD without Cache-Control, Pragma, If-Match
            or If-Unmodified-Since (the variant decide() would pick), answered with bytes
            rendered at most once a second of age: the stored head, Age, Cache-Status
            and the body; a 304 (If-None-Match, If-Modified-Since), 416 or 206 (Range,
            If-Range) likewise, the 206 adding its Content-Range and a body slice;
  begin()   any GET/HEAD the memory tier can answer (policy.decide), without a Task;
  stream()  everything else, as a Task: the other tiers, collapsed misses, fetches
            from the origin (fetch.py), validation, stale-if-error, PURGE, and unsafe
            methods written through with invalidation (RFC 9111 §4.4).

The flow follows docs/cache.md, "How a request goes through the cache".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from frontdesk.log import error_log
from frontdesk.server.actions import ANSWERED, Action

from .fetch import HOLD, Fetch
from .fields import has
from .keys import make_key, strip_query
from .messages import CacheRequest, OriginResponse
from .policy import Action as Do
from .policy import Decision, decide, matching, select, stale_detail
from .reply import (
    LAST,
    ROOM,
    SHAPES,
    UNTIL,
    render_hit,
    render_not_modified,
    render_range,
    write_range,
    write_stored,
)
from .serve import if_range_holds, not_modified, parse_range
from .shared import key_hash
from .status import Fwd
from .store import Hit
from .validation import freshen, validation_request_fields
from .write_through import InvalidatingWriter

if TYPE_CHECKING:
    from frontdesk.proxy.handler import ProxyAction
    from frontdesk.server.clock import Clock
    from frontdesk.server.connection import Exchange
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request

    from .entry import Entry
    from .leases import Leases
    from .memory import Stored
    from .runtime import CacheRuntime

GET = b"GET"
HEAD = b"HEAD"
_GET_HEAD = (GET, HEAD)
_SERVES = frozenset({Do.HIT, Do.STALE_HIT, Do.STALE_REVALIDATE})
# Misses that concurrent requests may share (collapsing); a request whose own
# directives sent it to the origin (Fwd.REQUEST) waits for nobody.
_SHARED_MISSES = frozenset({Fwd.URI_MISS, Fwd.VARY_MISS, Fwd.MISS, Fwd.STALE})
_PROBE_EVERY = 0.25  # seconds between checks that a lease's holder is alive
_MARK_GRACE = 10  # half-milliseconds a lease's holder has to mark it
_WRITE_THROUGH = Decision(Do.FORWARD, fwd=Fwd.METHOD)
_BYPASS = Decision(Do.FORWARD, fwd=Fwd.BYPASS)
# Request fields that take a request off the hot lane: decide() and answer() read them.
_COLD_FIELDS = frozenset(
    {
        b"cache-control",
        b"pragma",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
        b"range",
    }
)
_CLIENT_CONDITIONS = (b"if-none-match", b"if-modified-since")
_HOT_CONDITIONS = frozenset({b"if-none-match", b"if-modified-since", b"range", b"if-range"})
# Request fields of no concern to the cache whose names are as long as some that are
# (the hot lane tells them apart without lower-casing them).
_COMMON_FIELDS = (b"accept", b"cookie", b"origin", b"priority", b"referer", b"sec-ch-ua")
_UNSEEN = b"?"  # a name not in CachedProxy._spelled
_HOT_KEYS = 4096  # (Host, target) → key pairs remembered for the hot lane
# Bytes a memo of conditional/range answers may take besides the entry's own size
# (reply.py, slot ROOM), and what one answer costs in it besides its key and body.
_SHAPE_ROOM = 1024
_SHAPE_OVERHEAD = 64
_TEXT = b"text/plain; charset=utf-8"


class Miss(NamedTuple):
    """A request on its way to the origin: the client's, the one forwarded (ignored
    query parameters removed), as the cache sees it, its key, and the client's writer."""

    req: Request
    fwd: Request
    creq: CacheRequest
    key: str
    out: ResponseWriter


class CachedProxy(Action):
    """The `proxy` action with a cache in front (one per route, per worker)."""

    streaming = True
    tunnels = True

    def __init__(self, proxy: ProxyAction, runtime: CacheRuntime) -> None:
        self.proxy = proxy
        self.runtime = runtime
        self.options = runtime.options
        self.memory = runtime.memory
        self.hot_lane = runtime.memory is not None
        self.max_body_size = proxy.max_body_size
        self.via = proxy.policy.via
        cold = _COLD_FIELDS | self.options.bypass_request_headers
        self._cold = cold
        self._cold_lengths = frozenset(len(n) for n in cold)
        # Preconditions and ranges the hot lane answers itself (unless configured to
        # bypass the cache).
        self._hot_conditions = _HOT_CONDITIONS - self.options.bypass_request_headers
        self._hot_keys: dict[tuple[bytes | None, bytes], str] = {}
        # The hot lane's verdict on a field name as commonly spelled (as sent, and in
        # lower case), looked up by the hash the protocol's field scan computed already:
        # the lower-case name of a condition it answers, b"" for a field that sends the
        # request to the slower lanes, None for a field of no concern to it.
        spelled: dict[bytes, bytes | None] = {}
        for name in (*cold, *_COMMON_FIELDS):
            if len(name) in self._cold_lengths:
                verdict = (name if name in self._hot_conditions else b"") if name in cold else None
                spelled[name] = spelled[name.title()] = verdict
        self._spelled = spelled

    # ------------------------------------------------------------------ keys

    def _cache_request(self, req: Request) -> tuple[CacheRequest, Request, str]:
        """(the request as the cache sees it, the request to forward, its primary key).

        The key names what the origin is asked for (keys.py): the target after the
        route's rewrite, with the query parameters the key ignores taken off the
        forwarded request too (cache poisoning by reflected parameters)."""
        fwd = req
        key_options = self.options.key
        if key_options.ignore_params and req.query:
            query = strip_query(req.query, key_options)
            if query != req.query:
                bare = req.target.partition(b"?")[0]
                target = bare + b"?" + query.encode("latin-1") if query else bare
                fwd = replace(req, target=target, query=query, scratch=None)
        upstream = self.proxy.upstream_target(fwd).decode("latin-1")
        path, _, query = upstream.partition("?")
        host, port = _authority(req)
        creq = CacheRequest(req.method, "http", host, port, path, query, req.headers)
        key = make_key("http", host, port, path, query, key_options)
        if req.target[:1] == b"/":
            hot = self._hot_keys
            if len(hot) >= _HOT_KEYS:
                hot.clear()
            hot[(req.header(b"host"), req.target)] = key
        return creq, fwd, key

    def key_for_url(self, host: str, port: int | None, target: str, path: str, query: str) -> str:
        """The key a GET for this URL would use (frontdesk purge URL)."""
        from frontdesk.server.request import Request

        authority = host if port is None else f"{host}:{port}"
        req = Request(
            GET,
            target.encode("latin-1"),
            path,
            query,
            "1.1",
            [(b"host", authority.encode("latin-1"))],
            host,
            True,
            "-",
            False,
            False,
            0.0,
        )
        return self._cache_request(req)[2]

    # ------------------------------------------------------------ the hot lane

    def hot(
        self,
        method: bytes,
        url: bytes,
        path: str,
        raw_host: bytes | None,
        headers: list[tuple[bytes, bytes]],
        clock: Clock,
    ) -> bytes | tuple[bytes, int, int] | None:
        if method != GET and method != HEAD:
            return None
        key = self._hot_keys.get((raw_host, url))
        if key is None:
            return None
        lengths = self._cold_lengths
        spelled = self._spelled
        # The shape of a conditional or range request, as its memo key: the method and
        # the fields serve.answer reads (names lower-cased, values raw, in order).
        shape: tuple[bytes, ...] | None = None
        for name, value in headers:
            if len(name) in lengths:
                low = spelled.get(name, _UNSEEN)
                if low is _UNSEEN:
                    low = name.lower()
                    if low not in self._cold:
                        continue
                    if low not in self._hot_conditions:
                        return None
                elif low is None:
                    continue
                elif not low:
                    return None
                if shape is None:
                    shape = (method, low, value)
                else:
                    shape += (low, value)
        now = time.time()
        found = self.memory.variants(key, now)  # type: ignore[union-attr]
        if len(found) == 1 and found[0].plain:
            stored = found[0]
        else:
            picked = self._hot_pick(found, headers)
            if picked is None:
                return None
            stored = picked
        memo = stored.rendered
        if now >= memo[UNTIL]:  # type: ignore[operator]
            # A new second of age (or the end of freshness): render it once.
            entry = stored.entry
            resident = now - entry.response_time
            age = entry.initial_age + resident if resident > 0 else entry.initial_age
            ttl = entry.lifetime - age
            if ttl <= 0:
                return None
            prepared = stored.prepared
            memo[:] = render_hit(
                entry, prepared.head, prepared.body, age, ttl, self.options, self.via, now
            )
        if shape is not None:
            # The answer to a shape is a function of the shape and the entry at this
            # second of age: made once (_hot_conditional), then looked up.
            # The last shape answered is compared first, not hashed (the hash of the
            # fields' values, new bytes each request, costs more than the rest).
            last = memo[LAST]
            if last is not None and last[3] is self and last[0] == shape:  # type: ignore[index]
                cell = last[2]  # type: ignore[index]
                if cell is not None:
                    cell[0] += 1
                return last[1]  # type: ignore[index,no-any-return]
            shapes = memo[SHAPES]
            if shapes is not None:
                known = shapes.get(shape)  # type: ignore[union-attr]
                if known is not None:
                    return self._hot_known(shape, known, memo)
            return self._hot_shape(shape, stored)
        if stored.plain:
            if method == GET:
                return memo[1]  # type: ignore[return-value]
            self.fast_head += 1
            return memo[2]  # type: ignore[return-value]
        status = stored.entry.status
        if status != 200:
            self.count_fast(method, status)  # a stored 301, 404...
        elif method != GET:
            self.fast_head += 1
        return memo[1] if method == GET else memo[2]  # type: ignore[return-value]

    @staticmethod
    def _hot_pick(found: tuple[Stored, ...], headers: list[tuple[bytes, bytes]]) -> Stored | None:
        """The variant the hot lane may answer with, beyond the plain case: the one
        decide() would pick among several (Vary: Accept-Encoding, ...); None when
        the request must take the slower lanes."""
        if not found:
            return None
        stored = found[0]
        if len(found) != 1 or stored.entry.vary is not None:
            entries = matching([s.entry for s in found], GET, headers)
            if not entries:
                return None
            chosen = select(entries)
            stored = next(s for s in found if s.entry is chosen)
        entry = stored.entry
        if entry.method != GET or entry.invalid or entry.cc.no_cache:
            return None
        return stored

    def _hot_known(
        self, shape: tuple[bytes, ...], known: tuple[bytes, int], memo: list[object]
    ) -> bytes:
        """Count the answer remembered for `shape` and make it the entry's last one."""
        data, status = known
        method = shape[0]
        # What the counts add: nothing for a 200 to a GET (the runs count those), else
        # one for its method and status (fast_counts).
        cell = None if status == 200 and method == GET else self.fast_cell(method, status)
        if cell is not None:
            cell[0] += 1
        memo[LAST] = (shape, data, cell, self)
        return data

    def _hot_shape(self, shape: tuple[bytes, ...], stored: Stored) -> bytes:
        """The answer to a conditional or range request (`shape`: the method, then the
        fields as (lower-cased name, value) pairs), counted and remembered in the entry's
        memo for the rest of this second of age."""
        method = shape[0]
        conditions = list(zip(shape[1::2], shape[2::2], strict=True))
        data, status = self._hot_conditional(method, conditions, stored)
        memo = stored.rendered
        self._hot_known(shape, (data, status), memo)
        size = _SHAPE_OVERHEAD + sum(map(len, shape)) + (len(data) if status == 206 else 0)
        shapes = memo[SHAPES]
        if shapes is None or size > memo[ROOM]:  # type: ignore[operator]
            # Full (or the first): cleared whole, as the other bounded memos.
            p = stored.prepared
            shapes = memo[SHAPES] = {}
            memo[ROOM] = _SHAPE_ROOM + len(p.head) + len(p.body)
            if size > memo[ROOM]:  # type: ignore[operator]
                return data
        shapes[shape] = (data, status)  # type: ignore[index]
        memo[ROOM] -= size  # type: ignore[operator]
        return data

    def _hot_conditional(
        self, method: bytes, conditions: list[tuple[bytes, bytes]], stored: Stored
    ) -> tuple[bytes, int]:
        """serve.answer's 304 / 206 / 416 / 200 for a fresh hot entry, and its status,
        from bytes made at most once a second (reply.py) and one slice of the body for
        a 206."""
        entry = stored.entry
        memo = stored.rendered
        status = entry.status
        if status == 200:
            if not_modified(conditions, entry):
                return render_not_modified(entry, memo, self.via), 304
            if method == GET:
                ranges = 0
                wanted = b""
                for name, value in conditions:
                    if name == b"range":
                        ranges += 1
                        wanted = value
                if ranges == 1 and if_range_holds(conditions, entry):
                    span = parse_range(wanted, entry.content_length)
                    if span is not None:
                        p = stored.prepared
                        data = render_range(p.head, p.body, span, memo, self.via)
                        return data, 416 if span is False else 206
        return memo[1] if method == GET else memo[2], status  # type: ignore[return-value]

    # ------------------------------------------------------ without a Task

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        memory = self.memory
        if memory is None or req.method not in _GET_HEAD or req.upgrade or not req.keep_alive:
            return None
        creq, _, key = self._cache_request(req)
        hits = memory.get_now(key)
        if not hits:
            return None
        now = time.time()
        decision = decide(creq, [h.entry for h in hits], now, self.options)
        if decision.action not in _SERVES:
            return None
        hit = _hit_for(hits, decision.entry)
        data = hit.body.in_memory()
        if data is None:
            return None
        self._answer(out, decision, hit.entry, data, now)
        if decision.action is Do.STALE_REVALIDATE:
            self._refresh(req, key, decision)
        return ANSWERED  # type: ignore[no-any-return]

    def _answer(
        self,
        out: ResponseWriter,
        decision: Decision,
        entry: Entry,
        data: bytes | None,
        now: float,
        member: bytes | None = None,
    ) -> tuple[int, int] | None:
        if member is None:
            member = decision.status_member(self.options)
        return write_stored(out, entry, data, now, member, self.via)

    # ------------------------------------------------------------ the Task

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        runtime = self.runtime
        method = req.method
        if method == b"PURGE" and runtime.purge_from:
            await self._purge(req, out)
            return
        if body is not None or req.upgrade or method not in _GET_HEAD:
            if method in (b"OPTIONS", b"TRACE") or req.upgrade:
                await self.proxy.stream(req, body, out)  # safe, never stored
            else:
                await self._write_through(req, body, out)
            return
        creq, fwd, key = self._cache_request(req)
        followed = False
        waited = False  # on another worker's fetch
        leased: bytes | None = None  # this request's lease on the key (leases.py)
        while True:
            flight = runtime.flights.get(key) if runtime.collapse and not followed else None
            if flight is not None:
                followed = True
                await self._follow(flight)
            hits = await runtime.store.get(key)
            now = time.time()
            decision = decide(creq, [h.entry for h in hits], now, self.options)
            if decision.action in _SERVES:
                hit = _hit_for(hits, decision.entry)
                _close_others(hits, hit)
                if waited:
                    runtime.collapsed += 1
                await self._answer_hit(out, decision, hit, now)
                if decision.action is Do.STALE_REVALIDATE:
                    self._refresh(req, key, decision)
                return
            if not followed and key in runtime.flights:
                _close_others(hits, None)
                continue  # a fetch for this key started while we looked
            if (
                not followed
                and _shares_fetch(decision)
                and runtime.collapse
                and decision.action is not Do.GATEWAY_TIMEOUT
            ):
                leases = runtime.leases
                if leases is not None:
                    # Taken here, not once the fetch starts: two workers that miss at
                    # once must not both see the key free and both fetch it.
                    kid = key_hash(key)
                    if leases.take(kid):
                        leased = kid  # _fetch makes the flight it ends with (no await)
                    else:
                        _close_others(hits, None)
                        followed = waited = True
                        await self._wait_elsewhere(leases, kid)
                        continue
            break
        if decision.action is Do.GATEWAY_TIMEOUT:
            _close_others(hits, None)
            self._plain(
                out,
                504,
                b"504 Gateway Timeout: not in the cache (only-if-cached)\n",
                decision.status_member(self.options),
            )
            return
        await self._fetch(Miss(req, fwd, creq, key, out), decision, hits, leased)

    async def _answer_hit(
        self,
        out: ResponseWriter,
        decision: Decision,
        hit: Hit,
        now: float,
        member: bytes | None = None,
    ) -> None:
        rest = self._answer(out, decision, hit.entry, hit.body.in_memory(), now, member)
        if rest is None:
            hit.body.close()
        else:
            await write_range(out, hit.body, *rest)

    async def _follow(self, flight: Any) -> None:
        """Wait (bounded) for another request's fetch of the same key."""
        runtime = self.runtime
        flight.waiters += 1
        try:
            stored = await asyncio.wait_for(asyncio.shield(flight.result), runtime.collapse_timeout)
        except TimeoutError:
            return
        if stored:
            runtime.collapsed += 1

    async def _wait_elsewhere(self, leases: Leases, kid: bytes) -> None:
        """Wait (bounded) while another worker fetches this key (leases.py): until its
        lease is let go, its holder found dead, or `collapse_timeout`."""
        # The holder marks the slot just after it locks it: a few ms for the mark (no
        # mark by then, or another key's, and the slot is another key's fetch).
        for _ in range(_MARK_GRACE):
            if leases.marked(kid) or not leases.locked_elsewhere(kid):
                break
            await asyncio.sleep(0.0005)
        deadline = time.monotonic() + self.runtime.collapse_timeout
        probe = time.monotonic() + _PROBE_EVERY
        pause = 0.002
        while leases.marked(kid):
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= probe:
                # The mark of a worker that died mid-fetch stays: the lock tells.
                if not leases.fetching_elsewhere(kid):
                    return
                probe = now + _PROBE_EVERY
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    async def _fetch(
        self, miss: Miss, decision: Decision, hits: list[Hit], leased: bytes | None = None
    ) -> None:
        """Go to the origin for a miss or a validation, storing what may be stored.
        `leased`: the key's lease, taken by the caller (stream())."""
        req, fwd, creq, key, out = miss
        runtime = self.runtime
        leases = runtime.leases
        flight = None
        if runtime.collapse and key not in runtime.flights and _shares_fetch(decision):
            from .runtime import Flight

            flight = runtime.flights[key] = Flight()
            flight.result.add_done_callback(lambda _: _forget(runtime.flights, key, flight))
            if leases is not None:
                # The other workers' misses for this key wait for it too; let go once
                # the response is stored or known not to be (the flight's end).
                kid = leased if leased is not None else key_hash(key)
                if leased is not None or leases.take(kid):
                    flight.result.add_done_callback(lambda _: leases.release(kid))
        elif leased is not None and leases is not None:
            leases.release(leased)  # no flight to end it (not expected: stream() checked)
        headers = req.headers
        client_conditional = any(has(headers, n) for n in _CLIENT_CONDITIONS)
        if decision.action is Do.VALIDATE:
            # §4.3.1: our validators replace the client's; its own are evaluated
            # against the validated response (serve.answer).
            headers = list(validation_request_fields(headers, decision.conditional))
        elif client_conditional and decision.fwd in _SHARED_MISSES and not has(headers, b"range"):
            # A miss: ask for the whole response, so that it can be stored; the
            # client's conditions are answered from it (fetch.py).
            headers = list(validation_request_fields(headers, ()))
        else:
            client_conditional = False
        # A HEAD miss is fetched as GET (as nginx does), so the response can be stored
        # and later answer GETs too; the client's writer sends no body for HEAD.
        sent = replace(fwd, method=GET, headers=headers, scratch=None)
        store_creq = replace(creq, method=GET)
        fetch = Fetch(
            runtime,
            store_creq,
            decision,
            out,
            self.via,
            client_conditional=client_conditional,
            flight=flight,
            may_store=decision.fwd is not Fwd.BYPASS,  # e.g. a Cookie: personal answers
        )
        try:
            await self.proxy.stream(sent, None, fetch)
            # For the access log: the copy went to the origin (server/request.py).
            req.upstream, req.upstream_ttfb = sent.upstream, sent.upstream_ttfb
            req.request_id = sent.request_id
            fetch.finished()
            if fetch.mode == HOLD:
                await self._held(miss, decision, hits, fetch)
                return
        finally:
            fetch.close()
            _close_others(hits, None)

    async def _held(self, miss: Miss, decision: Decision, hits: list[Hit], fetch: Fetch) -> None:
        """Answer after a validation the client did not see: 304 or an error."""
        out = miss.out
        now = time.time()
        options = self.options
        if fetch.status == 304:
            response = OriginResponse(304, fetch.fields, fetch.request_time, fetch.response_time)
            freshened = freshen(decision.validating, response, options)
            served = freshened.serve
            if served is None:
                # §4.3.4: the 304 matches no stored response: ask again, unconditionally.
                again = Decision(Do.FORWARD, fwd=Fwd.STALE)
                await self._fetch(miss, again, [])
                return
            old = next((o for o, n in freshened.updates if n is served), None)
            bodies = await self.runtime.restore(freshened.updates, hits)
            data = bodies.get(id(old)) if old is not None else None
            if data is None:
                await self._fetch(miss, Decision(Do.FORWARD, fwd=Fwd.STALE), [])
                return
            member = decision.status_member(options, fwd_status=304)
            self._answer(out, decision, served, data, now, member)
            return
        # stale-if-error (RFC 5861 §4) or a disconnected validation (§4.3.3, §4.2.4)
        assert decision.entry is not None
        hit = _hit_for(hits, decision.entry)
        fwd_status = fetch.status if fetch.fields else None
        member = decision.status_member(
            options, fwd_status=fwd_status, detail=stale_detail(decision, now, fwd_status)
        )
        await self._answer_hit(out, decision, hit, now, member)

    def _refresh(self, req: Request, key: str, decision: Decision) -> None:
        """RFC 5861 §3: revalidate in the background, once per key at a time in the whole
        server (its lease, leases.py, keeps the other workers from doing it again)."""
        runtime = self.runtime
        if key in runtime.revalidating:
            return
        leases = runtime.leases
        kid = key_hash(key) if leases is not None else b""
        if leases is not None and not leases.take(kid):
            return  # another worker refreshes it (or fetches it) already: once per server
        runtime.revalidating.add(key)
        runtime.spawn(self._revalidate(req, key, decision, kid))

    async def _revalidate(self, req: Request, key: str, decision: Decision, kid: bytes) -> None:
        runtime = self.runtime
        fetch = None
        try:
            creq, fwd, _ = self._cache_request(req)
            # The stale entry was read before this refresh was claimed (the lease, or
            # `revalidating` within the worker): another refresh, in this worker or
            # another, may have stored a fresh response in between. Then there is
            # nothing left to refresh.
            hits = await runtime.store.get(key)
            now = time.time()
            current = decide(creq, [h.entry for h in hits], now, self.options).action
            _close_others(hits, None)
            if current is Do.HIT:
                return
            headers = list(validation_request_fields(req.headers, decision.conditional))
            sent = replace(fwd, method=GET, headers=headers, scratch=None, keep_alive=True)
            fetch = Fetch(runtime, replace(creq, method=GET), decision, None, self.via)
            await self.proxy.stream(sent, None, fetch)
            fetch.finished()
            if fetch.mode == HOLD and fetch.status == 304:
                response = OriginResponse(
                    304, fetch.fields, fetch.request_time, fetch.response_time
                )
                freshened = freshen(decision.validating, response, self.options)
                hits = await runtime.store.get(key)
                await self.runtime.restore(freshened.updates, hits)
                _close_others(hits, None)
            await fetch.stored_now()
        except Exception:
            error_log.exception("cache %r: background revalidation of %s failed", runtime.name, key)
        finally:
            runtime.revalidating.discard(key)
            if runtime.leases is not None:
                runtime.leases.release(kid)
            if fetch is not None:
                fetch.close()

    # ------------------------------------------------ unsafe methods, PURGE

    async def _write_through(
        self, req: Request, body: BodyReader | None, out: ResponseWriter
    ) -> None:
        """§4.4: forward, and invalidate the target (and same-origin Location /
        Content-Location) when the answer is not an error, before the client sees it
        (write_through.py)."""
        creq, _, _ = self._cache_request(req)
        client = InvalidatingWriter(out, self.runtime, creq)
        fetch = Fetch(self.runtime, creq, _WRITE_THROUGH, client, self.via)
        try:
            await self.proxy.stream(req, body, fetch)
        finally:
            fetch.close()
            await client.settled()

    async def _purge(self, req: Request, out: ResponseWriter) -> None:
        if not self.runtime.may_purge(req.peer):
            self._plain(out, 403, b"403 Forbidden: PURGE is not allowed from this address\n")
            return
        _, _, key = self._cache_request(req)
        removed = await self.runtime.purge(keys=(key,))
        self._plain(out, 200, b"purged %d entr%s\n" % (removed, b"y" if removed == 1 else b"ies"))

    def _plain(
        self, out: ResponseWriter, status: int, body: bytes, member: bytes | None = None
    ) -> None:
        headers = [(b"Content-Type", _TEXT), (b"Cache-Control", b"no-store")]
        if member is not None:
            headers.append((b"Cache-Status", member))
        out.start(status, headers, len(body))
        out.write(body)


def _authority(req: Request) -> tuple[str, int | None]:
    """(host, port) of the request's authority: the port is part of the key, since an
    origin that builds links from Host would otherwise poison the entry of another."""
    raw = req.header(b"host")
    if raw is None or req.target[:1] != b"/":
        return req.host, None
    text = raw.decode("latin-1").strip()
    colon = text.rfind(":")
    if colon > text.rfind("]") and text[colon + 1 :].isdigit():
        return req.host, int(text[colon + 1 :])
    return req.host, None


def _hit_for(hits: list[Hit], entry: Entry | None) -> Hit:
    return next(h for h in hits if h.entry is entry)


def _close_others(hits: list[Hit], keep: Hit | None) -> None:
    for h in hits:
        if h is not keep:
            h.body.close()


def _shares_fetch(decision: Decision) -> bool:
    """Whether others' requests for the key may wait on this request's fetch: a miss or a
    validation, not a request whose own directives sent it to the origin."""
    return decision.action is Do.VALIDATE or decision.fwd in _SHARED_MISSES


def _forget(flights: dict[str, Any], key: str, flight: Any) -> None:
    if flights.get(key) is flight:
        del flights[key]
