"""The master process: binds the listening sockets, runs and supervises the workers.

Signals only enqueue (TERM/INT → shutdown, HUP → reload); one loop acts on them.
Workers are fresh interpreters (`python -m frontdesk.worker`), not forks: the
master runs an event loop of its own (active health checks, the admin API), and
forking a process with a running loop is unsafe. The listening sockets are
bound once here and inherited, so a reload hands them from the old workers to the
new ones without a moment where nobody is accepting.

Reload: read and validate the config → start a new generation of workers with it →
once every one of them is ready, tell the old generation to drain (stop accepting,
finish their connections within drain_timeout). A broken config, or a new
generation that fails to start, is refused and the old workers keep serving.

Pools (master/pools.py): the master holds what is decided once for every worker
(active-check verdicts, an operator's drain / disable / enable, the servers DNS
discovery found); each change goes to every worker, and a worker gets the current
state of every pool with its config, so one started later (restart, reload) starts
from it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from frontdesk.admin.api import add_observability_routes
from frontdesk.config.model import Config
from frontdesk.errors import ConfigError, FrontdeskError
from frontdesk.log import error_log
from frontdesk.master.admin import AdminServer
from frontdesk.master.app_admin import add_app_routes
from frontdesk.master.app_set import Apps
from frontdesk.master.channel import LineBuffer, Message, encode
from frontdesk.master.discovery import Discovery
from frontdesk.master.health import HealthChecker
from frontdesk.master.orphans import die_with_parent
from frontdesk.master.pool_admin import add_pool_routes
from frontdesk.master.pools import MasterPool, PoolStates
from frontdesk.master.purge import add_purge_routes
from frontdesk.master.sockets import bind
from frontdesk.master.status import add_status_routes
from frontdesk.master.tls import MasterTls

READY_TIMEOUT = 30.0
_RESTART_BACKOFF_MAX = 30.0


@dataclass(eq=False)
class WorkerProcess:
    generation: int
    slot: int
    proc: asyncio.subprocess.Process
    channel: socket.socket
    writer: asyncio.StreamWriter
    ready: asyncio.Future[None]
    state: str = "starting"  # starting → running → stopping; "stopping" is never restarted
    started: float = field(default_factory=time.monotonic)
    # Answers awaited from the worker over the channel, by request id ("stats").
    pending: dict[int, asyncio.Future[Message]] = field(default_factory=dict)

    def send(self, msg: Message) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(msg))


def preflight(config: Config) -> None:
    """Checks that need the machine, not just the file: done by the master, once, so a
    worker never dies at start for a reason the master could have reported."""
    path = config.server.access_log
    if path not in ("-", "off"):
        try:
            with open(path, "a"):
                pass
        except OSError as exc:
            raise FrontdeskError(
                f"server.access_log: cannot open {path!r} for writing: {exc.strerror}"
            ) from None


class Master:
    def __init__(self, config: Config, reload_config: Callable[[], Config] | None) -> None:
        self.config = config
        self._reload_config = reload_config
        self.sockets: dict[tuple[str, int], socket.socket] = {}
        self.workers: list[WorkerProcess] = []
        self.generation = 0
        self._events: asyncio.Queue[str] = asyncio.Queue()
        self._restarts: dict[int, float] = {}
        self._reaper_tasks: set[asyncio.Task[None]] = set()
        self._dead_slots: list[tuple[int, int, float]] = []
        self.config_path: str | None = None
        self.started = time.time()
        self.admin: AdminServer | None = None
        self._ids = itertools.count(1)
        self.pools = PoolStates(config)
        self.health = HealthChecker(self.broadcast, self.checks_passed)
        self.discovery = Discovery(self.broadcast)
        self.apps = Apps(self)  # [app.NAME] processes (master/apps.py)
        self.reload_errors: list[str] = []  # why the last reload failed, for the admin API
        self._reloading = asyncio.Lock()
        self._reload_task: asyncio.Task[bool] | None = None
        self.tls = MasterTls(config, self.relay, self.ask_workers)

    # ------------------------------------------------------------------ entry points

    async def run(self) -> int:
        # The memory tier of every cache is shared by the workers (cache/shared.py):
        # its directory lives as long as this master, across reloads.
        from frontdesk.cache.shared import ENV_DIR, remove_server_dir, server_dir

        shared = server_dir()
        os.environ[ENV_DIR] = str(shared)  # inherited by every worker spawned
        try:
            return await self._run()
        finally:
            remove_server_dir(shared)

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig, event in (
            (signal.SIGTERM, "stop"),
            (signal.SIGINT, "stop"),
            (signal.SIGHUP, "reload"),
        ):
            loop.add_signal_handler(sig, self._events.put_nowait, event)
        preflight(self.config)
        self._bind(self.config)
        if not await self._start_generation(self.config):
            await self._stop_all(self.workers, 5.0)
            raise FrontdeskError("workers failed to start")
        self._start_jobs()
        await self._start_admin()
        error_log.info(
            "frontdesk serving on %s with %d worker(s)",
            ", ".join(f"{h}:{p}" for h, p in self.sockets_addresses()),
            len(self.workers),
        )
        await self.apps.start(self.config.apps)
        while True:
            event = await self._events.get()
            if event == "stop":
                break
            if event == "reload":
                # A task: a rolling replacement of apps takes a while, and worker
                # deaths must still be handled meanwhile.
                self._reload_task = asyncio.create_task(self.reload())
            elif event.startswith("died:"):
                await self._on_death(event)
        await self.shutdown()
        return 0

    def sockets_addresses(self) -> list[tuple[str, int]]:
        return [s.getsockname()[:2] for s in self.sockets.values()]

    async def reload(self) -> bool:
        """Load the config file again and apply it; False (with `reload_errors`) when
        it was refused, or an app's new instances did not become ready."""
        async with self._reloading:
            self.reload_errors = []
            return await self._reload()

    async def _reload(self) -> bool:
        if self._reload_config is None:
            error_log.info("reload: no config file (embedded default); nothing to reload")
            return False
        try:
            new = self._reload_config()
        except ConfigError as exc:
            for issue in exc.issues:
                error_log.error("reload refused: %s", issue)
            error_log.error("reload refused: the running config stays in effect")
            self.reload_errors = [str(i) for i in exc.issues]
            return False
        try:
            preflight(new)
            self._bind(new)
        except FrontdeskError as exc:
            error_log.error("reload refused: %s", exc)
            self.reload_errors = [str(exc)]
            return False
        except OSError as exc:
            error_log.error("reload refused: cannot listen: %s", exc)
            self.reload_errors = [f"cannot listen: {exc}"]
            return False
        old = [w for w in self.workers if w.state != "stopping"]
        if not await self._start_generation(new, self.pools.successor(new)):
            error_log.error("reload refused: new workers did not start; old ones keep serving")
            self.reload_errors = ["new workers did not start; old ones keep serving"]
            return False
        admin_moved = new.admin_address() != self.config.admin_address()
        self.config = new
        # Made again now, not reused from the start of the reload: it carries over what
        # changed meanwhile (a check, a drain), under a generation above any sent yet.
        self._stop_jobs()
        self.pools = self.pools.successor(new)
        for pool in self.pools:
            self.broadcast(pool)
        self._start_jobs()
        if admin_moved:
            if self.admin is not None:
                self.admin.close()
                self.admin = None
            await self._start_admin()
        for w in old:
            w.state = "stopping"
            w.send({"type": "drain", "timeout": new.server.drain_timeout})
        self._close_unused(new)
        error_log.info(
            "reloaded: generation %d serving, %d old worker(s) draining", self.generation, len(old)
        )
        # The apps last: their new instances join the pools the new workers now have.
        self.reload_errors = await self.apps.apply(new.apps)
        return not self.reload_errors

    async def _start_admin(self) -> None:
        address = self.config.admin_address()
        if address is None:
            return
        admin = AdminServer(self.config.admin.token)
        add_status_routes(admin, self)
        add_observability_routes(admin, self)
        add_purge_routes(admin, self)
        add_pool_routes(admin, self)
        add_app_routes(admin, self)
        try:
            await admin.start(address)
        except OSError as exc:
            # The server itself is fine; only `frontdesk status` & co. will not reach it.
            error_log.error("admin API not started on %s: %s", address, exc)
            return
        self.admin = admin

    async def worker_stats(self, timeout: float = 2.0) -> list[dict[str, object]]:
        """Each live worker's own figures, asked over the control channel."""
        return await self.ask_workers({"type": "stats"}, timeout)

    async def ask_workers(
        self, msg: Message, timeout: float = 2.0, first: Message | None = None
    ) -> list[dict[str, object]]:
        """Send `msg` to every live worker (`first`, when given, to the first of them
        instead) and gather their answers: one row per worker, with "error" when it did
        not answer within `timeout`."""
        loop = asyncio.get_running_loop()
        asked: list[tuple[WorkerProcess, asyncio.Future[Message]]] = []
        for w in self.workers:
            if w.proc.returncode is not None or w.state == "starting":
                continue
            ident = next(self._ids)
            waiter: asyncio.Future[Message] = loop.create_future()
            w.pending[ident] = waiter
            w.send({**(first if first is not None and not asked else msg), "id": ident})
            asked.append((w, waiter))
        if asked:
            await asyncio.wait([f for _, f in asked], timeout=timeout)
        out: list[dict[str, object]] = []
        for w, waiter in asked:
            row: dict[str, object] = {
                "pid": w.proc.pid,
                "generation": w.generation,
                "slot": w.slot,
                "state": w.state,
                "uptime": round(time.monotonic() - w.started, 1),
            }
            if waiter.done():
                row.update({k: v for k, v in waiter.result().items() if k not in ("type", "id")})
            else:
                w.pending = {k: v for k, v in w.pending.items() if v is not waiter}
                row["error"] = "no answer"
            out.append(row)
        return out

    def relay(self, msg: Message, source: WorkerProcess | None = None) -> None:
        """`msg` to every live worker but `source` (a purge made through one of them)."""
        for w in self.workers:
            if w is not source and w.proc.returncode is None:
                w.send(msg)

    def _start_jobs(self) -> None:
        self.health.start(self.pools)
        self.discovery.start(self.pools)
        self.tls.start(self.config)

    def _stop_jobs(self) -> None:
        self.health.stop()
        self.discovery.stop()
        self.tls.stop()

    def broadcast(self, pool: MasterPool) -> None:
        """Send `pool`'s state to every worker (one without that pool ignores it)."""
        if pool.balanced:
            self.relay(pool.message())

    def checks_passed(self, pool: MasterPool, since: float, passed: list[str]) -> None:
        """Tell every worker which servers passed the round of checks begun at `since`
        (each ends an ejection of its own that began before, master/health.py)."""
        self.relay({"type": "checked", "pool": pool.name, "since": since, "passed": passed})

    async def shutdown(self) -> None:
        if self._reload_task is not None:
            self._reload_task.cancel()
        self._stop_jobs()
        if self.admin is not None:
            self.admin.close()
        timeout = self.config.server.shutdown_timeout
        error_log.info("shutting down: finishing in-flight requests (up to %.0fs)", timeout)
        for s in self.sockets.values():
            s.close()
        # Workers first (they finish the requests in flight to the apps), then the apps.
        await self._stop_all(self.workers, timeout)
        await self.apps.stop()

    # -------------------------------------------------------------------- internals

    def _bind(self, config: Config) -> None:
        wanted = config.listen_addresses()
        fresh: dict[tuple[str, int], socket.socket] = {}
        try:
            for addr in wanted:
                if addr not in self.sockets and addr not in fresh:
                    fresh[addr] = bind(addr, config.server.backlog)
        except OSError:
            for s in fresh.values():
                s.close()
            raise
        self.sockets.update(fresh)

    def _close_unused(self, config: Config) -> None:
        wanted = set(config.listen_addresses())
        for addr in [a for a in self.sockets if a not in wanted]:
            self.sockets.pop(addr).close()

    def _fds_for(self, config: Config) -> list[int]:
        return [self.sockets[a].fileno() for a in dict.fromkeys(config.listen_addresses())]

    async def _start_generation(self, config: Config, pools: PoolStates | None = None) -> bool:
        self.generation += 1
        count = config.resolved_workers()
        pools = pools or self.pools
        new = [await self._spawn(config, pools, self.generation, slot) for slot in range(count)]
        self.workers.extend(new)
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in new)), READY_TIMEOUT)
        except (TimeoutError, ConnectionError, FrontdeskError) as exc:
            error_log.error("generation %d failed to start: %s", self.generation, exc or "timeout")
            for w in new:
                w.state = "stopping"
            await self._stop_all(new, 2.0)
            return False
        for w in new:
            w.state = "running"
        return True

    async def _spawn(
        self, config: Config, pools: PoolStates, generation: int, slot: int
    ) -> WorkerProcess:
        parent, child = socket.socketpair()
        fds = self._fds_for(config)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "frontdesk.worker",
            "--channel",
            str(child.fileno()),
            "--listen",
            ",".join(map(str, fds)),
            pass_fds=(child.fileno(), *fds),
            stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # no orphans: gone with the master (orphans.py)
        )
        child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        loop = asyncio.get_running_loop()
        w = WorkerProcess(generation, slot, proc, parent, writer, loop.create_future())
        w.send(
            {
                "type": "config",
                "config": config.model_dump(mode="json", by_alias=True),
                "pools": pools.wire(),  # the state it starts from (see the module doc)
                "tls": self.tls.wire(),  # the shared ticket key, certificates obtained
            }
        )
        self._track(w, reader)
        return w

    def _track(self, w: WorkerProcess, reader: asyncio.StreamReader) -> None:
        async def read_channel() -> None:
            buffer = LineBuffer()
            while data := await reader.read(65536):
                for msg in buffer.feed(data):
                    if msg["type"] == "ready" and not w.ready.done():
                        w.ready.set_result(None)
                    elif msg["type"] == "purge":
                        self.relay({**msg, "shared": False}, w)
                    elif "id" in msg:  # an answer to ask_workers ("stats", "purged")
                        waiter = w.pending.pop(msg["id"], None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(msg)

        async def reap() -> None:
            channel = asyncio.create_task(read_channel())
            code = await w.proc.wait()
            channel.cancel()
            w.writer.close()
            if not w.ready.done():
                w.ready.set_exception(FrontdeskError(f"worker exited with {code} before ready"))
            if w in self.workers:
                self.workers.remove(w)
            if w.state != "stopping":
                error_log.warning("worker %d exited unexpectedly (status %s)", w.proc.pid, code)
                self._dead_slots.append((w.generation, w.slot, w.started))
                self._events.put_nowait(f"died:{w.proc.pid}")

        task = asyncio.create_task(reap())
        self._reaper_tasks.add(task)
        task.add_done_callback(self._reaper_tasks.discard)

    async def _on_death(self, event: str) -> None:
        while self._dead_slots:
            generation, slot, started = self._dead_slots.pop(0)
            if generation != self.generation:
                continue  # a worker of a generation being replaced: not restarted
            # Back off a worker that keeps dying right after start, so a crash loop
            # does not spin the CPU.
            delay = self._restarts.get(slot, 0.0)
            delay = (
                min(max(delay * 2, 0.5), _RESTART_BACKOFF_MAX)
                if time.monotonic() - started < 5
                else 0.0
            )
            self._restarts[slot] = delay
            if delay:
                await asyncio.sleep(delay)
            w = await self._spawn(self.config, self.pools, generation, slot)
            self.workers.append(w)
            try:
                await asyncio.wait_for(asyncio.shield(w.ready), READY_TIMEOUT)
                w.state = "running"
                error_log.info("worker restarted as %d", w.proc.pid)
            except (TimeoutError, FrontdeskError) as exc:
                error_log.error("worker restart failed: %s", exc)

    async def _stop_all(self, workers: list[WorkerProcess], timeout: float) -> None:
        for w in workers:
            w.state = "stopping"
            w.send({"type": "stop", "timeout": timeout})
        procs = [w.proc for w in workers if w.proc.returncode is None]
        if not procs:
            return
        _, pending = await asyncio.wait(
            [asyncio.create_task(p.wait()) for p in procs], timeout=timeout + 5.0
        )
        for p in procs:
            if p.returncode is None:
                error_log.warning("worker %d did not stop in time; killing it", p.pid)
                p.kill()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
