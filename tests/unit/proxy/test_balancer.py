"""proxy/balancer.py: round robin over available backends (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.proxy.balancer import BALANCERS, RoundRobin


@dataclass(eq=False)
class B:
    name: str
    available: bool = True


def test_round_robin_cycles_and_skips() -> None:
    a, b, c = B("a"), B("b"), B("c", available=False)
    rr = RoundRobin()
    assert [rr.pick([a, b, c]).name for _ in range(4)] == ["a", "b", "a", "b"]  # type: ignore[union-attr]
    assert rr.pick([a, b, c], exclude=[a]) is b
    assert rr.pick([a, b], exclude=[a, b]) is None
    assert RoundRobin().pick([]) is None
    assert BALANCERS["round_robin"] is RoundRobin
