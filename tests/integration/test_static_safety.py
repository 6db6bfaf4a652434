"""Traversal corpus over real sockets: zero bytes from outside root, ever.

Every target below tries to reach a file outside the served directory, a hidden
file inside it, or to confuse the path mapping. The answer may be 400 (the core
refuses the target), 404, or a 301 that stays under the route; it must never carry
the secret, and nothing may be served for them at all except the plain files named.
"""

from __future__ import annotations

import pytest
from static_site import SECRET, make_site

CORPUS = [
    b"/static/../secret.txt",
    b"/static/../../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/secret.txt",
    b"/static/.%2e/secret.txt",
    b"/static/%252e%252e/secret.txt",  # double-encoded: decoded once only
    b"/static/%252e%252e%252fsecret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/%2e%2e%2fsecret.txt",
    b"/static/..%252fsecret.txt",
    b"/static/..\\secret.txt",
    b"/static/..%5csecret.txt",
    b"/static/%2e%2e%5csecret.txt",
    b"/static/sub\\..\\..\\secret.txt",
    b"/static/....//secret.txt",
    b"/static/..;/secret.txt",
    b"/static/%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 "."
    b"/static/%c0%af..%c0%afsecret.txt",  # overlong "/"
    b"/static/%e0%80%ae%e0%80%ae/secret.txt",
    b"/static/%u002e%u002e/secret.txt",
    b"/static/secret.txt%00.html",
    b"/static/hello.txt%00",
    b"/static/.env",
    b"/static/.git/config",
    b"/static/%2egit/config",
    b"/static/%2Eenv",
    b"/static/sub/../.env",
    b"/static/./.env",
    b"/static/escape.txt",  # symlink to a file outside root
    b"/static/escape_dir/secret.txt",  # symlink to a directory outside root
    b"/static//../secret.txt",
    b"//static/../../secret.txt",
    b"/static/%2fetc%2fpasswd",
    b"/static//etc/passwd",
    b"/static/" + b"../" * 20 + b"etc/passwd",
    b"/static/" + b"%2e%2e/" * 20 + b"etc/passwd",
    b"http://t/static/../secret.txt",
    b"/static/~/secret.txt",
    b"/static/sub/%2e%2e/%2e%2e/secret.txt",
]


@pytest.fixture(scope="module")
def srv(module_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    root = make_site(base)
    routes = f"""
[[route]]
match = {{ path = "/static/" }}
static = {{ root = "{root}", listing = true }}

[[route]]
respond = {{ status = 418, body = "no route" }}
"""
    return module_server(routes)


@pytest.mark.parametrize("target", CORPUS)
def test_traversal_never_serves_outside_root(srv, target):
    with srv.connect() as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        (resp,) = c.responses_until_close(timeout=5.0)
    assert SECRET not in resp.body
    assert b"root:" not in resp.body
    assert resp.status in (400, 404, 418), (target, resp.status, resp.body[:100])


def test_listing_never_shows_hidden_or_outside(srv):
    with srv.connect() as c:
        c.send(b"GET /static/list/ HTTP/1.1\r\nHost: t\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200 and b".hidden" not in resp.body


def test_symlink_inside_root_is_served(srv):
    with srv.connect() as c:
        c.send(b"GET /static/link.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"hello world\n"


def test_allowed_only_when_configured(server, tmp_path):
    root = make_site(tmp_path)
    routes = f"""
[[route]]
match = {{ path = "/any/" }}
static = {{ root = "{root}", symlinks = "any", dotfiles = "allow" }}

[[route]]
match = {{ path = "/none/" }}
static = {{ root = "{root}", symlinks = "none" }}
"""
    srv = server(routes)
    status_body = {}
    for target in (b"/any/escape.txt", b"/any/.env", b"/none/link.txt", b"/none/escape.txt"):
        with srv.connect() as c:
            c.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            status_body[target] = (r.status, r.body)
    assert status_body[b"/any/escape.txt"] == (200, SECRET)
    assert status_body[b"/any/.env"] == (200, SECRET)
    assert status_body[b"/none/link.txt"][0] == 404
    assert status_body[b"/none/escape.txt"][0] == 404
