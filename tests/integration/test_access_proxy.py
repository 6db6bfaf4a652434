"""Rate limits (one worker, two workers, two instances over Redis), forward auth,
X-Accel-Redirect through internal routes, and the cache's RFC 9111 §3.5 rule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from access_helpers import PROTECTED, http_backend, protected_file, refused
from proc_helpers import over_both_workers

import leakcheck

# The readiness probes of the test fixture (and connections they left in the backlog)
# draw from the address's bucket; the tests count in a bucket of their own.
ME = {"X-Client": "test"}


def _limited(rate: str, burst: int, extra: str = ', key = "header:X-Client"') -> str:
    return f"""
[[route]]
match = {{ path = "/" }}
respond = {{ body = "ok" }}
rate_limit = {{ rate = "{rate}", burst = {burst}{extra} }}
"""


def test_rate_limit_429_with_headers(server) -> None:
    srv = server(_limited("1/m", 3))
    conn = srv.http()
    statuses = []
    for _ in range(5):
        conn.request("GET", "/", headers=ME)
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
    assert statuses == [200, 200, 200, 429, 429]
    assert 1 <= int(r.getheader("Retry-After")) <= 60
    assert r.getheader("RateLimit-Policy") == '"route";q=3;w=180'
    assert r.getheader("RateLimit").startswith('"route";r=0;t=')
    conn.close()


def test_rate_limit_key_by_header(server) -> None:
    srv = server(_limited("1/m", 1, ', key = "header:X-Api-Key"'))
    assert srv.get("/", headers={"X-Api-Key": "a"})[0].status == 200
    assert srv.get("/", headers={"X-Api-Key": "a"})[0].status == 429
    assert srv.get("/", headers={"X-Api-Key": "b"})[0].status == 200


@pytest.mark.slow
def test_rate_limit_holds_across_two_workers(server) -> None:
    srv = server(_limited("1/m", 6), workers=2)
    deadline = time.monotonic() + 10
    while True:  # both workers up before counting
        done = srv.cli("status", "--json")
        workers = json.loads(done.stdout)["workers"] if done.returncode == 0 else []
        if len(workers) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(workers) == 2

    def counts() -> list[int]:
        done = srv.cli("status", "--json")
        return [w["requests"] for w in json.loads(done.stdout)["workers"]]

    def ask() -> int:
        return srv.get("/", headers=ME)[0].status

    statuses = over_both_workers(ask, lambda: all(c > 0 for c in counts()))
    assert statuses.count(200) == 6, statuses
    assert all(c > 0 for c in counts()), counts()  # both workers answered some
    done = srv.cli("status", "--json")
    # One table for both workers, counted once: its keys, its fixed bound.
    (table,) = json.loads(done.stdout)["rate_limits"]
    assert table["shared"] and 1 <= table["keys"] <= 3 and table["max_keys"] >= 100_000


@pytest.mark.slow
def test_rate_limit_holds_across_instances_with_redis(server, redis_server) -> None:
    routes = _limited("1/m", 5, f', key = "header:X-Client", redis = "{redis_server.url}"')
    one, two = server(routes), server(routes)
    statuses = [s.get("/", headers=ME)[0].status for _ in range(6) for s in (one, two)]
    assert statuses.count(200) == 5, statuses
    # Redis gone: each instance limits on its own rather than failing.
    redis_server.stop()
    assert one.get("/", headers={"X-Client": "new"})[0].status == 200
    assert "Redis unavailable" in one.stderr_text()


def test_forward_auth(server, tmp_path: Path) -> None:
    protected_file(tmp_path / "private" / "secret.txt")

    def auth(h):  # the auth service
        token = h.headers.get("Authorization")
        if token == "Bearer good":
            return 200, [("X-User", "alice")], b""
        if token is None:
            return 401, [("WWW-Authenticate", 'Bearer realm="sso"')], b"login"
        return 403, [], b"no"

    def app(h):  # the protected backend: says who it was told the user is
        return (
            200,
            [("Content-Type", "text/plain")],
            PROTECTED + h.headers.get("X-User", "-").encode(),
        )

    with http_backend(auth) as (auth_port, asked), http_backend(app) as (app_port, _):
        srv = server(
            f"""
[[route]]
match = {{ path = "/app/" }}
access = "sso"
proxy = {{ pool = "app" }}

[pool.app]
servers = ["127.0.0.1:{app_port}"]

[access.sso]
forward = {{ url = "http://127.0.0.1:{auth_port}/check", copy_headers = ["X-User"], cache = "30s" }}
"""
        )
        resp, body = srv.get("/app/page?x=1")
        refused(resp, body, 401)
        assert resp.getheader("WWW-Authenticate") == 'Bearer realm="sso"'
        resp, body = srv.get("/app/page", headers={"Authorization": "Bearer bad"})
        refused(resp, body, 403)
        spoof = {"Authorization": "Bearer good", "X-User": "admin"}
        resp, body = srv.get("/app/page", headers=spoof)
        assert resp.status == 200 and body == PROTECTED + b"alice"  # never "admin"
        n = len(asked)
        resp, body = srv.get("/app/page", headers=spoof)
        assert resp.status == 200 and len(asked) == n  # the decision was remembered
        first = asked[0]
        assert first["x-forwarded-method"] == "GET" and first["x-forwarded-uri"] == "/app/page?x=1"
    # The auth service is gone: nobody is let through.
    resp, body = srv.get("/app/page", headers={"Authorization": "Bearer other"})
    refused(resp, body, 503)


def test_x_accel_redirect(server, tmp_path: Path) -> None:
    protected_file(tmp_path / "protected" / "report.pdf")
    protected_file(tmp_path / "secret.txt")  # beside the internal root: never reachable

    def app(h):
        target = {
            "/download/ok": "/protected/report.pdf",
            "/download/climb": "/protected/../secret.txt",
            "/download/encoded": "/protected/%2e%2e/secret.txt",
            "/download/nowhere": "/elsewhere/report.pdf",
        }.get(h.path.split("?")[0])
        if target is None:
            return 200, [], b"plain"
        return (
            200,
            [
                ("X-Accel-Redirect", target),
                ("Content-Disposition", 'attachment; filename="r.pdf"'),
                ("Cache-Control", "private, max-age=60"),
            ],
            b"app body",
        )

    with http_backend(app) as (port, _):
        srv = server(
            f"""
[[route]]
match = {{ path = "/protected/" }}
internal = true
static = {{ root = "{tmp_path / "protected"}" }}

[[route]]
match = {{ path = "/" }}
proxy = {{ pool = "app" }}

[pool.app]
servers = ["127.0.0.1:{port}"]
"""
        )
        resp, body = srv.get("/download/ok")
        assert resp.status == 200 and body == PROTECTED
        assert resp.getheader("Content-Disposition") == 'attachment; filename="r.pdf"'
        assert resp.getheader("Cache-Control") == "private, max-age=60"
        assert resp.getheader("X-Accel-Redirect") is None
        etag = resp.getheader("ETag")
        resp, body = srv.get("/download/ok", headers={"Range": "bytes=0-15"})
        assert resp.status == 206 and body == PROTECTED[:16]
        resp, body = srv.get("/download/ok", headers={"If-None-Match": etag})
        assert resp.status == 304 and body == b""
        resp, body = srv.get("/download/plain")
        assert resp.status == 200 and body == b"plain"
        resp, body = srv.get("/protected/report.pdf")  # the internal route, asked directly
        refused(resp, body, 404)
        for path in ("/download/climb", "/download/encoded"):
            resp, body = srv.get(path)
            refused(resp, body, 403)
        resp, body = srv.get("/download/nowhere")
        refused(resp, body, 404)


def test_cache_never_shares_an_authorized_answer(server) -> None:
    # RFC 9111 §3.5: an answer to a request with Authorization is stored for others only
    # when the origin says so (public, s-maxage, must-revalidate).
    def app(h):
        if h.headers.get("Authorization") != "Basic c3RhZmY6cHc=":
            return 401, [("WWW-Authenticate", 'Basic realm="app"')], b"who?"
        shared = {"/public": "public, max-age=60", "/smax": "s-maxage=60"}
        shared["/revalidate"] = "max-age=60, must-revalidate"
        cc = shared.get("/" + h.path.split("/")[1], "max-age=60")
        return 200, [("Cache-Control", cc)], PROTECTED

    with http_backend(app) as (port, _):
        srv = server(
            f"""
[[route]]
match = {{ path = "/" }}
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["127.0.0.1:{port}"]

[cache.main]
memory = "8MB"
"""
        )
        auth = {"Authorization": "Basic c3RhZmY6cHc="}
        resp, body = srv.get("/private/x", headers=auth)
        assert resp.status == 200 and body == PROTECTED
        resp, body = srv.get("/private/x")
        refused(resp, body, 401)
        for path in ("/public/x", "/smax/x", "/revalidate/x"):
            resp, body = srv.get(path, headers=auth)
            assert resp.status == 200
            resp, body = srv.get(path)  # the origin allowed sharing: served from the cache
            assert resp.status == 200 and "hit" in (resp.getheader("Cache-Status") or ""), path


def _htpasswd(path: Path, user: str, password: str) -> Path:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    path.write_text(f"{user}:{hashed}\n")
    return path


def test_a_cached_protected_answer_is_never_served_to_the_unauthorised(
    server, tmp_path: Path
) -> None:
    # The origin marks its protected answers public: they are stored and shared, but
    # only behind the route's rules, which come before the cache in the chain.
    def app(h):
        return 200, [("Cache-Control", "public, max-age=60")], PROTECTED

    users = _htpasswd(tmp_path / "users", "staff", "pw")
    with http_backend(app) as (port, seen):
        srv = server(
            f"""
[[route]]
match = {{ path = "/basic/" }}
access = "staff"
proxy = {{ pool = "app" }}
cache = "main"

[[route]]
match = {{ path = "/signed/" }}
access = "links"
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["127.0.0.1:{port}"]

[cache.main]
memory = "8MB"

[access.staff]
htpasswd = "{users}"

[access.links]
signed = {{ keys = ["key-0123456789abcdef"] }}
"""
        )
        from frontdesk import sign_url

        auth = {"Authorization": "Basic c3RhZmY6cHc="}  # staff:pw
        conn = srv.http()
        for n in range(3):
            conn.request("GET", "/basic/report", headers=auth)
            r = conn.getresponse()
            assert r.status == 200 and r.read() == PROTECTED
            assert n == 0 or "hit" in (r.getheader("Cache-Status") or "")
            # The same keep-alive connection, now without credentials (the fast lane
            # of a cache hit must not skip the rule).
            conn.request("GET", "/basic/report")
            r = conn.getresponse()
            refused(r, r.read(), 401)
        conn.close()
        for headers in ({}, {"Authorization": "Basic c3RhZmY6bm8="}):
            resp, body = srv.get("/basic/report", headers=headers)
            refused(resp, body, 401)
        signed = sign_url("/signed/report", "key-0123456789abcdef", 60)
        for _ in range(2):
            resp, body = srv.get(signed)
            assert resp.status == 200 and body == PROTECTED
        for path in ("/signed/report", signed.replace("signature=", "signature=A")):
            resp, body = srv.get(path)
            refused(resp, body, 403)
        assert len(seen) == 2  # one fetch per URL: the others were cache hits


def test_protected_static_files_never_reach_a_shared_cache_tier(server, tmp_path: Path) -> None:
    # A disk tier is shared by the workers and survives restarts: whatever the routes
    # send through the cache, a protected file's bytes must never be written there. (A
    # static route cannot name a cache at all: the config refuses it.)
    protected_file(tmp_path / "internal" / "report.pdf")
    protected_file(tmp_path / "files" / "secret.txt")
    users = _htpasswd(tmp_path / "users", "staff", "pw")
    disk = tmp_path / "cache-disk"

    def app(h):
        return (
            200,
            [("X-Accel-Redirect", "/internal/report.pdf"), ("Cache-Control", "public, max-age=60")],
            b"see the file",
        )

    with http_backend(app) as (port, _):
        srv = server(
            f"""
[[route]]
match = {{ path = "/internal/" }}
internal = true
static = {{ root = "{tmp_path / "internal"}" }}

[[route]]
match = {{ path = "/files/" }}
access = "staff"
static = {{ root = "{tmp_path / "files"}" }}

[[route]]
match = {{ path = "/" }}
access = "staff"
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["127.0.0.1:{port}"]

[cache.main]
memory = "8MB"
disk = {{ path = "{disk}", size = "64MB" }}

[access.staff]
htpasswd = "{users}"
"""
        )
        auth = {"Authorization": "Basic c3RhZmY6cHc="}
        for _ in range(3):
            for path in ("/files/secret.txt", "/download/report"):
                resp, body = srv.get(path, headers=auth)
                assert resp.status == 200 and body == PROTECTED, path
            resp, body = srv.get("/download/report")
            refused(resp, body, 401)
        written = [p for p in disk.rglob("*") if p.is_file()]
        for p in written:
            assert leakcheck.CANARY.encode() not in p.read_bytes(), f"protected bytes in {p}"
