"""One backend server of a pool and the per-server state every policy reads.

Health and capacity live on the member, not in the policies (Caddy's ``Upstream.Available``
habit): a policy sees only members the pool has found eligible, and reads ``in_flight`` and
the latency estimate from here.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .health import ActiveHealth, Outlier

EWMA_TAU = 10.0  # seconds: the latency estimate's time constant (Finagle's default decay)


class AdminState(enum.Enum):
    """What an operator asked for; health cannot override it."""

    ACTIVE = "active"
    DRAIN = "drain"  # no new requests (sticky and hashed ones re-routed); in-flight ones finish
    DISABLED = "disabled"  # out of rotation, also in panic mode


class Outcome(enum.Enum):
    """How one proxied attempt ended, as the proxy reports it to :meth:`Pool.on_end`."""

    OK = "ok"  # every other outcome but ABORTED is a failure
    SERVER_ERROR = "5xx"  # the backend answered 5xx: counts towards ejection
    CONNECT_ERROR = "connect"  # refused, reset before a response, connect timeout
    TIMEOUT = "timeout"  # no response in time
    ABORTED = "aborted"  # the client went away: says nothing about the backend


# For the request path, which asks about every response: identity tests against these
# cost a few ns, where `Outcome.OK` is an attribute lookup on the enum class (~70 ns on
# Python 3.11) and set membership calls Enum.__hash__, written in Python.
OK = Outcome.OK
SERVER_ERROR = Outcome.SERVER_ERROR
ABORTED = Outcome.ABORTED


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """A member as configuration (or DNS discovery) describes it."""

    id: str  # "host:port" or "unix:/path": the identity that survives set_members
    weight: int = 1

    def __post_init__(self) -> None:
        if self.weight < 1:
            raise ValueError(f"weight of {self.id} must be at least 1, not {self.weight}")


class Member:
    """A backend server: its spec plus the state the pool keeps about it."""

    __slots__ = (
        "id",
        "weight",
        "admin",
        "active",
        "outlier",
        "in_flight",
        "ewma",
        "ewma_at",
        "up_since",
        "last_failure",
    )

    def __init__(self, spec: MemberSpec, *, up: bool = True) -> None:
        self.id = spec.id
        self.weight = spec.weight
        self.admin = AdminState.ACTIVE
        self.active = ActiveHealth(up=up)
        self.outlier = Outlier()
        self.in_flight = 0
        self.ewma = 0.0  # seconds; 0 = no sample yet
        self.ewma_at = 0.0
        # When the member last became eligible; -inf: it was there from the start, so no
        # slow start (ramping a whole pool up at boot would only slow the first requests).
        self.up_since = -math.inf
        self.last_failure = -math.inf  # for panic mode: least recently failed goes first

    def __repr__(self) -> str:
        return f"Member({self.id!r}, weight={self.weight}, in_flight={self.in_flight})"

    def observe_latency(self, now: float, latency: float) -> None:
        """Fold one response time into the peak EWMA (Finagle's ``PeakEwma``).

        The weight of a sample grows with the time since the previous one
        (``1 - exp(-dt/tau)``), so the estimate decays with time, not with the number of
        samples: a burst of fast answers cannot wash out a slow spell in milliseconds. A
        sample above the estimate replaces it at once ("peak"), so a server that turns slow
        is avoided immediately, and forgiven only gradually.
        """
        if latency >= self.ewma:
            self.ewma = latency
        else:
            x = (now - self.ewma_at) / EWMA_TAU
            if x > 0.0:
                # 1 - exp(-x) is x - x²/2 to within x³/6: under load, where samples
                # arrive microseconds apart, no exp() per request.
                w = x * (1.0 - 0.5 * x) if x < 1e-3 else 1.0 - math.exp(-x)
                self.ewma += (latency - self.ewma) * w
        self.ewma_at = now

    def latency_estimate(self, now: float) -> float:
        """The EWMA as seen at ``now``: it fades towards 0 while no sample arrives.

        Without the fading a server that had one slow spell would never be picked again by
        P2C (nothing would refresh its estimate); with it an idle server gets probed again.
        Reading never changes the stored estimate, so frequent reads do not bias it.
        """
        idle = now - self.ewma_at
        if idle <= 0.0:
            return self.ewma
        return self.ewma * math.exp(-idle / EWMA_TAU)


def slow_start_fraction(elapsed: float, period: float, minimum: float) -> float:
    """Share of its weight a member gets ``elapsed`` seconds after coming back (linear ramp).

    As nginx ``slow_start`` and Envoy's ``slow_start_config`` (whose ``min_weight_percent``
    is the ``minimum`` here): from ``minimum`` at 0 to 1 at ``period``.
    """
    if period <= 0.0 or elapsed >= period:
        return 1.0
    if elapsed <= 0.0:
        return minimum
    return minimum + (1.0 - minimum) * (elapsed / period)
