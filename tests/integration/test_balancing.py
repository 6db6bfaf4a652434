"""Load balancing through the proxy, on real backend processes (tests/integration/backends.py).

Each test starts its own frontdesk (one worker, so one balancer sees all the traffic)
and its own backends; a backend is made to fail or hang with `/_mode?set=...`.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import tempfile
import threading
import time
from collections import Counter

import pytest
from pool_helpers import hit, pool_server, set_mode, shares

from frontdesk.master.admin import call
from frontdesk.master.status import format_status

# ------------------------------------------------------------------ distribution


# p2c is left out: it draws two servers by weight and then sends to the cheaper one
# (latency x in flight), so with one request at a time the faster server takes nearly
# all, whatever the weights (and with two servers the draw is always the pair).
@pytest.mark.parametrize(
    ("policy", "tolerance"),
    [("round_robin", 0.01), ("least_conn", 0.01), ("random", 0.08)],
)
def test_weights_honoured(server, backends, policy, tolerance):
    a, b = backends(f"{policy}-a"), backends(f"{policy}-b")
    srv = pool_server(server, [a, b], pool=f'balance = "{policy}"', weights=(1, 3))
    results = hit(srv, 400)
    assert all(status == 200 for status, _ in results)
    got = shares(results)
    share_b = got[f"{policy}-b"] / 400
    print(f"{policy}: weights 1:3 -> {dict(got)}")
    assert abs(share_b - 0.75) <= tolerance, got


def test_hash_on_header_keeps_a_key_on_one_server(server, backends):
    trio = [backends(f"h{i}") for i in range(3)]
    srv = pool_server(server, trio, pool='balance = "hash"\nhash = "header:X-User"')
    owner = {}
    for user in range(30):
        names = {name for _, name in hit(srv, 5, headers={"X-User": f"user-{user}"})}
        assert len(names) == 1, (user, names)
        owner[user] = names.pop()
    assert len(set(owner.values())) == 3  # the keys are spread over the pool


# ------------------------------------------------------------------------ sticky


def test_sticky_cookie_keeps_a_client_and_moves_it_when_its_server_is_gone(server, backends):
    a, b = backends("s-a"), backends("s-b")
    srv = pool_server(
        server, [a, b], pool='sticky = { cookie = "fd_srv", secret = "0123456789abcdef" }'
    )
    conn = srv.http()
    conn.request("GET", "/echo")
    resp = conn.getresponse()
    resp.read()
    set_cookie = resp.getheader("Set-Cookie")
    assert set_cookie is not None and set_cookie.startswith("fd_srv=")
    assert "HttpOnly" in set_cookie
    first = resp.getheader("X-Backend")
    cookie = set_cookie.split(";")[0]
    conn.close()
    results = hit(srv, 20, headers={"Cookie": cookie})
    assert {name for _, name in results} == {first}
    # The client's server goes away: it is sent to the other, with a new cookie.
    gone, other = (a, "s-b") if first == "s-a" else (b, "s-a")
    gone.stop()
    conn = srv.http()
    conn.request("GET", "/echo", headers={"Cookie": cookie})
    resp = conn.getresponse()
    resp.read()
    assert (resp.status, resp.getheader("X-Backend")) == (200, other)
    new_cookie = resp.getheader("Set-Cookie")
    assert new_cookie is not None and new_cookie.split(";")[0] != cookie
    conn.close()
    results = hit(srv, 10, headers={"Cookie": new_cookie.split(";")[0]})
    assert results == [(200, other)] * 10


# ------------------------------------------------------------------------ health


@pytest.mark.slow
def test_server_answering_500s_is_ejected_and_returns(server, backends):
    trio = [backends(f"e{i}") for i in range(3)]
    srv = pool_server(
        server,
        trio,
        pool='balance = "round_robin"\nhealth = { passive = { consecutive = 3, base = "1s" } }',
    )
    set_mode(trio[2], "fail")
    results = hit(srv, 60)
    failed = [r for r in results if r[0] == 500]
    assert len(failed) == 3  # three in a row eject it; the others take the rest
    got = shares(results)
    assert got["e2"] == 3 and got["e0"] + got["e1"] == 57, got
    assert "ejected" in srv.stderr_text()
    set_mode(trio[2], "ok")
    time.sleep(1.3)  # the ejection (1 s) ends
    results = hit(srv, 30)
    assert all(status == 200 for status, _ in results)
    assert shares(results)["e2"] >= 8  # back in rotation


def test_a_server_dying_under_a_get_moves_it_to_another_server(server, backends):
    """GETs on kept-alive connections to a server that has just died (killed with
    SIGKILL: every connection closed, no answer). The first closed connection may be
    a keep-alive race, so the GET goes again on a fresh connection; when that one is
    closed without an answer too, the server is going down and the GET (idempotent,
    RFC 9110 §9.2.2) goes to another server. No 502, however many kept-alive
    connections to the dead server the pool held."""
    dying = {name: backends(name) for name in ("dying-a", "dying-b")}
    # hash on the path: every /sleep/0.3 goes to one server, which the balancer picks
    # again after its connection failed (p2c may too; round_robin would move on).
    srv = pool_server(server, list(dying.values()), pool='balance = "hash"\nhash = "path"')
    # Several kept-alive connections to that server: concurrent slow requests.
    primers = [threading.Thread(target=srv.get, args=("/sleep/0.3",)) for _ in range(4)]
    for t in primers:
        t.start()
    for t in primers:
        t.join()
    resp, _ = srv.get("/sleep/0.3")
    victim = resp.getheader("X-Backend")
    set_mode(dying[victim], "drop")
    results = []
    for _ in range(3):
        resp, _ = srv.get("/sleep/0.3")
        results.append((resp.status, resp.getheader("X-Backend")))
    other = ({"dying-a", "dying-b"} - {victim}).pop()
    assert results == [(200, other)] * 3
    dropped = json.loads(get_direct(dying[victim], "/stats")).get("dropped GET /sleep/0.3", 0)
    assert dropped >= 3


def get_direct(backend, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def test_hanging_server_times_out_and_is_ejected(server, backends):
    a, b = backends("hang-a"), backends("hang-b")
    srv = pool_server(
        server,
        [a, b],
        pool='balance = "round_robin"\nread_timeout = "0.5s"\n'
        'health = { passive = { consecutive = 1, base = "30s" } }',
    )
    set_mode(a, "hang")
    started = time.monotonic()
    results = hit(srv, 12)
    # One request went to the hanging server: 504 (a read timeout is not retried,
    # the request may have been acted on); then it is out.
    assert results.count((504, None)) == 1
    assert [r for r in results if r != (504, None)] == [(200, "hang-b")] * 11
    assert time.monotonic() - started < 5
    assert "ejected" in srv.stderr_text()


def test_panic_mode_when_every_server_is_ejected(server, backends):
    a, b = backends("p-a"), backends("p-b")
    srv = pool_server(
        server,
        [a, b],
        pool='health = { passive = { consecutive = 2, base = "30s" } }',
    )
    set_mode(a, "fail")
    set_mode(b, "fail")
    results = hit(srv, 20)
    # Both are ejected after a few requests, yet requests still reach them (the
    # backend's own 500, not frontdesk's 502/503).
    assert all(status == 500 and name in ("p-a", "p-b") for status, name in results)
    log = srv.stderr_text()
    assert log.count("panic mode") == 1, log
    set_mode(a, "ok")
    set_mode(b, "ok")


@pytest.mark.slow
def test_slow_start_ramps_a_returning_server(server, backends):
    a, b = backends("ss-a"), backends("ss-b")
    srv = pool_server(
        server,
        [a, b],
        pool='balance = "round_robin"\nslow_start = "4s"\n'
        'health = { passive = { consecutive = 1, base = "1s" } }',
    )
    set_mode(b, "fail")
    hit(srv, 4)  # b fails once and is ejected for 1 s
    set_mode(b, "ok")
    time.sleep(1.2)
    early = shares(hit(srv, 60))["ss-b"] / 60
    time.sleep(max(0.0, 4.5 - 0.1))  # past the ramp
    late = shares(hit(srv, 60))["ss-b"] / 60
    print(f"slow start: returning server's share {early:.2f} at first, {late:.2f} after")
    assert early < 0.25 and late > 0.4


# ------------------------------------------------------------------- SIGKILL


@pytest.mark.slow
def test_backend_killed_under_load(server, backends):
    trio = [backends(f"k{i}") for i in range(3)]
    srv = pool_server(server, trio, pool='balance = "round_robin"')
    statuses: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + 3.0

    def client() -> None:
        conn = srv.http(timeout=10)
        while time.monotonic() < stop:
            try:
                conn.request("GET", "/sleep/0.02")
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = srv.http(timeout=10)
            with lock:
                statuses[status] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(trio[1].proc.pid, signal.SIGKILL)
    for t in threads:
        t.join(15)
    total = sum(statuses.values())
    failed = total - statuses[200]
    print(
        f"SIGKILL under load: {failed} of {total} requests failed "
        f"({100 * failed / total:.2f}%): {dict(statuses)}"
    )
    assert total > 100
    assert failed <= 8  # at most the requests in flight on the killed server


def test_status_shows_each_server_state(server, backends):
    """`frontdesk status` (the admin API's /status) shows the pool as the worker sees it:
    an ejected server says so, the others are up, connections are counted."""
    trio = [backends(f"s{i}") for i in range(3)]
    srv = pool_server(
        server,
        trio,
        pool='balance = "round_robin"\nhealth = { passive = { consecutive = 2, base = "60s" } }',
    )
    set_mode(trio[2], "fail")
    hit(srv, 12)
    code, payload = call(f"{tempfile.gettempdir()}/frontdesk-{srv.port}.sock", "GET", "/status")
    assert code == 200
    (pool,) = payload["pools"]
    assert (pool["pool"], pool["balance"]) == ("p", "round_robin")
    states = {s["server"]: s["states"] for s in pool["servers"]}
    assert states == {
        trio[0].address: {"up": 1},
        trio[1].address: {"up": 1},
        trio[2].address: {"ejected": 1},
    }
    assert sum(s["idle"] for s in pool["servers"]) >= 1  # kept-alive connections
    text = format_status(payload)
    assert "pool p (round_robin)" in text
    assert any(trio[2].address in line and "ejected" in line for line in text.splitlines())
