"""The master's copy of every pool: the state it decides once for all workers.

Active-check verdicts, an operator's drain / disable / enable, and the members DNS
discovery found live here, in one `balance.Pool` per `[pool.NAME]`. Each change is
sent to every worker as `{"type": "pool", "pool": NAME, "state": Pool.to_wire()}`;
a worker that starts later gets every pool's state with its config. Passive
(outlier) state is not the master's: each worker keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from frontdesk.balance import CheckThresholds, MemberSpec, Pool
from frontdesk.config.model import Config
from frontdesk.config.proxy import Pool as PoolConfig
from frontdesk.master.channel import Message


class MasterPool:
    """One `[pool.NAME]` as the master sees it."""

    def __init__(self, name: str, config: PoolConfig) -> None:
        self.name = name
        self.config = config
        health = config.health
        # The master never picks a server: the policy only has to exist.
        self.balance = Pool(
            self.specs(),
            "random",
            thresholds=CheckThresholds(rise=health.rise, fall=health.fall),
        )

    def specs(self) -> list[MemberSpec]:
        return [MemberSpec(s.address, s.weight) for s in self.config.servers]

    @property
    def balanced(self) -> bool:
        """Whether workers run a balancer for this pool (one server: they do not, so
        there is no state to send them)."""
        return len(self.config.servers) > 1

    def message(self) -> Message:
        return {"type": "pool", "pool": self.name, "state": self.balance.to_wire()}


class PoolStates:
    """Every pool of one config, by name."""

    def __init__(self, config: Config) -> None:
        self.pools = {name: MasterPool(name, pool) for name, pool in config.pools.items()}

    def __iter__(self) -> Iterator[MasterPool]:
        return iter(self.pools.values())

    def successor(self, config: Config) -> PoolStates:
        """The states for a reloaded `config`: pools and servers that are still there
        keep the master's decisions about them (drain, disable, health)."""
        new = PoolStates(config)
        for pool in new:
            old = self.pools.get(pool.name)
            if old is not None:
                pool.balance.carry_over(old.balance)
        return new

    def wire(self) -> dict[str, Any]:
        """Every balanced pool's state: what a worker starting now must adopt."""
        return {p.name: p.balance.to_wire() for p in self if p.balanced}
