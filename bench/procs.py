"""Processes: launch pinned in their own process group, wait for HTTP, stop, CPU time."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ensure_commands(packages: dict[str, str]) -> None:
    """apt-get install the Debian package of each command not on PATH (command → package)."""
    if "/usr/sbin" not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] += os.pathsep + "/usr/sbin"
    missing = sorted({pkg for command, pkg in packages.items() if not shutil.which(command)})
    if not missing:
        return
    print(f"installing {' '.join(missing)} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env)


def stop_servers_on_signals() -> None:
    """SIGTERM and SIGINT unwind through the `finally` blocks that stop the servers."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """`taskset` execs the command; the affinity is inherited by every child it forks."""
    return ["taskset", "-c", str(cpu), *argv]


def launch(
    argv: Sequence[str],
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (its own process group), output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after `grace` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            _reap_group(proc.pid)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _reap_group(pgid: int) -> None:
    """Children that outlive the leader (a master's workers) get SIGKILL."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


TLS_PORTS: set[int] = set()
"""Ports of servers that speak HTTPS (a TLS scenario's): checks and waits use TLS there."""


def http_get(
    port: int, path: str, headers: Sequence[tuple[str, str]] = (), timeout: float = 5.0
) -> tuple[int, int]:
    """One GET to 127.0.0.1:port → (status, body length)."""
    status, length, _ = http_fetch(port, path, headers, timeout)
    return status, length


def http_fetch(
    port: int, path: str, headers: Sequence[tuple[str, str]] = (), timeout: float = 5.0
) -> tuple[int, int, dict[str, str]]:
    """One GET to 127.0.0.1:port → (status, body length, fields by lower-case name)."""
    conn: http.client.HTTPConnection
    if port in TLS_PORTS:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=ssl._create_unverified_context()
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        fields = {name.lower(): value for name, value in response.getheaders()}
        return response.status, len(response.read()), fields
    finally:
        conn.close()


def wait_http(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 20.0) -> None:
    """Poll until the port answers an HTTP GET; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"exited with {proc.returncode} before answering; see {log}:\n" + _tail(log)
            )
        try:
            http_get(port, "/", timeout=1.0)
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not answer within {timeout:.0f} s; see {log}")


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _children_map() -> dict[int, list[int]]:
    """ppid → pids, from /proc/*/stat (works without CONFIG_PROC_CHILDREN)."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the `(comm)` (so index 0 is `state`), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants."""
    children = _children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def cpu_seconds(root: int) -> float:
    """utime + stime of the process tree under `root`, in seconds.

    Only live processes count: a worker that dies mid-round would lose its time,
    which the harness would show as an implausibly low CPU/request."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # stat fields 14 (utime), 15 (stime)
    return ticks / CLOCK_TICKS
