"""The slower tiers behind the proxy: the disk tier survives a restart, a Redis tier is
shared by two frontdesk instances, and a Redis that goes away costs nothing but its hits."""

from __future__ import annotations

import time
from urllib.parse import quote

from origin_helpers import cached_routes, seen, wait_stored


def routes(origin, tiers: str, memory: str = "4MB") -> str:
    return cached_routes(origin.address, f'[cache.main]\nmemory = "{memory}"\n{tiers}')


U = "/c/{}?cc=" + quote("max-age=600")
SITE = {"Host": "site.example"}  # the key holds the Host: the same for every instance


def get(srv, u: str):
    return srv.get(u, headers=SITE)


def test_disk_tier_survives_a_restart(server, origin, tmp_path):
    tiers = f'[cache.main.disk]\npath = "{tmp_path / "cache"}"\nsize = "64MB"\n'
    first = server(routes(origin, tiers))
    u = U.format("disk")
    assert get(first, u)[1] == b"/c/disk #1"
    time.sleep(0.2)  # the disk write runs in the tier's thread pool
    first.stop()
    second = server(routes(origin, tiers))
    r, body = get(second, u)
    assert body == b"/c/disk #1" and "hit" in r.getheader("Cache-Status")
    assert seen(second, "/c/disk") == 1
    assert list((tmp_path / "cache").iterdir())  # files keyed by hash, under the path


def test_redis_tier_is_shared_by_two_instances(server, origin, redis_server):
    tiers = f'[cache.main.redis]\nurl = "{redis_server.url}"\nnamespace = "t1:"\n'
    a = server(routes(origin, tiers))
    b = server(routes(origin, tiers))
    u = U.format("shared")
    assert get(a, u)[1] == b"/c/shared #1"
    wait_stored(b, u, headers=SITE)  # only in Redis can b find it
    r, body = get(b, u)
    assert body == b"/c/shared #1" and "hit" in r.getheader("Cache-Status")
    assert seen(a, "/c/shared") == 1


def test_redis_going_away_keeps_serving_and_comes_back(server, origin, redis_server):
    tiers = (
        f'[cache.main.redis]\nurl = "{redis_server.url}"\nnamespace = "t2:"\ntimeout = "200ms"\n'
    )
    srv = server(routes(origin, tiers, memory="0"))  # Redis is the only tier
    u1 = U.format("r1")
    assert get(srv, u1)[1] == b"/c/r1 #1"
    wait_stored(srv, u1, headers=SITE)
    assert get(srv, u1)[1] == b"/c/r1 #1"
    redis_server.stop()
    u2 = U.format("r2")
    for n in (1, 2, 3):  # no cache now, but every request is answered
        r, body = get(srv, u2)
        assert r.status == 200 and body == f"/c/r2 #{n}".encode()
    assert "redis" in srv.stderr_text().lower()
    redis_server.start()
    deadline = time.monotonic() + 20
    u3 = U.format("r3")
    while True:  # the tier reconnects by itself (backoff), then stores again
        body = get(srv, u3)[1]
        if get(srv, u3)[1] == body:
            break
        assert time.monotonic() < deadline, "Redis was never used again"
        time.sleep(0.3)
