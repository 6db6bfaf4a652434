"""proxy/forward.py: hop-by-hop removal, forwarding fields, Via, X-Request-ID (pure)."""

from __future__ import annotations

import ipaddress

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.proxy.forward import (
    Hop,
    RequestPolicy,
    connection_options,
    forwarded_node,
    is_trusted,
    request_head,
    response_head,
    trailer_block,
)

POLICY = RequestPolicy(via=b"frontdesk", host=None)
UNTRUSTED = Hop("203.0.113.7", trusted=False)
TRUSTED = Hop("10.0.0.2", trusted=True)


def parse(head: bytes) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """Parse a request head with h11 (an independent, strict parser)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    event = conn.next_event()
    assert isinstance(event, h11.Request), event
    return event.method, event.target, [(n, v) for n, v in event.headers]


def fields(head: bytes, name: bytes) -> list[bytes]:
    return [v for n, v in parse(head)[2] if n == name]


def build(headers, hop=UNTRUSTED, policy=POLICY, **kw) -> bytes:
    return request_head(b"GET", b"/p?q=1", "1.1", headers, hop, policy, b"rid-1", **kw)


def test_request_line_and_basic_fields() -> None:
    head = build([(b"Host", b"example.com"), (b"Accept", b"*/*")])
    method, target, hdrs = parse(head)
    assert (method, target) == (b"GET", b"/p?q=1")
    assert head.startswith(b"GET /p?q=1 HTTP/1.1\r\n")
    assert (b"accept", b"*/*") in hdrs
    assert fields(head, b"host") == [b"example.com"]
    assert fields(head, b"x-forwarded-for") == [b"203.0.113.7"]
    assert fields(head, b"x-forwarded-proto") == [b"http"]
    assert fields(head, b"x-forwarded-host") == [b"example.com"]
    assert fields(head, b"forwarded") == [b"for=203.0.113.7;host=example.com;proto=http"]
    assert fields(head, b"via") == [b"1.1 frontdesk"]
    assert fields(head, b"x-request-id") == [b"rid-1"]


@pytest.mark.parametrize(
    "name",
    [b"Connection", b"Keep-Alive", b"Proxy-Connection", b"TE", b"Transfer-Encoding", b"Upgrade"],
)
def test_rfc9110_7_6_1_hop_by_hop_fields_removed_from_requests(name: bytes) -> None:
    head = build([(b"Host", b"h"), (name, b"x")])
    assert fields(head, name.lower()) == []


def test_rfc9110_7_6_1_fields_named_in_connection_removed() -> None:
    head = build(
        [
            (b"Host", b"h"),
            (b"Connection", b"X-Private, keep-alive"),
            (b"X-Private", b"secret"),
            (b"Keep-Alive", b"timeout=5"),
            (b"X-Public", b"yes"),
        ]
    )
    hdrs = parse(head)[2]
    names = [n for n, _ in hdrs]
    assert b"x-private" not in names and b"connection" not in names
    assert b"keep-alive" not in names
    assert (b"x-public", b"yes") in hdrs


def test_untrusted_forwarding_fields_replaced_not_appended() -> None:
    head = build(
        [
            (b"Host", b"h"),
            (b"X-Forwarded-For", b"1.2.3.4"),
            (b"X-Forwarded-Proto", b"https"),
            (b"X-Forwarded-Host", b"evil.example"),
            (b"Forwarded", b"for=1.2.3.4"),
        ]
    )
    assert fields(head, b"x-forwarded-for") == [b"203.0.113.7"]
    assert fields(head, b"x-forwarded-proto") == [b"http"]
    assert fields(head, b"x-forwarded-host") == [b"h"]
    assert fields(head, b"forwarded") == [b"for=203.0.113.7;host=h;proto=http"]


def test_trusted_forwarding_fields_appended_to() -> None:
    head = build(
        [
            (b"Host", b"h"),
            (b"X-Forwarded-For", b"1.2.3.4"),
            (b"X-Forwarded-For", b"5.6.7.8"),
            (b"X-Forwarded-Proto", b"https"),
            (b"X-Forwarded-Host", b"public.example"),
            (b"Forwarded", b"for=1.2.3.4;proto=https"),
        ],
        hop=TRUSTED,
    )
    assert fields(head, b"x-forwarded-for") == [b"1.2.3.4, 5.6.7.8, 10.0.0.2"]
    assert fields(head, b"x-forwarded-proto") == [b"https"]
    assert fields(head, b"x-forwarded-host") == [b"public.example"]
    assert fields(head, b"forwarded") == [
        b"for=1.2.3.4;proto=https, for=10.0.0.2;host=h;proto=http"
    ]


def test_rfc7239_6_ipv6_node_and_host_with_port_are_quoted() -> None:
    head = build([(b"Host", b"example.com:8080")], hop=Hop("2001:db8::1", trusted=False))
    assert fields(head, b"forwarded") == [b'for="[2001:db8::1]";host="example.com:8080";proto=http']
    assert forwarded_node("-") == b"unknown"


def test_request_id_kept_from_a_trusted_client_only() -> None:
    sent = [(b"Host", b"h"), (b"X-Request-ID", b"abc")]
    head = build(sent, hop=Hop("10.0.0.1", trusted=True))
    assert fields(head, b"x-request-id") == [b"abc"]
    head = build(sent, hop=Hop("10.0.0.1", trusted=False))
    assert fields(head, b"x-request-id") == [b"rid-1"]


def test_host_policy_and_fallback() -> None:
    fixed = RequestPolicy(via=b"frontdesk", host=b"backend.internal")
    head = build([(b"Host", b"client.example")], policy=fixed)
    assert fields(head, b"host") == [b"backend.internal"]
    assert fields(head, b"x-forwarded-host") == [b"client.example"]
    # HTTP/1.0 without Host: the backend still gets one.
    head = request_head(b"GET", b"/", "1.0", [], UNTRUSTED, POLICY, b"r", fallback_host=b"b:1")
    assert fields(head, b"host") == [b"b:1"]
    assert fields(head, b"via") == [b"1.0 frontdesk"]


def test_body_framing() -> None:
    head = build([(b"Host", b"h"), (b"Content-Length", b"5")], has_body=True)
    assert fields(head, b"content-length") == [b"5"]
    assert fields(head, b"transfer-encoding") == []
    head = build([(b"Host", b"h"), (b"Transfer-Encoding", b"chunked")], has_body=True)
    assert fields(head, b"transfer-encoding") == [b"chunked"]


def test_upgrade_kept_only_for_tunnels() -> None:
    hdrs = [(b"Host", b"h"), (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]
    head = build(hdrs, upgrade=True)
    assert fields(head, b"upgrade") == [b"websocket"]
    assert fields(head, b"connection") == [b"upgrade"]
    head = build(hdrs)
    assert fields(head, b"upgrade") == [] and fields(head, b"connection") == []


def test_response_head() -> None:
    head = response_head(
        [
            (b"Content-Length", b"12"),
            (b"Connection", b"close, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Server", b"app"),
            (b"Date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
        ],
        "1.1",
        b"frontdesk",
    )
    block, length, has_date = head
    assert length == 12 and has_date
    lines = block.split(b"\r\n")
    assert b"Content-Length: 12" in lines and b"Server: app" in lines
    assert b"Via: 1.1 frontdesk" in lines
    for gone in (b"Connection", b"X-Hop", b"Keep-Alive", b"Transfer-Encoding"):
        assert not any(line.startswith(gone + b":") for line in lines)
    up = response_head(
        [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")], "1.1", b"f", upgrade=True
    )
    up_block, up_length, up_date = up
    assert b"Upgrade: websocket\r\n" in up_block and b"Connection: upgrade\r\n" in up_block
    assert not up_date and up_length is None


def test_trailers_filtered() -> None:
    block = trailer_block([(b"X-Checksum", b"1"), (b"Content-Length", b"9"), (b"TE", b"x")])
    assert block == b"X-Checksum: 1\r\n"


def test_connection_options_and_trust() -> None:
    assert connection_options([(b"Connection", b" Close ,X-A,,"), (b"connection", b"x-b")]) == {
        b"close",
        b"x-a",
        b"x-b",
    }
    nets = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert is_trusted("10.1.2.3", nets) and is_trusted("::1", nets)
    assert not is_trusted("11.0.0.1", nets) and not is_trusted("-", nets)


# ------------------------------------------------------------------ properties

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(str.encode)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map(
    str.encode
)
HOP_NAMES = [
    b"connection",
    b"keep-alive",
    b"te",
    b"transfer-encoding",
    b"upgrade",
    b"proxy-connection",
]
FORWARDING = [b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"]
NAMES = st.one_of(TOKEN, st.sampled_from(HOP_NAMES + FORWARDING))


@given(
    headers=st.lists(st.tuples(NAMES, VALUE), max_size=12),
    trusted=st.booleans(),
    title=st.booleans(),
)
def test_property_forwarded_request_is_valid_and_clean(headers, trusted, title) -> None:
    headers = [(n.title() if title else n, v) for n, v in headers]
    headers.append((b"Host", b"example.com"))
    hop = Hop("192.0.2.1", trusted=trusted)
    head = request_head(b"GET", b"/", "1.1", headers, hop, POLICY, b"rid")
    _, _, out = parse(head)  # always a valid HTTP/1.1 request for a strict parser
    names = [n for n, _ in out]
    options = connection_options(headers)
    for hop_name in HOP_NAMES:
        assert hop_name not in names
    for option in options:
        if option not in (b"host", b"x-request-id") and option not in FORWARDING:
            assert option not in names, option
    # exactly one of each forwarding field, ending with what this hop saw
    for name in FORWARDING:
        assert names.count(name) == 1
    xff = dict(out)[b"x-forwarded-for"]
    assert xff.endswith(b"192.0.2.1")
    if not trusted:
        assert xff == b"192.0.2.1"
    assert names.count(b"host") == 1
    # A client's own Via lines pass on; this hop's entry comes after them (RFC 9110
    # §7.6.3: each intermediary appends; §5.3: field lines combine in order).
    client_vias = [n for n, _ in headers if n.lower() == b"via" and n.lower() not in options]
    assert names.count(b"via") == 1 + len(client_vias)
    assert [v for n, v in out if n == b"via"][-1] == b"1.1 " + POLICY.via


@given(headers=st.lists(st.tuples(NAMES, VALUE), max_size=12))
def test_property_response_has_no_hop_by_hop(headers) -> None:
    head = response_head(headers, "1.1", b"frontdesk")
    options = connection_options(headers)
    block = head[0]
    for line in block.split(b"\r\n")[:-1]:
        name = line.split(b":", 1)[0].lower()
        assert name not in HOP_NAMES
        assert name not in options or name == b"via"
    assert block.endswith(b"Via: 1.1 frontdesk\r\n")


@given(headers=st.lists(st.tuples(NAMES, VALUE), max_size=8), trusted=st.booleans())
def test_property_memo_changes_nothing(headers, trusted) -> None:
    memo: dict = {}
    headers = [*headers, (b"Host", b"example.com:8080")]
    hop = Hop("2001:db8::5", trusted=trusted)
    plain = request_head(b"GET", b"/", "1.1", headers, hop, POLICY, b"r")
    for _ in range(2):  # filling the memo, then reading from it
        assert request_head(b"GET", b"/", "1.1", headers, hop, POLICY, b"r", memo=memo) == plain


def test_connection_keep_alive_line_does_not_hide_another_lines_options() -> None:
    # `Connection: keep-alive` alone is skipped without parsing the list; a second
    # Connection line naming a field must still remove that field (RFC 9110 §7.6.1).
    headers = [
        (b"Connection", b"keep-alive"),
        (b"X-Private", b"secret"),
        (b"Connection", b"X-Private"),
        (b"X-Public", b"yes"),
    ]
    block = response_head(headers, "1.1", b"f")[0]
    assert b"X-Private" not in block and b"Connection" not in block
    assert b"X-Public: yes\r\n" in block
    names = [n for n, _ in parse(build([(b"Host", b"h"), *headers]))[2]]
    assert b"x-private" not in names and b"connection" not in names
    assert b"x-public" in names


# Connection values: the hop-by-hop ones take the fast path, tokens name fields.
CONNECTION_VALUE = st.one_of(
    st.sampled_from([b"keep-alive", b"Keep-Alive", b"upgrade", b"close"]), TOKEN
)


@given(
    headers=st.lists(
        st.one_of(st.tuples(NAMES, VALUE), st.tuples(st.just(b"Connection"), CONNECTION_VALUE)),
        max_size=10,
    )
)
def test_property_fields_named_by_any_connection_line_removed(headers) -> None:
    options = connection_options(headers)
    block = response_head(headers, "1.1", b"frontdesk")[0]
    response_names = {line.split(b":", 1)[0].lower() for line in block.split(b"\r\n")[:-1]}
    request_names = {n for n, _ in parse(build([*headers, (b"Host", b"h")]))[2]}
    for option in options - {b"via", b"host", b"x-request-id", *FORWARDING}:
        assert option not in response_names and option not in request_names, option
    kept = {n.lower() for n, _ in headers} - options - set(HOP_NAMES) - set(FORWARDING)
    kept -= {b"content-length", b"x-request-id", b"host", b"via"}
    assert kept <= response_names and kept <= request_names
