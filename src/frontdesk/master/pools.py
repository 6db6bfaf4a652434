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

from frontdesk.balance import AdminState, CheckThresholds, MemberSpec, Pool
from frontdesk.config.model import Config
from frontdesk.config.proxy import Pool as PoolConfig
from frontdesk.master.channel import Message


class PoolError(LookupError):
    """An admin command named a pool or server that does not exist (`status` 404), or
    one that cannot be taken out (409); the message says which, for the operator."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


class MasterPool:
    """One `[pool.NAME]` as the master sees it."""

    def __init__(
        self,
        name: str,
        config: PoolConfig,
        resolved: dict[str, list[str]] | None = None,
        app_members: list[str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        # The app instances in the pool (master/apps.py adds one once its check passes
        # and removes it, drained, before stopping it), after the listed servers.
        self.app_members = list(app_members or [])
        # DNS discovery: a `resolve = true` entry's address -> the member ids (
        # "ip:port") its last successful lookup gave. Until then the name itself is
        # the member (a worker's connect resolves it).
        self.resolved = resolved or {}
        health = config.health
        # The master never picks a server: the policy only has to exist.
        self.balance = Pool(
            self.specs(),
            "random",
            thresholds=CheckThresholds(rise=health.rise, fall=health.fall),
        )

    def specs(self) -> list[MemberSpec]:
        """The members: the servers as listed, each name to resolve replaced by what it
        resolved to. An address found twice (two names, or a name and a listed
        server) is one member, with the weight it was first given."""
        specs: dict[str, MemberSpec] = {}
        for s in self.config.servers:
            for member in self.resolved.get(s.address, [s.address]) if s.resolve else [s.address]:
                specs.setdefault(member, MemberSpec(member, s.weight))
        for member in self.app_members:
            specs.setdefault(member, MemberSpec(member))
        return list(specs.values())

    def add_app_member(self, member: str, now: float) -> None:
        """An app instance passed its first check: in rotation from now on."""
        if member not in self.app_members:
            self.app_members.append(member)
            self.balance.set_members(self.specs(), now)

    def remove_app_member(self, member: str, now: float) -> None:
        """An app instance leaves (drained, or it exited): workers close their idle
        connections to it when they get the new state."""
        if member in self.app_members:
            self.app_members.remove(member)
            self.balance.set_members(self.specs(), now)

    def set_resolved(self, entry: str, members: list[str], now: float) -> bool:
        """A lookup of `entry` found `members`; True when the pool's members changed."""
        if self.resolved.get(entry) == members:
            return False
        self.resolved[entry] = members
        before = [m.id for m in self.balance.members]
        self.balance.set_members(self.specs(), now)
        return [m.id for m in self.balance.members] != before

    @property
    def balanced(self) -> bool:
        """Whether workers run a balancer for this pool (one server: they do not, so
        there is no state to send them)."""
        return self.config.balanced

    def message(self) -> Message:
        return {"type": "pool", "pool": self.name, "state": self.balance.to_wire()}

    def set_admin(self, server: str, state: AdminState, now: float) -> list[str]:
        """An operator's drain, disable or enable of `server`: a member id, or a name
        to resolve as the config lists it (all its members). Returns the member ids."""
        if not self.balanced:
            raise PoolError(
                f"pool {self.name!r} has a single server: there is no other to send its "
                "requests to, so it cannot be drained or disabled",
                409,
            )
        ids = [m.id for m in self.balance.members]
        named = [server] if server in ids else self.resolved.get(server, [])
        if not named:
            raise PoolError(
                f"pool {self.name!r} has no server {server!r} (its servers: {', '.join(ids)})"
            )
        for member in named:
            self.balance.set_admin(member, state, now)
        return named


class PoolStates:
    """Every pool of one config, by name."""

    def __init__(self, config: Config, previous: dict[str, MasterPool] | None = None) -> None:
        previous = previous or {}
        self.pools = {
            name: MasterPool(
                name,
                pool,
                _still_resolved(pool, previous.get(name)),
                previous[name].app_members if name in previous else None,
            )
            for name, pool in config.pools.items()
        }

    def __iter__(self) -> Iterator[MasterPool]:
        return iter(self.pools.values())

    def get(self, name: str) -> MasterPool:
        pool = self.pools.get(name)
        if pool is None:
            known = ", ".join(self.pools) or "none"
            raise PoolError(f"no pool {name!r} in the running config (its pools: {known})")
        return pool

    def successor(self, config: Config) -> PoolStates:
        """The states for a reloaded `config`: pools and servers that are still there
        keep the master's decisions about them (drain, disable, health)."""
        new = PoolStates(config, self.pools)
        for pool in new:
            old = self.pools.get(pool.name)
            if old is not None:
                pool.balance.carry_over(old.balance)
        return new

    def wire(self) -> dict[str, Any]:
        """Every balanced pool's state: what a worker starting now must adopt."""
        return {p.name: p.balance.to_wire() for p in self if p.balanced}


def _still_resolved(config: PoolConfig, old: MasterPool | None) -> dict[str, list[str]]:
    """What the names `config` still resolves were found to be (a reload does not wait
    for a new lookup, nor go back to the bare names)."""
    if old is None:
        return {}
    names = {s.address for s in config.servers if s.resolve}
    return {name: ids for name, ids in old.resolved.items() if name in names}
