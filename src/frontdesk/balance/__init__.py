"""Load balancing, sans-I/O: policies, health state, slow start, drain and a retry budget.

Everything here is pure: time is a parameter (``now``, seconds on any monotonic clock),
randomness is a ``random.Random`` passed in, and nothing imports asyncio or os. The proxy
calls :class:`~frontdesk.balance.pool.Pool`; the master feeds it active-check results and
admin commands and broadcasts :meth:`Pool.to_wire` to the workers.
"""

from __future__ import annotations

from .budget import RetryBudget
from .health import Change, CheckThresholds, OutlierConfig, response_passes
from .keys import KeySource
from .members import AdminState, Member, MemberSpec, Outcome
from .policies import Policy
from .pool import Event, Pick, Pool, SlowStart
from .registry import BALANCERS

__all__ = [
    "BALANCERS",
    "AdminState",
    "Change",
    "CheckThresholds",
    "Event",
    "KeySource",
    "Member",
    "MemberSpec",
    "Outcome",
    "OutlierConfig",
    "Pick",
    "Policy",
    "Pool",
    "RetryBudget",
    "SlowStart",
    "response_passes",
]
