"""Real-socket tests: limits, bad requests and request-smuggling vectors.

Every refused request must get one short plain-text error response with
`Connection: close`, after which the server closes; bytes the client sent after
the bad request (here: a smuggled `GET /smuggled`) must never be answered.
"""

from __future__ import annotations

import time

import pytest

MAX_URI = 1024
MAX_HEADER = 8 * 1024
MAX_HEADERS = 20
MAX_BODY = 64 * 1024

ROUTES = """
[[route]]
match = { exact = "/ok" }
respond = { body = "ok" }

[[route]]
match = { exact = "/smuggled" }
respond = { body = "SMUGGLED" }
"""

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module", params=["fast-lane", "access-log"])
def srv(request, module_server, tmp_path_factory):
    """Both answer paths: with no access log, fixed answers skip building a Request."""
    log = "off"
    if request.param == "access-log":
        log = str(tmp_path_factory.mktemp("log") / "access.log")
    return module_server(
        ROUTES,
        access_log=log,
        max_uri_size=MAX_URI,
        max_header_size=MAX_HEADER,
        max_headers=MAX_HEADERS,
        max_body_size=MAX_BODY,
    )


def refused(srv, data: bytes, status: int | set[int], *, chunks: list[bytes] | None = None):
    """Send `data` (then SMUGGLED); expect exactly one error response, then close."""
    allowed = {status} if isinstance(status, int) else status
    with srv.connect() as c:
        try:
            for piece in chunks or [data + SMUGGLED]:
                c.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before it has read everything we had to send
        got = c.responses_until_close(timeout=2.0)
    assert got, "no response before close"
    statuses = [r.status for r in got]
    assert len(got) == 1 and got[0].status in allowed, (
        f"{statuses}: {[r.raw_head + b' ' + r.body for r in got]}"
    )
    resp = got[0]
    assert resp.closes
    assert resp.header("content-type") == "text/plain; charset=utf-8"
    assert resp.body.startswith(b"%d " % resp.status) and len(resp.body) < 200
    assert resp.header("content-length") == str(len(resp.body))
    assert resp.header("date") is not None
    return resp


def req(head: bytes, body: bytes = b"", method: bytes = b"GET", target: bytes = b"/ok") -> bytes:
    return method + b" " + target + b" HTTP/1.1\r\n" + head + b"\r\n" + body


H = b"Host: x\r\n"


def chunked(body: bytes, head: bytes = b"") -> bytes:
    """A chunked POST whose body bytes are given verbatim."""
    return req(H + head + b"Transfer-Encoding: chunked\r\n", body, b"POST")


def test_baseline_good_request_is_answered_and_kept_open(srv):
    with srv.connect() as c:
        assert c.exchange(req(H)).body == b"ok"
        assert c.exchange(SMUGGLED).body == b"SMUGGLED"


# --------------------------------------------------------------------- request line


@pytest.mark.parametrize(
    "line",
    [
        b"GARBAGE",
        b"GET / HTTP/1.1 extra",
        b"GET /ok HTTP/1.1 ",
        b"GET /o k HTTP/1.1",
        b"GET /ok HTTP/x.y",
        b"\x00GET /ok HTTP/1.1",
    ],
)
def test_rfc9112_3_malformed_request_line_is_400(srv, line):
    refused(srv, line + b"\r\nHost: x\r\n\r\n", 400)


def test_rfc9112_3_request_line_without_version_is_refused(srv):
    """An HTTP/0.9-style request line: 400 or 505, never served."""
    refused(srv, b"GET /ok\r\nHost: x\r\n\r\n", {400, 505})


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/3.0", b"HTTP/9.9"])
def test_rfc9110_15_6_6_unsupported_version_is_505(srv, version):
    refused(srv, b"GET /ok " + version + b"\r\nHost: x\r\n\r\n", 505)


@pytest.mark.parametrize("method", [b"FOO", b"BREW", b"XYZZY"])
def test_rfc9110_9_1_unknown_method_is_501(srv, method):
    refused(srv, req(H, method=method), 501)


def test_rfc9110_9_3_6_connect_is_405_with_allow(srv):
    resp = refused(srv, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405)
    assert "GET" in (resp.header("allow") or "")


# ----------------------------------------------------------------------------- limits


def test_rfc9112_3_uri_longer_than_max_uri_size_is_414(srv):
    """max_uri_size is smaller than max_header_size here: the URI limit must hold alone."""
    target = b"/" + b"a" * (MAX_URI + 100)
    assert len(target) + 100 < MAX_HEADER
    refused(srv, req(H, target=target), 414)


def test_rfc9112_3_uri_longer_than_header_limit_is_414(srv):
    refused(srv, req(H, target=b"/" + b"a" * (MAX_HEADER + 100)), 414)


def test_uri_at_max_uri_size_is_accepted(srv):
    target = b"/ok?" + b"q" * (MAX_URI - 4)
    assert len(target) == MAX_URI
    with srv.connect() as c:
        assert c.exchange(req(H, target=target)).status == 200


def test_rfc6585_5_header_section_too_large_is_431(srv):
    refused(srv, req(H + b"X-Big: " + b"a" * MAX_HEADER + b"\r\n"), 431)


def test_rfc6585_5_header_section_too_large_in_many_fields_is_431(srv):
    fields = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 800) for i in range(MAX_HEADERS - 5))
    assert len(fields) > MAX_HEADER
    refused(srv, req(H + fields), 431)


def test_rfc6585_5_header_section_too_large_trickled_is_431(srv):
    """The limit holds across reads: a head that never ends gets 431, not a wait."""
    head = req(H).removesuffix(b"\r\n") + b"X-Big: "
    pieces = [head] + [b"a" * 1000] * (2 * MAX_HEADER // 1000)
    with srv.connect() as c:
        answered = False
        for piece in pieces:
            try:
                c.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.005)
        got = c.responses_until_close(timeout=2.0)
        answered = bool(got)
    assert answered
    assert [r.status for r in got] == [431]


def test_header_section_just_under_limit_is_accepted(srv):
    head = req(H)
    pad = MAX_HEADER - len(head) - 200
    with srv.connect() as c:
        assert c.exchange(req(H + b"X-Pad: " + b"p" * pad + b"\r\n")).status == 200


def test_rfc6585_5_too_many_header_fields_is_431(srv):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS + 1))
    refused(srv, req(H + fields), 431)


def test_max_headers_fields_are_accepted(srv):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS - 1))
    with srv.connect() as c:
        assert c.exchange(req(H + fields)).status == 200


def test_rfc9110_15_5_14_content_length_over_max_body_is_413(srv):
    refused(srv, req(H + b"Content-Length: %d\r\n" % (MAX_BODY + 1), method=b"POST"), 413)


def test_body_of_max_body_size_is_accepted(srv):
    with srv.connect() as c:
        msg = req(H + b"Content-Length: %d\r\n" % MAX_BODY, b"b" * MAX_BODY, method=b"POST")
        assert c.exchange(msg).status == 200
        assert c.exchange(req(H)).status == 200


def test_rfc9110_15_5_14_chunked_body_over_max_body_is_413(srv):
    head = req(H + b"Transfer-Encoding: chunked\r\n", method=b"POST")
    chunk = b"4000\r\n" + b"c" * 0x4000 + b"\r\n"
    pieces = [head] + [chunk] * (MAX_BODY // 0x4000 + 2) + [b"0\r\n\r\n" + SMUGGLED]
    refused(srv, b"", 413, chunks=pieces)


def test_rfc9110_15_5_14_chunked_body_over_max_in_one_chunk_is_413(srv):
    head = req(H + b"Transfer-Encoding: chunked\r\n", method=b"POST")
    size = MAX_BODY + 10
    pieces = [head + b"%x\r\n" % size, b"z" * size, b"\r\n0\r\n\r\n" + SMUGGLED]
    refused(srv, b"", 413, chunks=pieces)


def test_rfc6585_5_trailer_section_too_large_is_431(srv):
    trailers = b"".join(b"T-%d: %s\r\n" % (i, b"t" * 100) for i in range(MAX_HEADERS - 5))
    body = b"3\r\nabc\r\n0\r\n" + trailers + b"\r\n"
    assert len(trailers) < MAX_HEADER
    with srv.connect() as c:  # within the limits: accepted
        msg = req(H + b"Transfer-Encoding: chunked\r\n", body, b"POST")
        assert c.exchange(msg).status == 200
    big = b"".join(b"T-%d: %s\r\n" % (i, b"t" * 1000) for i in range(MAX_HEADERS - 5))
    assert len(big) > MAX_HEADER
    refused(srv, chunked(b"0\r\n" + big + b"\r\n"), 431)


def test_trailer_section_is_bounded_while_it_arrives(srv):
    """A trailer section that never ends must hit the header limit (431), not be
    buffered without bound: the same rule as for the head, trickled."""
    head = chunked(b"3\r\nabc\r\n0\r\n")
    block = b"".join(b"T-%d: 1\r\n" % i for i in range(500))
    pieces = [head] + [block] * (8 * MAX_HEADER // len(block) + 1)
    with srv.connect() as c:
        for piece in pieces:
            try:
                c.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.005)
        got = c.responses_until_close(timeout=2.0)
    assert [r.status for r in got] == [431]


# ----------------------------------------------------------------- transfer codings


@pytest.mark.parametrize(
    "te",
    [b"gzip, chunked", b"foo, chunked", b"deflate, chunked", b"x-custom, chunked"],
)
def test_rfc9112_6_1_unknown_transfer_coding_is_501(srv, te):
    refused(srv, req(H + b"Transfer-Encoding: " + te + b"\r\n", b"0\r\n\r\n", b"POST"), 501)


@pytest.mark.parametrize("te", [b"gzip", b"foo", b"chunked, gzip", b"chunked, chunked"])
def test_rfc9112_6_3_chunked_not_final_is_400(srv, te):
    """RFC 9112 §6.3: chunked not the final coding → the server MUST answer 400 and close."""
    refused(srv, req(H + b"Transfer-Encoding: " + te + b"\r\n", b"0\r\n\r\n", b"POST"), 400)


# ------------------------------------------------------------------- Host, Expect


def test_rfc9112_3_2_missing_host_is_400(srv):
    refused(srv, b"GET /ok HTTP/1.1\r\nX-A: 1\r\n\r\n", 400)


def test_rfc9112_3_2_two_host_headers_is_400(srv):
    refused(srv, req(b"Host: x\r\nHost: y\r\n"), 400)


def test_rfc9112_3_2_two_identical_host_headers_is_400(srv):
    refused(srv, req(b"Host: x\r\nHost: x\r\n"), 400)


@pytest.mark.parametrize(
    "host",
    [b"a b", b"x@y", b"exa/mple", b"[::1", b"host:port", b"host:80:81", b"ex\xc3\xa4mple"],
)
def test_rfc9112_3_2_invalid_host_is_400(srv, host):
    refused(srv, req(b"Host: " + host + b"\r\n"), 400)


def test_rfc9112_3_2_http10_without_host_is_served(srv):
    with srv.connect() as c:
        assert c.exchange(b"GET /ok HTTP/1.0\r\n\r\n").body == b"ok"


def test_rfc9110_10_1_1_unknown_expectation_is_417(srv):
    refused(srv, req(H + b"Expect: something-else\r\n"), 417)


# --------------------------------------------------------------- request smuggling

SMUGGLING = {
    "cl-then-te": chunked(b"0\r\n\r\n", head=b"Content-Length: 5\r\n"),
    "te-then-cl": req(
        H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n", b"POST"
    ),
    "cl-zero-and-te": req(H + b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    "two-different-cl": req(H + b"Content-Length: 3\r\nContent-Length: 5\r\n", b"abcde", b"POST"),
    "two-identical-cl": req(H + b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc", b"POST"),
    "cl-list": req(H + b"Content-Length: 3, 3\r\n", b"abc", b"POST"),
    "cl-plus-sign": req(H + b"Content-Length: +3\r\n", b"abc", b"POST"),
    "cl-negative": req(H + b"Content-Length: -3\r\n", b"abc", b"POST"),
    "cl-hex": req(H + b"Content-Length: 0x3\r\n", b"abc", b"POST"),
    "cl-trailing-junk": req(H + b"Content-Length: 3a\r\n", b"abc", b"POST"),
    "cl-overflow": req(H + b"Content-Length: 99999999999999999999999\r\n", b"abc", b"POST"),
    "chunk-size-non-hex": chunked(b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-overflow": chunked(b"fffffffffffffffff1\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-trailing-space": chunked(b"3 \r\nabc\r\n0\r\n\r\n"),
    "chunk-size-leading-space": chunked(b" 3\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-0x": chunked(b"0x3\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-negative": chunked(b"-3\r\nabc\r\n0\r\n\r\n"),
    "chunk-ext-control-char": chunked(b"3;\x01x\r\nabc\r\n0\r\n\r\n"),
    "chunk-ext-unterminated-quote": chunked(b'3;a="b\r\nabc\r\n0\r\n\r\n'),
    "chunk-ext-bare-lf": chunked(b"3;a\nabc\r\n0\r\n\r\n"),
    "chunk-data-no-crlf": chunked(b"3\r\nabcX0\r\n\r\n"),
    "chunk-data-too-long": chunked(b"3\r\nabcd\r\n0\r\n\r\n"),
    "chunk-bare-lf-after-data": chunked(b"3\r\nabc\n0\r\n\r\n"),
    "obs-fold": req(H + b"X-A: 1\r\n folded: 2\r\n"),
    "obs-fold-tab": req(H + b"X-A: 1\r\n\tfolded\r\n"),
    "obs-fold-on-te": req(H + b"Transfer-Encoding: gzip\r\n ,chunked\r\n", b"0\r\n\r\n", b"POST"),
    "space-before-colon": req(H + b"X-A : 1\r\n"),
    "space-before-colon-cl": req(H + b"Content-Length : 3\r\n", b"abc", b"POST"),
    "tab-before-colon-te": req(H + b"Transfer-Encoding\t: chunked\r\n", b"0\r\n\r\n", b"POST"),
    "bare-cr-in-value": req(H + b"X-A: 1\r2\r\n"),
    "bare-lf-line-endings": b"GET /ok HTTP/1.1\nHost: x\n\n",
    "bare-lf-in-header": req(H + b"X-A: 1\nX-B: 2\r\n"),
    "nul-in-value": req(H + b"X-A: 1\x002\r\n"),
    "nul-in-name": req(H + b"X\x00A: 1\r\n"),
    "space-in-name": req(H + b"X A: 1\r\n"),
    "empty-name": req(H + b": 1\r\n"),
    "leading-space-first-header": b"GET /ok HTTP/1.1\r\n Host: x\r\n\r\n",
}


@pytest.mark.parametrize("data", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_rfc9112_11_2_smuggling_vector_is_400_and_closed(srv, data):
    refused(srv, data, 400)


@pytest.mark.parametrize("keep_alive", [b"", b"Connection: keep-alive\r\n"])
def test_rfc9112_6_1_transfer_encoding_in_http10_closes(srv, keep_alive):
    """RFC 9112 §6.1: a server that receives an HTTP/1.0 message with Transfer-Encoding
    MUST treat the framing as faulty and close the connection after the message."""
    msg = b"POST /ok HTTP/1.0\r\nTransfer-Encoding: chunked\r\n" + keep_alive + b"\r\n"
    msg += b"0\r\n\r\n" + SMUGGLED
    with srv.connect() as c:
        c.send(msg)
        got = c.responses_until_close(timeout=2.0)
    assert len(got) == 1, [r.raw_head + b" " + r.body for r in got]
    assert got[0].status in (200, 400)
    assert got[0].closes
    assert got[0].body != b"SMUGGLED"


def test_error_after_good_pipelined_requests_keeps_order(srv):
    """Earlier answers first, then the error, then close; nothing after the bad one."""
    with srv.connect() as c:
        c.send(req(H) + req(H) + b"GET /ok HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n" + SMUGGLED)
        got = c.responses_until_close(timeout=2.0)
    assert [r.status for r in got] == [200, 200, 400]
    assert got[-1].closes


# ------------------------------------------------------------- ignored Upgrade (§7.8)

UPGRADE = b"Connection: Upgrade\r\nUpgrade: h2c\r\n"
CLOSE_OK = b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_rfc9110_7_8_ignored_upgrade_then_pipelined_request(srv):
    """A server may ignore Upgrade. frontdesk (until a route can accept one) answers the
    request as HTTP/1.1 and closes: llhttp stops at the end of an Upgrade head, so the
    bytes after it are never parsed as a request. Never a crash, never a reordering."""
    with srv.connect() as c:
        c.send(req(H + b"Connection: Upgrade\r\nUpgrade: websocket\r\n") + CLOSE_OK)
        got = c.responses_until_close(timeout=2.0)
    assert [(r.status, r.body) for r in got] in (
        [(200, b"ok"), (200, b"ok")],
        [(200, b"ok")],
    )
    assert got[-1].closes


@pytest.mark.parametrize(
    "framing, body",
    [
        (b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED),
        (b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
    ],
    ids=["content-length", "chunked"],
)
@pytest.mark.parametrize("split", [False, True], ids=["one-packet", "body-later"])
def test_rfc9110_7_8_ignored_upgrade_body_is_not_a_request(srv, framing, body, split):
    """The body of a request carrying Upgrade is a body: if the server does not switch
    protocols it must read it by its framing, never parse it as the next request."""
    head = req(H + UPGRADE + framing, method=b"POST")
    with srv.connect() as c:
        if split:
            c.send(head)
            time.sleep(0.1)
            c.send(body + CLOSE_OK)
        else:
            c.send(head + body + CLOSE_OK)
        got = c.responses_until_close(timeout=2.0)
    bodies = [r.body for r in got]
    assert b"SMUGGLED" not in bodies, [r.raw_head for r in got]
    assert [r.status for r in got] in ([200, 200], [200], [400]), [r.raw_head for r in got]
    assert got[-1].closes


# ------------------------------------------------------------------- HEAD and errors


@pytest.mark.parametrize(
    "head",
    [b"Host: a b\r\n", H + b"Expect: nope\r\n", H + b"Content-Length: %d\r\n" % (MAX_BODY + 1)],
    ids=["bad-host", "expect", "too-large"],
)
def test_rfc9110_9_3_2_error_answer_to_head_has_no_body(srv, head):
    """Once the method is known to be HEAD, even an error response carries no content."""
    with srv.connect() as c:
        c.send(req(head, method=b"HEAD"))
        resp = c.read_response(head=True)
        assert 400 <= resp.status < 500
        rest = c.read_until_close(timeout=2.0)
    assert rest == b"", f"content after the head of a HEAD response: {rest!r}"
