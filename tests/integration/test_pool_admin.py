"""`frontdesk pool drain|disable|enable`: the master's admin state, in every worker."""

from __future__ import annotations

import threading
import time

import pytest
from pool_helpers import (
    connections,
    hit,
    pool_cli,
    pool_server,
    release,
    shares,
    status,
    wait_closed,
    wait_states,
)

TWO = {"workers": 2}


def in_flight(srv) -> dict[str, int]:
    (pool,) = status(srv)["pools"]
    return {s["server"]: s["in_flight"] for s in pool["servers"]}


def test_drain_lets_a_slow_request_finish_while_new_ones_go_elsewhere(server, backends):
    a, b = backends("dr-a"), backends("dr-b")
    srv = pool_server(server, [a, b], pool='balance = "round_robin"', **TWO)
    slow: list[tuple[int, str | None]] = []

    def slow_request() -> None:
        conn = srv.http(timeout=30)
        conn.request("GET", "/hold")  # answered only once the test releases its backend
        resp = conn.getresponse()
        resp.read()
        slow.append((resp.status, resp.getheader("X-Backend")))
        conn.close()

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 10
    busy: list[str] = []
    while not busy and time.monotonic() < deadline:
        busy = [server for server, n in in_flight(srv).items() if n]
        time.sleep(0.02)
    assert len(busy) == 1, in_flight(srv)
    (drained,) = busy
    done = pool_cli(srv, "drain", "p", drained)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"pool p: server {drained} is now drain"
    other = "dr-b" if drained == a.address else "dr-a"
    assert hit(srv, 10) == [(200, other)] * 10  # while the slow one is still running
    assert thread.is_alive() and in_flight(srv)[drained] == 1
    assert slow == []
    release(a if drained == a.address else b)
    thread.join(10)
    assert slow == [(200, "dr-b" if other == "dr-a" else "dr-a")]  # it finished, on the drained one
    kept = a.address if drained == b.address else b.address
    wait_states(srv, {drained: {"drain": 2}, kept: {"up": 2}}, timeout=10)
    assert in_flight(srv)[drained] == 0
    # Its connection was closed as the slow request ended, not kept idle.
    assert connections(srv)[drained] == 0
    assert pool_cli(srv, "enable", "p", drained).returncode == 0
    wait_states(srv, {a.address: {"up": 2}, b.address: {"up": 2}}, timeout=10)
    assert shares(hit(srv, 10)) == {"dr-a": 5, "dr-b": 5}


@pytest.mark.parametrize("how", ["drain", "disable"])
def test_a_server_taken_out_keeps_no_idle_connection(server, backends, how):
    # A server an operator takes out is usually about to be stopped: one that stops
    # gracefully must not wait for frontdesk's idle connections to time out.
    a, b = backends(f"{how}-a"), backends(f"{how}-b")
    pool = 'balance = "round_robin"\nkeepalive_timeout = "60s"'
    srv = pool_server(server, [a, b], pool=pool, workers=1)
    assert shares(hit(srv, 10)) == {f"{how}-a": 5, f"{how}-b": 5}
    assert connections(srv) == {a.address: 1, b.address: 1}  # kept alive, idle
    assert pool_cli(srv, how, "p", a.address).returncode == 0
    wait_closed(srv, a.address)
    assert hit(srv, 4) == [(200, f"{how}-b")] * 4
    assert connections(srv) == {a.address: 0, b.address: 1}
    assert pool_cli(srv, "enable", "p", a.address).returncode == 0
    wait_states(srv, {a.address: {"up": 1}, b.address: {"up": 1}})
    assert shares(hit(srv, 10)) == {f"{how}-a": 5, f"{how}-b": 5}
    assert connections(srv) == {a.address: 1, b.address: 1}


def test_disable_takes_a_server_out_even_in_panic_mode(server, backends):
    a, b = backends("ds-a"), backends("ds-b")
    srv = pool_server(
        server,
        [a, b],
        pool='balance = "round_robin"\nhealth = { passive = { consecutive = 1, base = "30s" } }',
        **TWO,
    )
    done = pool_cli(srv, "disable", "p", b.address)
    assert done.returncode == 0, done.stderr
    wait_states(srv, {a.address: {"up": 2}, b.address: {"disabled": 2}}, timeout=2)
    assert hit(srv, 6) == [(200, "ds-a")] * 6
    a.stop()  # the only enabled server is gone: requests fail rather than go to b
    statuses = {status for status, _ in hit(srv, 4)}
    assert statuses <= {502, 503}, statuses
    done = srv.cli("status")
    assert any(b.address in line and "disabled" in line for line in done.stdout.splitlines())


def test_unknown_pool_or_server_is_a_clear_error(server, backends):
    a, b = backends("er-a"), backends("er-b")
    srv = pool_server(server, [a, b])
    done = pool_cli(srv, "drain", "nope", a.address)
    assert done.returncode == 2
    assert "no pool 'nope' in the running config (its pools: p)" in done.stderr
    done = pool_cli(srv, "disable", "p", "127.0.0.1:1")
    assert done.returncode == 2
    assert f"pool 'p' has no server '127.0.0.1:1' (its servers: {a.address}, {b.address})" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_single_server_pool_cannot_be_drained(server, backends):
    a = backends("one")
    srv = pool_server(server, [a])
    done = pool_cli(srv, "drain", "p", a.address)
    assert done.returncode == 2
    assert "has a single server" in done.stderr and "Traceback" not in done.stderr


def test_admin_state_survives_a_reload_and_a_server_removed_is_forgotten(server, backends):
    a, b, c = backends("rl-a"), backends("rl-b"), backends("rl-c")
    srv = pool_server(server, [a, b, c], pool='balance = "round_robin"', **TWO)
    assert pool_cli(srv, "drain", "p", b.address).returncode == 0
    assert pool_cli(srv, "disable", "p", c.address).returncode == 0
    before = status(srv)["generation"]
    # The new config lists a and b only.
    text = srv.config_path.read_text()
    srv.config_path.write_text(text.replace(f', {{ address = "{c.address}", weight = 1 }}', ""))
    srv.proc.send_signal(1)  # SIGHUP: reload
    deadline = time.monotonic() + 15
    while status(srv)["generation"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    wait_states(srv, {a.address: {"up": 2}, b.address: {"drain": 2}}, timeout=10)
    assert hit(srv, 6) == [(200, "rl-a")] * 6
