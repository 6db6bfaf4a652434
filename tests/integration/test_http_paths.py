"""Real-socket tests: request-target normalisation before routing, and absolute-form.

Routing must decide on the normalised path (RFC 3986 §5.2.4 dot-segment removal,
percent-decoding once), and refuse targets that climb above the root or decode to
something unsafe, rather than clamp or pass them on.
"""

from __future__ import annotations

import pytest

ROUTES = """
[[route]]
match = { path = "/private/" }
respond = { status = 403, body = "private" }

[[route]]
match = { host = "abs.test", exact = "/b" }
respond = { body = "abs-host" }

[[route]]
match = { exact = "/b" }
respond = { body = "b" }

[[route]]
match = { exact = "/a/b" }
respond = { body = "a/b" }

[[route]]
match = { exact = "/dir/" }
respond = { body = "dir/" }

[[route]]
match = { exact = "/caf\u00e9" }
respond = { body = "cafe" }

[[route]]
match = { path = "/echo/" }
redirect = "http://{host}{path}?{query}"
"""


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(ROUTES)


def fetch(srv, target: bytes, host: bytes = b"x"):
    with srv.connect() as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        got = c.responses_until_close(timeout=3.0)
    assert len(got) == 1
    return got[0]


@pytest.mark.parametrize(
    "target, body",
    [
        (b"/a/../b", b"b"),
        (b"/a/./b", b"a/b"),
        (b"/./b", b"b"),
        (b"/a/b/..//../b", b"b"),
        (b"//b", b"b"),  # slashes merged
        (b"/a//b", b"a/b"),
        (b"/%62", b"b"),  # percent-decoded once
        (b"/a%2Fb", b"a/b"),
        (b"/a/%2e%2e/b", b"b"),
        (b"/a/%2E/b", b"a/b"),
        (b"/dir/.", b"dir/"),
        (b"/dir/x/..", b"dir/"),
        (b"/b?x=/../..", b"b"),  # the query is not a path
        (b"/caf%C3%A9", b"cafe"),
    ],
)
def test_rfc3986_5_2_4_path_normalised_before_routing(srv, target, body):
    resp = fetch(srv, target)
    assert (resp.status, resp.body) == (200, body)


@pytest.mark.parametrize(
    "target",
    [b"/public/../private/x", b"/public/%2e%2e/private/x", b"//private/x", b"/%70rivate/x"],
)
def test_prefix_rule_sees_normalised_path(srv, target):
    """A prefix check on the raw target is the classic bypass; it must not work."""
    resp = fetch(srv, target)
    assert (resp.status, resp.body) == (403, b"private")


@pytest.mark.parametrize(
    "target",
    [
        b"/../x",
        b"/a/../../x",
        b"/..",
        b"/%2e%2e/x",
        b"/%2E%2E/x",
        b"/a/%2e%2e/%2e%2e/x",
        b"/.%2e/x",
        b"/b%00",
        b"/b%00.html",
        b"/%C0%AE%C0%AE/x",  # overlong UTF-8 for "."
        b"/%C0%AF",  # overlong "/"
        b"/%FF",  # not UTF-8 at all
        b"/%ED%A0%80",  # a UTF-16 surrogate, invalid in UTF-8
        b"/b#frag",
        b"b",
        b"*",  # asterisk-form is for OPTIONS only
        b"http://user@abs.test/b",  # userinfo
        b"http:///b",  # absolute-form without a host
        b"ftp://abs.test/b",
    ],
)
def test_rfc9112_3_2_unsafe_target_is_400(srv, target):
    resp = fetch(srv, target)
    assert resp.status == 400
    assert resp.closes


@pytest.mark.parametrize(
    "target",
    [b"http://abs.test/b", b"HTTP://ABS.test/b", b"http://abs.test:8080/b", b"https://abs.test/b"],
)
def test_rfc9112_3_2_2_absolute_form_routes_by_its_host(srv, target):
    """The target's authority wins over the Host header."""
    resp = fetch(srv, target, host=b"other.test")
    assert (resp.status, resp.body) == (200, b"abs-host")


def test_absolute_form_path_is_normalised_too(srv):
    resp = fetch(srv, b"http://other.test/a/../b", host=b"abs.test")
    assert (resp.status, resp.body) == (200, b"b")


def test_absolute_form_without_path_is_root(srv):
    resp = fetch(srv, b"http://abs.test?q=1")
    assert resp.status == 404


def test_options_asterisk_form_is_accepted(srv):
    with srv.connect() as c:
        resp = c.exchange(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        assert resp.status in (200, 204, 404)
        assert not resp.closes


def test_redirect_path_placeholder_is_re_encoded(srv):
    """{path} is the decoded path; it must be encoded again, so a decoded CR LF can
    never split the Location header."""
    resp = fetch(srv, b"/echo/a%0D%0ASet-Cookie:%20x=1?q=%0D%0A")
    assert resp.status == 302
    location = resp.header("location")
    assert location is not None and "\r" not in location and "\n" not in location
    assert resp.header("set-cookie") is None
    assert location.startswith("http://x/echo/a%0D%0ASet-Cookie")
