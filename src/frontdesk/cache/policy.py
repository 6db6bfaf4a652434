"""What to do with a request, given the stored responses for its key (RFC 9111 §4).

https://www.rfc-editor.org/rfc/rfc9111#section-4
"When presented with a request, a cache MUST NOT reuse a stored response unless:
- the presented target URI (Section 7.1 of [HTTP]) and that of the stored response
  match, and
- the request method associated with the stored response allows it to be used for the
  presented request, and
- request header fields nominated by the stored response (if any) match those presented
  (see Section 4.1), and
- the stored response does not contain the no-cache directive (Section 5.2.2.4), unless
  it is successfully validated (Section 4.3), and
- the stored response is one of the following: fresh (see Section 4.2), or allowed to
  be served stale (see Section 4.2.4), or successfully validated (see Section 4.3)."

decide() is the hit path: the candidates are the entries stored under the request's
primary key (the store looked them up); only the request's Cache-Control and the
fields named by Vary are read here. Nothing in this module reads the clock: `now` is
a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple

from .directives import EMPTY, CacheControl, request_directives
from .entry import Entry
from .fields import Fields, FieldTuple, has
from .keys import VARY_STAR, vary_values
from .messages import CacheRequest
from .options import CacheOptions
from .status import Fwd, cache_status
from .storage import StoreDecision, StoreReason, on_response, storable
from .validation import conditional_headers

__all__ = [
    "Action",
    "Decision",
    "decide",
    "stale_on_error",
    "stale_detail",
    "may_serve_stale",
    # the storage side, re-exported so that the shell needs one import
    "on_response",
    "storable",
    "StoreDecision",
    "StoreReason",
]

GET = b"GET"
HEAD = b"HEAD"

# RFC 5861 §4: "an error is any situation that would result in a 500, 502, 503, or 504
# HTTP response status code being returned."
ERROR_STATUSES = frozenset({500, 502, 503, 504})


class Action(Enum):
    """What the shell does next."""

    HIT = "hit"  # answer from `entry` (fresh): serve.answer()
    STALE_HIT = "stale-hit"  # answer from `entry`, stale but acceptable to the client
    # answer from `entry`, then validate once in the background (RFC 5861 §3)
    STALE_REVALIDATE = "stale-while-revalidate"
    VALIDATE = "validate"  # forward with `conditional` set; then validation.freshen() on 304
    FORWARD = "forward"  # forward the request as it is (miss, method, bypass)
    GATEWAY_TIMEOUT = "gateway-timeout"  # answer 504: only-if-cached and nothing usable


class Decision(NamedTuple):
    """The result of decide().

    A NamedTuple rather than a frozen dataclass: one is built per request on the hit
    path, and a frozen dataclass's __init__ (object.__setattr__ per field) costs about
    five times as much.

    `entry` is the selected stored response (HIT, STALE_HIT, STALE_REVALIDATE, VALIDATE);
    `validating` every stored response the conditional request covers; `conditional`
    the precondition fields to set (replacing any the client sent) on the forwarded
    request for VALIDATE and for the background request of STALE_REVALIDATE.
    `age` and `ttl` are the entry's current age and remaining freshness at `now`.
    """

    action: Action
    entry: Entry | None = None
    fwd: Fwd | None = None
    age: float = 0.0
    ttl: float = 0.0
    conditional: FieldTuple = ()
    validating: tuple[Entry, ...] = ()
    request_cc: CacheControl = EMPTY

    @property
    def serves_stored(self) -> bool:
        """Whether the answer comes from `entry` without waiting for the origin."""
        return self.action in _SERVES

    def status_member(
        self,
        options: CacheOptions,
        *,
        fwd_status: int | None = None,
        stored: bool = False,
        detail: str | None = None,
    ) -> bytes:
        """This decision's Cache-Status member (RFC 9211); `fwd_status` and `stored`
        describe the forwarded request's outcome when there was one, `detail` anything
        else (e.g. "stale-if-error" when stale_on_error() let the entry answer)."""
        if self.action in _SERVES:
            detail = "stale-while-revalidate" if self.action is Action.STALE_REVALIDATE else None
            return cache_status(options.name, hit=True, ttl=self.ttl, detail=detail)
        if self.action is Action.GATEWAY_TIMEOUT:
            return cache_status(options.name, detail="only-if-cached")
        return cache_status(
            options.name,
            fwd=self.fwd,
            fwd_status=fwd_status,
            stored=stored,
            ttl=self.ttl if self.entry is not None else None,
            detail=detail,
        )


_SERVES = frozenset({Action.HIT, Action.STALE_HIT, Action.STALE_REVALIDATE})
FORWARD_METHOD = Decision(Action.FORWARD, fwd=Fwd.METHOD)
FORWARD_BYPASS = Decision(Action.FORWARD, fwd=Fwd.BYPASS)


def may_serve_stale(cc: CacheControl) -> bool:
    """Whether a stored response with these directives may ever be served stale (§4.2.4,
    see CacheControl.forbids_stale)."""
    return not cc.forbids_stale


def usable_for(method: bytes, entry: Entry) -> bool:
    """§4: "the request method associated with the stored response allows it to be used
    for the presented request": a stored GET answers GET and HEAD (RFC 9110 §9.3.2), a
    stored HEAD only HEAD."""
    return entry.method == GET or method == HEAD


def matching(candidates: Sequence[Entry], method: bytes, headers: Fields) -> list[Entry]:
    """The candidates usable for this method whose Vary-nominated fields match (§4.1)."""
    out = []
    seen: dict[tuple[bytes, ...], tuple[bytes | None, ...]] = {}
    for e in candidates:
        if not usable_for(method, e):
            continue
        names = e.vary
        if names is None:
            out.append(e)
            continue
        if names == VARY_STAR:
            # "A stored response with a Vary header field value containing a member "*"
            # always fails to match."
            continue
        values = seen.get(names)
        if values is None:
            values = seen[names] = vary_values(headers, names)
        if values == e.vary_values:
            out.append(e)
    return out


def select(entries: Sequence[Entry]) -> Entry:
    """§4: "When more than one suitable response is stored, a cache MUST use the most
    recent one (as determined by the Date header field)." §4.1: "When a cache has
    multiple stored responses for a target URI and one or more omits the Vary header
    field, the cache SHOULD choose the most recent ... stored response with a valid Vary
    field value." Ties on Date go to the most recently received."""
    return max(entries, key=lambda e: (e.vary is not None, e.date, e.response_time))


def decide(
    request: CacheRequest, candidates: Sequence[Entry], now: float, options: CacheOptions
) -> Decision:
    """Serve fresh, serve stale, validate, forward, or 504, for one request.

    `candidates` are the entries stored under the request's primary key (keys.py).
    """
    request_method = request.method
    request_headers = request.headers
    if request_method != GET and request_method != HEAD:
        # §4: "A cache MUST write through requests with methods that are unsafe"; other
        # methods are not stored here, so they are never answered from the cache.
        return FORWARD_METHOD
    for name in options.bypass_request_headers:
        if has(request_headers, name):
            return FORWARD_BYPASS
    rcc, origin_preconditions = _scan_request(request_headers)
    if origin_preconditions:
        # §4.3.2: "A cache MUST NOT evaluate conditional header fields that only apply
        # to an origin server ... such preconditions are likely intended for some other
        # (inbound) server." — "the If-Match and If-Unmodified-Since conditional header
        # fields are not applicable to a cache": the origin answers them.
        return Decision(Action.FORWARD, fwd=Fwd.REQUEST, request_cc=rcc)
    if not candidates:
        return _miss(rcc, Fwd.URI_MISS)
    found = matching(candidates, request_method, request_headers)
    if not found:
        if not any(usable_for(request_method, e) for e in candidates):
            return _miss(rcc, Fwd.URI_MISS)
        return _miss(rcc, Fwd.VARY_MISS)
    entry = select(found) if len(found) > 1 else found[0]
    age = entry.age(now)
    ttl = entry.lifetime - age
    cc = entry.cc
    if entry.invalid or cc.no_cache:
        # §5.2.2.4 no-cache: "the response MUST NOT be used to satisfy any other request
        # without forwarding it for validation and receiving a successful response";
        # §4.4 an invalidated entry needs "a mandatory validation".
        return _validate(entry, found, rcc, age, ttl, Fwd.STALE)
    if options.honor_request_no_cache:
        # §5.2.1.4 no-cache: "the client prefers that a stored response not be used to
        # satisfy the request without successful validation on the origin server."
        if rcc.no_cache:
            return _validate(entry, found, rcc, age, ttl, Fwd.REQUEST)
        # §5.2.1.1 max-age: "the client prefers a response whose age is less than or
        # equal to the specified number of seconds."
        if rcc.max_age is not None and age > rcc.max_age:
            return _validate(entry, found, rcc, age, ttl, Fwd.REQUEST)
        # §5.2.1.3 min-fresh: "the client prefers a response whose freshness lifetime
        # is no less than its current age plus the specified time in seconds."
        if rcc.min_fresh is not None and ttl < rcc.min_fresh:
            return _validate(entry, found, rcc, age, ttl, Fwd.REQUEST)
    if ttl > 0:
        return Decision(Action.HIT, entry, None, age, ttl, request_cc=rcc)
    if may_serve_stale(cc):
        staleness = -ttl
        # §5.2.1.2 max-stale: "the client will accept a response that has exceeded its
        # freshness lifetime ... by no more than the specified number of seconds" (any,
        # without a value).
        if rcc.max_stale is not None and staleness <= rcc.max_stale:
            return Decision(Action.STALE_HIT, entry, None, age, ttl, request_cc=rcc)
        # RFC 5861 §3: stale-while-revalidate "indicates that caches MAY serve the
        # response in which it appears after it becomes stale, up to the indicated
        # number of seconds" and "the cache SHOULD attempt to revalidate it while still
        # serving stale responses (i.e., without blocking)".
        swr = cc.stale_while_revalidate
        if swr is not None and staleness <= swr:
            return Decision(
                Action.STALE_REVALIDATE,
                entry,
                None,
                age,
                ttl,
                conditional_headers(found),
                tuple(found),
                rcc,
            )
    return _validate(entry, found, rcc, age, ttl, Fwd.STALE)


def _scan_request(headers: Fields) -> tuple[CacheControl, bool]:
    """(the request's directives, whether it has If-Match / If-Unmodified-Since), in one
    pass over the fields; Pragma counts only without Cache-Control."""
    cc_lines: list[bytes] = []
    pragma: list[bytes] = []
    origin_preconditions = False
    for k, v in headers:
        n = len(k)
        if n == 13 and k.lower() == b"cache-control":
            cc_lines.append(v)
        elif n == 6 and k.lower() == b"pragma":
            pragma.append(v)
        elif (n == 8 and k.lower() == b"if-match") or (
            n == 19 and k.lower() == b"if-unmodified-since"
        ):
            origin_preconditions = True
    if not cc_lines and not pragma:
        return EMPTY, origin_preconditions
    return request_directives(cc_lines, pragma), origin_preconditions


def _miss(rcc: CacheControl, fwd: Fwd) -> Decision:
    if rcc.only_if_cached:
        # §5.2.1.7: "Caches that honor this request directive SHOULD, upon receiving it,
        # respond with either a stored response consistent with the other constraints of
        # the request message or a 504 (Gateway Timeout) status code."
        return Decision(Action.GATEWAY_TIMEOUT, request_cc=rcc)
    return Decision(Action.FORWARD, fwd=fwd, request_cc=rcc)


def _validate(
    entry: Entry, found: list[Entry], rcc: CacheControl, age: float, ttl: float, fwd: Fwd
) -> Decision:
    if rcc.only_if_cached:
        return Decision(Action.GATEWAY_TIMEOUT, request_cc=rcc)
    return Decision(
        Action.VALIDATE, entry, fwd, age, ttl, conditional_headers(found), tuple(found), rcc
    )


def stale_on_error(decision: Decision, now: float, status: int | None) -> bool:
    """After VALIDATE, may `decision.entry` answer although the origin failed?

    `status` is the origin's status, or None when no response came (refused, reset,
    closed, timed out). RFC 9111 §4.3.3: with a 5xx "the cache can either forward the
    response to the requesting client or act as if the server failed to respond. In the
    latter case, the cache can send a previously stored response, subject to its
    constraints on doing so (see Section 4.2.4)". RFC 5861 §4: stale-if-error "indicates
    that when an error is encountered, a cached stale response MAY be used to satisfy
    the request" up to the given staleness; as a request directive the client states its
    own limit.

    With no response at all the cache is disconnected: §4.2.4 "A cache MUST NOT generate
    a stale response unless it is disconnected or doing so is explicitly permitted by
    the client or origin server", so the stale response answers whatever its age
    (`disconnected`), rather than a 502. A 5xx is an answer: only stale-if-error allows
    the stale response then. Never when §4.2.4 forbids stale responses (must-revalidate,
    proxy-revalidate, s-maxage, no-cache): §5.2.2.2 "if a cache is disconnected, the
    cache MUST generate an error response rather than reuse the stale response".
    """
    entry = decision.entry
    if entry is None or (status is not None and status not in ERROR_STATUSES):
        return False
    if entry.invalid or entry.cc.no_cache:
        return False  # never reused without a successful validation (§5.2.2.4, §4.4)
    ttl = entry.ttl(now)
    if ttl > 0:
        return True  # still fresh: a fresh stored response may always be used
    if not may_serve_stale(entry.cc):
        return False
    return status is None or within_stale_if_error(decision, -ttl)


def within_stale_if_error(decision: Decision, staleness: float) -> bool:
    """Whether stale-if-error (RFC 5861 §4), the response's or the request's, covers
    this much staleness."""
    assert decision.entry is not None
    allowances = (decision.entry.cc.stale_if_error, decision.request_cc.stale_if_error)
    return any(a is not None and staleness <= a for a in allowances)


def stale_detail(decision: Decision, now: float, status: int | None) -> str:
    """The Cache-Status detail (RFC 9211 §2.8) of a response stale_on_error() let
    answer: "stale-if-error" when that directive allowed it (or it was still fresh),
    "disconnected" when only the origin's silence did (§4.2.4)."""
    assert decision.entry is not None
    ttl = decision.entry.ttl(now)
    if status is None and ttl <= 0 and not within_stale_if_error(decision, -ttl):
        return "disconnected"
    return "stale-if-error"
