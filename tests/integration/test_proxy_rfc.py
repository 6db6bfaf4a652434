"""Proxy and cache behaviours an outside RFC review found wrong (issue 17), each against
real backends.py processes: interim responses, invalid statuses, malformed chunked
uploads, absolute-form targets, an empty Host, and stale answers from a cache whose
origin has gone.
"""

from __future__ import annotations

import json
import time

import pytest
from origin_helpers import seen

ROUTES = """
[[route]]
match = {{ path = "/_" }}
proxy = {{ pool = "app" }}

[[route]]
match = {{ host = "public.example" }}
proxy = {{ pool = "app" }}

[[route]]
match = {{ host = "admin.internal" }}
respond = {{ status = 403, body = "admin only" }}

[[route]]
match = {{ path = "/up/" }}
proxy = {{ pool = "app", strip_prefix = "/up" }}

[[route]]
match = {{ exact = "/local" }}
respond = {{ body = "local" }}

[[route]]
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{app}"]

[cache.main]
memory = "16MB"
"""


@pytest.fixture(scope="module")
def srv(module_server, origin):
    return module_server(ROUTES.format(app=origin.address), workers=1, access_log="-")


def echo_headers(body: bytes) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in json.loads(body)["headers"]]


# --------------------------------------------------------------- interim responses


def test_103_early_hints_forwarded_to_http11_clients_and_never_stored(srv):
    with srv.connect() as c:
        c.send(b"GET /early-hints HTTP/1.1\r\nHost: a\r\n\r\n")
        hints = c.read_response()
        final = c.read_response()
    assert hints.status == 103
    assert hints.header("link") == "</style.css>; rel=preload"
    assert hints.header("x-hop") is None  # named by Connection: hop-by-hop
    assert final.status == 200 and final.body == b"hinted #1"
    assert "stored" in (final.header("cache-status") or "")
    # The stored response is the final one alone: a hit brings no 103.
    with srv.connect() as c:
        c.send(b"GET /early-hints HTTP/1.1\r\nHost: a\r\n\r\n")
        again = c.read_response()
    assert again.status == 200 and again.body == b"hinted #1"
    assert seen(srv, "/early-hints") == 1


def test_103_not_sent_to_http10_clients(srv):
    # RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client".
    with srv.connect() as c:
        c.send(b"GET /up/early-hints HTTP/1.0\r\nHost: a\r\n\r\n")
        data = c.read_until_close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b" 103 " not in data


# ------------------------------------------------------------------ invalid status


@pytest.mark.parametrize("status", [999, 600, 99])
@pytest.mark.parametrize("prefix", ["", "/up"])  # through the cache, and not
def test_status_outside_100_599_is_a_502_and_never_stored(srv, status, prefix):
    path = f"/bad-status/{status}"
    before = seen(srv, path)
    for _ in range(2):
        r, _ = srv.get(prefix + path)
        assert r.status == 502
        assert "stored" not in (r.getheader("Cache-Status") or "")
    assert seen(srv, path) == before + 2  # the second request went to the origin again


# ---------------------------------------------------------- malformed chunked bodies


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"5\nhello\n0\n\n",  # bare LF line endings in the chunk framing
        b"5\r\nhello\r\n0\r\nbroken trailer\r\n\r\n",  # a trailer line without a colon
    ],
)
def test_malformed_chunked_upload_on_a_proxy_route_is_400_at_once(srv, body):
    head = b"POST /up/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    log_at = len(srv.stdout_text())
    start = time.monotonic()
    with srv.connect() as c:
        c.send(head)
        time.sleep(0.2)  # the request is on its way to the backend already
        c.send(body)
        (resp,) = c.responses_until_close(timeout=5)
    assert resp.status == 400
    assert time.monotonic() - start < 3  # not the 30 s body timeout
    deadline = time.monotonic() + 5
    while '"POST /up/echo HTTP/1.1" 400' not in srv.stdout_text()[log_at:]:
        assert time.monotonic() < deadline, "no access log line for the 400"
        time.sleep(0.05)
    # The upstream connection was discarded, not returned to the pool half-sent: the
    # next request is answered normally.
    r, b = srv.get("/up/echo")
    assert r.status == 200 and json.loads(b)["body_length"] == 0


# ------------------------------------------------------------------------- Host


def test_absolute_form_authority_wins_for_routing_and_forwarding(srv):
    with srv.connect() as c:
        c.send(b"GET http://public.example:8080/echo HTTP/1.1\r\nHost: admin.internal\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200  # routed as public.example, not admin.internal
    headers = echo_headers(resp.body)
    assert ("host", "public.example:8080") in headers
    assert not any(v == "admin.internal" for _, v in headers)


def test_absolute_form_with_an_empty_host_is_served(srv):
    with srv.connect() as c:
        c.send(b"GET http://public.example/echo HTTP/1.1\r\nHost:\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200
    assert ("host", "public.example") in echo_headers(resp.body)


@pytest.mark.parametrize("host", [b"Host:", b"Host: ", b"Host:\t"])
def test_empty_host_on_an_http11_origin_form_request_is_400(srv, host):
    with srv.connect() as c:
        c.send(b"GET /local HTTP/1.1\r\n" + host + b"\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 400


def test_empty_host_on_http10_is_allowed(srv):
    with srv.connect() as c:
        c.send(b"GET /local HTTP/1.0\r\nHost:\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200 and resp.body == b"local"


# ---------------------------------------------------------- stale, origin gone


CACHED = """
[[route]]
proxy = {{ pool = "gone" }}
cache = "main"

[pool.gone]
servers = ["{app}"]
retries = 0

[cache.main]
memory = "16MB"
"""


def stale_cached(server, backends, query: str):
    """A server whose cache holds /c/x?`query` (stored, now stale) and its origin."""
    app = backends("gone")
    s = server(CACHED.format(app=app.address), workers=1)
    r, body = s.get("/c/x?" + query)
    assert r.status == 200 and body == b"/c/x #1"
    assert "stored" in r.getheader("Cache-Status")
    time.sleep(1.2)
    return s, app


@pytest.mark.slow
@pytest.mark.parametrize("how", ["closes", "unreachable"])
def test_stale_served_when_the_origin_is_gone_rfc9111_4_2_4(server, backends, how):
    s, app = stale_cached(server, backends, "cc=max-age=1")
    if how == "closes":
        r, _ = s.get("/_mode?set=close")  # passes through the cache: not stored
    else:
        app.stop()
    r, body = s.get("/c/x?cc=max-age=1")
    assert r.status == 200 and body == b"/c/x #1"
    status = r.getheader("Cache-Status")
    assert "fwd=stale" in status and "detail=disconnected" in status


@pytest.mark.slow
@pytest.mark.parametrize(
    "cc", ["max-age=1, must-revalidate", "max-age=1, proxy-revalidate", "s-maxage=1", "no-cache"]
)
def test_no_stale_when_directives_forbid_it_rfc9111_4_2_4(server, backends, cc):
    query = "cc=" + cc.replace(" ", "%20").replace(",", "%2C") + "&etag=%22v1%22"
    s, app = stale_cached(server, backends, query)
    app.stop()
    r, _ = s.get("/c/x?" + query)
    assert r.status == 502


# ------------------------------------------------------- targeted cache control


def test_cdn_cache_control_over_cache_control_rfc9213(srv):
    more = "/c/cdn-more?cc=no-store&h=CDN-Cache-Control:max-age%3D60"
    less = "/c/cdn-less?cc=max-age%3D60&h=CDN-Cache-Control:no-store"
    for path in (more, less):
        for _ in range(2):
            r, _ = srv.get(path)
            assert r.status == 200
    assert seen(srv, "/c/cdn-more") == 1  # stored although Cache-Control said no-store
    assert seen(srv, "/c/cdn-less") == 2  # not stored although Cache-Control allowed it
    r, _ = srv.get(more)
    assert r.getheader("CDN-Cache-Control") == "max-age=60"  # passed on unchanged
    assert r.getheader("Cache-Control") == "no-store"


def test_targeted_field_of_our_own_rfc9213(server, origin):
    routes = ROUTES.format(app=origin.address).replace(
        'memory = "16MB"', 'memory = "16MB"\ntargeted_field = "Frontdesk-Cache-Control"'
    )
    s = server(routes, workers=1)
    path = "/c/own?cc=max-age%3D60&h=Frontdesk-Cache-Control:private"
    s.get(path)
    s.get(path)
    assert seen(s, "/c/own") == 2  # our field said private: never stored
    path = "/c/own2?cc=private&h=Frontdesk-Cache-Control:max-age%3D60"
    s.get(path)
    r, _ = s.get(path)
    assert seen(s, "/c/own2") == 1 and "hit" in r.getheader("Cache-Status")
