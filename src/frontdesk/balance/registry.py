"""The policy names a pool's ``balance`` key accepts. Each factory takes the pool's Random."""

from __future__ import annotations

import random
from collections.abc import Callable

from .hashring import ConsistentHash
from .policies import (
    LeastConnections,
    PeakEwmaP2C,
    Policy,
    SmoothWeightedRoundRobin,
    WeightedRandom,
)

DEFAULT = "p2c"  # latency-aware: right for unlike backends, as good as any for like ones

BALANCERS: dict[str, Callable[[random.Random], Policy]] = {
    "round_robin": SmoothWeightedRoundRobin,
    "least_conn": LeastConnections,
    "p2c": PeakEwmaP2C,
    "random": WeightedRandom,
    "hash": ConsistentHash,
}
