"""Properties of the balancing core (hypothesis)."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.balance import (
    AdminState,
    CheckThresholds,
    Member,
    MemberSpec,
    Outcome,
    OutlierConfig,
    Pool,
    RetryBudget,
    SlowStart,
)
from frontdesk.balance.hashring import HashRing, key_position
from frontdesk.balance.health import Outlier
from frontdesk.balance.policies import (
    LeastConnections,
    PeakEwmaP2C,
    SlotTable,
    SmoothWeightedRoundRobin,
)

# No per-example deadline: examples are small and bounded, but this machine is shared and
# a slow moment must not fail a correct run.
RELAXED = settings(deadline=None)

weight_lists = st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=12)


def members(weights: list[int]) -> list[Member]:
    return [Member(MemberSpec(f"m{i}", w)) for i, w in enumerate(weights)]


@RELAXED
@given(weight_lists, st.integers(min_value=1, max_value=3))
def test_swrr_serves_each_member_exactly_its_weight_per_period(
    weights: list[int], periods: int
) -> None:
    """nginx SWRR: over sum(weights) picks each member is picked exactly weight times."""
    ms = members(weights)
    policy = SmoothWeightedRoundRobin()
    policy.rebuild([(m, float(m.weight)) for m in ms])
    counts = Counter(policy.pick(0.0, None, ()) for _ in range(periods * sum(weights)))
    assert all(counts[m] == periods * m.weight for m in ms)


@RELAXED
@given(weight_lists)
def test_swrr_never_serves_a_member_twice_more_than_its_due(weights: list[int]) -> None:
    """Smoothness: after any prefix of t picks, member i's count stays within 2 of its due
    t × w_i / W (measured: at most ~1.02 over thousands of pools). Plain weighted round
    robin, which serves each member's weight in one burst, is 5 off for {10, 1 × 10}."""
    ms = members(weights)
    total = sum(weights)
    policy = SmoothWeightedRoundRobin()
    policy.rebuild([(m, float(m.weight)) for m in ms])
    counts: Counter[Member] = Counter()
    for t in range(1, total + 1):
        counts[policy.pick(0.0, None, ())] += 1  # type: ignore[index]
        for m in ms:
            assert abs(counts[m] - t * m.weight / total) < 2.0


@RELAXED
@given(weight_lists, st.data())
def test_swrr_never_picks_an_excluded_member(weights: list[int], data: st.DataObject) -> None:
    ms = members(weights)
    policy = SmoothWeightedRoundRobin()
    policy.rebuild([(m, float(m.weight)) for m in ms])
    for _ in range(30):
        exclude = set(data.draw(st.lists(st.sampled_from(ms), max_size=len(ms))))
        got = policy.pick(0.0, None, exclude)
        assert (got is None) == (len(exclude) == len(ms))
        assert got not in exclude


@RELAXED
@given(st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_slot_table_shares_are_the_weights_to_within_one_slot(weights: list[int]) -> None:
    """Each member holds its weight's share of the 2**bits slots, rounded by largest
    remainder: never more than one slot off, and every member has at least one."""
    ms = members(weights)
    table = SlotTable([(m, float(m.weight)) for m in ms])
    size = 1 << table.bits
    assert len(table.slots) == size >= 64 * len(ms)
    total = sum(weights)
    for m in ms:
        held = sum(1 for s in table.slots if s is m)
        assert held >= 1
        assert abs(held - m.weight * size / total) < 1.0


@RELAXED
@given(st.lists(st.integers(1, 20), min_size=2, max_size=12))
def test_p2c_pairs_are_two_weighted_draws_without_repeat(weights: list[int]) -> None:
    """P2C draws both choices at once from a table of ordered pairs: (a, b) holds the
    chance of a drawn by weight, then b by weight among the others, to within a slot."""
    ms = members(weights)
    p2c = PeakEwmaP2C(random.Random(0))
    p2c.rebuild([(m, float(m.weight)) for m in ms])
    size = 1 << p2c._pair_bits
    assert len(p2c._pairs) == size
    held = Counter((a.id, b.id) for a, b in p2c._pairs)
    total = sum(weights)
    for a in ms:
        for b in ms:
            expected = a.weight / total * b.weight / (total - a.weight) * size
            got = held[(a.id, b.id)]
            assert got == 0 if a is b else (got >= 1 and abs(got - expected) < 1.0)


names = st.lists(st.from_regex(r"10\.0\.[0-9]{1,3}\.[0-9]{1,3}:80", fullmatch=True), min_size=2)
keys = st.lists(st.binary(min_size=1, max_size=16), min_size=1, max_size=200)


def ring(ids: list[str]) -> HashRing:
    r = HashRing()
    r.rebuild([(Member(MemberSpec(i)), 1.0) for i in ids])
    return r


def owner(r: HashRing, key: bytes) -> str:
    m = r.lookup(key_position(key), ())
    assert m is not None
    return m.id


@settings(max_examples=40, deadline=None)
@given(names.map(lambda xs: sorted(set(xs))).filter(lambda xs: len(xs) >= 2), keys, st.data())
def test_ring_removal_never_moves_keys_between_other_members(
    ids: list[str], ks: list[bytes], data: st.DataObject
) -> None:
    gone = data.draw(st.sampled_from(ids))
    before, after = ring(ids), ring([i for i in ids if i != gone])
    for k in ks:
        if owner(before, k) != gone:
            assert owner(after, k) == owner(before, k)


@settings(max_examples=40, deadline=None)
@given(names.map(lambda xs: sorted(set(xs))).filter(lambda xs: len(xs) >= 2), keys)
def test_ring_addition_only_moves_keys_to_the_newcomer(ids: list[str], ks: list[bytes]) -> None:
    before, after = ring(ids[:-1]), ring(ids)
    for k in ks:
        assert owner(after, k) in (owner(before, k), ids[-1])


ops = st.lists(
    st.tuples(st.sampled_from(["pick", "start", "end"]), st.integers(0, 7)), max_size=200
)


@RELAXED
@given(st.lists(st.integers(1, 5), min_size=1, max_size=12), ops, st.sampled_from([0, 8]))
def test_least_conn_always_picks_a_least_loaded_member(
    weights: list[int],
    script: list,  # type: ignore[type-arg]
    scan_up_to: int,
) -> None:
    ms = members(weights)
    policy = LeastConnections(scan_up_to=scan_up_to)
    policy.rebuild([(m, float(m.weight)) for m in ms])
    for op, i in script:
        m = ms[i % len(ms)]
        if op == "start":
            m.in_flight += 1
            policy.on_start(m)
        elif op == "end" and m.in_flight:
            m.in_flight -= 1
            policy.on_end(m)
        elif op == "pick":
            got = policy.pick(0.0, None, ())
            assert got is not None
            assert got.in_flight / got.weight == min(x.in_flight / x.weight for x in ms)


admin_ops = st.lists(
    st.tuples(
        st.sampled_from(["check", "admin", "members"]),
        st.integers(0, 4),
        st.booleans(),
        st.sampled_from(list(AdminState)),
        st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True),
    ),
    max_size=40,
)


@RELAXED
@given(admin_ops, st.lists(st.booleans(), max_size=40))
def test_a_worker_that_gets_the_last_broadcast_equals_the_master(
    script: list,  # type: ignore[type-arg]
    deliveries: list[bool],
) -> None:
    """Whatever the master did and whichever broadcasts were lost in between, applying the
    newest one makes the worker's pool equal (to_wire is the whole shared state)."""
    names = ["a", "b", "c", "d", "e"]
    ones = CheckThresholds(rise=1, fall=1)
    master = Pool([MemberSpec(n) for n in names[:3]], thresholds=ones)
    worker = Pool([MemberSpec(n) for n in names[:3]], thresholds=ones)
    for step, (op, i, passed, admin, chosen) in enumerate(script):
        present = [m.id for m in master.members]
        target = present[i % len(present)]
        if op == "check":
            master.record_check(target, float(step), passed)
        elif op == "admin":
            master.set_admin(target, admin, float(step))
        else:
            master.set_members([MemberSpec(names[j], j + 1) for j in chosen], float(step))
        if step < len(deliveries) and deliveries[step]:
            worker.apply_wire(json.loads(json.dumps(master.to_wire())), float(step))
    worker.apply_wire(master.to_wire(), 100.0)
    assert worker.to_wire()["members"] == master.to_wire()["members"]
    assert [m.id for m, _ in worker.eligible(100.0)] == [m.id for m, _ in master.eligible(100.0)]


@RELAXED
@given(
    st.lists(
        st.tuples(st.floats(0, 0.5), st.sampled_from(["request", "retry"])),
        max_size=300,
    ),
    st.floats(0.0, 1.0),
    st.floats(0.0, 5.0),
)
def test_retry_budget_never_exceeds_its_bound(
    events: list[tuple[float, str]], ratio: float, floor: float
) -> None:
    """In every window, retries granted ≤ ratio × requests + floor × window (Finagle)."""
    window = 10.0
    b = RetryBudget(ratio=ratio, min_per_second=floor, window=window, buckets=10)
    now = 0.0
    log: list[tuple[float, str]] = []
    for dt, kind in events:
        now += dt
        if kind == "request":
            b.record_request(now)
            log.append((now, kind))
        elif b.try_retry(now):
            log.append((now, kind))
    for i, (t, kind) in enumerate(log):
        if kind != "retry":
            continue
        # The budget's window at t: the ten one-second buckets ending with t's.
        first_bucket = math.floor(t) - 9
        inside = [k for s, k in log[: i + 1] if math.floor(s) >= first_bucket]
        assert inside.count("retry") <= ratio * inside.count("request") + floor * window + 1e-9


@RELAXED
@given(st.lists(st.booleans(), max_size=200))
def test_ejection_times_stay_within_base_and_max(results: list[bool]) -> None:
    config = OutlierConfig(consecutive=2, base=1.0, max=8.0)
    o = Outlier()
    now = 0.0
    for failed in results:
        now += 0.5
        o.release(now)
        before = o.ejected_until
        o.record(now, failed, config)
        if o.ejected_until is not None and before is None:
            assert 1.0 <= o.ejected_until - now <= 8.0


pool_ops = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(0, 99), st.sampled_from(list(Outcome))),
        st.tuples(st.just("check"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("admin"), st.integers(0, 5), st.sampled_from(list(AdminState))),
        st.tuples(st.just("members"), st.lists(st.integers(0, 5), min_size=1, unique=True)),
        st.tuples(st.just("retry"), st.integers(0, 99), st.integers(1, 3)),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["round_robin", "least_conn", "least_conn_heap", "p2c", "random", "hash"]),
    st.booleans(),
    pool_ops,
    st.integers(0, 2**32),
)
def test_pool_picks_only_eligible_members_unless_in_panic(
    policy: str,
    sticky: bool,
    script: list,  # type: ignore[type-arg]
    seed: int,
) -> None:
    """Through any mix of traffic, checks, admin commands, member changes, retries, slow
    start and ejections, a pick is an eligible member not yet tried, or a panic pick
    exactly when nothing is eligible, or None only when nothing is left to try."""
    rng = random.Random(seed)
    names = [f"10.0.0.{i}:80" for i in range(6)]
    p = Pool(
        [MemberSpec(n, 1 + i % 3) for i, n in enumerate(names[:3])],
        LeastConnections(scan_up_to=0) if policy == "least_conn_heap" else policy,
        rng=rng,
        thresholds=CheckThresholds(rise=1, fall=2),
        outlier=OutlierConfig(consecutive=2, base=2.0, max=8.0),
        slow_start=SlowStart(period=3.0, steps=4),
        sticky_secret=b"s" if sticky else None,
    )
    now = 0.0
    cookie: str | None = None
    open_: list[Member] = []
    for op in script:
        now += rng.random()
        ids = [m.id for m in p.members]
        if op[0] == "check":
            p.record_check(ids[op[1] % len(ids)], now, op[2])
        elif op[0] == "admin":
            p.set_admin(ids[op[1] % len(ids)], op[2], now)
        elif op[0] == "members":
            p.set_members([MemberSpec(names[j], 1 + j % 3) for j in op[1]], now)
        else:
            tried: set[Member] = set()
            for _ in range(op[2] if op[0] == "retry" else 1):  # (kind, key, tries | outcome)
                eligible = {m for m, _ in p.eligible(now)}
                choice = p.pick(now, key=b"%d" % op[1], cookie=cookie, exclude=tried)
                if choice is None:
                    if eligible:  # a retry that has tried every eligible member
                        assert eligible <= tried
                    else:  # nor is any member left that an operator has not taken out
                        active = {m for m in p.members if m.admin is AdminState.ACTIVE}
                        assert active <= tried
                    break
                assert choice.member not in tried
                assert choice.panic == (not eligible)
                assert choice.panic or choice.member in eligible
                cookie = choice.cookie or cookie
                tried.add(choice.member)
                p.on_start(choice.member)
                open_.append(choice.member)
            if open_ and rng.random() < 0.7:
                m = open_.pop(rng.randrange(len(open_)))
                outcome = op[2] if op[0] == "request" else Outcome.OK
                p.on_end(m, now, rng.random() / 10, outcome)
    for m in open_:
        p.on_end(m, now, 0.01, Outcome.OK)
    assert all(m.in_flight == 0 for m in p.members)
