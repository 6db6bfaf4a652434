"""Hit ratio of the memory tier's S3-FIFO against plain LRU, byte-bounded (not a test).

    .venv/bin/python bench/cache_hit_ratio.py [--objects 20000] [--requests 400000]
                                              [--seed 1]

The trace: requests drawn from a Zipf(alpha) popularity over `objects` objects whose
sizes are log-uniform between 1 KiB and 64 KiB (a mix of pages, API answers and
images), with a one-off scan mixed in: a crawler that reads `objects` never-seen URLs
once each, interleaved with the normal traffic in the middle third of the trace. Cache
sizes are fractions of the bytes of all distinct popular objects. Both policies see
the same trace and count a byte-bounded hit the same way (a miss inserts the object).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sys
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from frontdesk.cache.s3fifo import S3Fifo  # noqa: E402


class Lru:
    """The baseline: an OrderedDict moved on every hit, bounded in bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[int, int] = OrderedDict()
        self.bytes = 0

    def touch(self, key: int) -> bool:
        if key in self.items:
            self.items.move_to_end(key)
            return True
        return False

    def insert(self, key: int, size: int) -> None:
        if size > self.capacity:
            return
        self.items[key] = size
        self.bytes += size
        while self.bytes > self.capacity:
            _, gone = self.items.popitem(last=False)
            self.bytes -= gone


def trace(objects: int, requests: int, alpha: float, rng: random.Random) -> list[int]:
    """Object ids (scan ids are negative, each asked for once)."""
    weights = [1.0 / (rank**alpha) for rank in range(1, objects + 1)]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    ids = list(range(objects))
    rng.shuffle(ids)  # popularity is not the id order
    out = [ids[bisect.bisect(cumulative, rng.random() * total)] for _ in range(requests)]
    # The scan: in the middle third, every other request is a never-seen URL.
    start = requests // 3
    for i in range(min(objects, requests // 6)):
        out.insert(start + 2 * i, -1 - i)
    return out


def sizes(objects: int, rng: random.Random) -> dict[int, int]:
    return {i: int(1024 * 64 ** rng.random()) for i in range(objects)}


def size_of(key: int, table: dict[int, int]) -> int:
    return table.get(key, 8 * 1024)


def run(policy: S3Fifo[int] | Lru, requests: list[int], table: dict[int, int]) -> float:
    hits = 0
    for key in requests:
        if policy.touch(key):
            hits += 1
        else:
            policy.insert(key, size_of(key, table))
    return hits / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=400000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.objects} objects, {args.requests} requests + scan, seed {args.seed}")
    print(f"{'alpha':>5} {'cache':>6} {'LRU':>7} {'S3-FIFO':>8} {'gain':>8}")
    for alpha in (0.8, 1.0):
        rng = random.Random(args.seed)
        table = sizes(args.objects, rng)
        requests = trace(args.objects, args.requests, alpha, rng)
        working_set = sum(table.values())
        for fraction in (0.01, 0.05, 0.1, 0.25):
            capacity = int(working_set * fraction)
            lru = run(Lru(capacity), requests, table)
            s3 = run(S3Fifo(capacity), requests, table)
            gain = (s3 - lru) * 100
            print(f"{alpha:>5} {fraction:>6.0%} {lru:>7.2%} {s3:>8.2%} {gain:>+5.1f} pp")


if __name__ == "__main__":
    main()
