"""Token buckets per key, bounded: the pure core of the rate limit.

A bucket holds up to `capacity` tokens and refills at `rate` tokens a second; a
request takes one token or is refused with the time until the next one. A key that
has not been seen is a full bucket, and so is a key whose bucket has refilled: such
entries carry no information and are the first forgotten when the table is full.
Only under a flood of more than `max_keys` active keys are partly drained buckets
forgotten too (the least recently used first): their owners get a fresh burst, the
price of bounded memory.

Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Buckets", "Taken"]


@dataclass(frozen=True, slots=True)
class Taken:
    allowed: bool
    remaining: int  # whole tokens left after this request
    retry_after: float  # seconds until a token is back (0 when allowed)
    reset: float  # seconds until the bucket is full again


class Buckets:
    __slots__ = ("rate", "capacity", "max_keys", "table")

    def __init__(self, rate: float, capacity: int, max_keys: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.max_keys = max_keys
        # key → (tokens, at): tokens in the bucket at time `at`.
        self.table: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> Taken:
        table = self.table
        # Taken out and put back: to the end of the dict's order, which evict() reads as
        # least recently used first (updating in place would keep the key's first
        # place, and a client that keeps sending would be forgotten before an idle one).
        held = table.pop(key, None)
        capacity = self.capacity
        if held is None:
            if len(table) >= self.max_keys:
                self.evict(now)
            tokens = float(capacity)
        else:
            tokens = held[0] + (now - held[1]) * self.rate
            if tokens > capacity:
                tokens = float(capacity)
        rate = self.rate
        if tokens >= 1.0:
            tokens -= 1.0
            table[key] = (tokens, now)
            return Taken(True, int(tokens), 0.0, (capacity - tokens) / rate)
        table[key] = (tokens, now)
        return Taken(False, 0, (1.0 - tokens) / rate, (capacity - tokens) / rate)

    def size(self) -> int:
        """Keys tracked now (for the admin API; never on the request path)."""
        return len(self.table)

    def evict(self, now: float) -> None:
        """Forget the full buckets; if that frees less than a quarter, the least
        recently used entries too, down to three quarters of max_keys."""
        table = self.table
        rate, capacity = self.rate, self.capacity
        full = [k for k, (t, at) in table.items() if t + (now - at) * rate >= capacity]
        for k in full:
            del table[k]
        target = self.max_keys * 3 // 4
        if len(table) > target:
            for k in list(table)[: len(table) - target]:
                del table[k]
