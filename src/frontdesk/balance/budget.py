"""A retry budget: retries across a pool capped at a share of recent requests.

After Finagle's ``RetryBudget`` (and Linkerd's): a retry is allowed while

    retries in the window < ratio × requests in the window + min_per_second × window

so a failing backend cannot multiply the load on the pool by the retry count (a retry
storm), while a pool with little traffic can still retry a few requests a second. The
window slides in ``buckets`` steps; time is passed in.
"""

from __future__ import annotations

import math


class RetryBudget:
    """Sliding-window counts of requests and retries; O(1) amortised per call."""

    __slots__ = ("ratio", "min_per_second", "window", "_width", "_requests", "_retries", "_epoch")

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        window: float = 10.0,
        buckets: int = 10,
    ) -> None:
        if ratio < 0 or min_per_second < 0 or window <= 0 or buckets < 1:
            raise ValueError("ratio and min_per_second must be >= 0, window and buckets > 0")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.window = window
        self._width = window / buckets
        self._requests = [0] * buckets
        self._retries = [0] * buckets
        self._epoch = 0  # index (in bucket widths since t=0) of the newest bucket

    def _advance(self, now: float) -> int:
        """Clear the buckets that slid out of the window; return the slot for ``now``."""
        epoch = math.floor(now / self._width)
        n = len(self._requests)
        if epoch > self._epoch:
            for e in range(self._epoch + 1, min(epoch, self._epoch + n) + 1):
                self._requests[e % n] = 0
                self._retries[e % n] = 0
            self._epoch = epoch
        # A `now` older than the window (a clock from another process) lands in the
        # newest bucket rather than in one that belongs to the future.
        return (epoch if epoch > self._epoch - n else self._epoch) % n

    def record_request(self, now: float, count: int = 1) -> None:
        """Count first attempts (not retries): each earns ``ratio`` of a retry.

        ``count`` lets a caller add up requests and hand them over now and then."""
        self._requests[self._advance(now)] += count

    def available(self, now: float) -> float:
        """Retries that may still be made in the current window (may be fractional)."""
        self._advance(now)
        return self._left()

    def try_retry(self, now: float) -> bool:
        """Take one retry from the budget if there is one; False means: do not retry."""
        slot = self._advance(now)
        if self._left() < 1.0:
            return False
        self._retries[slot] += 1
        return True

    def _left(self) -> float:
        allowed = self.ratio * sum(self._requests) + self.min_per_second * self.window
        return allowed - sum(self._retries)
