"""Process-level fixtures; the helpers themselves live in proc_helpers.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from proc_helpers import Server, free_port, start_server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: serve(text=None, port=..., **kw) → a running Server, stopped at teardown."""
    servers: list[Server] = []

    def _serve(text: str | None = None, port: int | None = None, **kw: object) -> Server:
        server = start_server(tmp_path, text, port or free_port(), **kw)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield _serve
    for s in servers:
        s.terminate()


# --------------------------------------------------------------- proxy backends

BACKENDS = Path(__file__).with_name("backends.py")


class Backend:
    """A backends.py process: `port` (or `unix`), stopped at teardown."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, unix: str | None) -> None:
        self.proc = proc
        self.port = port
        self.unix = unix

    @property
    def address(self) -> str:
        return f"unix:{self.unix}" if self.unix else f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM: the backend finishes what it is answering, then exits."""
        self.proc.terminate()
        self.proc.wait(timeout)
        self.stop()


def start_backend(
    name: str = "b",
    *,
    port: int | None = None,
    unix: str | None = None,
    websocket: bool = False,
    idle_close: float | None = None,
) -> Backend:
    port = port or free_port()
    cmd = [sys.executable, str(BACKENDS), "--name", name]
    cmd += ["--unix", unix] if unix else ["--port", str(port)]
    if websocket:
        cmd.append("--websocket")
    if idle_close is not None:
        cmd += ["--idle-close", str(idle_close)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != b"ready":
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise RuntimeError(f"backend did not start: {line!r}")
    return Backend(proc, port, unix)


@pytest.fixture(scope="module")
def backends() -> Iterator[Callable[..., Backend]]:
    """Factory: backends(name, port=None, unix=None, websocket=False) → a running Backend."""
    started: list[Backend] = []

    def _start(name: str = "b", **kw: object) -> Backend:
        b = start_backend(name, **kw)  # type: ignore[arg-type]
        started.append(b)
        return b

    yield _start
    for b in started:
        b.stop()


@pytest.fixture(scope="module")
def origin(backends: Callable[..., Backend]) -> Backend:
    """The module's origin for the cache tests (backends.py, its `/c/` paths)."""
    return backends("origin")
