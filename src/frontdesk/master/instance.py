"""One app instance: its process, its environment, its output, its readiness check.

master/apps.py decides when instances start and stop; this holds what one of them is
and the I/O that needs no decision: the output forwarded line by line, and the check
that a starting instance is ready.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import socket
import time
from dataclasses import dataclass, field

from frontdesk.config.apps import App
from frontdesk.config.proxy import split_upstream
from frontdesk.log import AccessLog
from frontdesk.master.health import probe
from frontdesk.master.supervise import Backoff, Event, State, next_state
from frontdesk.proxy.upstream import host_header

START_POLL = 0.1  # seconds between checks of a starting instance
TAIL_LINES = 20  # output lines kept per instance, for the crash-loop error
MAX_LINE = 16 * 1024  # a longer output line is cut (and says so)
_VARIABLE = re.compile(
    r"\$(?:\{(PORT|FRONTDESK_SOCKET|FRONTDESK_INSTANCE)\}|(PORT|FRONTDESK_SOCKET|FRONTDESK_INSTANCE)\b)"
)


def free_port() -> int:
    """A free loopback port for an instance (the app binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(eq=False)
class Instance:
    """One process of an app (a slot's current one, or its replacement)."""

    name: str  # "web.1"
    config: App
    address: str  # the pool member: "127.0.0.1:PORT" or "unix:/path"
    port: int | None
    proc: asyncio.subprocess.Process | None = None
    state: State = State.STARTING
    started: float = field(default_factory=time.monotonic)
    pool: str | None = None  # the pool it joined, while it is in one
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    exit_status: int | None = None
    ran_for: float = 0.0  # from start to exit
    done: asyncio.Event = field(default_factory=asyncio.Event)  # set once reaped

    def event(self, event: Event) -> None:
        self.state = next_state(self.state, event)

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.config.env, "FRONTDESK_INSTANCE": self.name}
        if self.port is not None:
            env["PORT"] = str(self.port)
        else:
            env["FRONTDESK_SOCKET"] = self.address[len("unix:") :]
            env.pop("PORT", None)  # the platform's $PORT is frontdesk's, not the app's
        return env

    def argv(self, env: dict[str, str]) -> list[str]:
        def sub(m: re.Match[str]) -> str:
            return env.get(m.group(1) or m.group(2), "")

        return [_VARIABLE.sub(sub, arg) for arg in self.config.command]


@dataclass(eq=False)
class Slot:
    number: int
    config: App
    current: Instance | None = None
    leaving: list[Instance] = field(default_factory=list)  # replaced, draining/stopping
    backoff: Backoff = field(default_factory=Backoff)
    task: asyncio.Task[None] | None = None


async def forward_output(inst: Instance, stream: asyncio.StreamReader, output: AccessLog) -> None:
    """The instance's output, line by line, prefixed; ends at end of file."""
    pending = b""
    prefix = f"{inst.name} | "
    while data := await stream.read(65536):
        pending += data
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE:
            lines.append(pending[:MAX_LINE] + b" [line cut]")
            pending = b""
        for raw in lines:
            text = raw.rstrip(b"\r").decode("utf-8", "replace")
            inst.tail.append(text)
            output.line(prefix + text)
        output.flush()
    if pending:
        text = pending.decode("utf-8", "replace")
        inst.tail.append(text)
        output.line(prefix + text)
        output.flush()


async def until_ready(inst: Instance) -> bool:
    """Check a starting instance every START_POLL until it passes (True), exits,
    or start_timeout runs out (False)."""
    deadline = inst.started + inst.config.start_timeout
    address = split_upstream(inst.address)
    health = inst.config.health
    while inst.exit_status is None and time.monotonic() < deadline:
        if health is not None and health.path is not None:
            passed = (await probe(address, host_header(address), health)).passed
        else:
            passed = await accepts(address)
        if passed and inst.exit_status is None:
            inst.event(Event.READY)
            return True
        try:
            await asyncio.wait_for(inst.done.wait(), START_POLL)
        except TimeoutError:
            pass
    return False


async def accepts(address: tuple[str, int] | str) -> bool:
    try:
        if isinstance(address, str):
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(address), 1.0)
        else:
            _, writer = await asyncio.wait_for(asyncio.open_connection(*address), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True
