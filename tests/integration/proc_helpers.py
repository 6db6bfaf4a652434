"""Helpers for process-level tests: run `python -m frontdesk serve -c FILE` as a subprocess.

`start_server(tmp_path, text, port)` writes the config, starts the master with stdout and
stderr going to files (never a pipe nobody reads) and waits until it logs that it is
serving and the port accepts connections; `Server.terminate()` sends SIGTERM, then
SIGKILL if it lingers.
Everything listens on 127.0.0.1 and on a port picked free just before.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import leakcheck

STARTUP_TIMEOUT = 20.0


T = TypeVar("T")


def concurrently(n: int, ask: Callable[[], T]) -> list[T]:
    """The results of `n` calls of `ask` made at once, from threads of their own."""
    results: list[T] = []
    lock = threading.Lock()

    def one() -> None:
        got = ask()
        with lock:
            results.append(got)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def over_both_workers(
    ask: Callable[[], T], both: Callable[[], bool], *, at_least: int = 40, most: int = 400
) -> list[T]:
    """The results of `ask` (a request on a connection of its own) called 8 at a time
    until at least `at_least` calls and `both()` says both workers answered some, or
    `most` calls. The workers share the listening socket: connections made one after
    another may all go to the same one (CI saw 31 of 31)."""
    results: list[T] = []
    while len(results) < most:
        results += concurrently(8, ask)
        if len(results) >= at_least and both():
            break
    return results


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (alive or zombie), from /proc."""
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.update(int(c) for c in text.split())
    except OSError:
        pass
    return sorted(found)


def is_zombie_or_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def live_children(pid: int) -> list[int]:
    return [c for c in children(pid) if not is_zombie_or_gone(c)]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def config_text(
    port: int,
    *,
    body: str = "v1",
    workers: int = 2,
    pid_file: Path | str = "",
    extra_server: str = "",
) -> str:
    """A small config: one catch-all respond route answering `body`."""
    return f"""\
[server]
listen = ["127.0.0.1:{port}"]
workers = {workers}
access_log = "off"
pid_file = "{pid_file}"
shutdown_timeout = "10s"
{extra_server}

[[route]]
name = "health"
match = {{ exact = "/healthz" }}
respond = {{ body = "ok" }}

[[route]]
name = "main"
respond = {{ body = "{body}", headers = {{ "Content-Type" = "text/plain" }} }}
"""


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    config: Path | None
    stdout_path: Path
    stderr_path: Path
    _log_offset: int = field(default=0)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 10.0, start: int = 0) -> str:
        """Wait until the master's stderr (from offset `start`) contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.stderr()[start:]
            if text in log:
                return log
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout}s; stderr:\n{self.stderr()}")

    def log_size(self) -> int:
        return len(self.stderr())

    def get(self, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
        """One request on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def workers(self) -> list[int]:
        return live_children(self.pid)

    def wait_workers(self, count: int, timeout: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout
        pids: list[int] = []
        while time.monotonic() < deadline:
            pids = self.workers()
            if len(pids) == count:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"expected {count} workers, have {pids}")

    def wait_body(self, body: bytes, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        got: tuple[int, bytes] | None = None
        while time.monotonic() < deadline:
            got = self.get()
            if got == (200, body):
                return
            time.sleep(0.05)
        raise AssertionError(f"body {body!r} not served within {timeout}s; last {got}")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"master did not exit within {timeout}s; stderr:\n{self.stderr()}"
            ) from None

    def terminate(self) -> None:
        """Teardown: SIGTERM, then SIGKILL master and any worker left over."""
        workers = children(self.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(12)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for w in workers:
            if not is_zombie_or_gone(w):
                with contextlib.suppress(OSError):
                    os.kill(w, signal.SIGKILL)


def start_server(
    tmp_path: Path,
    text: str | None,
    port: int,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    name: str = "server",
) -> Server:
    """Start `frontdesk serve` (with `text` as its config, or none) and wait until ready."""
    cfg: Path | None = None
    cmd = [sys.executable, "-m", "frontdesk", "serve"]
    if text is not None:
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(text)
        cmd += ["-c", str(cfg)]
    cmd += list(args)
    full_env = {k: v for k, v in os.environ.items() if k != "PORT"}
    full_env.update(env or {})
    out = tmp_path / f"{name}.stdout"
    err = tmp_path / f"{name}.stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=full_env, cwd=tmp_path
        )
    server = Server(proc, port, cfg, out, err)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {proc.returncode} at start; stderr:\n{server.stderr()}"
                )
            if "frontdesk serving on" in server.stderr() and port_open(port):
                return server
            time.sleep(0.05)
        raise AssertionError(f"server not ready in {STARTUP_TIMEOUT}s; stderr:\n{server.stderr()}")
    except BaseException:
        server.terminate()
        raise


def read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Read one Content-Length framed response from a raw socket (not HEAD, not 1xx)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response head; got {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed mid-body; got {rest!r}")
        rest += chunk
    assert len(rest) == length, f"bytes after the response: {rest[length:]!r}"
    leakcheck.check_answer(status, headers.items(), rest)
    return status, headers, rest
