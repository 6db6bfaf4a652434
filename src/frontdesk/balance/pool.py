"""A pool of members: eligibility, panic mode, slow start, drain, and the wire form.

How the proxy uses it, per attempt::

    choice = pool.pick(now, key=hash_key, cookie=sticky_cookie, exclude=tried)
    if choice is None: 503 (nothing left to try)
    if choice.panic: log that the pool is in panic mode
    if choice.cookie: add Set-Cookie with it
    pool.on_start(choice.member)
    ... forward ...
    event = pool.on_end(choice.member, now, latency, Outcome.OK / SERVER_ERROR / ...)

The master feeds active-check results to :meth:`Pool.record_check` and operator commands
to :meth:`Pool.set_admin` / :meth:`Pool.set_members`, then sends :meth:`Pool.to_wire` to
the workers, which :meth:`Pool.apply_wire` it. Passive (outlier) state is each worker's
own: it comes from the traffic that worker saw.

Eligible = admin ``active``, up by active checks, and not ejected. The policy sees only
eligible members; the view is rebuilt when one of those changes, or when time reaches the
next scheduled change (an ejection ending, a slow-start step), so a pick normally costs
one comparison plus the policy's own O(1)/O(log n).
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from .health import Change, CheckThresholds, OutlierConfig
from .members import (
    ABORTED,
    OK,
    SERVER_ERROR,
    AdminState,
    Member,
    MemberSpec,
    Outcome,
    slow_start_fraction,
)
from .policies import NOTHING, Policy
from .registry import BALANCERS, DEFAULT
from .sticky import StickyTable


@dataclass(frozen=True, slots=True)
class SlowStart:
    """Ramp a returning member's weight up linearly over ``period`` seconds (0: off).

    Applied in ``steps`` steps, each a policy rebuild, so the hot path does not recompute
    weights on every pick.
    """

    period: float = 0.0
    minimum: float = 0.1  # share of the weight at the start (Envoy's min_weight_percent 10)
    steps: int = 20

    def __post_init__(self) -> None:
        if self.period < 0 or not 0.0 < self.minimum <= 1.0 or self.steps < 1:
            raise ValueError("slow start: period >= 0, 0 < minimum <= 1, steps >= 1")


@dataclass(frozen=True, slots=True)
class Pick:
    """The pool's decision for one attempt."""

    member: Member
    panic: bool = False  # nothing was eligible: a down/ejected member was chosen anyway
    cookie: str | None = None  # a sticky cookie value to set (None: leave the client's)


@dataclass(frozen=True, slots=True)
class Event:
    """A health change to log (and, for UP/DOWN in the master, to broadcast)."""

    member: str
    change: Change
    until: float | None = None  # end of an ejection


class Pool:
    """Members of one ``[pool.NAME]`` and the policy that spreads requests over them."""

    __slots__ = (
        "_members",
        "_by_id",
        "_policy",
        "_tracks",
        "_sticky",
        "thresholds",
        "outlier",
        "slow_start",
        "_initially_up",
        "_view",
        "_plain",
        "_next_refresh",
        "_released",
        "generation",
    )

    def __init__(
        self,
        specs: Iterable[MemberSpec],
        policy: Policy | str = DEFAULT,
        *,
        rng: random.Random | None = None,
        thresholds: CheckThresholds | None = None,
        outlier: OutlierConfig | None = None,
        slow_start: SlowStart | None = None,
        sticky_secret: bytes | None = None,
        initially_up: bool = True,
    ) -> None:
        if isinstance(policy, str):
            policy = BALANCERS[policy](rng if rng is not None else random.Random())
        self._policy = policy
        self._tracks = policy.tracks_in_flight
        self._sticky = StickyTable(sticky_secret) if sticky_secret is not None else None
        self.thresholds = thresholds or CheckThresholds()
        self.outlier = outlier or OutlierConfig()
        self.slow_start = slow_start or SlowStart()
        self._initially_up = initially_up
        self._members: list[Member] = []
        self._by_id: dict[str, Member] = {}
        self._view: list[tuple[Member, float]] = []
        self._plain: dict[Member, Pick] = {}
        self._next_refresh = -math.inf
        self._released: list[Event] = []
        self.generation = 0  # bumped by every change the master broadcasts
        self._replace(specs, now=-math.inf)

    # -- reading -------------------------------------------------------------------------

    @property
    def members(self) -> tuple[Member, ...]:
        return tuple(self._members)

    def member(self, member_id: str) -> Member:
        return self._by_id[member_id]

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._by_id

    def eligible(self, now: float) -> list[tuple[Member, float]]:
        """The members a policy may pick at ``now``, with their effective weights."""
        if now >= self._next_refresh:
            self._refresh(now)
        return list(self._view)

    def drained(self, member_id: str) -> bool:
        """A draining member with nothing in flight: safe to stop or remove."""
        m = self._by_id[member_id]
        return m.admin is AdminState.DRAIN and m.in_flight == 0

    def take_events(self) -> list[Event]:
        """Ejections that ended during picks (RETURNED), oldest first, for the log."""
        out, self._released = self._released, []
        return out

    # -- the request path ----------------------------------------------------------------

    def pick(
        self,
        now: float,
        key: bytes | None = None,
        cookie: str | None = None,
        exclude: Collection[Member] = NOTHING,
    ) -> Pick | None:
        """Choose the member for one attempt.

        None when a retry has tried every eligible member, or when an operator has taken
        out every member that is left. ``now`` must not go backwards between calls: the
        eligible view is kept until the next time something in it is due to change.
        """
        if now >= self._next_refresh:
            self._refresh(now)
        sticky = self._sticky
        if sticky is not None:
            if cookie is not None:
                m = sticky.member(cookie)
                if m is not None and m not in exclude:
                    return self._plain[m]
            m = self._policy.pick(now, key, exclude)
            if m is not None:  # the cookie named no eligible member, or one already tried
                return Pick(m, cookie=sticky.token(m))
        else:
            m = self._policy.pick(now, key, exclude)
            if m is not None:
                return self._plain[m]
        if self._view:
            return None  # healthy members exist, and the retry has tried them all
        return self._panic(exclude)

    def start_member(self, now: float) -> Member | None:
        """:meth:`pick` and :meth:`on_start` in one call, with no key, cookie or
        exclusions and no :class:`Pick`: the proxy's usual case, once per request. None:
        nothing is eligible, ask :meth:`pick` (panic mode). An attempt that does not go
        out after all is taken back with :meth:`unstart`."""
        if now >= self._next_refresh:
            self._refresh(now)
        m = self._policy.pick(now, None, NOTHING)
        if m is not None:
            m.in_flight += 1
            if self._tracks:
                self._policy.on_start(m)
        return m

    def unstart(self, member: Member) -> None:
        """Undo :meth:`on_start` (or :meth:`start_member`) of an attempt not sent."""
        if member.in_flight:
            member.in_flight -= 1
            if self._tracks:
                self._policy.on_end(member)

    def _panic(self, exclude: Collection[Member]) -> Pick | None:
        """Nothing is eligible: rather than fail every request, take the least recently
        failed member that an operator has not taken out (Envoy's panic threshold, at 0%).

        O(n), but only while the whole pool is down.
        """
        best: Member | None = None
        for m in self._members:
            if m.admin is AdminState.ACTIVE and m not in exclude:
                if best is None or m.last_failure < best.last_failure:
                    best = m
        return Pick(best, panic=True) if best is not None else None

    def on_start(self, member: Member) -> None:
        member.in_flight += 1
        if self._tracks:
            self._policy.on_start(member)

    def on_end(self, member: Member, now: float, latency: float, outcome: Outcome) -> Event | None:
        """Account a finished attempt; returns an EJECTED event when this one ejected.

        Runs once per proxied request: the usual case (an OK answer from a server with
        no failure history) makes no further call."""
        if member.in_flight:
            member.in_flight -= 1
        if outcome is OK:
            if latency >= member.ewma:  # Member.observe_latency, inlined: the usual case
                member.ewma = latency
                member.ewma_at = now
            else:
                member.observe_latency(now, latency)
            if self._tracks:
                self._policy.on_end(member)
            outlier = member.outlier
            if not (outlier.streak or outlier.probation or outlier.ejections):
                return None  # nothing to record
            failed = False
        else:
            if outcome is SERVER_ERROR:
                # A connect error is fast and says nothing about service time: folding
                # it in would make a dead server look like the fastest one.
                member.observe_latency(now, latency)
            if self._tracks:
                self._policy.on_end(member)
            if outcome is ABORTED:
                return None
            failed = True
            outlier = member.outlier
        if failed:
            member.last_failure = now
        change = outlier.record(now, failed, self.outlier)
        if change is None:
            return None
        self._next_refresh = -math.inf
        return Event(member.id, change, member.outlier.ejected_until)

    # -- the control plane -----------------------------------------------------------------

    def record_check(self, member_id: str, now: float, passed: bool) -> Event | None:
        """One active-check result; returns UP/DOWN when the member flips."""
        m = self._by_id[member_id]
        if not passed:
            m.last_failure = now
        change = m.active.record(passed, self.thresholds)
        if change is None:
            return None
        self._flipped(m, now, up=change is Change.UP)
        return Event(m.id, change)

    def checks_passed(self, member_ids: Iterable[str], since: float) -> None:
        """Members whose active check, begun at ``since``, passed: an ejection this worker
        applied before then ends (the next pick or tick reports it as RETURNED). Without
        this a server restarted in a moment, too quickly for the checks to see it down,
        would stay ejected for ``base`` after the refused connects of its restart."""
        for member_id in member_ids:
            m = self._by_id.get(member_id)
            if m is not None and m.outlier.cut_short(since):
                self._next_refresh = -math.inf

    def _flipped(self, m: Member, now: float, *, up: bool) -> None:
        m.active.up = up
        if up:
            m.up_since = now
            m.outlier.reset()  # checks pass again: forget the ejection (as Envoy does)
        self.generation += 1
        self._next_refresh = -math.inf

    def set_admin(self, member_id: str, state: AdminState, now: float) -> None:
        """An operator's drain / disable / enable."""
        m = self._by_id[member_id]
        if m.admin is state:
            return
        if state is AdminState.ACTIVE:
            m.up_since = now  # back in rotation: ramp up
            m.outlier.reset()
        m.admin = state
        self.generation += 1
        self._next_refresh = -math.inf

    def set_members(self, specs: Iterable[MemberSpec], now: float) -> None:
        """Replace the member list (config reload, DNS); members that stay keep their state.

        Newcomers to a pool that already has members ramp up under slow start.
        """
        self._replace(specs, now)
        self.generation += 1

    def _replace(self, specs: Iterable[MemberSpec], now: float) -> None:
        members: list[Member] = []
        by_id: dict[str, Member] = {}
        ramp = bool(self._members)
        for spec in specs:
            if spec.id in by_id:
                raise ValueError(f"member {spec.id} listed twice")
            m = self._by_id.get(spec.id)
            if m is None:
                m = Member(spec, up=self._initially_up)
                if ramp:
                    m.up_since = now
            m.weight = spec.weight
            members.append(m)
            by_id[spec.id] = m
        self._members = members
        self._by_id = by_id
        self._next_refresh = -math.inf

    def carry_over(self, old: Pool) -> None:
        """Keep what the master decided about members that are in both pools.

        A reload builds a new pool from the new config; an operator's drain or disable and
        the active-check verdict of a server that is still listed stay as they were (the
        config changed, not the server). The generation continues from ``old``'s, so a
        worker of either generation takes the new wire.
        """
        for m in self._members:
            prev = old._by_id.get(m.id)
            if prev is not None:
                m.admin = prev.admin
                m.active.up = prev.active.up
                m.active.streak = prev.active.streak
        self.generation = old.generation + 1
        self._next_refresh = -math.inf

    # -- the view ------------------------------------------------------------------------

    def _refresh(self, now: float) -> None:
        view: list[tuple[Member, float]] = []
        next_refresh = math.inf
        ramp = self.slow_start
        for m in self._members:
            ejection = m.outlier.ejected_until
            if ejection is not None:
                if m.outlier.release(now) is None:
                    next_refresh = min(next_refresh, ejection)
                    continue
                m.up_since = max(m.up_since, ejection)
                self._released.append(Event(m.id, Change.RETURNED))
            if m.admin is not AdminState.ACTIVE or not m.active.up:
                continue
            share = 1.0
            elapsed = now - m.up_since
            if ramp.period > 0.0 and elapsed < ramp.period:
                # Hold the weight at the start of the current step until the next one.
                step = ramp.period / ramp.steps
                k = max(0, math.floor(elapsed / step))
                share = slow_start_fraction(k * step, ramp.period, ramp.minimum)
                next_refresh = min(next_refresh, m.up_since + (k + 1) * step)
            view.append((m, m.weight * share))
        self._next_refresh = next_refresh
        if view == self._view:
            return  # e.g. a down member was drained: nothing for the policy to redo
        self._view = view
        self._plain = {m: Pick(m) for m, _ in view}
        self._policy.rebuild(view)
        if self._sticky is not None:
            self._sticky.rebuild(view)

    # -- the wire form: master -> workers --------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """What the master decides, as JSON-able data: members, weights, admin, up."""
        return {
            "generation": self.generation,
            "members": [
                {"id": m.id, "weight": m.weight, "admin": m.admin.value, "up": m.active.up}
                for m in self._members
            ],
        }

    def apply_wire(self, wire: dict[str, Any], now: float) -> list[Event]:
        """Adopt the master's state; an older generation than the last applied is ignored.

        Returns the UP/DOWN changes it made, for the worker's log.
        """
        generation = int(wire["generation"])
        if generation <= self.generation:
            return []
        entries = wire["members"]
        self._replace((MemberSpec(e["id"], int(e["weight"])) for e in entries), now)
        events: list[Event] = []
        for e in entries:
            m = self._by_id[e["id"]]
            admin = AdminState(e["admin"])
            if admin is not m.admin:
                self.set_admin(m.id, admin, now)
            up = bool(e["up"])
            if up is not m.active.up:
                self._flipped(m, now, up=up)
                m.active.streak = 0
                events.append(Event(m.id, Change.UP if up else Change.DOWN))
        self.generation = generation
        return events
