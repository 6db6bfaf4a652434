"""Shared helpers for the balance tests: build pools, drive picks, count shares."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from frontdesk.balance import MemberSpec, Outcome, Pool


def pool(weights: dict[str, int], policy: str = "round_robin", seed: int = 7, **kw: object) -> Pool:
    specs = [MemberSpec(name, w) for name, w in weights.items()]
    return Pool(specs, policy, rng=random.Random(seed), **kw)  # type: ignore[arg-type]


def serve(
    p: Pool,
    n: int,
    *,
    now: float = 0.0,
    key: Callable[[int], bytes | None] = lambda i: None,
    latency: Callable[[str], float] = lambda member_id: 0.01,
) -> Counter[str]:
    """n requests one after another (none overlap): pick, start, end OK."""
    seen: Counter[str] = Counter()
    for i in range(n):
        choice = p.pick(now, key=key(i))
        assert choice is not None
        m = choice.member
        p.on_start(m)
        p.on_end(m, now, latency(m.id), Outcome.OK)
        seen[m.id] += 1
    return seen


def shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}
