"""Balancing policies: nginx SWRR order, weighted shares, least-conn, peak-EWMA P2C."""

from __future__ import annotations

import math
import random

import pytest
from balance_helpers import pool, serve, shares

from frontdesk.balance import BALANCERS, Member, MemberSpec, Outcome, Pool
from frontdesk.balance.members import EWMA_TAU
from frontdesk.balance.policies import (
    LeastConnections,
    PeakEwmaP2C,
    SlotTable,
    SmoothWeightedRoundRobin,
)


def nginx_swrr(weights: list[int], n: int) -> list[int]:
    """nginx's ngx_http_upstream_get_peer loop, literally (O(n) per pick): the oracle."""
    current = [0] * len(weights)
    total = sum(weights)
    out = []
    for _ in range(n):
        best = -1
        for i, w in enumerate(weights):
            current[i] += w
            if best == -1 or current[i] > current[best]:
                best = i
        current[best] -= total
        out.append(best)
    return out


def members(*weights: int) -> list[Member]:
    return [Member(MemberSpec(chr(ord("a") + i), w)) for i, w in enumerate(weights)]


# -- smooth weighted round robin ---------------------------------------------------------


def test_swrr_gives_nginx_sequence_for_5_1_1() -> None:
    """nginx's commit message for SWRR: weights {5, 1, 1} pick a a b a c a a."""
    p = pool({"a": 5, "b": 1, "c": 1})
    picks = "".join(p.pick(0.0).member.id for _ in range(14))  # type: ignore[union-attr]
    assert picks == "aabacaa" * 2


@pytest.mark.parametrize(
    "weights", [[1], [1, 1, 1], [3, 2, 1], [10, 3, 7, 1], [2, 2, 5, 5, 1], [100, 1], [4, 6, 4, 6]]
)
def test_swrr_matches_the_nginx_loop(weights: list[int]) -> None:
    """The O(k log n) lazy form picks exactly what nginx's O(n) loop picks, ties included."""
    policy = SmoothWeightedRoundRobin()
    ms = members(*weights)
    policy.rebuild([(m, float(m.weight)) for m in ms])
    got = [ms.index(policy.pick(0.0, None, ())) for _ in range(3 * sum(weights))]  # type: ignore[arg-type]
    assert got == nginx_swrr(weights, 3 * sum(weights))


def test_swrr_excluding_the_best_takes_the_next_best_and_keeps_counting() -> None:
    """A retry that tried `a` gets b (current 1, ahead of c by pool order, as nginx)."""
    policy = SmoothWeightedRoundRobin()
    a, b, c = members(5, 1, 1)
    policy.rebuild([(a, 5.0), (b, 1.0), (c, 1.0)])
    assert policy.pick(0.0, None, {a}) is b
    assert policy.pick(0.0, None, {a, b, c}) is None
    # Over the next full periods every member is still served in proportion.
    seq = [policy.pick(0.0, None, ()) for _ in range(70)]
    assert (seq.count(a), seq.count(b), seq.count(c)) == pytest.approx((50, 10, 10), abs=2)


def test_swrr_keeps_current_weights_across_a_rebuild() -> None:
    """A rebuild that changes nothing must not restart the sequence from the top."""
    policy = SmoothWeightedRoundRobin()
    a, b, c = members(5, 1, 1)
    view = [(a, 5.0), (b, 1.0), (c, 1.0)]
    policy.rebuild(view)
    first = [policy.pick(0.0, None, ()) for _ in range(3)]
    policy.rebuild(view)
    rest = [policy.pick(0.0, None, ()) for _ in range(4)]
    assert "".join(m.id for m in first + rest) == "aabacaa"  # type: ignore[union-attr]


def test_swrr_fractional_weights_of_slow_start_are_honoured() -> None:
    """Effective weights 0.5 and 1.0 (a member half-way up its ramp) share 1:2."""
    policy = SmoothWeightedRoundRobin()
    a, b = members(1, 1)
    policy.rebuild([(a, 0.5), (b, 1.0)])
    seq = [policy.pick(0.0, None, ()) for _ in range(300)]
    assert seq.count(a) == 100 and seq.count(b) == 200


# -- shares by weight, every policy ------------------------------------------------------


# A hash ring's shares are as even as its points: 160 per unit of weight (nginx's count)
# leave each member's share off by ~1/sqrt(points) of itself; test_balance_hashring.py
# measures that spread over many pools.
TOLERANCE = {"hash": 0.04}


@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_weights_1_2_5_give_shares_within_2_percent(name: str) -> None:
    """Every policy honours weight: 8000 requests over weights 1:2:5 → 12.5/25/62.5% ±2%."""
    p = pool({"a": 1, "b": 2, "c": 5}, name)
    got = shares(serve(p, 8000, key=lambda i: f"client-{i}".encode()))
    tolerance = TOLERANCE.get(name, 0.02)
    assert got["a"] == pytest.approx(1 / 8, abs=tolerance)
    assert got["b"] == pytest.approx(2 / 8, abs=tolerance)
    assert got["c"] == pytest.approx(5 / 8, abs=tolerance)


@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_every_policy_respects_exclude_and_an_empty_view(name: str) -> None:
    policy = BALANCERS[name](random.Random(1))
    a, b, c = members(1, 1, 1)
    policy.rebuild([])
    assert policy.pick(0.0, b"k", ()) is None
    policy.rebuild([(a, 1.0), (b, 1.0), (c, 1.0)])
    for i in range(50):
        assert policy.pick(0.0, str(i).encode(), {a, b}) is c
    assert policy.pick(0.0, b"k", {a, b, c}) is None


# -- least connections -------------------------------------------------------------------

# Both ways of keeping order: the scan of small pools and the heap of large ones.
SCAN = pytest.mark.parametrize("scan_up_to", [0, 8], ids=["heap", "scan"])


def lc_pool(weights: dict[str, int], scan_up_to: int) -> Pool:
    specs = [MemberSpec(name, w) for name, w in weights.items()]
    return Pool(specs, LeastConnections(scan_up_to=scan_up_to))


@SCAN
def test_least_conn_picks_the_member_with_fewest_in_flight(scan_up_to: int) -> None:
    p = lc_pool({"a": 1, "b": 1, "c": 1}, scan_up_to)
    a, b, c = p.members
    for m in (a, a, b):
        p.on_start(m)
    assert p.pick(0.0).member is c  # type: ignore[union-attr]
    p.on_start(c)
    p.on_start(c)
    assert p.pick(0.0).member is b  # type: ignore[union-attr]  # b 1, a 2, c 2
    p.on_end(a, 0.0, 0.01, Outcome.OK)
    p.on_end(a, 0.0, 0.01, Outcome.OK)
    assert p.pick(0.0).member is a  # type: ignore[union-attr]


@SCAN
def test_least_conn_divides_in_flight_by_weight(scan_up_to: int) -> None:
    """nginx least_conn compares conns/weight: b (3 in flight, weight 4) beats a (1, weight 1)."""
    p = lc_pool({"a": 1, "b": 4}, scan_up_to)
    a, b = p.members
    p.on_start(a)
    for _ in range(3):
        p.on_start(b)
    assert p.pick(0.0).member is b  # type: ignore[union-attr]
    p.on_start(b)  # 4/4 = 1 = 1/1: a tie now
    p.on_start(b)  # 5/4 > 1
    assert p.pick(0.0).member is a  # type: ignore[union-attr]


@SCAN
def test_least_conn_shares_ties_in_turn(scan_up_to: int) -> None:
    """Equal loads are taken in turn (nginx falls back to round robin among equals)."""
    p = lc_pool({"a": 1, "b": 1, "c": 1}, scan_up_to)
    seq = [p.pick(0.0).member.id for _ in range(9)]  # type: ignore[union-attr]
    assert sorted(seq[:3]) == ["a", "b", "c"]
    assert seq[:3] == seq[3:6] == seq[6:9]


@SCAN
def test_least_conn_under_concurrency_keeps_loads_level(scan_up_to: int) -> None:
    """Requests that overlap: whatever is picked next is a least-loaded member."""
    p = lc_pool({"a": 1, "b": 2, "c": 1}, scan_up_to)
    rng = random.Random(3)
    open_: list[Member] = []
    for _ in range(2000):
        if open_ and rng.random() < 0.45:
            m = open_.pop(rng.randrange(len(open_)))
            p.on_end(m, 0.0, 0.01, Outcome.OK)
            continue
        m = p.pick(0.0).member  # type: ignore[union-attr]
        assert m.in_flight / m.weight == min(x.in_flight / x.weight for x in p.members)
        p.on_start(m)
        open_.append(m)


@SCAN
def test_least_conn_shares_sequential_traffic_by_weight(scan_up_to: int) -> None:
    """Requests that never overlap tie at 0 in flight: the stride tie-break gives 1:2:5."""
    got = shares(serve(lc_pool({"a": 1, "b": 2, "c": 5}, scan_up_to), 8000))
    assert got == pytest.approx({"a": 1 / 8, "b": 2 / 8, "c": 5 / 8}, abs=0.005)


@SCAN
def test_least_conn_members_that_stay_keep_their_turn_across_a_rebuild(scan_up_to: int) -> None:
    policy = LeastConnections(scan_up_to=scan_up_to)
    a, b, c = members(1, 1, 1)
    policy.rebuild([(a, 1.0), (b, 1.0)])
    assert policy.pick(0.0, None, ()) is a
    policy.rebuild([(a, 1.0), (b, 1.0), (c, 1.0)])
    assert policy.pick(0.0, None, ()) is b  # a had its turn; b and c have not


@SCAN
def test_least_conn_newcomer_does_not_take_every_tie(scan_up_to: int) -> None:
    """A member added after 1000 picks starts at the current virtual time (stride pass)."""
    policy = LeastConnections(scan_up_to=scan_up_to)
    a, b, c = members(1, 1, 1)
    policy.rebuild([(a, 1.0), (b, 1.0)])
    for _ in range(1000):
        policy.pick(0.0, None, ())
    policy.rebuild([(a, 1.0), (b, 1.0), (c, 1.0)])
    seq = [policy.pick(0.0, None, ()) for _ in range(30)]
    assert 9 <= seq.count(c) <= 11  # it would take all 30 had it started at pass 0


# -- power of two choices on peak EWMA ---------------------------------------------------


def test_p2c_prefers_the_fast_server_but_still_sends_the_others_some() -> None:
    """Finagle P2C: a 10 ms server among two 100 ms ones wins every pair it is in (2 of 3
    pairs), and the slow pair still shares the remaining third."""
    p = pool({"fast": 1, "slow1": 1, "slow2": 1}, "p2c")
    lat = {"fast": 0.010, "slow1": 0.100, "slow2": 0.100}
    got = shares(serve(p, 6000, latency=lat.__getitem__))
    assert got["fast"] == pytest.approx(2 / 3, abs=0.03)
    assert got["slow1"] > 0.12 and got["slow2"] > 0.12


def test_p2c_in_flight_requests_penalise_a_fast_server() -> None:
    """Peak EWMA cost is latency × (in_flight + 1): 20 requests on the fast server make the
    slow idle one cheaper, so the fast one does not attract a burst."""
    p = pool({"fast": 1, "slow": 1}, "p2c")
    fast, slow = p.members
    fast.observe_latency(0.0, 0.010)
    slow.observe_latency(0.0, 0.100)
    assert p.pick(0.0).member is fast  # type: ignore[union-attr]
    for _ in range(20):
        p.on_start(fast)
    assert {p.pick(0.0).member for _ in range(20)} == {slow}  # type: ignore[union-attr]


def test_p2c_probes_a_server_again_once_its_bad_record_has_faded() -> None:
    """A server with one slow answer (1 s) is avoided while that is fresh and tried again a
    minute later, when its faded estimate is under the busy server's 10 ms."""
    p = pool({"busy": 1, "idle": 1}, "p2c")
    busy, idle = p.members
    idle.observe_latency(0.0, 1.0)
    busy.observe_latency(0.0, 0.010)
    assert p.pick(1.0).member is busy  # type: ignore[union-attr]
    busy.observe_latency(60.0, 0.010)
    assert idle.latency_estimate(60.0) == pytest.approx(math.exp(-6.0))
    assert p.pick(60.0).member is idle  # type: ignore[union-attr]


def test_ewma_decays_with_time_not_with_sample_count() -> None:
    """Ten samples or a thousand over the same 5 s move the estimate the same distance."""
    few, many = members(1, 1)
    for m in (few, many):
        m.observe_latency(0.0, 0.100)
    for i in range(1, 11):
        few.observe_latency(i * 0.5, 0.010)
    for i in range(1, 1001):
        many.observe_latency(i * 0.005, 0.010)
    expected = 0.010 + 0.090 * math.exp(-5.0 / EWMA_TAU)
    assert few.ewma == pytest.approx(expected)
    assert many.ewma == pytest.approx(expected)


def test_ewma_takes_a_peak_at_once() -> None:
    """Peak EWMA: a sample above the estimate replaces it, however recent the last one."""
    (m,) = members(1)
    m.observe_latency(0.0, 0.010)
    m.observe_latency(0.0, 0.500)
    assert m.ewma == 0.500
    assert m.latency_estimate(0.0) == 0.500


def test_p2c_with_one_member_or_all_but_one_excluded() -> None:
    policy = PeakEwmaP2C(random.Random(0))
    a, b = members(1, 1)
    policy.rebuild([(a, 1.0)])
    assert policy.pick(0.0, None, ()) is a
    policy.rebuild([(a, 1.0), (b, 1.0)])
    assert all(policy.pick(0.0, None, {a}) is b for _ in range(20))


def test_slot_table_samples_in_proportion_to_weight() -> None:
    """One draw of random bits per sample, weights 1:3 → 25/75%."""
    a, b = members(1, 3)
    table = SlotTable([(a, 1.0), (b, 3.0)])
    rng = random.Random(5)
    draws = [table.draw(rng, ()) for _ in range(20000)]
    assert draws.count(a) / 20000 == pytest.approx(0.25, abs=0.01)
    assert SlotTable([]).draw(rng, ()) is None
