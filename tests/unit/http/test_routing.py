"""The compiled route table: first match wins; each condition narrows."""

from __future__ import annotations

from frontdesk.http.routing import Matcher, RouteTable

H: list[tuple[bytes, bytes]] = []


def test_empty_matcher_matches_everything() -> None:
    assert Matcher().matches(b"GET", "", "/anything", H)


def test_prefix_exact_regex() -> None:
    assert Matcher.build(prefix="/static/").matches(b"GET", "h", "/static/a.css", H)
    assert not Matcher.build(prefix="/static/").matches(b"GET", "h", "/staticx", H)
    assert Matcher.build(exact="/healthz").matches(b"GET", "h", "/healthz", H)
    assert not Matcher.build(exact="/healthz").matches(b"GET", "h", "/healthz/x", H)
    assert Matcher.build(regex=r"^/api/v[0-9]+/").matches(b"GET", "h", "/api/v2/x", H)
    assert not Matcher.build(regex=r"^/api/v[0-9]+/").matches(b"GET", "h", "/api/vx/", H)


def test_slash_prefix_is_catch_all() -> None:
    assert Matcher.build(prefix="/") == Matcher()


def test_hosts_exact_and_wildcard() -> None:
    m = Matcher.build(hosts=["example.com", "*.example.org"])
    assert m.matches(b"GET", "example.com", "/", H)
    assert m.matches(b"GET", "a.example.org", "/", H)
    assert m.matches(b"GET", "a.b.example.org", "/", H)
    assert not m.matches(b"GET", "example.org", "/", H)  # the apex is not a subdomain
    assert not m.matches(b"GET", "badexample.org", "/", H)
    assert not m.matches(b"GET", "www.example.com", "/", H)


def test_methods() -> None:
    m = Matcher.build(methods=["get", "HEAD"])
    assert m.matches(b"GET", "", "/", H)
    assert m.matches(b"HEAD", "", "/", H)
    assert not m.matches(b"POST", "", "/", H)


def test_headers_value_and_presence_case_insensitive_names() -> None:
    m = Matcher.build(headers=[("X-Env", "staging"), ("X-Debug", "*")])
    assert m.matches(b"GET", "", "/", [(b"x-env", b"staging"), (b"X-DEBUG", b"1")])
    assert not m.matches(b"GET", "", "/", [(b"x-env", b"prod"), (b"X-Debug", b"1")])
    assert not m.matches(b"GET", "", "/", [(b"x-env", b"staging")])


def test_first_match_wins_and_none_when_no_match() -> None:
    table = RouteTable(
        [
            (Matcher.build(exact="/a"), "exact"),
            (Matcher.build(prefix="/a"), "prefix"),
            (Matcher.build(hosts=["h"]), "host"),
        ]
    )
    assert table.match(b"GET", "x", "/a", H) == "exact"
    assert table.match(b"GET", "x", "/ab", H) == "prefix"
    assert table.match(b"GET", "h", "/zz", H) == "host"
    assert table.match(b"GET", "x", "/zz", H) is None


def test_leading_catch_all_shortcut() -> None:
    table = RouteTable([(Matcher(), "all"), (Matcher.build(exact="/a"), "never")])
    assert table.match(b"POST", "any", "/a", H) == "all"
