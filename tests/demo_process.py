"""`frontdesk demo` as a subprocess, for the integration and browser tests.

`start_demo(port, directory, log)` runs `python -m frontdesk demo --port N [--dir D]`
with its output going to a file, waits for the banner, and reads from it the URLs it
printed, the demo user's password and the planner's pids. `DemoProcess.stop()` sends
SIGINT (Ctrl-C) and returns the exit status.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

READY_TIMEOUT = 120.0  # the first start on a loaded CI machine: venv imports, two apps
BANNER_END = "Ctrl-C stops everything."


@dataclass
class DemoProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    banner: str = ""
    urls: list[str] = field(default_factory=list)
    user: str = ""
    password: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    root: Path = Path()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, fragment: str) -> str:
        """The printed URL containing ``fragment``."""
        found = [u for u in self.urls if fragment in u]
        assert found, f"no printed URL contains {fragment!r}:\n{self.banner}"
        return found[0]

    def auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def get(self, url: str, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        parts = urlsplit(url if "://" in url else self.base + url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", target, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.headers, answer.read()
        finally:
            conn.close()

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"frontdesk demo did not stop within {timeout}s") from None


def start_demo(port: int, directory: Path | None, log: Path) -> DemoProcess:
    """The demo on ``port``; when a port it was given or picked was taken meanwhile (the
    machine's other traffic uses the same ephemeral range), again on another one."""
    for attempt in range(3):
        try:
            return _start(port, directory, log)
        except PortTaken:
            if attempt == 2:
                raise
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
    raise AssertionError("unreachable")


class PortTaken(AssertionError):
    pass


def _start(port: int, directory: Path | None, log: Path) -> DemoProcess:
    command = [sys.executable, "-m", "frontdesk", "demo", "--port", str(port)]
    if directory is not None:
        command += ["--dir", str(directory)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    demo = DemoProcess(proc, port, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while BANNER_END not in (text := log.read_text(errors="replace")):
        if proc.poll() is not None or time.monotonic() > deadline:
            demo.stop()
            if "in use" in text or "Address already in use" in text:
                raise PortTaken(f"frontdesk demo did not start:\n{text}")
            raise AssertionError(f"frontdesk demo did not start:\n{text}")
        time.sleep(0.2)
    start = text.index("frontdesk demo is running")
    demo.banner = text[start : text.index(BANNER_END) + len(BANNER_END)]
    demo.urls = re.findall(r"http://127\.0\.0\.1:\d+\S*", demo.banner)
    if m := re.search(r"user '([^']+)', password '([^']+)'", demo.banner):
        demo.user, demo.password = m.groups()
    demo.pids = {
        name: int(pid) for name, pid in re.findall(r"(planner\.\d+) pid (\d+)", demo.banner)
    }
    if m := re.search(r"Files and config: (\S+)", demo.banner):
        demo.root = Path(m.group(1))
    return demo


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        here = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{here}/task"):
                with contextlib.suppress(OSError):
                    kids = Path(f"/proc/{here}/task/{task}/children").read_text().split()
                    for kid in map(int, kids):
                        if kid not in found:
                            found.add(kid)
                            todo.append(kid)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
