"""The pool: ejection through traffic, panic mode, slow start, drain, sticky cookies,
member updates and the master → worker wire form."""

from __future__ import annotations

import json
import random

import pytest
from balance_helpers import pool, serve, shares

from frontdesk.balance import (
    AdminState,
    CheckThresholds,
    MemberSpec,
    Outcome,
    OutlierConfig,
    Pool,
    SlowStart,
)
from frontdesk.balance.health import Change
from frontdesk.balance.policies import SmoothWeightedRoundRobin, View
from frontdesk.balance.pool import Event

ONE = CheckThresholds(rise=1, fall=1)


def ids(p: Pool, now: float) -> list[str]:
    return [m.id for m, _ in p.eligible(now)]


def fail(p: Pool, member_id: str, now: float, times: int, outcome: Outcome) -> list[Event | None]:
    m = p.member(member_id)
    out = []
    for _ in range(times):
        p.on_start(m)
        out.append(p.on_end(m, now, 0.001, outcome))
    return out


# -- passive ejection through the pool ---------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.SERVER_ERROR, Outcome.CONNECT_ERROR, Outcome.TIMEOUT])
def test_failures_on_traffic_eject_a_member_until_its_time_runs_out(outcome: Outcome) -> None:
    p = pool({"a": 1, "b": 1}, outlier=OutlierConfig(consecutive=3, base=10.0, max=100.0))
    events = fail(p, "a", 5.0, 3, outcome)
    assert events[:2] == [None, None]
    assert events[2] == Event("a", Change.EJECTED, 15.0)
    assert set(serve(p, 20, now=6.0)) == {"b"}
    assert p.take_events() == []
    assert ids(p, 15.0) == ["a", "b"]
    assert p.take_events() == [Event("a", Change.RETURNED)]
    # On probation: one more failure ejects it at once, for twice as long.
    assert fail(p, "a", 16.0, 1, outcome) == [Event("a", Change.EJECTED, 36.0)]
    assert ids(p, 35.0) == ["b"]
    assert set(serve(p, 20, now=36.0)) == {"a", "b"}  # back, and answering: probation over
    assert fail(p, "a", 37.0, 2, outcome) == [None, None]


def test_active_checks_coming_up_forget_an_ejection() -> None:
    """As Envoy (successful_active_health_check_uneject_host): a member that checks bring
    back up is no longer ejected, and its backoff starts over."""
    p = pool({"a": 1, "b": 1}, thresholds=ONE, outlier=OutlierConfig(consecutive=1, base=60.0))
    fail(p, "a", 0.0, 1, Outcome.CONNECT_ERROR)
    p.record_check("a", 1.0, False)
    assert ids(p, 2.0) == ["b"]
    p.record_check("a", 3.0, True)
    assert ids(p, 3.0) == ["a", "b"]
    assert p.member("a").outlier.ejections == 0


def test_client_aborts_say_nothing_about_the_backend() -> None:
    p = pool({"a": 1, "b": 1}, outlier=OutlierConfig(consecutive=2))
    assert fail(p, "a", 0.0, 10, Outcome.ABORTED) == [None] * 10
    assert ids(p, 0.0) == ["a", "b"]
    assert p.member("a").in_flight == 0
    # Nor do they break a streak of failures, as a success would.
    fail(p, "a", 1.0, 1, Outcome.SERVER_ERROR)
    fail(p, "a", 1.0, 1, Outcome.ABORTED)
    assert fail(p, "a", 1.0, 1, Outcome.SERVER_ERROR)[0] is not None


def test_connect_errors_do_not_make_a_member_look_fast() -> None:
    p = pool({"a": 1}, "p2c")
    a = p.member("a")
    p.on_start(a)
    p.on_end(a, 0.0, 0.200, Outcome.OK)
    fail(p, "a", 5.0, 3, Outcome.CONNECT_ERROR)  # 5 s on: a sample would weigh ~40%
    assert a.ewma == 0.200


# -- panic mode --------------------------------------------------------------------------


def test_all_down_picks_the_least_recently_failed_and_says_so() -> None:
    """Envoy's panic mode: with no healthy member, rather than failing every request, use
    one anyway; here the one whose last failure is oldest, and the decision says panic."""
    p = pool({"a": 1, "b": 1, "c": 1}, thresholds=ONE)
    p.record_check("b", 1.0, False)
    p.record_check("a", 2.0, False)
    p.record_check("c", 3.0, False)
    choice = p.pick(4.0)
    assert choice is not None and choice.panic and choice.member.id == "b"
    p.record_check("b", 5.0, False)  # b failed again: now a is the least recently failed
    assert p.pick(6.0).member.id == "a"  # type: ignore[union-attr]
    assert p.pick(6.0, exclude={p.member("a")}).member.id == "c"  # type: ignore[union-attr]
    p.record_check("c", 7.0, True)
    choice = p.pick(8.0)
    assert choice is not None and not choice.panic and choice.member.id == "c"


def test_panic_also_covers_ejected_members() -> None:
    p = pool({"a": 1, "b": 1}, outlier=OutlierConfig(consecutive=1, base=60.0))
    fail(p, "a", 1.0, 1, Outcome.SERVER_ERROR)
    fail(p, "b", 2.0, 1, Outcome.SERVER_ERROR)
    choice = p.pick(3.0)
    assert choice is not None and choice.panic and choice.member.id == "a"


def test_panic_never_uses_drained_or_disabled_members() -> None:
    p = pool({"a": 1, "b": 1, "c": 1}, thresholds=ONE)
    for name in "abc":
        p.record_check(name, 1.0, False)
    p.set_admin("a", AdminState.DRAIN, 2.0)
    p.set_admin("b", AdminState.DISABLED, 2.0)
    assert {p.pick(3.0).member.id for _ in range(10)} == {"c"}  # type: ignore[union-attr]
    p.set_admin("c", AdminState.DISABLED, 4.0)
    assert p.pick(5.0) is None


def test_a_retry_that_tried_every_healthy_member_gets_none_not_panic() -> None:
    p = pool({"a": 1, "b": 1}, thresholds=ONE)
    p.record_check("b", 0.0, False)
    assert p.pick(1.0, exclude={p.member("a")}) is None


# -- slow start --------------------------------------------------------------------------

RAMP = SlowStart(period=60.0, minimum=0.1, steps=20)


def test_slow_start_ramp_values_at_start_middle_and_end() -> None:
    """nginx slow_start / Envoy slow_start_config: linear from the minimum to full."""
    p = pool({"a": 10, "b": 10}, thresholds=ONE, slow_start=RAMP)
    assert dict((m.id, w) for m, w in p.eligible(0.0)) == {"a": 10.0, "b": 10.0}  # boot: full
    p.record_check("a", 1.0, False)
    p.record_check("a", 100.0, True)
    times = (100.0, 102.9, 103.0, 130.0, 160.0, 1000.0)
    weights = {t: dict((m.id, w) for m, w in p.eligible(t))["a"] for t in times}
    assert weights[100.0] == pytest.approx(1.0)  # 10 × 0.1
    assert weights[102.9] == pytest.approx(1.0)  # held until the next of 20 steps (3 s)
    assert weights[103.0] == pytest.approx(10 * (0.1 + 0.9 / 20))
    assert weights[130.0] == pytest.approx(5.5)  # 10 × (0.1 + 0.9 × 0.5)
    assert weights[160.0] == pytest.approx(10.0)
    assert weights[1000.0] == pytest.approx(10.0)


def test_a_refresh_in_mid_step_keeps_the_steps_weight() -> None:
    """Another member's change rebuilds the view between two ramp steps: the ramping
    member keeps the weight of the step it is in, not a value in between."""
    p = pool({"a": 10, "b": 10, "c": 10}, thresholds=ONE, slow_start=RAMP)
    p.record_check("a", 0.0, False)
    p.record_check("a", 0.0, True)
    p.set_admin("c", AdminState.DRAIN, 1.5)
    assert dict((m.id, w) for m, w in p.eligible(1.5))["a"] == pytest.approx(1.0)


def test_an_operator_re_enabling_a_member_starts_its_ramp() -> None:
    p = pool({"a": 10, "b": 10}, slow_start=RAMP)
    p.set_admin("a", AdminState.DISABLED, 0.0)
    p.set_admin("a", AdminState.ACTIVE, 50.0)
    assert dict((m.id, w) for m, w in p.eligible(50.0))["a"] == pytest.approx(1.0)


def test_slow_start_shapes_the_traffic_share() -> None:
    """Half-way up its ramp a member gets 0.55/(1+0.55) of the requests of a 1:1 pair."""
    p = pool({"a": 1, "b": 1}, thresholds=ONE, slow_start=RAMP)
    p.record_check("a", 0.0, False)
    p.record_check("a", 0.0, True)
    got = shares(serve(p, 3100, now=30.0))
    assert got["a"] == pytest.approx(0.55 / 1.55, abs=0.01)


@pytest.mark.parametrize("policy", ["round_robin", "least_conn", "p2c", "random", "hash"])
def test_every_policy_applies_slow_start(policy: str) -> None:
    p = pool({"a": 1, "b": 1}, policy, thresholds=ONE, slow_start=RAMP)
    p.record_check("a", 0.0, False)
    p.record_check("a", 0.0, True)
    early = shares(serve(p, 4000, now=0.0, key=lambda i: b"k%d" % i))
    late = shares(serve(p, 4000, now=60.0, key=lambda i: b"k%d" % i))
    assert early.get("a", 0.0) < 0.2
    assert late["a"] == pytest.approx(0.5, abs=0.05)


def test_ejection_return_and_newcomers_ramp_too() -> None:
    p = pool({"a": 1, "b": 1}, outlier=OutlierConfig(consecutive=1, base=10.0), slow_start=RAMP)
    fail(p, "a", 0.0, 1, Outcome.CONNECT_ERROR)
    assert dict((m.id, w) for m, w in p.eligible(10.0))["a"] == pytest.approx(0.1)
    p.set_members([MemberSpec("a"), MemberSpec("b"), MemberSpec("c")], 20.0)
    assert dict((m.id, w) for m, w in p.eligible(20.0))["c"] == pytest.approx(0.1)


# -- drain and disable -------------------------------------------------------------------


def test_drain_stops_new_picks_and_lets_in_flight_requests_finish() -> None:
    p = pool({"a": 1, "b": 1}, "least_conn")
    a = p.member("a")
    p.on_start(a)
    p.on_start(a)
    p.set_admin("a", AdminState.DRAIN, 1.0)
    assert set(serve(p, 20, now=1.0)) == {"b"}
    assert not p.drained("a")
    p.on_end(a, 2.0, 0.01, Outcome.OK)
    assert not p.drained("a")
    p.on_end(a, 2.0, 0.01, Outcome.OK)
    assert p.drained("a") and a.in_flight == 0
    p.set_admin("a", AdminState.ACTIVE, 3.0)
    assert set(serve(p, 20, now=3.0)) == {"a", "b"}


def test_disabled_members_are_out_of_rotation() -> None:
    p = pool({"a": 1, "b": 1})
    p.set_admin("b", AdminState.DISABLED, 0.0)
    assert set(serve(p, 10)) == {"a"}
    assert not p.drained("b")  # drained means "was draining"


# -- sticky sessions ---------------------------------------------------------------------

SECRET = b"k" * 32


def test_sticky_cookie_round_trip() -> None:
    p = pool({"10.0.0.1:8000": 1, "10.0.0.2:8000": 1}, sticky_secret=SECRET)
    first = p.pick(0.0)
    assert first is not None and first.cookie is not None
    for _ in range(10):
        again = p.pick(0.0, cookie=first.cookie)
        assert again is not None and again.member is first.member
        assert again.cookie is None  # the client already holds the right value


def test_sticky_cookie_does_not_leak_the_address() -> None:
    p = pool({"10.0.0.1:8000": 1}, sticky_secret=SECRET)
    token = p.pick(0.0).cookie  # type: ignore[union-attr]
    assert token is not None
    assert "10.0.0.1" not in token and "8000" not in token
    assert len(token) == 24
    other = pool({"10.0.0.1:8000": 1}, sticky_secret=b"another secret")
    assert other.pick(0.0).cookie != token  # type: ignore[union-attr]


def test_sticky_falls_back_when_its_member_drains_or_leaves_or_was_tried() -> None:
    p = pool({"a": 1, "b": 1, "c": 1}, sticky_secret=SECRET)
    first = p.pick(0.0)
    assert first is not None and first.cookie is not None
    home = first.member
    p.set_admin(home.id, AdminState.DRAIN, 1.0)
    moved = p.pick(1.0, cookie=first.cookie)
    assert moved is not None and moved.member is not home and moved.cookie is not None
    assert p.pick(1.0, cookie=moved.cookie).member is moved.member  # type: ignore[union-attr]
    retry = p.pick(1.0, cookie=moved.cookie, exclude={moved.member})
    assert retry is not None and retry.member not in (home, moved.member)
    p.set_members([MemberSpec(n) for n in "abc" if n != moved.member.id], 2.0)
    gone = p.pick(2.0, cookie=moved.cookie)
    assert gone is not None and gone.member is not moved.member and gone.cookie is not None


def test_unknown_or_forged_cookies_fall_back() -> None:
    p = pool({"a": 1, "b": 1}, sticky_secret=SECRET)
    for cookie in ("", "nonsense", "a", "0" * 24):
        choice = p.pick(0.0, cookie=cookie)
        assert choice is not None and choice.cookie is not None


# -- member updates ----------------------------------------------------------------------


def test_set_members_keeps_the_state_of_members_that_stay() -> None:
    p = pool({"a": 1, "b": 1, "c": 1}, "p2c", thresholds=ONE, outlier=OutlierConfig(consecutive=2))
    a, b = p.member("a"), p.member("b")
    p.on_start(a)
    a.observe_latency(0.0, 0.050)
    p.record_check("b", 0.0, False)
    fail(p, "c", 0.0, 1, Outcome.SERVER_ERROR)
    p.set_members([MemberSpec("b", 3), MemberSpec("a", 2), MemberSpec("d")], 1.0)
    assert [m.id for m in p.members] == ["b", "a", "d"]
    assert p.member("a") is a and a.in_flight == 1 and a.ewma == 0.050 and a.weight == 2
    assert p.member("b") is b and not b.active.up and b.weight == 3
    assert ids(p, 1.0) == ["a", "d"]
    with pytest.raises(KeyError):
        p.member("c")
    p.on_end(a, 1.0, 0.01, Outcome.OK)
    assert a.in_flight == 0


def test_a_request_ending_on_a_removed_member_is_harmless() -> None:
    p = pool({"a": 1, "b": 1}, "least_conn")
    a = p.member("a")
    p.on_start(a)
    p.set_members([MemberSpec("b")], 0.0)
    assert p.on_end(a, 0.0, 0.01, Outcome.SERVER_ERROR) is None
    assert set(serve(p, 5)) == {"b"}


def test_duplicate_member_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        Pool([MemberSpec("a"), MemberSpec("a")])
    with pytest.raises(ValueError):
        MemberSpec("a", 0)


def test_initially_down_members_wait_for_their_first_checks() -> None:
    p = Pool([MemberSpec("a")], thresholds=CheckThresholds(rise=2), initially_up=False)
    assert p.pick(0.0).panic  # type: ignore[union-attr]
    assert p.record_check("a", 1.0, True) is None
    assert p.record_check("a", 2.0, True) == Event("a", Change.UP)
    assert not p.pick(2.0).panic  # type: ignore[union-attr]


def test_a_policy_instance_or_name() -> None:
    from frontdesk.balance.policies import LeastConnections

    p = Pool([MemberSpec("a")], LeastConnections(), rng=random.Random(0))
    assert p.pick(0.0).member.id == "a"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        Pool([MemberSpec("a")], "fastest")


# -- the wire form -----------------------------------------------------------------------


def test_wire_round_trip_through_json() -> None:
    master = pool({"a": 1, "b": 2, "c": 3}, thresholds=ONE)
    master.record_check("b", 1.0, False)
    master.set_admin("c", AdminState.DRAIN, 1.0)
    wire = json.loads(json.dumps(master.to_wire()))
    worker = pool({"a": 1}, thresholds=ONE)
    events = worker.apply_wire(wire, 2.0)
    assert worker.to_wire() == master.to_wire()
    assert events == [Event("b", Change.DOWN)]
    assert ids(worker, 2.0) == ids(master, 2.0) == ["a"]


def test_stale_wire_is_ignored() -> None:
    master = pool({"a": 1, "b": 1}, thresholds=ONE)
    master.record_check("a", 0.0, False)
    old = master.to_wire()
    master.record_check("a", 1.0, True)
    new = master.to_wire()
    worker = pool({"a": 1, "b": 1}, thresholds=ONE)
    assert worker.apply_wire(new, 2.0) == []  # a is up both sides: nothing to report
    assert worker.apply_wire(old, 3.0) == []
    assert worker.member("a").active.up


def test_wire_up_starts_the_workers_slow_start() -> None:
    master = pool({"a": 1, "b": 1}, thresholds=ONE, slow_start=RAMP)
    worker = pool({"a": 1, "b": 1}, thresholds=ONE, slow_start=RAMP)
    master.record_check("a", 0.0, False)
    worker.apply_wire(master.to_wire(), 0.5)
    master.record_check("a", 10.0, True)
    assert worker.apply_wire(master.to_wire(), 10.5) == [Event("a", Change.UP)]
    assert dict((m.id, w) for m, w in worker.eligible(10.5))["a"] == pytest.approx(0.1)


def test_two_pools_converge_over_a_random_run() -> None:
    """The master applies checks, admin commands and member changes; a worker that gets
    every second broadcast, some twice and some late, ends equal to the master."""
    rng = random.Random(11)
    names = ["a", "b", "c", "d", "e"]
    master = pool(dict.fromkeys(names[:3], 1), thresholds=ONE)
    worker = pool(dict.fromkeys(names[:3], 1), thresholds=ONE)
    sent = []
    for step in range(300):
        now = float(step)
        roll = rng.random()
        present = [m.id for m in master.members]
        if roll < 0.6:
            master.record_check(rng.choice(present), now, rng.random() < 0.5)
        elif roll < 0.85:
            master.set_admin(rng.choice(present), rng.choice(list(AdminState)), now)
        else:
            chosen = rng.sample(names, rng.randint(1, 5))
            master.set_members([MemberSpec(n, rng.randint(1, 4)) for n in chosen], now)
        sent.append(json.loads(json.dumps(master.to_wire())))
        if step % 2:
            for wire in rng.sample(sent[-4:], min(3, len(sent))):  # repeats and reorders
                worker.apply_wire(wire, now)
    worker.apply_wire(sent[-1], 300.0)
    assert worker.to_wire() == master.to_wire()
    assert ids(worker, 400.0) == ids(master, 400.0)


class CountingPolicy(SmoothWeightedRoundRobin):
    """SWRR that counts its rebuilds."""

    __slots__ = ("rebuilds",)

    def __init__(self) -> None:
        super().__init__()
        self.rebuilds = 0

    def rebuild(self, view: View) -> None:
        self.rebuilds += 1
        super().rebuild(view)


def test_the_policy_is_rebuilt_only_when_the_view_changes() -> None:
    policy = CountingPolicy()
    p = Pool([MemberSpec("a"), MemberSpec("b")], policy, thresholds=ONE)
    serve(p, 10)
    assert policy.rebuilds == 1
    p.record_check("b", 1.0, False)
    serve(p, 10, now=1.0)
    assert policy.rebuilds == 2
    p.set_admin("b", AdminState.DRAIN, 2.0)  # b was down already: same view
    p.record_check("a", 2.0, True)  # a was up already: no event, no refresh
    serve(p, 10, now=2.0)
    assert policy.rebuilds == 2


def test_carry_over_keeps_the_masters_decisions_for_members_still_listed() -> None:
    old = pool({"a": 1, "b": 1, "c": 1}, thresholds=CheckThresholds(rise=2, fall=2))
    old.set_admin("a", AdminState.DRAIN, 1.0)
    old.record_check("b", 1.0, False)
    old.record_check("b", 2.0, False)  # b is down
    old.record_check("c", 2.0, False)  # c has one failure in its streak
    new = pool({"a": 1, "b": 1, "c": 1, "d": 1}, thresholds=CheckThresholds(rise=2, fall=2))
    new.carry_over(old)
    assert new.generation == old.generation + 1
    assert new.member("a").admin is AdminState.DRAIN
    assert not new.member("b").active.up
    assert new.member("d").admin is AdminState.ACTIVE and new.member("d").active.up
    assert new.record_check("c", 3.0, False) == Event("c", Change.DOWN)  # the streak went on
    assert ids(new, 3.0) == ["d"]


def test_a_passing_active_check_ends_an_ejection_that_began_before_it() -> None:
    p = pool({"a": 1, "b": 1}, outlier=OutlierConfig(consecutive=1, base=30.0))
    m = p.member("a")
    p.on_start(m)
    assert p.on_end(m, 1.0, 0.01, Outcome.CONNECT_ERROR) is not None  # ejected until 31
    p.checks_passed(["a"], since=0.5)  # that round began before the ejection: no proof
    assert ids(p, 2.0) == ["b"]
    p.checks_passed(["a", "gone"], since=1.5)  # an unknown member is ignored
    assert ids(p, 2.0) == ["a", "b"]
    assert p.take_events() == [Event("a", Change.RETURNED)]
    assert m.outlier.probation  # one more failure ejects it again, for twice as long
    p.on_start(m)
    event = p.on_end(m, 3.0, 0.01, Outcome.CONNECT_ERROR)
    assert event is not None and event.until == 63.0
    p.checks_passed(["b"], since=4.0)  # not ejected: nothing to do
    assert ids(p, 4.0) == ["b"]


@pytest.mark.parametrize("policy", ["p2c", "least_conn", "round_robin", "random"])
def test_start_member_is_pick_and_on_start_and_unstart_takes_it_back(policy: str) -> None:
    """The proxy's one-call path: the member it returns has the attempt counted (the
    cost least_conn and p2c read), and an attempt not sent after all is taken back."""
    p = pool({"a": 1, "b": 1}, policy)
    m = p.start_member(0.0)
    assert m is not None and m.in_flight == 1
    other = p.start_member(0.0)
    if policy == "least_conn":
        assert other is not m  # the first one's attempt counts against it
    assert other is not None
    p.unstart(m)
    p.unstart(other)
    assert m.in_flight == other.in_flight == 0
    p.unstart(m)  # never below zero
    assert m.in_flight == 0


def test_start_member_leaves_panic_mode_to_pick() -> None:
    p = pool({"a": 1}, "p2c", thresholds=ONE)
    p.record_check("a", 0.0, passed=False)
    assert p.start_member(1.0) is None
    choice = p.pick(1.0)
    assert choice is not None and choice.panic
