"""Health state of one member: active-check thresholds and passive outlier ejection.

Both are pure state machines: a result and ``now`` go in, a transition (or None) comes out,
and the caller logs it, broadcasts it, or rebuilds what depends on it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Change(enum.Enum):
    """A health transition the caller should log (and the master broadcast)."""

    UP = "up"  # active checks: `rise` passes in a row while down
    DOWN = "down"  # active checks: `fall` failures in a row while up
    EJECTED = "ejected"  # passive: consecutive failures, or one failure on probation
    RETURNED = "returned"  # passive: the ejection time ran out; now on probation


@dataclass(frozen=True, slots=True)
class CheckThresholds:
    """How many results in a row flip a member (HAProxy's ``rise``/``fall``, defaults 2/3)."""

    rise: int = 2
    fall: int = 3

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError("rise and fall must be at least 1")


# (member is up, check passed) -> the threshold that a streak of such results must reach to
# flip the state, or None when the result agrees with the state (the streak starts over).
# One table drives `ActiveHealth.record`, its docs and its tests.
ACTIVE_TRANSITIONS: dict[tuple[bool, bool], str | None] = {
    (True, True): None,
    (True, False): "fall",
    (False, True): "rise",
    (False, False): None,
}


class ActiveHealth:
    """Up/down from active checks, flipped only by ``rise``/``fall`` results in a row."""

    __slots__ = ("up", "streak")

    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.streak = 0  # consecutive results that disagree with `up`

    def record(self, passed: bool, thresholds: CheckThresholds) -> Change | None:
        limit_name = ACTIVE_TRANSITIONS[(self.up, passed)]
        if limit_name is None:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < getattr(thresholds, limit_name):
            return None
        self.streak = 0
        self.up = passed
        return Change.UP if passed else Change.DOWN


def response_passes(
    status: int,
    body: bytes = b"",
    *,
    expect_status: tuple[int, int] = (200, 399),
    expect_body: bytes | None = None,
) -> bool:
    """Whether an active-check response counts as a pass.

    The status must lie in ``expect_status`` (inclusive; 2xx and 3xx by default, as
    HAProxy's ``httpchk``), and the body must contain ``expect_body`` when one is set
    (Caddy's ``health_body``, as a plain substring here).
    """
    low, high = expect_status
    if not low <= status <= high:
        return False
    return expect_body is None or expect_body in body


@dataclass(frozen=True, slots=True)
class OutlierConfig:
    """Passive health checks: eject a member after failures seen on real traffic.

    Defaults follow Envoy's outlier detection (``consecutive_5xx`` 5,
    ``base_ejection_time`` 30 s, ``max_ejection_time`` 300 s); the ejection time doubles
    with each ejection in a row (Envoy multiplies by the count; doubling backs off faster).
    """

    consecutive: int = 5  # failures in a row that eject; 0 turns passive checks off
    base: float = 30.0  # seconds of the first ejection
    max: float = 300.0  # cap on any ejection; also how long a member must stay in
    # (answering) before its ejection count starts over

    def ejection_time(self, ejections: int) -> float:
        """Seconds of the ejection that follows ``ejections`` earlier ones in a row."""
        # min() before the power would overflow a float for a long-flapping member.
        return min(self.base * 2.0 ** min(ejections, 62), self.max)


class Outlier:
    """Passive state: failure streak, ejection, exponential backoff and probation."""

    __slots__ = ("streak", "ejections", "ejected_at", "ejected_until", "probation", "returned_at")

    def __init__(self) -> None:
        self.streak = 0
        self.ejections = 0  # ejections in a row; sets the next backoff
        self.ejected_at = 0.0  # when the current (or last) ejection began
        self.ejected_until: float | None = None
        self.probation = False  # back from an ejection, not yet answered well
        self.returned_at = 0.0

    def record(self, now: float, failed: bool, config: OutlierConfig) -> Change | None:
        """Account one attempt; returns EJECTED when this one ejects the member."""
        if config.consecutive <= 0 or self.ejected_until is not None:
            return None  # off, or an attempt that started before the ejection ended now
        if not failed:
            self.streak = 0
            self.probation = False
            if self.ejections and now - self.returned_at >= config.max:
                self.ejections = 0  # it stayed in long enough: the next ejection is short
            return None
        self.streak += 1
        if not self.probation and self.streak < config.consecutive:
            return None
        self.ejected_at = now
        self.ejected_until = now + config.ejection_time(self.ejections)
        self.ejections += 1
        self.streak = 0
        self.probation = False
        return Change.EJECTED

    def release(self, now: float) -> Change | None:
        """End the ejection once its time has run out; the member comes back on probation."""
        if self.ejected_until is None or now < self.ejected_until:
            return None
        self.returned_at = self.ejected_until
        self.ejected_until = None
        self.probation = True
        return Change.RETURNED

    def cut_short(self, since: float) -> bool:
        """An active check that began at `since` passed: an ejection that began before it
        ends at `since` (Envoy's `successful_active_health_check_uneject_host`); the
        member returns on probation, as when the time runs out. True if it was ejected."""
        until = self.ejected_until
        if until is None or self.ejected_at >= since:
            return False  # not ejected, or ejected after the check began: it proves nothing
        self.ejected_until = min(until, since)
        return True

    def reset(self) -> None:
        """Forget passive state (an operator re-enabled the member, or checks say it is up)."""
        self.streak = 0
        self.ejections = 0
        self.ejected_until = None
        self.probation = False
