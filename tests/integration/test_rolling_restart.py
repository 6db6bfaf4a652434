"""The headline of load balancing: backends updated one at a time under load, and not
one client request fails.

Three backends.py processes answer as "v1:PORT". Client threads send GETs over
kept-alive connections the whole time. One backend at a time is stopped with SIGTERM
(it refuses new connections, closes idle ones, finishes what it is answering), and a
"v2:PORT" process takes its port at once. frontdesk (2 workers, active checks every
0.3 s) retries what the stopping backend did not answer (a connect refused, or a
kept-alive connection closed before any answer, is safe to send elsewhere for a GET);
a worker that ejected the server after refused connects takes it back when the next
round of checks passes. With `drain`, the server is first drained through
`frontdesk pool drain` and stopped once nothing is in flight to it, then enabled.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter

import pytest
from pool_helpers import pool_cli, pool_server, status, wait_states
from proc_helpers import free_port

CLIENTS = 4
INTERVAL = 0.3
DEADLINE = 15.0  # for each wait on a condition; none should come near it


class Load:
    """Client threads, each on its own kept-alive connection: (sent at, status, backend)."""

    def __init__(self, srv) -> None:
        self.srv = srv
        self.results: list[tuple[float, int, str]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def _client(self) -> None:
        conn = self.srv.http(timeout=10)
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("GET", "/echo")
                resp = conn.getresponse()
                resp.read()
                row = (sent, resp.status, resp.getheader("X-Backend") or "-")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = self.srv.http(timeout=10)
                with self.lock:
                    self.errors.append(repr(exc))
                continue
            with self.lock:
                self.results.append(row)
        conn.close()

    def seen(self, name: str, since: float) -> bool:
        with self.lock:
            return any(b == name and t >= since for t, _, b in self.results)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        time.sleep(0.02)


def in_flight(srv, server: str) -> int:
    (pool,) = status(srv)["pools"]
    return sum(s["in_flight"] for s in pool["servers"] if s["server"] == server)


@pytest.mark.parametrize("drain", [False, True], ids=["sigterm", "drain-first"])
def test_rolling_restart_under_load_fails_no_request(server, backends, drain):
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    olds = [backends(f"v1:{port}", port=port) for port in sorted(ports)]
    srv = pool_server(
        server,
        olds,
        pool=f'health = {{ path = "/healthz", interval = "{INTERVAL}s", timeout = "0.25s", '
        "rise = 1, fall = 1 }",
        workers=2,
    )
    everyone_up = {b.address: {"up": 2} for b in olds}
    wait_states(srv, everyone_up)
    with Load(srv) as load:
        wait_for(lambda: len(load.results) > 200, "some traffic before the first restart")
        for old in olds:
            if drain:
                assert pool_cli(srv, "drain", "p", old.address).returncode == 0
                wait_for(lambda a=old.address: in_flight(srv, a) == 0, "drained")
            old.terminate()
            # At once: the checks may not even see it gone. A worker that ejected it
            # after refused connects takes it back when a check round passes.
            new = backends(f"v2:{old.port}", port=old.port)
            if drain:
                assert pool_cli(srv, "enable", "p", new.address).returncode == 0
            wait_states(srv, everyone_up)
            restarted = time.monotonic()
            wait_for(lambda n=new, t=restarted: load.seen(f"v2:{n.port}", t), "v2 serving")
        last_restart = time.monotonic()
        wait_for(
            lambda: sum(1 for t, _, _ in load.results if t > last_restart + INTERVAL) > 300,
            "traffic after the last restart",
        )
    results = load.results
    failed = [r for r in results if r[1] != 200]
    after = [b for t, _, b in results if t > last_restart + INTERVAL]
    by_version = Counter(b.split(":")[0] for b in after)
    log = srv.stderr_text()
    print(
        f"rolling restart ({'drain first' if drain else 'SIGTERM only'}): "
        f"ejections {log.count(' ejected for ')}, back after a check "
        f"{log.count('back in rotation')}, down by checks {log.count(' is down: ')}; "
        f"{len(results) + len(load.errors)} requests, {len(failed) + len(load.errors)} failed; "
        f"after the last restart {len(after)} requests, {by_version['v2']} from v2 "
        f"({100 * by_version['v2'] / len(after):.1f}%), by server {dict(Counter(after))}"
    )
    assert load.errors == [] and failed == [], (load.errors[:5], failed[:5], srv.stderr_text())
    assert by_version == {"v2": len(after)}
    assert set(after) == {f"v2:{b.port}" for b in olds}  # all three back in rotation
