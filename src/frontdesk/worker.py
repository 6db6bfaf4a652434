"""A worker process: one uvloop event loop serving the listening sockets it inherited.

Started by the master as `python -m frontdesk.worker --channel FD --listen FD,..`.
The first control message carries the validated config and the master's state of
each pool (health, drain, members); the worker answers "ready" once it accepts
connections. A "pool" message later replaces one pool's state; "checked" lists
the servers that passed a round of active checks. It stops on
"stop"/"drain" from the master, on SIGTERM, or when the channel closes (the master
is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

from frontdesk.config.model import Config
from frontdesk.listeners import factories
from frontdesk.log import setup_error_log
from frontdesk.master.channel import LineBuffer, Message, encode
from frontdesk.pipeline import build_context
from frontdesk.server.context import WorkerContext
from frontdesk.tls.runtime import WorkerTls
from frontdesk.tls.transport import tls_factory

TICK = 0.5  # seconds between deadline sweeps, Date refreshes and access-log flushes
DRAIN_IDLE_GRACE = 1.0  # reload: an idle keep-alive connection is closed after this


class Worker:
    def __init__(
        self,
        config: Config,
        listen_fds: list[int],
        channel: socket.socket,
        pools: dict[str, Any] | None = None,
        early: tuple[list[Message], LineBuffer] | None = None,
    ) -> None:
        self.config = config
        self.listen_fds = listen_fds
        self.channel = channel
        # What the channel had brought after the config message (_read_config).
        self._early = early or ([], LineBuffer())
        self.ctx: WorkerContext = build_context(config)
        self.tls = WorkerTls(config)  # certificates, ticket key, ACME challenges
        self.factories = factories(config, self.ctx, self.tls.challenge)
        for name, state in (pools or {}).items():  # the master's state, sent with the config
            self._pool_state(name, state)
        self.servers: list[asyncio.AbstractServer] = []
        self.stopping: asyncio.Future[tuple[float, float]] | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._channel_transport: asyncio.BaseTransport | None = None
        self._listen: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        ctx = self.ctx
        # The inherited sockets stay open here; servers get duplicates, so accepting
        # can be stopped (server.close() closes its fd) and started again.
        self._listen = [socket.socket(fileno=fd) for fd in self.listen_fds]
        await self._start_accepting()
        ctx.pause_accepting = self._pause_accepting
        ctx.resume_accepting = lambda: self._later(self._start_accepting())
        loop.add_signal_handler(
            signal.SIGTERM, self._request_stop, self.config.server.shutdown_timeout, 0.0
        )
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master coordinates Ctrl-C
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._tick()
        transport, _ = await loop.connect_accepted_socket(
            lambda: _ChannelProtocol(self, self._early), sock=self.channel
        )
        self._channel_transport = transport
        for cache in ctx.caches.values():
            cache.broadcast = self.send  # purges and invalidations reach the other workers
        self.send({"type": "ready", "pid": os.getpid()})
        timeout, grace = await self.stopping
        await self._shutdown(timeout, grace)

    async def _start_accepting(self) -> None:
        loop = asyncio.get_running_loop()
        ctx = self.ctx
        if ctx.closing:
            return
        backlog = self.config.server.backlog
        for sock, (listener, factory) in zip(self._listen, self.factories, strict=True):
            make: Callable[[], asyncio.Protocol] = factory
            if listener.tls:
                make = tls_factory(factory, self.tls.context, self.config.server.header_timeout)
            server = await loop.create_server(make, sock=sock.dup(), backlog=backlog)
            self.servers.append(server)

    def _pause_accepting(self) -> None:
        for server in self.servers:
            server.close()
        self.servers = []

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, msg: Message) -> None:
        t = self._channel_transport
        if t is not None and not t.is_closing():
            t.write(encode(msg))  # type: ignore[attr-defined]

    def on_message(self, msg: Message) -> None:
        kind = msg["type"]
        if kind == "stop":
            self._request_stop(float(msg.get("timeout", 30.0)), 0.0)
        elif kind == "drain":
            self._request_stop(float(msg.get("timeout", 300.0)), DRAIN_IDLE_GRACE)
        elif kind == "stats":
            self.send({"type": "stats", "id": msg.get("id"), **self.stats()})
        elif kind == "metrics":
            metrics = self.ctx.metrics_snapshot()
            self.send({"type": "metrics", "id": msg.get("id"), **self.stats(), "metrics": metrics})
        elif kind == "pool":
            self._pool_state(str(msg.get("pool")), msg.get("state"))
        elif kind == "checked":
            pool = self.ctx.upstream_pools.get(str(msg.get("pool")))
            if pool is not None:
                pool.checks_passed(msg.get("passed", []), float(msg.get("since", 0.0)))
        elif kind == "purge":
            self._later(self._purge(msg))
        elif kind == "in_flight":  # master/apps.py, draining an app instance
            pool = self.ctx.upstream_pools.get(str(msg.get("pool")))
            n = pool.in_flight_to(str(msg.get("member"))) if pool is not None else 0
            self.send({"type": "in_flight", "id": msg.get("id"), "in_flight": n})
        elif kind in ("tls", "challenge"):
            answer = self.tls.on_message(msg)
            if "id" in msg:
                self.send({"type": kind, "id": msg["id"], **answer})

    def _pool_state(self, name: str, state: Any) -> None:
        pool = self.ctx.upstream_pools.get(name)
        if pool is not None and isinstance(state, dict):  # else: a pool this config lacks
            pool.apply_wire(state)

    async def _purge(self, msg: Message) -> None:
        from frontdesk.cache.purge import PurgeError, apply

        try:
            removed = await apply(self.ctx, msg)
            answer: Message = {"type": "purged", "removed": removed}
        except PurgeError as exc:
            answer = {"type": "purged", "removed": 0, "error": str(exc)}
        if "id" in msg:
            self.send({**answer, "id": msg["id"]})

    def stats(self) -> dict[str, Any]:
        from frontdesk.access.ratelimit import rate_limit_stats

        ctx = self.ctx
        return {
            "pid": os.getpid(),
            "connections": len(ctx.connections),
            "requests": ctx.requests_served(),
            "accepting": not ctx.accept_paused and not ctx.closing,
            "rss_bytes": _rss_bytes(),
            "pools": [p.snapshot(ctx.clock.now) for p in ctx.upstream_pools.values()],
            "caches": {name: c.stats() for name, c in ctx.caches.items()},
            "rate_limits": rate_limit_stats(ctx.actions),
        }

    def on_channel_lost(self) -> None:
        # The master is gone: nobody will restart or stop us, so stop now, gracefully.
        self._request_stop(self.config.server.shutdown_timeout, 0.0)

    def _request_stop(self, timeout: float, grace_idle: float) -> None:
        if self.stopping is not None and not self.stopping.done():
            self.stopping.set_result((timeout, grace_idle))

    def _tick(self) -> None:
        ctx = self.ctx
        clock = ctx.clock
        clock.tick(time.monotonic(), time.time())
        now = clock.now
        # Deadlines were set from a clock that lags by up to one tick: fire a tick late
        # rather than early, so no timeout is ever shorter than configured.
        late = now - TICK
        for conn in [c for c in ctx.connections if c.deadline <= late]:
            conn.on_deadline()
        for pool in ctx.upstream_pools.values():
            pool.sweep(late)
        ctx.access_log.flush()
        self._tick_handle = asyncio.get_running_loop().call_later(TICK, self._tick)

    async def _shutdown(self, timeout: float, grace_idle: float) -> None:
        """Stop accepting; let in-flight work finish within `timeout`; then exit."""
        ctx = self.ctx
        ctx.closing = True
        ctx.idle_grace = grace_idle
        self._pause_accepting()
        for listener in self._listen:
            listener.close()
        for conn in list(ctx.connections):
            conn.shutdown(grace_idle)
        deadline = time.monotonic() + timeout
        while ctx.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(ctx.connections):
            if conn.transport is not None:
                conn.transport.abort()
        for pool in ctx.upstream_pools.values():
            pool.close_all()
        for cache in ctx.caches.values():
            await cache.close()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        ctx.access_log.close()


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0  # not Linux: no figure rather than a wrong one


class _ChannelProtocol(asyncio.Protocol):
    def __init__(self, worker: Worker, early: tuple[list[Message], LineBuffer]) -> None:
        self.worker = worker
        pending, self.buffer = early  # what arrived with the config, read by _read_config
        for msg in pending:
            worker.on_message(msg)

    def data_received(self, data: bytes) -> None:
        for msg in self.buffer.feed(data):
            self.worker.on_message(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.on_channel_lost()


def _read_config(channel: socket.socket) -> tuple[Message, list[Message], LineBuffer]:
    """Block until the first message (the config) has arrived; nothing else runs yet.

    Returns it, the messages that came in the same reads after it, and the buffer
    holding any partial line: the channel protocol goes on from there."""
    buffer = LineBuffer()
    while True:
        data = channel.recv(1 << 20)
        if not data:
            raise SystemExit("frontdesk worker: control channel closed before config")
        messages = buffer.feed(data)
        for i, msg in enumerate(messages):
            if msg["type"] == "config":
                return msg, messages[i + 1 :], buffer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk-worker")
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--listen", default="")
    args = parser.parse_args(argv)
    setup_error_log()
    channel = socket.socket(fileno=args.channel)
    fds = [int(fd) for fd in args.listen.split(",") if fd]
    first, pending, buffer = _read_config(channel)
    config = Config.model_validate(first["config"])
    worker = Worker(config, fds, channel, first.get("pools"), (pending, buffer))
    worker.tls.on_message(first.get("tls") or {})  # ticket key, certificates obtained
    uvloop.run(worker.run())
    return 0


def run_worker_main() -> Any:
    try:
        return main()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run_worker_main())
