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
SECONDS = 4.0


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
    ok = [0] * CLIENTS
    failed: list[str] = []
    stop = time.monotonic() + SECONDS
    start = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        start.wait()
        try:
            while time.monotonic() < stop:
                conn.request("GET", f"/echo?c={i}")
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
    # The backend numbers its connections: this answer's number is how many it accepted.
    status, body = srv.get("/echo")
    opened = json.loads(body)["connection"]
    print(f"\n{sum(ok)} requests from {CLIENTS} clients; {opened} backend connections opened")
    assert status == 200 and not failed
    assert sum(ok) > CLIENTS * 10
    assert opened <= CLIENTS + 1, f"{opened} connections opened for {CLIENTS} clients"
