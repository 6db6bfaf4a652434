"""One cache whatever the worker count (issue 17, item 1): with two workers, a response
stored through one is a hit in both, a 304 freshening and a purge are seen by both at
once, and `memory` bounds the whole server. Every request goes on a new connection, so
both workers take some (the status of each worker says they did)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from origin_helpers import burst, cached_routes, seen, wait_stored
from proc_helpers import over_both_workers

CACHE = """
[cache.main]
memory = "{memory}"
purge_from = ["127.0.0.1"]

[admin]
listen = "unix:{sock}"
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def srv(module_server, origin, tmp_path_factory):
    sock = tmp_path_factory.mktemp("admin") / "admin.sock"
    text = CACHE.format(sock=sock, memory="16MB")
    return module_server(cached_routes(origin.address, text), workers=2)


def worker_hits(srv, counter: str = "hits") -> list[int]:
    """Cache hits (or another counter of [cache.main]) so far in each worker."""
    result = srv.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    workers = json.loads(result.stdout)["workers"]
    assert len(workers) == 2
    return [int(w["caches"]["main"][counter]) for w in workers]


def stored(srv, u: str, n: int = 40) -> set[bytes]:
    """One GET (a miss, stored), then `n` more once the store has it: every body seen."""
    r, first = srv.get(u)
    assert r.status == 200
    wait_stored(srv, u)
    return {first} | many(srv, u, n)


def many(srv, u: str, n: int = 40) -> set[bytes]:
    """The bodies of `n` GETs, each on a new connection (they land on both workers)."""
    bodies = set()
    for _ in range(n):
        r, body = srv.get(u)
        assert r.status == 200
        bodies.add(body)
    return bodies


def test_a_response_stored_by_one_worker_is_a_hit_in_both(srv):
    u = "/c/w-store?cc=" + quote("max-age=600")
    before = worker_hits(srv)
    r, first = srv.get(u)  # stored by whichever worker took it
    assert r.getheader("Cache-Status").endswith("stored")
    wait_stored(srv, u)

    def ask() -> tuple[int, bytes]:
        r, body = srv.get(u)
        return r.status, body

    def both_hit() -> bool:
        return all(a > b for a, b in zip(worker_hits(srv), before, strict=True))

    assert set(over_both_workers(ask, both_hit)) == {(200, first)}
    assert seen(srv, "/c/w-store") == 1  # the origin was asked once, not once per worker
    after = worker_hits(srv)
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


def test_concurrent_misses_in_both_workers_make_one_origin_request(srv):
    # The origin takes 0.5 s: 40 requests on 40 connections, spread over both workers,
    # all miss while the first fetch is on. The worker that fetches collapses its own
    # (runtime.Flight); the other waits on its lease (cache/leases.py).
    u = "/c/w-burst?cc=" + quote("max-age=600") + "&sleep=0.5"
    before = worker_hits(srv, "collapsed")
    results = burst(srv, u, 40)
    assert len(results) == 40 and all(status == 200 for status, _ in results)
    assert {body for _, body in results} == {b"/c/w-burst #1"}
    assert seen(srv, "/c/w-burst") == 1  # not once per worker
    after = worker_hits(srv, "collapsed")
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


def test_a_stale_key_in_use_on_both_workers_is_refreshed_once(srv):
    # stale-while-revalidate (RFC 5861 §3): stale requests on both workers are answered
    # at once while one background request refreshes the key; it takes the origin
    # 0.5 s, long enough for both workers to see the key stale.
    u = "/c/w-swr?cc=" + quote("max-age=1, stale-while-revalidate=60") + "&sleep=0.5"
    r, first = srv.get(u)
    assert r.status == 200
    wait_stored(srv, u)
    time.sleep(1.2)  # stale now
    bodies = many(srv, u, 20)
    # Answered from the stale entry, none waiting (the last ones may see the refresh).
    assert first in bodies and bodies <= {first, b"/c/w-swr #2"}
    deadline = time.monotonic() + 10
    while seen(srv, "/c/w-swr") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.7)  # a second refresh (from the other worker) would land by now
    assert seen(srv, "/c/w-swr") == 2  # the first fetch and one refresh


def test_a_304_freshening_is_seen_by_both(srv):
    u = "/c/w-fresh?cc=" + quote("max-age=2") + "&etag=" + quote('"v1"')
    _, first = srv.get(u)
    time.sleep(2.5)  # stale now: the next request validates
    r, body = srv.get(u)
    assert body == first and "fwd=stale" in r.getheader("Cache-Status")
    assert seen(srv, "/c/w-fresh", "304") == 1
    for _ in range(20):  # fresh again in both workers: nobody validates again
        r, body = srv.get(u)
        assert body == first and "; hit" in r.getheader("Cache-Status")
        assert int(r.getheader("Age")) < 2
    assert seen(srv, "/c/w-fresh", "304") == 1
    assert seen(srv, "/c/w-fresh") == 2


def test_a_purge_is_seen_by_both_at_once(srv):
    u = "/c/w-purge?cc=" + quote("max-age=600")
    old = stored(srv, u, 10)
    assert len(old) == 1
    r, _ = srv.get(u, method="PURGE")
    assert r.status == 200
    # No pause: the other worker's copy is gone as soon as the PURGE is answered.
    new = stored(srv, u)
    assert len(new) == 1 and not new & old
    assert seen(srv, "/c/w-purge") == 2


def test_an_invalidation_is_seen_by_both_at_once(srv):
    u = "/c/w-post?cc=" + quote("max-age=600")
    old = stored(srv, u, 10)
    r, _ = srv.get(u, method="DELETE")
    assert r.status == 200
    new = stored(srv, u)
    assert len(new) == 1 and not new & old


def test_memory_bounds_the_whole_server(module_server, origin, tmp_path_factory):
    sock = tmp_path_factory.mktemp("admin") / "admin.sock"
    text = CACHE.format(sock=sock, memory="1MB")
    srv = module_server(cached_routes(origin.address, text), workers=2)
    size = 100_000
    for i in range(30):  # 3 MB of storable responses through both workers
        r, body = srv.get(f"/c/w-big-{i}?size={size}&cc=" + quote("max-age=600"))
        assert r.status == 200 and len(body) == size
    # A miss's answer is sent before its store ends: let the last one land first.
    last = f"/c/w-big-29?size={size}&cc=" + quote("max-age=600")
    deadline = time.monotonic() + 10
    while "; hit" not in srv.get(last)[0].getheader("Cache-Status"):
        assert time.monotonic() < deadline, "the last response was never stored"
        time.sleep(0.05)
    result = srv.cli("status", "--json")
    status = json.loads(result.stdout)
    (cache,) = status["caches"]
    (memory,) = cache["tiers"]
    assert 0 < memory["bytes"] <= 1024 * 1024
    assert memory["entries"] <= 10
    # What each worker reports is the same one store, not a copy each.
    views = [w["caches"]["main"]["tiers"][0] for w in status["workers"]]
    assert [v["entries"] for v in views] == [memory["entries"]] * 2
    # The newest responses are hits on every connection, whichever worker stored them.
    hits = 0
    for i in range(27, 30):
        for _ in range(6):
            r, _ = srv.get(f"/c/w-big-{i}?size={size}&cc=" + quote("max-age=600"))
            hits += "; hit" in r.getheader("Cache-Status")
    assert hits == 18


def test_hits_spell_field_names_as_every_other_answer(srv):
    """Issue 17, item 11: Age, Cache-Status, Content-Length (and Content-Range) as the
    miss and every other answer write them, in every lane a hit can take."""
    u = "/c/w-names?cc=" + quote("max-age=600") + "&etag=" + quote('"n1"')
    r, _ = srv.get(u)
    names = {n for n, _ in r.getheaders()}
    assert {"Content-Length", "Cache-Status"} <= names
    wait_stored(srv, u)  # stored as its last bytes went out: the hits below must be hits
    conn = srv.http()  # keep-alive: the second request takes the hot lane
    try:
        for headers in ({}, {}, {"Range": "bytes=0-3"}, {"If-None-Match": '"n1"'}, {"Pragma": "x"}):
            conn.request("GET", u, headers=headers)
            r = conn.getresponse()
            r.read()
            names = {n for n, _ in r.getheaders()}
            assert {"Age", "Cache-Status"} <= names, (headers, names)
            lower = {n for n in names if n.lower() in {"age", "cache-status", "content-length"}}
            assert lower <= {"Age", "Cache-Status", "Content-Length"}, (headers, names)
            if r.status != 304:
                assert "Content-Length" in names
    finally:
        conn.close()
