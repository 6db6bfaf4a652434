"""Helpers for the load-balancing tests: a frontdesk in front of backends.py processes,
their switches (`/_mode`, `/_health`), and the pool state the admin API reports."""

from __future__ import annotations

import http.client
import subprocess
import tempfile
import time
from collections import Counter
from typing import Any

from frontdesk.master.admin import call


def _switch(backend, what: str, value: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        conn.request("GET", f"/_{what}?set={value}")
        assert conn.getresponse().read() == value.encode()
    finally:
        conn.close()


def set_mode(backend, mode: str) -> None:
    """Every request to `backend`: "ok", "fail" (500) or "hang"."""
    _switch(backend, "mode", mode)


def set_health(backend, state: str) -> None:
    """`backend`'s /healthz alone: "ok", "fail" (503), "sick" (200 "sick") or "hang"."""
    _switch(backend, "health", state)


def release(backend) -> None:
    """Let every `/hold` request `backend` is keeping (and any later one) answer."""
    conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        conn.request("GET", "/_release")
        assert conn.getresponse().read() == b"released"
    finally:
        conn.close()


def pool_server(
    server, backends_, *, pool: str = "", weights: tuple[int, ...] = (), **server_keys: object
):
    """A frontdesk proxying everything to a pool "p" of `backends_` (with `pool` keys)."""
    items = [
        f'{{ address = "{b.address}", weight = {w} }}'
        for b, w in zip(backends_, weights or (1,) * len(backends_), strict=True)
    ]
    routes = f"""
[[route]]
proxy = {{ pool = "p" }}

[pool.p]
servers = [{", ".join(items)}]
{pool}
"""
    return server(routes, **server_keys)


def hit(srv, n: int, path: str = "/echo", headers: dict[str, str] | None = None) -> list:
    """`n` requests on one keep-alive connection: [(status, backend name or None)]."""
    conn = srv.http()
    out = []
    try:
        for _ in range(n):
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            resp.read()
            out.append((resp.status, resp.getheader("X-Backend")))
    finally:
        conn.close()
    return out


def shares(results: list) -> Counter:
    return Counter(name for _, name in results)


def admin_socket(srv) -> str:
    return f"{tempfile.gettempdir()}/frontdesk-{srv.port}.sock"


def status(srv, timeout: float = 30.0) -> dict[str, Any]:
    """The admin API's /status (its socket may appear just after the port answers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, payload = call(admin_socket(srv), "GET", "/status")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert code == 200, payload
    return payload


def pool_states(srv, pool: str = "p") -> dict[str, dict[str, int]]:
    """server → {state: number of workers that see it so}, from `frontdesk status`."""
    for p in status(srv)["pools"]:
        if p["pool"] == pool:
            return {s["server"]: s["states"] for s in p["servers"]}
    raise AssertionError(f"no pool {pool!r} in the status")


def wait_states(srv, wanted: dict[str, dict[str, int]], timeout: float = 10.0) -> float:
    """Wait until the pool's states are `wanted`; returns the seconds it took."""
    started = time.monotonic()
    got = None
    while time.monotonic() - started < timeout:
        got = pool_states(srv)
        if got == wanted:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"pool states {got}, wanted {wanted}; log:\n{srv.stderr_text()}")


def connections(srv, pool: str = "p") -> dict[str, int]:
    """server → connections open to it, summed over the workers."""
    for p in status(srv)["pools"]:
        if p["pool"] == pool:
            return {s["server"]: s["open"] for s in p["servers"]}
    raise AssertionError(f"no pool {pool!r} in the status")


def wait_closed(srv, server: str, timeout: float = 3.0) -> None:
    """Wait until frontdesk has no connection open to `server`."""
    deadline = time.monotonic() + timeout
    while connections(srv)[server] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert connections(srv)[server] == 0, status(srv)


def pool_cli(srv, *args: str) -> subprocess.CompletedProcess[str]:
    """`frontdesk pool -c CONFIG ARGS` against `srv`, once its admin socket answers (it
    may appear just after the port does: CI saw the CLI find no socket)."""
    status(srv)
    return srv.cli("pool", *args)
