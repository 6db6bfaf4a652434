"""Cache keys: primary key (RFC 9111 §2) and Vary secondary keys (§4.1)."""

from __future__ import annotations

import pytest
from cache_helpers import request

from frontdesk.cache.keys import (
    VARY_STAR,
    make_key,
    normalize_field,
    normalize_query,
    primary_key,
    strip_query,
    vary_matches,
    vary_names,
    vary_values,
)
from frontdesk.cache.options import KeyOptions


def test_get_and_head_share_a_key_rfc9111_2() -> None:
    assert primary_key(request("GET")) == primary_key(request("HEAD")) == "https://example.com/a"


@pytest.mark.parametrize(
    ("scheme", "host", "port", "key"),
    [
        ("http", "example.com", None, "http://example.com/p"),
        ("http", "example.com", 80, "http://example.com/p"),
        ("https", "example.com", 443, "https://example.com/p"),
        ("http", "example.com", 8080, "http://example.com:8080/p"),
        ("https", "example.com", 80, "https://example.com:80/p"),
        ("HTTP", "Example.COM", None, "http://example.com/p"),
        ("http", "example.com.", None, "http://example.com/p"),
        ("http", "[::1]", 8080, "http://[::1]:8080/p"),
    ],
)
def test_scheme_host_port_normalised_rfc9110_4_2_3(
    scheme: str, host: str, port: int | None, key: str
) -> None:
    """Host case-insensitive, default port omitted (RFC 9110 §4.2.3)."""
    assert make_key(scheme, host, port, "/p", "") == key


def test_path_and_query_kept_as_sent() -> None:
    assert make_key("http", "h", None, "/A/b", "x=1&y=2") == "http://h/A/b?x=1&y=2"
    assert make_key("http", "h", None, "/a", "y=2&x=1") != make_key(
        "http", "h", None, "/a", "x=1&y=2"
    )


def test_different_hosts_different_keys() -> None:
    assert primary_key(request(host="a.test")) != primary_key(request(host="b.test"))


def test_sorted_query() -> None:
    opts = KeyOptions(sort_query=True)
    assert normalize_query("b=2&a=1&c", opts) == "a=1&b=2&c"


def test_sorting_keeps_order_of_repeated_names() -> None:
    opts = KeyOptions(sort_query=True)
    assert normalize_query("z=1&a=2&a=1", opts) == "a=2&a=1&z=1"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("utm_source=x&id=1&utm_medium=y", "id=1"),
        ("fbclid=abc&id=1", "id=1"),
        ("id=1", "id=1"),
        ("utm_source=x", ""),
        ("utm=1", "utm=1"),
        ("utm_x=1;callback=evil&id=2", "utm_x=1;callback=evil&id=2"),
    ],
)
def test_ignored_parameters_dropped(query: str, expected: str) -> None:
    """utm_* and named parameters leave the key; a ";" inside blocks dropping (cloaking)."""
    opts = KeyOptions(ignore_params=("utm_*", "fbclid"))
    assert strip_query(query, opts) == expected


def test_key_without_query_when_all_params_ignored() -> None:
    opts = KeyOptions(ignore_params=("utm_*",))
    assert make_key("https", "h", None, "/", "utm_a=1", opts) == "https://h/"


# --- Vary ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        ([], None),
        ([b""], None),
        ([b"Accept-Encoding"], (b"accept-encoding",)),
        ([b"accept, Accept-Language", b"ACCEPT"], (b"accept", b"accept-language")),
        ([b"B, a"], (b"a", b"b")),
        ([b"accept, *"], VARY_STAR),
        ([b"*"], VARY_STAR),
    ],
)
def test_vary_names_rfc9110_12_5_5(lines: list[bytes], names: tuple[bytes, ...] | None) -> None:
    assert vary_names([(b"Vary", v) for v in lines]) == names


@pytest.mark.parametrize(
    ("name", "lines", "value"),
    [
        (b"accept-encoding", [b"gzip, deflate, br"], b"br,deflate,gzip"),
        (b"accept-encoding", [b"br", b"GZIP"], b"br,gzip"),
        (b"accept-encoding", [b"gzip;q=1.0, br ; q=0.5"], b"br;q=0.5,gzip"),
        (b"accept-encoding", [b""], b""),
        (b"accept-language", [b"en-US, fr;q=0.5"], b"en-us,fr;q=0.5"),
        (b"accept-language", [b"fr, en"], b"fr,en"),
        (b"accept", [b"text/html ,  application/xml;q=0.9"], b"text/html,application/xml;q=0.9"),
        (b"x-custom", [b"  A B  ", b"c"], b"A B, c"),
        (b"x-custom", [], None),
    ],
)
def test_vary_field_normalisation_rfc9111_4_1(
    name: bytes, lines: list[bytes], value: bytes | None
) -> None:
    """§4.1: whitespace, combining lines, case for case-insensitive values, order only
    where it carries no meaning (Accept-Encoding)."""
    assert normalize_field(name, lines) == value


def test_absent_and_empty_differ_rfc9111_4_1() -> None:
    names = (b"accept-encoding",)
    assert vary_values([], names) != vary_values([(b"accept-encoding", b"")], names)


def test_vary_matches_case_insensitive_names_rfc9110_5_1() -> None:
    names = (b"accept-language",)
    stored = vary_values([(b"accept-language", b"en")], names)
    assert vary_matches(names, stored, [(b"Accept-Language", b"EN")])
    assert not vary_matches(names, stored, [(b"Accept-Language", b"de")])


def test_vary_star_never_matches_rfc9111_4_1() -> None:
    assert not vary_matches(VARY_STAR, (), [])


def test_no_vary_always_matches() -> None:
    assert vary_matches(None, (), [(b"accept", b"x")])
