"""Request-target and Host parsing (RFC 9112 §3.2, RFC 3986 §5.2.4)."""

from __future__ import annotations

import pytest

from frontdesk.http.target import normalize_path, parse_host, parse_target, remove_dot_segments


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a//b", "/a/b"),
        ("//", "/"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/..", "/"),
        ("/a/.", "/a/"),
        ("/a/b/", "/a/b/"),
        ("/a%2Fb", "/a/b"),
        ("/%61bc", "/abc"),
        ("/caf%C3%A9", "/café"),
        ("/%252e%252e/x", "/%2e%2e/x"),  # decoded once only: a literal segment
        ("/a\\..\\b", "/a\\..\\b"),  # backslash is data here; static/ refuses it
    ],
)
def test_normalize_path(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/../a",  # above root: refused, not clamped (as nginx)
        "/a/../../b",
        "/%2e%2e/x",
        "/a/%2E%2E/%2e%2e/x",
        "/x%00y",  # NUL
        "/%C0%AE%C0%AE/",  # overlong UTF-8 for "."
        "/%ff",  # not UTF-8
        "a/b",  # not absolute
    ],
)
def test_normalize_path_refuses(raw: str) -> None:
    assert normalize_path(raw) is None


def test_remove_dot_segments_rfc3986_examples() -> None:
    # RFC 3986 §5.2.4 worked example, as an absolute path.
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("/mid/content=5/../6") == "/mid/6"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"example.com", "example.com"),
        (b"Example.COM:8080", "example.com"),
        (b"example.com.", "example.com"),
        (b"[::1]:80", "[::1]"),
        (b"127.0.0.1", "127.0.0.1"),
        (b"", ""),  # RFC 9110 §7.2: empty Host is valid
        (b" example.com ", "example.com"),
    ],
)
def test_parse_host(raw: bytes, expected: str) -> None:
    assert parse_host(raw) == expected


@pytest.mark.parametrize(
    "raw", [b"a b", b"a/b", b"host:port", b"[::1", b"[zz]", b"a\x00b", b"caf\xc3\xa9", b"h:1:2"]
)
def test_rfc9112_3_2_invalid_host_refused(raw: bytes) -> None:
    assert parse_host(raw) is None


def test_parse_target_origin_form() -> None:
    t = parse_target(b"/a/../b?x=1&y", b"GET")
    assert t is not None
    assert (t.path, t.query, t.host) == ("/b", "x=1&y", None)


def test_rfc9112_3_2_2_absolute_form_host_wins() -> None:
    t = parse_target(b"http://Example.com:8080/p?q", b"GET")
    assert t is not None
    assert (t.path, t.query, t.host) == ("/p", "q", "example.com")
    t = parse_target(b"https://example.com", b"GET")
    assert t is not None and t.path == "/"


def test_asterisk_form_only_for_options() -> None:
    assert parse_target(b"*", b"OPTIONS") is not None
    assert parse_target(b"*", b"GET") is None


@pytest.mark.parametrize(
    "raw",
    [b"example.com:443", b"ftp://x/", b"http://user@evil/", b"/a#frag", b"http:///x", b"/\xff"],
)
def test_parse_target_refuses(raw: bytes) -> None:
    assert parse_target(raw, b"GET") is None
