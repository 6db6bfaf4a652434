"""A background job of the master: one loop per pool that wants it, each a
`check_once(pool)` plus a pause (STYLE habit 11: the tick apart from the loop)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from frontdesk.master.pools import MasterPool, PoolStates

JITTER = 0.1  # a round starts up to this share of the interval early, so pools drift apart


class PoolJob:
    """Subclasses say which pools they run for, how often, and what one round does."""

    def __init__(self, on_change: Callable[[MasterPool], None]) -> None:
        self.on_change = on_change  # the pool's state changed: send it to the workers
        self._tasks: list[asyncio.Task[None]] = []
        self._rng = random.Random()

    def wants(self, pool: MasterPool) -> bool:
        raise NotImplementedError

    def interval(self, pool: MasterPool) -> float:
        raise NotImplementedError

    async def check_once(self, pool: MasterPool) -> None:
        raise NotImplementedError

    def start(self, pools: PoolStates) -> None:
        """Run for `pools` from now on (after a reload: the new ones, instead)."""
        self.stop()
        for pool in pools:
            if pool.balanced and self.wants(pool):
                self._tasks.append(asyncio.create_task(self._run(pool)))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def _run(self, pool: MasterPool) -> None:
        interval = self.interval(pool)
        while True:
            started = time.monotonic()
            await self.check_once(pool)
            # Never later than one interval after the last round began: a change reaches
            # the workers within an interval of the round that finds it.
            pause = interval * (1.0 - JITTER * self._rng.random())
            await asyncio.sleep(max(0.0, started + pause - time.monotonic()))
