"""Layers: an Action that wraps the next one in a route's chain.

A route's chain is built once at load time (see assemble.py), outermost first:
access rules → rate limit → cache → the action. A layer forwards each of the
Action lanes to the action it wraps, so a layer that has nothing to do on a lane
costs one call there; a route that uses no layer gets the bare action and pays
nothing at all.

`Guard` is the layer of access rules and rate limits: an ordered tuple of
`Check`s, each answering "let through", "refuse with this answer" or "I need to
wait for something" (a password hash in a thread, a sub-request, Redis).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from frontdesk.server.actions import ANSWERED, Action
from frontdesk.server.response import FixedResponse, status_line

if TYPE_CHECKING:
    from frontdesk.server.clock import Clock
    from frontdesk.server.connection import Exchange
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()
"""What `Check.check` returns when the decision needs `await Check.settle()`."""

Verdict = FixedResponse | None
"""None lets the request through; a FixedResponse is the refusal to send."""


class Check:
    """One access rule or limit of a route. Subclasses override what they need."""

    # True when `hot()` can let some requests through from their fields alone (no
    # peer address, no Request): the route then keeps the protocol's fast lane.
    hot_safe = False

    def hot(self, headers: list[tuple[bytes, bytes]], clock: Clock) -> bool:
        """True: let this request through now. False: take the normal path (which
        may still let it through)."""
        return False

    def check(self, req: Request) -> Any:
        """None (through), a FixedResponse (refused), or PENDING (call settle())."""
        raise NotImplementedError

    async def settle(self, req: Request) -> Verdict:
        """The decision that check() could not take without waiting."""
        raise NotImplementedError


class Layer(Action):
    """Wraps `inner`; every lane is forwarded unchanged unless a subclass says otherwise."""

    def __init__(self, inner: Action) -> None:
        self.inner = inner
        self.name = inner.name
        self.streaming = inner.streaming
        self.tunnels = inner.tunnels
        self.max_body_size = inner.max_body_size
        self.hot_lane = inner.hot_lane
        self.fixed = inner.fixed

    def respond(self, req: Request) -> FixedResponse | None:
        inner = self.inner
        return inner.fixed or inner.respond(req)

    def hot(
        self,
        method: bytes,
        url: bytes,
        path: str,
        raw_host: bytes | None,
        headers: list[tuple[bytes, bytes]],
        clock: Clock,
    ) -> bytes | tuple[bytes, int, int] | None:
        return self.inner.hot(method, url, path, raw_host, headers, clock)

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        return self.inner.begin(req, out)

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        await self.inner.stream(req, body, out)


def innermost(action: Action) -> Action:
    """The action at the end of a chain (what the route does), through every layer."""
    while isinstance(action, Layer):
        action = action.inner
    return action


def write_fixed(out: ResponseWriter, resp: FixedResponse) -> None:
    """Send a response built in memory through a streaming exchange's writer."""
    if resp.close:
        out.close_after()
    block = resp.head[len(status_line(resp.status)) :]
    has_length = resp.status >= 200 and resp.status not in (204, 304)
    out.start_forwarded(resp.status, block, has_length, False)
    out.write(resp.body)


class Guard(Layer):
    """Access rules and rate limits in front of the rest of the chain, in order."""

    def __init__(self, inner: Action, checks: tuple[Check, ...]) -> None:
        super().__init__(inner)
        self.checks = checks
        self.fixed = None  # an answer from memory is given only to who may have it
        self.hot_checks = checks if all(c.hot_safe for c in checks) else None
        self.hot_lane = self.hot_checks is not None and (inner.hot_lane or inner.fixed is not None)

    def _decide(self, req: Request) -> Any:
        for c in self.checks:
            verdict = c.check(req)
            if verdict is not None:
                return verdict
        req.cleared = True
        return None

    def hot(
        self,
        method: bytes,
        url: bytes,
        path: str,
        raw_host: bytes | None,
        headers: list[tuple[bytes, bytes]],
        clock: Clock,
    ) -> bytes | tuple[bytes, int, int] | None:
        for c in self.hot_checks:  # type: ignore[union-attr]
            if not c.hot(headers, clock):
                return None
        inner = self.inner
        fixed = inner.fixed
        if fixed is not None:
            return fixed.rendered(clock.date_line) if method == b"GET" else None
        return inner.hot(method, url, path, raw_host, headers, clock)

    def respond(self, req: Request) -> FixedResponse | None:
        verdict = self._decide(req)
        if verdict is None:
            inner = self.inner
            return inner.fixed or inner.respond(req)
        if verdict is PENDING:
            return None  # decided in stream()
        return verdict  # type: ignore[no-any-return]

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        if not self.streaming:
            return None  # respond() asked for the stream: stream() goes on from there
        verdict = self._decide(req)
        if verdict is None:
            return self.inner.begin(req, out)
        if verdict is PENDING:
            return None
        write_fixed(out, verdict)
        return ANSWERED  # type: ignore[no-any-return]

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        inner = self.inner
        if req.cleared:
            # Let through in respond() or begin(), whose inner lane then asked for
            # the stream: go on with it.
            await inner.stream(req, body, out)
            return
        for c in self.checks:
            verdict = c.check(req)
            if verdict is PENDING:
                verdict = await c.settle(req)
            if verdict is not None:
                write_fixed(out, verdict)
                return
        req.cleared = True
        if not inner.streaming:
            resp = inner.fixed or inner.respond(req)
            if resp is not None:
                write_fixed(out, resp)
                return
        await inner.stream(req, body, out)
