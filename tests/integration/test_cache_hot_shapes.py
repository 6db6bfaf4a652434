"""The requests browsers send, answered from the cache's hot lane (issue 16): 304 for
If-None-Match / If-Modified-Since, the 200 when they fail, 206 and 416 for a Range,
If-Range, HEAD. Each answer must equal the one the general lane gives (serve.answer
through begin()), which a `Pragma` field (a cold field, meaningless here) forces.

Which lane answered shows in the field order: the hot lane writes Via before Age and
Cache-Status, the general lane after them."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from origin_helpers import cached_routes

CACHE = """
[cache.main]
memory = "16MB"
"""
LM = "Tue, 01 Jan 2030 00:00:00 GMT"  # in the future of the response's Date: not strong
PAST = "Mon, 01 Jan 2001 00:00:00 GMT"


@pytest.fixture(scope="module")
def srv(module_server, origin):
    return module_server(cached_routes(origin.address, CACHE), workers=1, access_log="off")


def wait_for_hit(conn, u: str, headers: dict[str, str] | None = None) -> bytes:
    """GET `u` until the cache answers it: a miss's answer is sent before the store
    ends, so the request right after it may still be a miss. Returns the body."""
    for _ in range(100):
        conn.request("GET", u, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        if "hit" in (r.getheader("Cache-Status") or ""):
            return body
        time.sleep(0.02)
    raise AssertionError(f"{u} never became a cache hit")


def exchange(srv, u: str, method: str, headers: dict[str, str]):
    """(status, fields in order, body) of a request on a connection whose earlier
    requests stored the entry and saw it answered from the cache."""
    conn = srv.http()
    try:
        wait_for_hit(conn, u)
        conn.request(method, u, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


SHAPES = [
    ("GET", {"If-None-Match": '"h1"'}, 304),
    ("GET", {"If-None-Match": 'W/"h1"'}, 304),  # weak comparison, RFC 9110 §13.1.2
    ("GET", {"If-None-Match": '"other"'}, 200),
    ("GET", {"If-None-Match": '"other", "h1"'}, 304),
    ("GET", {"If-Modified-Since": LM}, None),  # whatever serve.answer says
    ("GET", {"If-Modified-Since": PAST}, 200),
    ("GET", {"Range": "bytes=0-3"}, 206),
    ("GET", {"Range": "bytes=-5"}, 206),
    ("GET", {"Range": "bytes=100000-"}, 416),
    ("GET", {"Range": "bytes=0-1,4-5"}, None),
    ("GET", {"Range": "bytes=0-3", "If-Range": '"h1"'}, 206),
    ("GET", {"Range": "bytes=0-3", "If-Range": '"other"'}, 200),
    ("HEAD", {}, 200),
    ("HEAD", {"If-None-Match": '"h1"'}, 304),
    ("HEAD", {"Range": "bytes=0-3"}, 200),
]


@pytest.mark.parametrize(("method", "headers", "status"), SHAPES)
def test_the_hot_lane_answers_as_the_general_lane(srv, method, headers, status):
    name = "hs-" + str(abs(hash((method, tuple(headers.items())))))
    u = f"/c/{name}?cc=" + quote("max-age=600") + "&etag=" + quote('"h1"') + "&lm=" + quote(LM)
    hot_status, hot_fields, hot_body = exchange(srv, u, method, headers)
    cold_status, cold_fields, cold_body = exchange(srv, u, method, {**headers, "Pragma": "x"})
    assert [n for n, _ in hot_fields][-1] == "Cache-Status"  # the hot lane answered
    assert [n for n, _ in cold_fields][-1] == "Via"  # the general lane answered
    assert hot_status == cold_status
    if status is not None:
        assert hot_status == status
    assert sorted(hot_fields) == sorted(cold_fields)
    assert hot_body == cold_body


def test_accept_encoding_variants_are_answered_in_the_hot_lane(srv):
    """Vary: Accept-Encoding: each variant is a hit in the hot lane, the one whose
    normalised Accept-Encoding matches (keys.py), as decide() would choose."""
    u = "/c/hs-vary?cc=" + quote("max-age=600") + "&vary=Accept-Encoding"
    bodies = {}
    for ae in ("gzip, br", "br", "identity"):
        conn = srv.http()
        try:
            bodies[ae] = wait_for_hit(conn, u, {"Accept-Encoding": ae})
            for same in (ae, ae.replace(", ", ","), ae.upper()):
                conn.request("GET", u, headers={"Accept-Encoding": same})
                r = conn.getresponse()
                assert r.read() == bodies[ae]
                assert "; hit" in r.getheader("Cache-Status")
                assert [n for n, _ in r.getheaders()][-1] == "Cache-Status"  # hot lane
        finally:
            conn.close()
    assert len(set(bodies.values())) == 3  # one stored response per variant
