"""admin/explain.py's request parsing: the same target rules as the server."""

from __future__ import annotations

import pytest

from frontdesk.admin.explain import ExplainError, parse_request


def test_parses_method_url_and_headers() -> None:
    req = parse_request("GET https://Example.COM:8443/a/../b%2Fc?x=1", ["Cookie: a=b"])
    assert (req.method, req.host, req.port) == ("GET", "example.com", 8443)
    assert req.path == "/b/c" and req.query == "x=1"
    assert req.header("cookie") == "a=b" and req.header("host") == "Example.COM:8443"


def test_a_host_header_wins_over_the_url() -> None:
    req = parse_request("GET http://a.test/", ["Host: b.test"])
    assert req.host == "b.test"


@pytest.mark.parametrize(
    ("line", "headers", "says"),
    [
        ("GET", [], "absolute http"),
        ("GET ftp://x/", [], "absolute http"),
        ("G3T http://x/", [], "not a method"),
        ("GET http://x/ extra", [], "METHOD URL"),
        ("GET http://x/", ["NoColon"], "Name: value"),
        ("GET http://x/%2e%2e/%2e%2e/etc", [], "400"),
    ],
)
def test_bad_requests_say_why(line: str, headers: list[str], says: str) -> None:
    with pytest.raises(ExplainError, match=says):
        parse_request(line, headers)
