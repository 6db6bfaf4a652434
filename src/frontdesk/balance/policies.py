"""Balancing policies: one small class each behind :class:`Policy`, registered by name.

A policy only ever sees the members the pool found eligible, with their effective weights
(configured weight × slow-start ramp), through :meth:`Policy.rebuild`; it is rebuilt
whenever that view changes, so :meth:`Policy.pick` never scans for health or drain. Each
``pick`` is O(1) or O(log n) in the pool size. The names are in :mod:`.registry`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar

from .heap import IndexedHeap
from .members import EWMA_TAU, Member

T = TypeVar("T")

# Seconds since a member's last latency sample below which its estimate is read as is:
# exp(-FRESH / EWMA_TAU) > 0.999, a fading too small to change a choice.
FRESH = EWMA_TAU / 1000

View = Sequence[tuple[Member, float]]  # eligible members in pool order, effective weights
NOTHING: frozenset[Member] = frozenset()


class Policy(Protocol):
    """What the pool asks of a balancing policy."""

    def rebuild(self, view: View) -> None:
        """Take a new set of eligible members; keep state of members that stay."""

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        """Choose a member not in ``exclude`` (those a retry already tried), or None."""

    tracks_in_flight: bool
    """Whether on_start/on_end do anything: the pool skips the calls when not (they
    run on every request)."""

    def on_start(self, member: Member) -> None:
        """``member.in_flight`` just went up by one."""

    def on_end(self, member: Member) -> None:
        """``member.in_flight`` just went down by one (latency is already folded in)."""


class SmoothWeightedRoundRobin:
    """nginx's smooth weighted round robin, exact, in O(k log n) per pick.

    nginx (``ngx_http_upstream_get_peer``): on every pick each server's ``current`` grows
    by its weight, the largest ``current`` wins (the first in pool order on a tie), and the
    winner's ``current`` drops by the total weight. Weights {a:5, b:1, c:1} give
    ``a a b a c a a``: the heavy server is spread out, not sent bursts.

    Done literally that is O(n) per pick. Here ``current_i = base_i + t × w_i`` after ``t``
    picks, so only the winner's ``base`` ever changes; members of equal weight keep their
    order between picks, so each weight class is a heap on ``base`` and a pick looks at the
    top of each class: O(k log n) for k distinct effective weights (usually 1 to 3; a member
    ramping up under slow start is a class of its own while it ramps).

    Effective weights are scaled to integers (×100): the sequence is the same as nginx's for
    integer weights, and the arithmetic is exact however long the pool runs.
    """

    __slots__ = ("_t", "_total", "_classes", "_weight", "_base", "_order")
    tracks_in_flight = False

    SCALE = 100

    def __init__(self, rng: random.Random | None = None) -> None:
        self._t = 0
        self._total = 0
        self._classes: dict[int, list[tuple[int, int, Member]]] = {}  # w -> heap(-base, order)
        self._weight: dict[Member, int] = {}
        self._base: dict[Member, int] = {}
        self._order: dict[Member, int] = {}

    def rebuild(self, view: View) -> None:
        t = self._t
        # Keep each staying member's `current` (nginx keeps it across weight changes too);
        # newcomers start at 0. Then restart the step count so numbers stay small.
        current = {m: self._base[m] + t * w for m, w in self._weight.items()}
        self._t = 0
        self._weight = {m: max(1, round(ew * self.SCALE)) for m, ew in view}
        self._base = {m: current.get(m, 0) for m, _ in view}
        self._order = {m: i for i, (m, _) in enumerate(view)}
        self._total = sum(self._weight.values())
        classes: dict[int, list[tuple[int, int, Member]]] = {}
        for m, w in self._weight.items():
            classes.setdefault(w, []).append((-self._base[m], self._order[m], m))
        for heap in classes.values():
            heapq.heapify(heap)
        self._classes = classes

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        self._t += 1
        t = self._t
        best: tuple[int, int, Member] | None = None
        best_current = 0
        best_w = 0
        for w, heap in self._classes.items():
            entry = heap[0] if not exclude else _top_excluding(heap, exclude)
            if entry is None:
                continue
            current = t * w - entry[0]
            if (
                best is None
                or current > best_current
                or (current == best_current and entry[1] < best[1])
            ):
                best, best_current, best_w = entry, current, w
        if best is None:
            return None
        member = best[2]
        base = self._base[member] - self._total
        self._base[member] = base
        heap = self._classes[best_w]
        if heap[0] is best:
            heapq.heapreplace(heap, (-base, best[1], member))
        else:  # the winner sat below excluded entries
            heap.remove(best)
            heap.append((-base, best[1], member))
            heapq.heapify(heap)
        return member

    def on_start(self, member: Member) -> None:
        pass

    def on_end(self, member: Member) -> None:
        pass


def _top_excluding(
    heap: list[tuple[int, int, Member]], exclude: Collection[Member]
) -> tuple[int, int, Member] | None:
    """The best heap entry whose member is not excluded.

    Only a retry whose tried member tops this weight class gets past the first line; it
    then costs O(n) (``nsmallest`` over the class, and a re-heapify after the pick). Retries
    are capped by the retry budget, so this stays off the common path.
    """
    if heap[0][2] not in exclude:
        return heap[0]
    for entry in heapq.nsmallest(len(exclude) + 1, heap):
        if entry[2] not in exclude:
            return entry
    return None


class _Stride:
    """least_conn's bookkeeping for one member."""

    __slots__ = ("inverse", "pass_", "order")

    def __init__(self, weight: float, pass_: float, order: int) -> None:
        self.inverse = 1.0 / weight  # multiply, not divide, on every key
        self.pass_ = pass_
        self.order = order


class LeastConnections:
    """Fewest requests in flight per unit of weight; ties shared out by weight.

    As nginx ``least_conn``: the member with the least ``in_flight / weight`` wins; among
    equals nginx falls back to weighted round robin. Here the tie-break is stride
    scheduling (each pick advances the winner's ``pass`` by ``1/weight``, the smallest
    ``pass`` wins a tie, then pool order), which shares ties in proportion to weight, so a
    pool whose requests never overlap is still balanced by weight.

    Pools of more than ``scan_up_to`` members sit in an indexed heap on
    ``(in_flight / weight, pass, pool order)``: O(log n) per pick, start and end. Smaller
    ones are scanned at each pick instead (O(n) with n bounded by ``scan_up_to``): for a
    handful of members a scan costs less than keeping a heap in order on every start and
    end (measured: 0.9 µs instead of 1.9 µs per request at n=3; bench/balance_pick.py).
    """

    __slots__ = ("_heap", "_strides", "_scan", "_scan_up_to", "_vtime")
    tracks_in_flight = True

    def __init__(self, rng: random.Random | None = None, *, scan_up_to: int = 8) -> None:
        self._heap: IndexedHeap[Member] = IndexedHeap()
        self._strides: dict[Member, _Stride] = {}
        self._scan: list[tuple[Member, _Stride]] | None = []
        self._scan_up_to = scan_up_to
        self._vtime = 0.0  # the pass of the latest pick: where newcomers start

    def rebuild(self, view: View) -> None:
        # A newcomer starts at the current virtual time, not 0, so it does not take every
        # tie until it has caught up with members that have been serving for hours.
        old = self._strides
        strides = {}
        for order, (m, w) in enumerate(view):
            previous = old.get(m)
            strides[m] = _Stride(w, self._vtime if previous is None else previous.pass_, order)
        self._strides = strides
        self._heap = IndexedHeap()
        if len(view) <= self._scan_up_to:
            self._scan = list(strides.items())
            return
        self._scan = None
        for m, s in strides.items():
            self._heap.push(m, (m.in_flight * s.inverse, s.pass_, s.order))

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        scan = self._scan
        if scan is not None:
            return self._pick_scanning(scan, exclude)
        member = self._heap.top() if not exclude else self._heap.best_excluding(exclude)
        if member is None:
            return None
        s = self._strides[member]
        self._vtime = s.pass_
        s.pass_ += s.inverse
        self._heap.update(member, (member.in_flight * s.inverse, s.pass_, s.order))
        return member

    def _pick_scanning(
        self, scan: list[tuple[Member, _Stride]], exclude: Collection[Member]
    ) -> Member | None:
        best: Member | None = None
        best_stride = None
        best_load = 0.0
        for m, s in scan:  # pool order, and strict `<`: ties go to the first, as the heap's
            if m in exclude:
                continue
            load = m.in_flight * s.inverse
            if (
                best_stride is None
                or load < best_load
                or (load == best_load and s.pass_ < best_stride.pass_)
            ):
                best, best_stride, best_load = m, s, load
        if best_stride is not None:
            self._vtime = best_stride.pass_
            best_stride.pass_ += best_stride.inverse
        return best

    def on_start(self, member: Member) -> None:
        if self._scan is None:
            self._moved(member)

    def on_end(self, member: Member) -> None:
        if self._scan is None:
            self._moved(member)

    def _moved(self, member: Member) -> None:
        s = self._strides.get(member)
        if s is not None:  # None: drained or down since it was picked
            self._heap.update(member, (member.in_flight * s.inverse, s.pass_, s.order))


def spread_over_slots(items: Sequence[tuple[T, float]], per_item: int) -> tuple[list[T], int]:
    """``(slots, bits)``: the items repeated in proportion to their weights over 2**bits
    slots, at least ``per_item`` slots per item on average (up to 2**16) and at least one
    each, so that ``slots[getrandbits(bits)]`` is a weighted draw.

    A draw is then a list index, ~35 ns; Walker's alias method needs a float draw and an
    ``int()`` besides (~150 ns on CPython 3.11). A share is off by at most one slot
    (largest-remainder rounding), less than 1/per_item of an average item's share.
    """
    n = len(items)
    total = sum(w for _, w in items)
    if not n or total <= 0:
        return [], 0
    bits = min(16, max(8, (per_item * n - 1).bit_length()))
    size = 1 << bits
    # Largest remainder (Hamilton's method): whole shares first, at least one slot each,
    # then the slots left over to the largest fractional parts.
    exact = [w * size / total for _, w in items]
    counts = [max(1, int(e)) for e in exact]
    left = size - sum(counts)
    by_remainder = sorted(range(n), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[:left] if left > 0 else ():
        counts[i] += 1
    while left < 0:  # items raised to one slot took more than was left
        j = counts.index(max(counts))
        counts[j] -= 1
        left += 1
    return [item for (item, _), c in zip(items, counts, strict=True) for _ in range(c)], bits


class SlotTable:
    """Weighted sampling of members with one ``getrandbits`` (:func:`spread_over_slots`)."""

    __slots__ = ("members", "slots", "bits")

    def __init__(self, view: View) -> None:
        self.members = [m for m, _ in view]
        self.slots, self.bits = spread_over_slots(view, 64)

    def draw(
        self, rng: random.Random, exclude: Collection[Member], other_than: Member | None = None
    ) -> Member | None:
        """A weighted draw that avoids ``exclude`` and ``other_than``.

        Rejection keeps the draw weighted; after four misses (a retry that excluded most of
        the weight, or one member holding most of it) an O(n) filter settles it.
        """
        if not self.slots:
            return None
        slots, bits = self.slots, self.bits
        for _ in range(4):
            m = slots[rng.getrandbits(bits)]
            if m is not other_than and m not in exclude:
                return m
        rest = [m for m in self.members if m is not other_than and m not in exclude]
        return rng.choice(rest) if rest else None


class WeightedRandom:
    """A member at random in proportion to its weight; O(1)."""

    __slots__ = ("_rng", "_table")
    tracks_in_flight = False

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._table = SlotTable(())

    def rebuild(self, view: View) -> None:
        self._table = SlotTable(view)

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        return self._table.draw(self._rng, exclude)

    def on_start(self, member: Member) -> None:
        pass

    def on_end(self, member: Member) -> None:
        pass


class PeakEwmaP2C:
    """Power of two choices on a peak-EWMA latency × in-flight cost; O(1).

    Two members are drawn at random, in proportion to weight, and the cheaper one wins
    (Mitzenmacher's "power of two choices": exponentially better than one random choice,
    and no global scan). The cost is Finagle's peak EWMA load metric,
    ``latency_estimate × (in_flight + 1)``: a server that turns slow is avoided at once
    (a slow sample replaces the estimate), and a fast server that already has many
    requests in flight looks expensive, so it does not attract a burst. The estimate fades
    with time (see :meth:`Member.latency_estimate`), so a server out of favour is probed
    again. ``floor`` (seconds) stands in for a latency not yet measured, so a newcomer's
    in-flight requests still count against it.
    """

    __slots__ = ("_rng", "_table", "_pairs", "_pair_bits", "floor")
    tracks_in_flight = False
    PAIRS_UP_TO = 32  # members: 32 × 31 ordered pairs, 16 slots each, rebuilt in ~1 ms

    def __init__(self, rng: random.Random, *, floor: float = 0.001) -> None:
        self._rng = rng
        self._table = SlotTable(())
        self._pairs: list[tuple[Member, Member]] = []
        self._pair_bits = 0
        self.floor = floor

    def rebuild(self, view: View) -> None:
        self._table = SlotTable(view)
        # Both choices in one draw: the ordered pair (a, b) comes up with the chance that
        # a is drawn by weight and then b by weight among the others, w_a/W × w_b/(W-w_a).
        # Ordered, so that a tie (say, no latency measured yet) goes to a, itself drawn
        # by weight.
        total = sum(w for _, w in view)
        self._pairs, self._pair_bits = (
            spread_over_slots(
                [
                    ((a, b), wa * wb / (total - wa))
                    for a, wa in view
                    for b, wb in view
                    if a is not b
                ],
                16,
            )
            if 2 <= len(view) <= self.PAIRS_UP_TO and all(w > 0 for _, w in view)
            else ([], 0)
        )

    def cost(self, member: Member, now: float) -> float:
        return (member.latency_estimate(now) + self.floor) * (member.in_flight + 1)

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        pairs = self._pairs
        if exclude or not pairs:
            return self._pick_general(now, exclude)
        a, b = pairs[self._rng.getrandbits(self._pair_bits)]
        stale = now - FRESH
        if a.ewma_at < stale or b.ewma_at < stale:
            return b if self.cost(b, now) < self.cost(a, now) else a
        # Under load both estimates are fresh, and their fading below 0.1%
        # (Member.latency_estimate): read as they are, no exp() per request.
        floor = self.floor
        if (b.ewma + floor) * (b.in_flight + 1) < (a.ewma + floor) * (a.in_flight + 1):
            return b
        return a

    def _pick_general(self, now: float, exclude: Collection[Member]) -> Member | None:
        table, rng = self._table, self._rng
        a = table.draw(rng, exclude)
        if a is None or len(table.members) == 1:
            return a
        b = table.draw(rng, exclude, other_than=a)
        if b is None:
            return a
        return b if self.cost(b, now) < self.cost(a, now) else a

    def on_start(self, member: Member) -> None:
        pass

    def on_end(self, member: Member) -> None:
        pass
