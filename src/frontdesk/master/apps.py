"""The app's own processes, run by the master: spawn, check, pool, restart, replace.

An instance is a member of its app's pool whose membership the master controls
(master/pools.py `add_app_member` / `remove_app_member`): it joins once its first
check passes (a connection to its port, or `health.path` answering), every worker
gets the pool's new state, and before it is stopped it is drained: no new requests,
those in flight finish (workers are asked over the control channel), it leaves the
pool (workers close their idle connections to it), and only then gets SIGTERM,
then SIGKILL after `stop_timeout`.

One supervising task per instance slot (web.1, web.2, ...) restarts an instance
that exits on its own, with the backoff and crash-loop rule of master/supervise.py.
A rolling replacement (`frontdesk restart NAME`, or a reload that changed the
command, env, cwd, bind or pool) goes slot by slot: start the new instance, wait for
its check, put it in the pool, drain and stop the old one. A new instance not ready
within `start_timeout` is stopped, the old ones keep serving, and the replacement
stops there and says so.

Output: each instance's stdout and stderr are read by the master's loop and written
line by line, as "web.1 | line", through the same non-blocking writer thread as the
access log (log.py): a full stdout drops lines, it never stalls the master.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from frontdesk.balance import AdminState
from frontdesk.config.apps import App
from frontdesk.log import AccessLog, error_log
from frontdesk.master.instance import (
    START_POLL,
    Instance,
    Slot,
    forward_output,
    free_port,
    until_ready,
)
from frontdesk.master.orphans import Keeper, app_preexec, kill_group
from frontdesk.master.supervise import CRASH_LOOP, CRASH_WINDOW, Event, State, rolling_steps

if TYPE_CHECKING:
    from frontdesk.master.pools import MasterPool
    from frontdesk.master.workers import Master

DRAIN_POLL = 0.05  # seconds between asks for what is in flight to a draining one


class ReplaceFailed(Exception):
    """A rolling replacement stopped: a new instance was not ready in time."""


class AppRunner:
    """Every instance of one [app.NAME]."""

    def __init__(
        self, name: str, config: App, master: Master, keeper: Keeper, output: AccessLog
    ) -> None:
        self.name = name
        self.config = config
        self.master = master
        self.keeper = keeper
        self.output = output
        self.slots: dict[int, Slot] = {}
        self.closing = False
        self._busy = asyncio.Lock()  # one restart / scale at a time
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ outside

    def start(self) -> None:
        """Start every instance (in the background: serving starts without them)."""
        for n in range(1, self.config.instances + 1):
            self._start_slot(n, self.config)

    async def wait_ready(self, timeout: float) -> bool:
        """Until every slot has a ready instance (or one failed, or `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [s.current.state if s.current else None for s in self.slots.values()]
            if all(st is State.READY for st in states):
                return True
            if State.FAILED in states:
                return False
            await asyncio.sleep(START_POLL)
        return False

    def rows(self) -> list[dict[str, Any]]:
        """The instances as `frontdesk status` and GET /status show them."""
        now = time.monotonic()
        rows = []
        for slot in sorted(self.slots.values(), key=lambda s: s.number):
            for inst in [slot.current, *slot.leaving]:
                if inst is not None:
                    rows.append(self._row(inst, slot, now))
        return rows

    def _row(self, inst: Instance, slot: Slot, now: float) -> dict[str, Any]:
        running = inst.proc is not None and inst.exit_status is None
        return {
            "app": self.name,
            "instance": inst.name,
            "pid": inst.proc.pid if running and inst.proc is not None else None,
            "state": inst.state.value,
            "uptime": round(now - inst.started, 1) if running else 0.0,
            "restarts": slot.backoff.restarts,
            "port": inst.port,
            "address": inst.address,
            "pool": inst.config.pool,
            "exit_status": inst.exit_status,
        }

    async def restart(self, config: App | None = None) -> None:
        """Rolling replacement of every instance (with `config`, when a reload changed
        it); raises ReplaceFailed when a new instance is not ready in time (the
        instances replaced before it stay, the others are untouched)."""
        new = config or self.config
        async with self._busy:
            await self._roll(new)
            self.config = new

    async def scale(self, config: App) -> None:
        """`instances` changed: add slots or drain and stop the highest ones; every
        running instance adopts the rest of `config` (timeouts)."""
        async with self._busy:
            old = self.config.instances
            self.adopt(config)
            for n in range(old + 1, config.instances + 1):
                self._start_slot(n, config)
            gone = [self.slots.pop(n) for n in sorted(self.slots) if n > config.instances]
            await asyncio.gather(*(self._retire(s) for s in gone))

    def adopt(self, config: App) -> None:
        self.config = config
        for slot in self.slots.values():
            slot.config = config

    async def stop(self) -> None:
        """Drain and stop every instance (shutdown, or the app left the config)."""
        self.closing = True
        await asyncio.gather(*(self._retire(s) for s in list(self.slots.values())))
        self.slots.clear()

    # ------------------------------------------------------------------ slots

    def _start_slot(self, n: int, config: App) -> Slot:
        slot = self.slots[n] = Slot(n, config)
        slot.task = self._spawn_task(self._supervise(slot))
        return slot

    def _spawn_task(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _retire(self, slot: Slot) -> None:
        if slot.task is not None:
            slot.task.cancel()
        for inst in [slot.current, *slot.leaving]:
            if inst is not None:
                await self._drain(inst)
                await self._stop(inst)

    async def _supervise(self, slot: Slot, inst: Instance | None = None) -> None:
        """Keep one instance of `slot` running: (re)start, check, restart on exit.
        `inst`: one already in the pool (a rolling replacement put it there)."""
        while not self.closing:
            if inst is None:
                inst = await self._launch(slot.number, slot.config)
                slot.current = inst
                if await until_ready(inst):
                    self._join(inst)
                elif inst.exit_status is None:
                    error_log.error(
                        "app %s: %s not ready within %gs (start_timeout); stopping it",
                        self.name,
                        inst.name,
                        inst.config.start_timeout,
                    )
                    await self._stop(inst)
                    inst.state = State.STARTING  # counted as an exit, as a crash is
            await inst.done.wait()
            if slot.current is not inst or self.closing or inst.state is State.STOPPED:
                return  # replaced, or stopped on purpose
            self._leave(inst)
            decision = slot.backoff.exited(inst.ran_for)
            if decision.failed:
                inst.event(Event.CRASH_LOOP)
                self._crash_loop(inst)
                return
            inst.event(Event.EXITED)
            error_log.warning(
                "app %s: %s exited with status %s; starting it again in %gs",
                self.name,
                inst.name,
                inst.exit_status,
                decision.delay,
            )
            await asyncio.sleep(decision.delay)
            slot.backoff.restarts += 1
            inst = None

    async def _roll(self, config: App) -> None:
        """A rolling replacement, as master/supervise.py `rolling_steps` orders it."""
        old: dict[int, Instance | None] = {}
        fresh: Instance | None = None
        for step in rolling_steps(config.instances):
            n = step.slot
            slot = self.slots.get(n)
            if step.action == "start":
                old[n] = slot.current if slot is not None else None
                fresh = await self._launch(n, config)
                if not await until_ready(fresh):
                    why = (
                        f"exited with status {fresh.exit_status}"
                        if fresh.exit_status is not None
                        else f"was not ready within {config.start_timeout:g}s (start_timeout)"
                    )
                    await self._stop(fresh)
                    raise ReplaceFailed(
                        f"app {self.name}: new instance {fresh.name} {why}; stopped it, the "
                        f"old instances keep serving. Its last output: "
                        f"{' / '.join(fresh.tail) or '(none)'}"
                    )
            elif step.action == "join" and fresh is not None:
                self._join(fresh)
                if slot is None:
                    slot = self.slots[n] = Slot(n, config)
                elif slot.task is not None:
                    slot.task.cancel()  # the old instance is no longer this slot's
                    slot.backoff.restarts += 1
                slot.current, slot.config = fresh, config
                slot.backoff.reset()
                slot.task = self._spawn_task(self._supervise(slot, fresh))
                previous = old.get(n)
                if previous is not None and slot is not None:
                    slot.leaving.append(previous)
            elif step.action == "drain" and (previous := old.get(n)) is not None:
                await self._drain(previous)
            elif step.action == "stop" and (previous := old.pop(n, None)) is not None:
                await self._stop(previous)
                if slot is not None and previous in slot.leaving:
                    slot.leaving.remove(previous)
        # Slots beyond the new count (the replacement also lowered `instances`).
        gone = [self.slots.pop(n) for n in sorted(self.slots) if n > config.instances]
        await asyncio.gather(*(self._retire(s) for s in gone))

    # ------------------------------------------------------------------ one instance

    async def _launch(self, n: int, config: App) -> Instance:
        name = f"{self.name}.{n}"
        if config.bind == "unix":
            path = os.path.join(
                tempfile.gettempdir(), f"frontdesk-{os.getpid()}-{name}-{time.monotonic_ns()}.sock"
            )
            inst = Instance(name, config, f"unix:{path}", None)
        else:
            port = free_port()
            inst = Instance(name, config, f"127.0.0.1:{port}", port)
        env = inst.environment()
        argv = inst.argv(env)
        try:
            inst.proc = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                cwd=config.cwd or None,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=app_preexec,
            )
        except OSError as exc:
            inst.tail.append(f"cannot start {argv[0]!r}: {exc.strerror or exc}")
            self.output.line(f"{name} | {inst.tail[-1]}")
            inst.exit_status = 127
            inst.ran_for = 0.0
            inst.done.set()
            return inst
        self.keeper.hold(inst.proc.pid)
        error_log.info(
            "app %s: started %s (pid %d) on %s", self.name, name, inst.proc.pid, inst.address
        )
        self._spawn_task(self._reap(inst))
        return inst

    async def _reap(self, inst: Instance) -> None:
        proc = inst.proc
        assert proc is not None and proc.stdout is not None
        await forward_output(inst, proc.stdout, self.output)
        status = await proc.wait()
        kill_group(proc.pid, signal.SIGKILL)  # children it left behind
        self.keeper.release(proc.pid)
        inst.exit_status = status
        inst.ran_for = time.monotonic() - inst.started
        if inst.pool is not None and inst.state is not State.STOPPING:
            self._leave(inst)  # at once: workers stop sending it requests
        if inst.state in (State.STOPPING, State.DRAINING):
            inst.event(Event.EXITED)
        inst.done.set()

    def _pool(self, name: str | None) -> MasterPool | None:
        return None if name is None else self.master.pools.pools.get(name)

    def _join(self, inst: Instance) -> None:
        pool = self._pool(inst.config.pool)
        if pool is None:
            return
        pool.add_app_member(inst.address, time.monotonic())
        inst.pool = pool.name
        self.master.broadcast(pool)
        error_log.info(
            "app %s: %s is ready (%.1fs); in pool %r",
            self.name,
            inst.name,
            time.monotonic() - inst.started,
            pool.name,
        )

    def _leave(self, inst: Instance) -> None:
        pool = self._pool(inst.pool)
        inst.pool = None
        if pool is not None:
            pool.remove_app_member(inst.address, time.monotonic())
            self.master.broadcast(pool)

    async def _drain(self, inst: Instance) -> None:
        """Out of the pool without failing a request: no new ones, those in flight
        finish (up to the pool's drain_timeout), then it leaves."""
        pool = self._pool(inst.pool)
        if pool is not None and inst.address not in pool.balance:
            # Already out of the balance (a reload rebuilt the pool meanwhile): no request
            # can reach it, so there is nothing to drain (seen as a KeyError in CI).
            self._leave(inst)
            return
        if pool is not None and inst.exit_status is None:
            inst.event(Event.DRAIN)
            pool.balance.set_admin(inst.address, AdminState.DRAIN, time.monotonic())
            self.master.broadcast(pool)
            deadline = time.monotonic() + pool.config.drain_timeout
            while time.monotonic() < deadline and inst.exit_status is None:
                if await self._in_flight(pool.name, inst.address) == 0:
                    break
                await asyncio.sleep(DRAIN_POLL)
            self._leave(inst)
            # Every worker has the state without it (and closed its idle connections
            # to it) once it answers a message sent after that state.
            await self._in_flight(pool.name, inst.address)

    async def _in_flight(self, pool: str, member: str) -> int:
        answers = await self.master.ask_workers(
            {"type": "in_flight", "pool": pool, "member": member}
        )
        return sum(int(str(a.get("in_flight", 0))) for a in answers)

    async def _stop(self, inst: Instance) -> None:
        """SIGTERM to the instance's process group; SIGKILL after stop_timeout."""
        proc = inst.proc
        if inst.pool is not None:
            self._leave(inst)
        if proc is None or inst.exit_status is not None:
            inst.state = State.STOPPED
            return
        inst.event(Event.STOP)
        kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(inst.done.wait(), inst.config.stop_timeout)
        except TimeoutError:
            error_log.warning(
                "app %s: %s did not stop within %gs; killing it",
                self.name,
                inst.name,
                inst.config.stop_timeout,
            )
            kill_group(proc.pid, signal.SIGKILL)
            await inst.done.wait()
        inst.state = State.STOPPED
        if inst.address.startswith("unix:"):
            try:
                os.remove(inst.address[len("unix:") :])
            except OSError:
                pass

    def _crash_loop(self, inst: Instance) -> None:
        lines = "\n".join(f"    {line}" for line in inst.tail) or "    (no output)"
        error_log.error(
            "app %s: CRASH LOOP: %s exited with status %s, %d times in a row within %gs of "
            "starting; not restarting it (`frontdesk restart %s`, or a reload that changes "
            "the app, tries again). "
            "Its last output:\n%s",
            self.name,
            inst.name,
            inst.exit_status,
            CRASH_LOOP,
            CRASH_WINDOW,
            self.name,
            lines,
        )
