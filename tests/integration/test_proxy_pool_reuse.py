"""A pool with default settings does not churn: under a steady load of more concurrent
requests than `keepalive` (32), a worker opens no more connections to its backend than
the peak of concurrent requests, instead of closing and reopening them all the time."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from proc_helpers import free_port

CLIENTS = 64
# Longer than two of the idle cap's windows (a window is keepalive_timeout, 4 s by
# default, long): the peak it keeps is re-measured twice during the run.
SECONDS = 9.0
# Each answer takes a few milliseconds, so that the 64 clients' requests are in flight
# to the backend together (a backend answering at once leaves only a few in flight).
BACKEND_DELAY = 0.003


def backend_connections(port: int) -> int:
    """How many connections the backend has accepted, asked on a new one of our own:
    the backend numbers its connections, and this one is the last."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/echo")
        number: int = json.loads(conn.getresponse().read())["connection"]
        return number - 1
    finally:
        conn.close()


@pytest.mark.slow
def test_steady_load_of_64_clients_opens_at_most_64_connections(serve, backends):
    backend = backends("reuse")
    port = free_port()
    srv = serve(
        f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
access_log = "off"

[[route]]
match = {{ path = "/" }}
proxy = {{ pool = "app" }}

[pool.app]
servers = ["{backend.address}"]
""",
        port=port,
    )
    before = backend_connections(backend.port)
    ok = [0] * CLIENTS
    failed: list[str] = []
    stop = time.monotonic() + SECONDS
    start = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        start.wait()
        try:
            while time.monotonic() < stop:
                conn.request("GET", f"/sleep/{BACKEND_DELAY}?c={i}")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    ok[i] += 1
                else:
                    failed.append(str(resp.status))
        except OSError as exc:
            failed.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Ours (the count's own connections) excluded: what the worker opened.
    opened = backend_connections(backend.port) - before - 1
    print(f"\n{sum(ok)} requests from {CLIENTS} clients; {opened} backend connections opened")
    assert not failed
    assert sum(ok) > CLIENTS * 10
    assert 0 < opened <= CLIENTS, f"{opened} connections opened for {CLIENTS} clients"
