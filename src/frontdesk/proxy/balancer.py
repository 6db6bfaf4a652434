"""Backend selection: a policy is a small object with `pick`, registered by name.

Pure (no I/O, no clock). A policy looks only at `Backend.available` and the
counters on the backends; health and capacity live on the backend, not here. Only
round robin exists so far; the pool's `balance` key (a later issue) chooses from
BALANCERS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Candidate(Protocol):
    @property
    def available(self) -> bool: ...


B = TypeVar("B", bound=Candidate)


class Balancer(Protocol):
    def pick(self, backends: Sequence[B], exclude: Sequence[B] = ()) -> B | None:
        """The backend for the next request, skipping `exclude` (already tried), or None."""
        ...


class RoundRobin:
    """Each request goes to the next available backend in turn."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def pick(self, backends: Sequence[B], exclude: Sequence[B] = ()) -> B | None:
        n = len(backends)
        start = self._next
        for i in range(n):
            backend = backends[(start + i) % n]
            if backend.available and backend not in exclude:
                self._next = (start + i + 1) % n
                return backend
        return None


BALANCERS: dict[str, type[RoundRobin]] = {"round_robin": RoundRobin}
