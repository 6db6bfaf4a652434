"""Active health checks: run by the master, their verdicts in every worker.

Two workers each time, so that "every worker" means something; backends.py's
`/_health?set=...` makes one backend's /healthz fail, hang or answer the wrong body
while its other paths still work (so only the active checks can take it out).
"""

from __future__ import annotations

import os
import signal
import time

from pool_helpers import (
    connections,
    hit,
    pool_server,
    set_health,
    shares,
    status,
    wait_closed,
    wait_states,
)

INTERVAL = 0.3
FALL = 2
RISE = 2
# A busy 2-core machine (other suites run too) may delay a round or a status answer.
SLACK = 1.5


def checked(extra: str = "") -> str:
    return (
        'balance = "round_robin"\n'
        f'health = {{ path = "/healthz", interval = "{INTERVAL}s", timeout = "0.2s", '
        f"rise = {RISE}, fall = {FALL}{extra} }}"
    )


def up_down(a, b, state_b: str, workers: int = 2) -> dict:
    return {a.address: {"up": workers}, b.address: {state_b: workers}}


def test_failing_healthz_takes_a_server_down_in_every_worker_and_back(server, backends):
    a, b = backends("hc-a"), backends("hc-b")
    # Idle connections kept long, so that only the verdict can close them.
    pool = checked() + '\nkeepalive_timeout = "60s"'
    srv = pool_server(server, [a, b], pool=pool, workers=2)
    wait_states(srv, up_down(a, b, "up"))
    assert shares(hit(srv, 4)) == {"hc-a": 2, "hc-b": 2}
    assert connections(srv)[b.address] >= 1
    set_health(b, "fail")
    took = wait_states(srv, up_down(a, b, "down"))
    print(f"down in both workers {took:.2f}s after /healthz started failing")
    assert took < FALL * INTERVAL + SLACK
    wait_closed(srv, b.address)  # its idle connections go with it
    results = hit(srv, 20)
    assert results == [(200, "hc-a")] * 20  # b answers /echo fine, but is out
    set_health(b, "ok")
    took = wait_states(srv, up_down(a, b, "up"))
    assert took < RISE * INTERVAL + SLACK
    assert shares(hit(srv, 20)) == {"hc-a": 10, "hc-b": 10}
    log = srv.stderr_text()
    # Logged once, by the master; not once per worker.
    assert log.count(f"server {b.address} is down: 2 failed health checks") == 1, log
    assert "(last: status 503)" in log
    assert log.count(f"server {b.address} is up: 2 health checks passed") == 1, log


def test_expect_body(server, backends):
    a, b = backends("eb-a"), backends("eb-b")
    srv = pool_server(server, [a, b], pool=checked(', expect_body = "ok"'), workers=2)
    set_health(b, "sick")  # 200, but the body says "sick"
    wait_states(srv, up_down(a, b, "down"))
    assert "(last: status 200, body without 'ok')" in srv.stderr_text()
    set_health(b, "ok")
    wait_states(srv, up_down(a, b, "up"))


def test_hanging_healthz_fails_by_timeout(server, backends):
    a, b = backends("th-a"), backends("th-b")
    srv = pool_server(server, [a, b], pool=checked(), workers=2)
    set_health(b, "hang")
    started = time.monotonic()
    wait_states(srv, up_down(a, b, "down"))
    assert time.monotonic() - started < FALL * INTERVAL + SLACK
    assert "(last: no answer in 0.2s)" in srv.stderr_text()
    assert hit(srv, 6) == [(200, "th-a")] * 6
    set_health(b, "ok")


def test_state_identical_in_all_workers_and_given_to_a_restarted_worker(server, backends):
    """`frontdesk status --json` shows the same verdict in every worker, and a worker
    that starts after the verdict (the old one was killed) starts from it: no check
    result changes meanwhile, so nothing else could tell it."""
    a, b, c = backends("rs-a"), backends("rs-b"), backends("rs-c")
    srv = pool_server(server, [a, b, c], pool=checked(), workers=2)
    set_health(c, "fail")
    wanted = {a.address: {"up": 2}, b.address: {"up": 2}, c.address: {"down": 2}}
    wait_states(srv, wanted)
    done = srv.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    assert '"down": 2' in done.stdout
    victim = status(srv)["workers"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        workers = status(srv)["workers"]
        pids = {w["pid"] for w in workers if "error" not in w}
        if len(pids) == 2 and victim not in pids:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker not restarted: {srv.stderr_text()}")
    assert wait_states(srv, wanted, timeout=0.5) < 0.5
    assert srv.stderr_text().count(f"server {c.address} is down") == 1
