"""``frontdesk demo``: write the demo, run frontdesk on it, say where to look, stop cleanly.

frontdesk runs as a child process (``frontdesk serve -c DIR/frontdesk.toml``) that
the kernel ends with this one (PR_SET_PDEATHSIG), and frontdesk's master takes its
workers and the planner's instances with it: after Ctrl-C, SIGTERM, or this process
being killed, nothing is left running. The directory is removed at the end unless it
was given with ``--dir``.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from .files import SIGNED_FOR, DemoFiles, write

READY_TIMEOUT = 60.0  # the planner loads in well under a second; a slow machine may take more
STOP_TIMEOUT = 45.0  # frontdesk's own shutdown_timeout (30s) and the apps' stop_timeout
EXAMPLE = "/api/route?from=Denver%2C%20CO&to=Chicago%2C%20IL"


class Stop(Exception):
    """SIGTERM or SIGINT arrived: stop frontdesk and leave."""


def main(port: int, directory: str | None) -> int:
    if not _port_free(port):
        print(
            f"frontdesk demo: port {port} is in use on 127.0.0.1: try --port {port + 1}",
            file=sys.stderr,
        )
        return 1
    keep = directory is not None
    root = Path(directory).resolve() if directory else Path(tempfile.mkdtemp(prefix="fd-demo-"))
    server: subprocess.Popen[bytes] | None = None
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        demo = write(root, port)
        print(f"frontdesk demo: files in {root}, starting frontdesk ...", flush=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-c", str(demo.config)],
            cwd=root,
            preexec_fn=_die_with_parent,
        )
        status = _wait_ready(demo, server)
        if status is None:
            return 1
        print(banner(demo, status, keep), flush=True)
        return server.wait()
    except Stop:
        print("\nfrontdesk demo: stopping ...", file=sys.stderr, flush=True)
        return 0
    finally:
        if server is not None:
            _stop_server(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG (linux/prctl.h: 1): SIGTERM to frontdesk if this process dies.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_ready(demo: DemoFiles, server: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    """Wait until the site and the planner answer through frontdesk; the admin status."""
    deadline = time.monotonic() + READY_TIMEOUT
    base = f"http://127.0.0.1:{demo.port}"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            print(f"frontdesk demo: frontdesk exited ({server.returncode})", file=sys.stderr)
            return None
        # Asking the admin API first: probing /api/ while the planner starts would
        # count 503s (the starting page) on the status page.
        status = _status(demo) if _ok(base + "/healthz") else {}
        ready = [i for i in instances(status) if i[2] == "ready"]
        if len(ready) == len(instances(status)) > 0 and _ok(base + "/api/map"):
            return status
        time.sleep(0.2)
    print(f"frontdesk demo: not ready within {READY_TIMEOUT:.0f}s", file=sys.stderr)
    return None


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _status(demo: DemoFiles) -> dict[str, Any]:
    """The admin API's /status (for the planner's pids), or {} if it does not answer."""
    from frontdesk.config import load_file
    from frontdesk.master.admin import call

    config = load_file(str(demo.config))
    address = config.admin_address()
    if address is None:
        return {}
    try:
        code, payload = call(address, "GET", "/status", token=config.admin.token)
    except OSError:
        return {}
    return payload if code == 200 and isinstance(payload, dict) else {}


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT or at a second Ctrl-C."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_TIMEOUT)
    except (subprocess.TimeoutExpired, Stop):
        server.kill()
        server.wait()


def instances(status: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(name, pid, state) of each planner instance in the admin API's status."""
    return [
        (str(row["instance"]), int(row.get("pid") or 0), str(row["state"]))
        for row in status.get("apps", [])
        if row.get("app") == "planner"
    ]


def banner(demo: DemoFiles, status: dict[str, Any], keep: bool) -> str:
    base = f"http://127.0.0.1:{demo.port}"
    pids = instances(status)
    lines = [
        "",
        "  frontdesk demo is running. Open:",
        "",
        f"    The site          {base}/",
        f"    A route (JSON)    {base}{EXAMPLE}",
        f"    Downloads         {base}/downloads/",
        f"                      user {demo.user!r}, password {demo.password!r}",
        f"    A signed link     {base}{demo.signed_path}",
        f"                      (expires in {SIGNED_FOR // 60} minutes; change a character: 403)",
        f"    The city table    {base}/api/data/cities.csv?licence=cc-by-4.0",
        "                      (the planner authorises it, frontdesk sends the file)",
        f"    Status page       {base}{demo.status_path}",
        "                      (the app's instances, the pool, the cache's hit ratio)",
        f"    Health            {base}/healthz",
        "",
    ]
    if pids:
        listing = ", ".join(f"{name} pid {pid}" for name, pid, _ in pids)
        lines += [
            f"  The planner runs as {listing}.",
            f"  Try: kill {pids[0][1]}   and keep planning routes: the other instance answers",
            "  while frontdesk starts a new one.",
            "",
        ]
    where = "kept" if keep else "removed when the demo stops"
    lines += [
        f"  Files and config: {demo.root} ({where})",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
