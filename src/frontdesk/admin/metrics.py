"""A worker's own request counters: plain integers in a dict, never a syscall.

The hot path adds to them; the master asks for `snapshot()` over the control channel
when `/metrics` or the status page is read, and sums the workers' snapshots
(admin/prometheus.py). Series are keyed by (route, method, status class); methods
outside the common set are counted as "other" so a client cannot grow the table.

Answers given in the protocol's fast lane (a fixed `respond`, a cached static file,
written while the head is parsed, with no Request built) are counted per route by the
action itself (`Action.fast_get`, `fast_head`) and folded in here: they take well
under a millisecond, so they land in the first latency bucket.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

# Seconds; Prometheus' default buckets plus a finer start (static and cache hits are
# answered in well under a millisecond).
BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_METHOD_BYTES = {m.encode(): m for m in METHODS}


class Series:
    """One (route, method, status class): a count, a sum and the histogram buckets."""

    __slots__ = ("count", "total", "buckets")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one: above every bound

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect_left(BUCKETS, seconds)] += 1


class RequestMetrics:
    """Every request series of one worker."""

    def __init__(self) -> None:
        # Keyed by what the request path has at hand (route label, method bytes, status):
        # one dict lookup per answer; names and status classes are made when read.
        self.series: dict[tuple[str, bytes, int], Series] = {}

    def observe(self, route: str, method: bytes, status: int, seconds: float) -> None:
        series = self.series.get((route, method, status))
        if series is None:
            series = self._new(route, method, status)
        series.count += 1  # Series.observe, inlined: this runs once per answer
        series.total += seconds
        series.buckets[bisect_left(BUCKETS, seconds)] += 1

    def _new(self, route: str, method: bytes, status: int) -> Series:
        """A new series; an unknown method shares its route's "other" series and is
        never a key of its own, so clients cannot grow the table."""
        key = (route, method if method in _METHOD_BYTES else b"OTHER", status)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        return series

    def snapshot(
        self,
        fast: list[tuple[str, str, int, int]],
        upstream: list[tuple[str, str, UpstreamSeries]],
    ) -> dict[str, Any]:
        """JSON for the master: `fast` adds the fast lane's (route, method, status,
        count) answers to the first bucket of their series; `upstream` is every
        (pool, server, its series) of the worker."""
        rows: dict[tuple[str, str, int], list[Any]] = {}
        for (route, raw, status), s in self.series.items():
            method = _METHOD_BYTES.get(raw, "other")
            key = (route, method, status // 100)
            row = rows.get(key)
            if row is None:
                rows[key] = [route, method, status // 100, s.count, s.total, list(s.buckets)]
            else:
                row[3] += s.count
                row[4] += s.total
                row[5] = [a + b for a, b in zip(row[5], s.buckets, strict=True)]
        for route, method, status, count in fast:
            if not count:
                continue
            key = (route, method, status // 100)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [route, method, status // 100, 0, 0.0, [0] * (len(BUCKETS) + 1)]
            row[3] += count
            row[5][0] += count
        return {
            "requests": list(rows.values()),
            "upstream": [
                [pool, server, list(u.responses), u.errors, u.total, list(u.buckets)]
                for pool, server, u in upstream
            ],
        }


class UpstreamSeries:
    """One backend server in one pool: answers by status class, failures, latency."""

    __slots__ = ("responses", "errors", "total", "buckets")

    def __init__(self) -> None:
        self.responses = [0, 0, 0, 0, 0]  # 1xx .. 5xx
        self.errors = 0  # no answer: refused, reset, timed out
        self.total = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)

    def answered(self, status: int, seconds: float) -> None:
        cls = status // 100
        if 1 <= cls <= 5:
            self.responses[cls - 1] += 1
        self.total += seconds
        self.buckets[bisect_left(BUCKETS, seconds)] += 1

    def failed(self) -> None:
        self.errors += 1


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' snapshots summed: one row per series."""
    requests: dict[tuple[str, str, int], list[Any]] = {}
    upstream: dict[tuple[str, str], list[Any]] = {}
    for snap in snapshots:
        for route, method, cls, count, total, buckets in snap.get("requests", []):
            row = requests.setdefault(
                (route, method, cls), [route, method, cls, 0, 0.0, [0] * len(buckets)]
            )
            row[3] += count
            row[4] += total
            row[5] = [a + b for a, b in zip(row[5], buckets, strict=True)]
        for pool, server, responses, errors, total, buckets in snap.get("upstream", []):
            row = upstream.setdefault(
                (pool, server), [pool, server, [0] * 5, 0, 0.0, [0] * len(buckets)]
            )
            row[2] = [a + b for a, b in zip(row[2], responses, strict=True)]
            row[3] += errors
            row[4] += total
            row[5] = [a + b for a, b in zip(row[5], buckets, strict=True)]
    return {"requests": list(requests.values()), "upstream": list(upstream.values())}


def quantile(buckets: list[int], q: float) -> float | None:
    """The q-quantile of a bucketed histogram, interpolated within its bucket (as
    Prometheus' histogram_quantile does); None with no sample."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(buckets):
        if seen + n >= rank and n:
            lower = BUCKETS[i - 1] if i > 0 else 0.0
            if i >= len(BUCKETS):
                return BUCKETS[-1]  # above the last bound: the bound is all we know
            return lower + (BUCKETS[i] - lower) * (rank - seen) / n
        seen += n
    return BUCKETS[-1]
