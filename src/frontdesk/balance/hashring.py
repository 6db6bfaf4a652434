"""Consistent hashing on a request key: a ring with virtual nodes in proportion to weight.

Why a ring, and not the alternatives:

- Rendezvous (HRW) hashing moves the fewest keys and needs no table, but each lookup
  hashes the key against every member: O(n) per request.
- Maglev looks up in O(1), but its table is rebuilt as a whole and a change of members
  moves a few keys between members that stayed (near-minimal, not minimal disruption).
- A ring (Karger et al.; ketama) looks up in O(log n) with ``bisect``, and disruption is
  exactly minimal: removing a member moves only the keys it owned, adding one moves only
  keys to it. Weight is a number of points, and a member's points are a fixed sequence of
  which the first ``round(weight × POINTS)`` are placed, so slow start ramping a weight up
  only adds points: keys move to the ramping member and nowhere else.

Points and keys are placed with BLAKE2b (``hashlib``), never Python's ``hash()``, which is
randomised per process: every worker, and every restart, must agree on the ring.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Collection

from .members import Member
from .policies import SlotTable, View

# Points per unit of weight, as nginx's `hash ... consistent` (and ketama). A member's share
# is the sum of its arcs; with k points its relative spread is about 1/sqrt(k) (±8% at
# weight 1). More points balance better but make each rebuild slower (at n=100: ~10 ms).
POINTS = 160


def key_position(key: bytes) -> int:
    """Where a request key lands on the ring (64 bits)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def member_points(member_id: str, count: int) -> list[int]:
    """The first ``count`` ring positions of a member; a prefix of any longer request."""
    out: list[int] = []
    seed = member_id.encode()
    block = 0
    while len(out) < count:
        # One 64-byte digest yields eight 64-bit positions.
        digest = hashlib.blake2b(seed + b"#" + block.to_bytes(4, "big")).digest()
        out.extend(int.from_bytes(digest[i : i + 8], "big") for i in range(0, 64, 8))
        block += 1
    return out[:count]


class HashRing:
    """Sorted ring positions and their owners; rebuilt only when the view changes."""

    __slots__ = ("positions", "owners", "_cache")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.owners: list[Member] = []
        self._cache: dict[str, list[int]] = {}  # member id -> its points so far

    def rebuild(self, view: View) -> None:
        if len(view) > 1 << 16:
            raise ValueError("a hash pool holds at most 65536 members")
        # Each point packed as (position << 16 | pool order) in one int: sorting plain ints
        # is several times faster than sorting tuples, and ties (1 in 2^64) go to pool order.
        packed: list[int] = []
        cache: dict[str, list[int]] = {}
        for order, (m, w) in enumerate(view):
            count = max(1, round(w * POINTS))
            points = self._cache.get(m.id, [])
            if len(points) < count:
                points = member_points(m.id, count)
            cache[m.id] = points
            packed.extend(p << 16 | order for p in points[:count])
        packed.sort()
        self._cache = cache
        members = [m for m, _ in view]
        self.positions = [x >> 16 for x in packed]
        self.owners = [members[x & 0xFFFF] for x in packed]

    def lookup(self, position: int, exclude: Collection[Member]) -> Member | None:
        """The owner of the first point clockwise from ``position`` that is not excluded."""
        n = len(self.positions)
        if not n:
            return None
        i = bisect_right(self.positions, position)
        for step in range(n):
            owner = self.owners[(i + step) % n]
            if owner not in exclude:
                return owner
        return None


class ConsistentHash:
    """Requests with the same key go to the same member while it stays eligible.

    The proxy derives ``key`` from the pool's ``hash`` setting (client address, a header,
    a cookie, the path). A request without a key gets a weighted random member. A draining
    or unhealthy member leaves the ring, so its keys move to the next member clockwise and
    come back when it does; a retry walks on clockwise past members already tried.
    """

    __slots__ = ("_rng", "_ring", "_fallback", "_positions")
    tracks_in_flight = False

    CACHE = 4096  # key positions remembered; client addresses and paths repeat

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._ring = HashRing()
        self._fallback = SlotTable(())
        # BLAKE2b costs more than the rest of a pick; a bounded memo of recent keys (cleared
        # whole when full: cheaper than LRU upkeep on every hit) spares most of it.
        self._positions: dict[bytes, int] = {}

    def rebuild(self, view: View) -> None:
        self._ring.rebuild(view)
        self._fallback = SlotTable(view)

    def pick(self, now: float, key: bytes | None, exclude: Collection[Member]) -> Member | None:
        if key is None:
            return self._fallback.draw(self._rng, exclude)
        position = self._positions.get(key)
        if position is None:
            if len(self._positions) >= self.CACHE:
                self._positions.clear()
            position = self._positions[key] = key_position(key)
        return self._ring.lookup(position, exclude)

    def on_start(self, member: Member) -> None:
        pass

    def on_end(self, member: Member) -> None:
        pass
