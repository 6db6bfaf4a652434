"""Helpers for the app supervision tests: [app.NAME] tables, instance rows from the
admin API, the process tree from /proc, and a load of keep-alive clients."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pool_helpers import admin_socket
from proc_helpers import children, is_zombie_or_gone

from frontdesk.master.admin import call

APPS = Path(__file__).with_name("apps")
STDLIB_APP = APPS / "stdlib_app.py"


def app_routes(
    command: list[str] | None = None,
    *,
    name: str = "web",
    instances: int = 2,
    extra: str = "",
    env: dict[str, str] | None = None,
) -> str:
    """A catch-all proxy route to the app's pool and the [app.NAME] table."""
    command = command or [sys.executable, str(STDLIB_APP)]
    env_line = f"env = {json.dumps(env)}".replace('":', '" =') if env else ""
    return f"""
[[route]]
proxy = {{ pool = "{name}" }}

[app.{name}]
command = {json.dumps(command)}
instances = {instances}
stop_timeout = "5s"
{env_line}
{extra}
"""


def app_rows(srv, app: str | None = None) -> list[dict[str, Any]]:
    """GET /apps: the instances (of `app`, when given)."""
    code, payload = call(admin_socket(srv), "GET", "/apps")
    assert code == 200, payload
    return [r for r in payload["apps"] if app is None or r["app"] == app]


def wait_apps(srv, count: int, *, app: str = "web", timeout: float = 30.0) -> list[dict]:
    """Until `app` has exactly `count` instances, all ready; returns their rows."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            rows = app_rows(srv, app)
        except OSError:
            rows = []
        if len(rows) == count and all(r["state"] == "ready" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"{app}: wanted {count} ready, have {rows}; log:\n{srv.stderr_text()}")


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children of children ...)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found and not is_zombie_or_gone(child):
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if not is_zombie_or_gone(p)}


def wait_gone(pids: set[int], timeout: float) -> tuple[float, set[int]]:
    """Seconds until none of `pids` is alive (or `timeout`), and those left."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not alive(pids):
            return time.monotonic() - started, set()
        time.sleep(0.02)
    return time.monotonic() - started, alive(pids)


def describe(pids: set[int]) -> list[str]:
    out = []
    for p in sorted(pids):
        try:
            out.append(
                f"{p}: " + Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            out.append(f"{p}: (gone)")
    return out


class Load:
    """`clients` threads, each on one kept-alive connection, sending GETs and POSTs with
    bodies (1 byte to 64 KiB) in turn, checking every answer: a POST's must carry the
    length and SHA-256 of the body sent. Counts answers by status and by the version
    ("v1", "v2" ...) that answered; anything else is a failure, kept with its reason."""

    def __init__(self, srv, clients: int = 4, post_path: str = "/upload") -> None:
        self.srv = srv
        self.post_path = post_path
        self.ok = Counter[str]()
        self.kinds = Counter[str]()
        self.failed: list[str] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)
        ]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + len(self.failed)

    def _client(self, i: int) -> None:
        rng = random.Random(i)
        conn = self.srv.http(timeout=15)
        n = 0
        while not self.stop_event.is_set():
            n += 1
            post = n % 2 == 0
            body = rng.randbytes(rng.choice((1, 100, 4096, 65536))) if post else b""
            try:
                if post:
                    conn.request(
                        "POST",
                        self.post_path,
                        body=body,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                else:
                    conn.request("GET", f"/page?{i}-{n}")
                resp = conn.getresponse()
                text = resp.read().decode(errors="replace")
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failed.append(
                        f"{time.monotonic():.2f} n={n} {'POST' if post else 'GET'}: {exc!r}"
                    )
                conn.close()
                conn = self.srv.http(timeout=15)
                continue
            words = text.split()
            good = resp.status == 200 and len(words) >= 2
            if good and post:
                good = words[2:4] == [str(len(body)), hashlib.sha256(body).hexdigest()]
            with self.lock:
                if good:
                    self.ok[words[1]] += 1
                    self.kinds["POST" if post else "GET"] += 1
                else:
                    self.failed.append(f"{resp.status} {text[:120]!r}")
        conn.close()

    def report(self, what: str) -> str:
        line = (
            f"{what}: {self.total} requests ({self.kinds['GET']} GET, {self.kinds['POST']} "
            f"POST with bodies), {len(self.failed)} failed; answered by {dict(self.ok)}"
        )
        print(line)
        return line


def environ_without_port() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PORT"}
