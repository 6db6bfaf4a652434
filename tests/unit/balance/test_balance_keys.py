"""Hash keys from the request (client, path, header, cookie) and the sticky Set-Cookie."""

from __future__ import annotations

import pytest

from frontdesk.balance.keys import KeySource, read_cookie
from frontdesk.balance.sticky import set_cookie

HEADERS = [
    (b"Host", b"example.com"),
    (b"X-User", b"alice"),
    (b"x-user", b"bob"),
    (b"Cookie", b'theme=dark; sid="abc123"; sid=later'),
    (b"cookie", b"cart=7"),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("client", b"203.0.113.9"),
        ("path", b"/shop/cart"),
        ("header:X-User", b"alice,bob"),  # RFC 9110 §5.3: repeated fields join in order
        ("header:x-USER", b"alice,bob"),  # names are case-insensitive
        ("header:X-Missing", None),
        ("cookie:sid", b"abc123"),  # the first pair wins, quotes stripped
        ("cookie:cart", b"7"),  # a second Cookie header is read too
        ("cookie:SID", None),  # cookie names are case-sensitive
        ("cookie:nope", None),
    ],
)
def test_key_sources(spec: str, expected: bytes | None) -> None:
    assert KeySource.parse(spec).extract("203.0.113.9", "/shop/cart", HEADERS) == expected


@pytest.mark.parametrize("spec", ["ip", "header", "cookie:", "client:x", "path:/a", ""])
def test_bad_key_sources_are_config_errors(spec: str) -> None:
    with pytest.raises(ValueError):
        KeySource.parse(spec)


def test_read_cookie_ignores_pairs_without_a_value_sign() -> None:
    assert read_cookie([(b"Cookie", b"sid; sid=1")], b"sid") == "1"
    assert read_cookie([], b"sid") is None


def test_set_cookie_attributes() -> None:
    """RFC 6265 §4.1: HttpOnly, SameSite=Lax, Path=/; Max-Age and Secure on request."""
    assert set_cookie("fd_srv", "ab12") == b"fd_srv=ab12; Path=/; HttpOnly; SameSite=Lax"
    assert set_cookie("fd_srv", "ab12", secure=True, max_age=3600).endswith(
        b"; Max-Age=3600; Secure"
    )
