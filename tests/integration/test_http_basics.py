"""Real-socket tests: respond/redirect routes, routing, keep-alive, pipelining, request bodies.

One server for the whole module (its config only answers from memory); every test
opens its own connections.
"""

from __future__ import annotations

import email.utils
import re
import time

import h11
import pytest

PIPELINE = 10

ROUTES = """
[[route]]
name = "first"
match = { exact = "/first" }
respond = { body = "first" }

[[route]]
name = "shadowed"
match = { exact = "/first" }
respond = { body = "second" }

[[route]]
match = { host = "exact.test", exact = "/host" }
respond = { body = "exact-host" }

[[route]]
match = { host = "*.wild.test", exact = "/host" }
respond = { body = "wild-host" }

[[route]]
match = { exact = "/host" }
respond = { body = "any-host" }

[[route]]
match = { path = "/prefix/" }
respond = { body = "prefix" }

[[route]]
match = { regex = "^/items/[0-9]+$" }
respond = { body = "regex" }

[[route]]
match = { exact = "/method", method = ["POST", "PUT"] }
respond = { body = "post-or-put" }

[[route]]
match = { exact = "/method" }
respond = { body = "other-method" }

[[route]]
match = { exact = "/header", header = { "X-Flag" = "on" } }
respond = { body = "flag-on" }

[[route]]
match = { exact = "/header", header = { "x-any" = "*" } }
respond = { body = "any-present" }

[[route]]
match = { exact = "/header" }
respond = { body = "no-header" }

[[route]]
match = { exact = "/hello" }
[route.respond]
status = 201
body = "hello world\\n"
headers = { "Content-Type" = "text/plain; charset=utf-8", "X-Custom" = "yes" }

[[route]]
match = { path = "/go/" }
redirect = { to = "https://{host}{uri}", status = 301 }
""" + "".join(
    f'\n[[route]]\nmatch = {{ exact = "/p/{i}" }}\nrespond = {{ body = "body-{i}" }}\n'
    for i in range(PIPELINE)
)

IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\Z"
)


@pytest.fixture(scope="module", params=["fast-lane", "access-log"])
def srv(request, module_server, tmp_path_factory):
    """Both answer paths: with no access log, fixed answers skip building a Request."""
    if request.param == "fast-lane":
        return module_server(ROUTES)
    log = tmp_path_factory.mktemp("log") / "access.log"
    return module_server(ROUTES, access_log=str(log))


def get(path: bytes, host: bytes = b"x", extra: bytes = b"", method: bytes = b"GET") -> bytes:
    return method + b" " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + b"\r\n"


# ------------------------------------------------------------------ respond, redirect


def test_respond_route_status_body_and_headers(srv):
    resp, body = srv.get("/hello")
    assert resp.status == 201
    assert body == b"hello world\n"
    assert resp.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("X-Custom") == "yes"
    assert resp.getheader("Server") == "frontdesk"


def test_rfc9110_6_6_1_date_is_imf_fixdate_and_current(srv):
    resp, _ = srv.get("/hello")
    date = resp.getheader("Date")
    assert date is not None and IMF_FIXDATE.match(date), date
    sent = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(sent - time.time()) < 3


def test_response_is_valid_for_an_independent_parser(srv):
    """h11 (a strict client-side parser) accepts the bytes, headers and framing."""
    with srv.connect() as c:
        c.send(get(b"/hello", extra=b"Connection: close\r\n"))
        data = c.read_until_close()
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/hello", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    events = []
    while True:
        ev = conn.next_event()
        if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed | h11.EndOfMessage):
            events.append(ev)
            break
        events.append(ev)
    head = events[0]
    assert isinstance(head, h11.Response) and head.status_code == 201
    assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == b"hello world\n"
    assert isinstance(events[-1], h11.EndOfMessage)


def test_rfc9110_9_3_2_head_has_get_headers_and_no_body(srv):
    with srv.connect() as c:
        # HEAD then GET on one connection: a body after the HEAD answer would be
        # read as the start of the GET answer and break its framing.
        c.send(get(b"/hello", method=b"HEAD") + get(b"/hello"))
        head = c.read_response(head=True)
        full = c.read_response()
        assert c.buf == b""
    assert head.status == full.status == 201
    drop = {b"date"}
    assert [h for h in head.headers if h[0].lower() not in drop] == [
        h for h in full.headers if h[0].lower() not in drop
    ]
    assert head.header("content-length") == str(len(b"hello world\n"))
    assert full.body == b"hello world\n"


def test_no_matching_route_is_404(srv):
    resp, body = srv.get("/nothing/here")
    assert resp.status == 404
    assert body.startswith(b"404")
    assert resp.getheader("Content-Length") == str(len(body))


def test_redirect_location_from_host_and_uri(srv):
    with srv.connect() as c:
        resp = c.exchange(get(b"/go/some/where?a=1&b=2", host=b"Site.Test:8080"))
    assert resp.status == 301
    assert resp.header("location") == "https://site.test/go/some/where?a=1&b=2"
    assert resp.header("content-length") == str(len(resp.body))


# --------------------------------------------------------------------------- routing


def body_for(srv, path: bytes, host: bytes = b"x", extra: bytes = b"", method=b"GET") -> bytes:
    with srv.connect() as c:
        resp = c.exchange(get(path, host, extra, method))
    return resp.body if resp.status == 200 else f"status {resp.status}".encode()


@pytest.mark.parametrize(
    "host, expected",
    [
        (b"exact.test", b"exact-host"),
        (b"EXACT.test:81", b"exact-host"),
        (b"exact.test.", b"exact-host"),
        (b"a.wild.test", b"wild-host"),
        (b"deep.a.wild.test", b"wild-host"),
        (b"wild.test", b"any-host"),  # apex is not a subdomain
        (b"notwild.test", b"any-host"),
        (b"other.test", b"any-host"),
    ],
)
def test_route_by_host(srv, host, expected):
    assert body_for(srv, b"/host", host) == expected


@pytest.mark.parametrize(
    "path, expected",
    [
        (b"/prefix/", b"prefix"),
        (b"/prefix/deeper/x.css", b"prefix"),
        (b"/prefix", b"status 404"),
        (b"/prefixed", b"status 404"),
        (b"/items/42", b"regex"),
        (b"/items/42?x=1", b"regex"),
        (b"/items/4x", b"status 404"),
        (b"/first", b"first"),  # first match wins over the later identical route
        (b"/first?q", b"first"),
        (b"/first/", b"status 404"),  # exact is exact
    ],
)
def test_route_by_path(srv, path, expected):
    assert body_for(srv, path) == expected


@pytest.mark.parametrize(
    "method, expected",
    [(b"POST", b"post-or-put"), (b"PUT", b"post-or-put"), (b"GET", b"other-method")],
)
def test_route_by_method(srv, method, expected):
    assert body_for(srv, b"/method", method=method) == expected


@pytest.mark.parametrize(
    "extra, expected",
    [
        (b"X-Flag: on\r\n", b"flag-on"),
        (b"x-flag: on\r\n", b"flag-on"),  # names are case-insensitive
        (b"X-Flag: off\r\n", b"no-header"),
        (b"X-Any: whatever\r\n", b"any-present"),
        (b"X-Flag: off\r\nX-Any: \r\n", b"any-present"),
        (b"", b"no-header"),
    ],
)
def test_route_by_header(srv, extra, expected):
    assert body_for(srv, b"/header", extra=extra) == expected


# ------------------------------------------------------------------------ keep-alive


def test_rfc9112_9_3_several_requests_on_one_connection(srv):
    with srv.connect() as c:
        for i in range(5):
            resp = c.exchange(get(b"/p/%d" % i))
            assert resp.status == 200 and resp.body == b"body-%d" % i
            assert not resp.closes
        resp = c.exchange(get(b"/hello", method=b"HEAD"), head=True)
        assert resp.status == 201
        assert c.exchange(get(b"/p/0")).body == b"body-0"


def test_rfc9112_9_3_http10_closes_by_default(srv):
    with srv.connect() as c:
        c.send(b"GET /p/1 HTTP/1.0\r\n\r\n")
        resp = c.read_response()
        assert resp.body == b"body-1"
        assert resp.closes
        assert c.closed_within(2.0)


def test_rfc9112_9_3_http10_keep_alive_is_honoured(srv):
    with srv.connect() as c:
        for i in range(3):
            c.send(b"GET /p/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            resp = c.read_response()
            assert resp.body == b"body-%d" % i
            assert (resp.header("connection") or "").lower() == "keep-alive"
        c.send(b"HEAD /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        resp = c.read_response(head=True)
        assert resp.status == 201 and (resp.header("connection") or "").lower() == "keep-alive"
        c.send(b"GET /p/4 HTTP/1.0\r\n\r\n")
        resp = c.read_response()
        assert resp.body == b"body-4" and resp.closes
        assert c.closed_within(2.0)


def test_rfc9112_9_6_connection_close_from_client(srv):
    with srv.connect() as c:
        # Anything after the request that asked to close must be ignored.
        c.send(get(b"/p/2", extra=b"Connection: close\r\n") + get(b"/p/3"))
        resp = c.read_response()
        assert resp.body == b"body-2"
        assert resp.closes
        assert c.closed_within(2.0)


def test_rfc9112_9_6_connection_close_among_other_tokens(srv):
    with srv.connect() as c:
        c.send(get(b"/p/2", extra=b"Connection: foo, Close\r\n"))
        resp = c.read_response()
        assert resp.closes
        assert c.closed_within(2.0)


# ------------------------------------------------------------------------ pipelining


def test_rfc9112_9_3_2_pipelined_requests_answered_in_order(srv):
    order = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    with srv.connect() as c:
        c.send(b"".join(get(b"/p/%d" % i) for i in order))
        bodies = [c.read_response().body for _ in order]
        assert bodies == [b"body-%d" % i for i in order]


def test_rfc9112_9_3_2_pipelined_mixed_methods_in_order(srv):
    """HEAD, POST with a body, HTTP/1.0 keep-alive and 404 in one send, answered in order."""
    reqs = (
        get(b"/p/1")
        + get(b"/hello", method=b"HEAD")
        + get(b"/method", method=b"POST", extra=b"Content-Length: 5\r\n")
        + b"hello"
        + b"GET /p/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        + get(b"/missing")
        + get(b"/p/3", extra=b"Connection: close\r\n")
    )
    with srv.connect() as c:
        c.send(reqs)
        got = [
            c.read_response(),
            c.read_response(head=True),
            c.read_response(),
            c.read_response(),
            c.read_response(),
            c.read_response(),
        ]
        assert [r.status for r in got] == [200, 201, 200, 200, 404, 200]
        assert [got[i].body for i in (0, 2, 3, 5)] == [
            b"body-1",
            b"post-or-put",
            b"body-2",
            b"body-3",
        ]
        assert got[-1].closes
        assert c.closed_within(2.0)


def test_pipelined_requests_split_at_odd_boundaries(srv):
    stream = b"".join(get(b"/p/%d" % i) for i in range(PIPELINE))
    with srv.connect() as c:
        for size in (7, 13, 1, 50, 3):
            pieces = [stream[i : i + size] for i in range(0, len(stream), size)]
            for piece in pieces:
                c.send(piece)
                time.sleep(0.001 if size < 10 else 0)
            bodies = [c.read_response().body for _ in range(PIPELINE)]
            assert bodies == [b"body-%d" % i for i in range(PIPELINE)], size


def test_pipelined_requests_sent_byte_by_byte(srv):
    stream = get(b"/p/5") + get(b"/method", method=b"PUT", extra=b"Content-Length: 3\r\n") + b"abc"
    stream += get(b"/p/6")
    with srv.connect() as c:
        for i in range(len(stream)):
            c.send(stream[i : i + 1])
        assert [c.read_response().body for _ in range(3)] == [b"body-5", b"post-or-put", b"body-6"]


def test_many_pipelined_requests_beyond_header_limit(srv):
    """2000 small requests in one send (far more than max_header_size in total)."""
    n = 2000
    with srv.connect(timeout=15) as c:
        c.send(get(b"/p/7") * n + get(b"/p/8", extra=b"Connection: close\r\n"))
        got = c.responses_until_close(timeout=15)
    assert len(got) == n + 1
    assert all(r.status == 200 and r.body == b"body-7" for r in got[:-1])
    assert got[-1].body == b"body-8"


# --------------------------------------------------------------------- request bodies


def test_rfc9112_6_2_content_length_body_is_read_and_discarded(srv):
    with srv.connect() as c:
        c.send(get(b"/method", method=b"POST", extra=b"Content-Length: 11\r\n") + b"hello")
        time.sleep(0.05)
        c.send(b" world")
        assert c.read_response().body == b"post-or-put"
        assert c.exchange(get(b"/p/1")).body == b"body-1"


def test_large_body_in_many_writes_is_discarded(srv):
    size = 300_000
    with srv.connect() as c:
        c.send(get(b"/method", method=b"PUT", extra=b"Content-Length: %d\r\n" % size))
        for _ in range(size // 30_000):
            c.send(b"x" * 30_000)
        assert c.read_response().body == b"post-or-put"
        assert c.exchange(get(b"/p/2")).body == b"body-2"


def test_rfc9112_7_1_chunked_body_with_extensions_and_trailers(srv):
    body = (
        b'5;name=value;quoted="a b;c"\r\nhello\r\n'
        b"1;x\r\n \r\n"
        b"A\r\n0123456789\r\n"
        b"0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
    )
    with srv.connect() as c:
        c.send(get(b"/method", method=b"POST", extra=b"Transfer-Encoding: chunked\r\n") + body)
        assert c.read_response().body == b"post-or-put"
        assert c.exchange(get(b"/p/3")).body == b"body-3"


def test_rfc9112_7_1_chunked_body_split_byte_by_byte(srv):
    msg = get(b"/method", method=b"POST", extra=b"Transfer-Encoding: chunked\r\n")
    msg += b"3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n" + get(b"/p/4")
    with srv.connect() as c:
        for i in range(len(msg)):
            c.send(msg[i : i + 1])
        assert c.read_response().body == b"post-or-put"
        assert c.read_response().body == b"body-4"


def test_rfc9110_10_1_1_expect_100_continue_without_body_sent(srv):
    """A respond route does not need the body: final answer, no 100, and close."""
    with srv.connect() as c:
        c.send(
            get(b"/method", method=b"POST", extra=b"Content-Length: 5\r\nExpect: 100-continue\r\n")
        )
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"post-or-put"
        assert resp.closes
        # The client may still send the body; the server must not read it as a request.
        c.send(b"GET /")
        assert c.closed_within(3.0)


def test_rfc9110_10_1_1_expect_100_continue_with_body_sent(srv):
    with srv.connect() as c:
        c.send(
            get(b"/method", method=b"POST", extra=b"Content-Length: 5\r\nExpect: 100-continue\r\n")
            + b"hello"
            + get(b"/p/1")
        )
        got = c.responses_until_close(timeout=3.0)
    assert [r.status for r in got] == [200], [r.raw_head for r in got]
    assert got[0].closes
