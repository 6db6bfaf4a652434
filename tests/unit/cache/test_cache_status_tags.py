"""Cache-Status (RFC 9211) formatting and Surrogate-Key / Cache-Tag parsing."""

from __future__ import annotations

import pytest

from frontdesk.cache.status import Fwd, cache_status, parse_member
from frontdesk.cache.tags import format_tags, parse_tags, strip_tags


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"hit": True, "ttl": 376}, b"frontdesk; hit; ttl=376"),
        ({"fwd": Fwd.URI_MISS, "stored": True}, b"frontdesk; fwd=uri-miss; stored"),
        ({"fwd": Fwd.VARY_MISS, "fwd_status": 200}, b"frontdesk; fwd=vary-miss; fwd-status=200"),
        (
            {"fwd": Fwd.STALE, "fwd_status": 304, "ttl": -5.7},
            b"frontdesk; fwd=stale; fwd-status=304; ttl=-5",
        ),
        ({"fwd": Fwd.REQUEST}, b"frontdesk; fwd=request"),
        ({"fwd": Fwd.BYPASS}, b"frontdesk; fwd=bypass"),
        ({"fwd": Fwd.METHOD}, b"frontdesk; fwd=method"),
        ({"hit": True, "collapsed": True}, b"frontdesk; hit; collapsed"),
        ({"detail": "stored-elsewhere"}, b"frontdesk; detail=stored-elsewhere"),
        ({"detail": "two words"}, b'frontdesk; detail="two words"'),
        ({"key": 'https://h/a?"q"'}, b'frontdesk; key="https://h/a?\\"q\\""'),
        ({}, b"frontdesk"),
    ],
)
def test_cache_status_format_rfc9211_2(kwargs: dict[str, object], text: bytes) -> None:
    assert cache_status(**kwargs) == text  # type: ignore[arg-type]


def test_cache_status_name_not_a_token_is_quoted_rfc9211_2() -> None:
    """The cache identifier is an sf-token or an sf-string (RFC 8941 §3.3.3/3.3.4)."""
    assert cache_status("my cache", hit=True) == b'"my cache"; hit'
    assert cache_status("edge-1.example", hit=True) == b"edge-1.example; hit"


def test_cache_status_round_trip_rfc9211_2() -> None:
    text = cache_status(
        "c", fwd=Fwd.MISS, fwd_status=503, ttl=-2, stored=False, key='k;"x"', detail="a b"
    )
    assert parse_member(text) == (
        "c",
        {"fwd": "miss", "fwd-status": 503, "ttl": -2, "key": 'k;"x"', "detail": "a b"},
    )


def test_sf_string_non_ascii_replaced() -> None:
    assert cache_status(detail="café") == b'frontdesk; detail="caf?"'


NAMES = (b"surrogate-key", b"cache-tag")


@pytest.mark.parametrize(
    ("fields", "tags"),
    [
        ([(b"Surrogate-Key", b"a b  c")], ("a", "b", "c")),
        ([(b"Cache-Tag", b"a,b, c")], ("a", "b", "c")),
        ([(b"surrogate-key", b"a b"), (b"cache-tag", b"b,c")], ("a", "b", "c")),
        ([(b"surrogate-key", b"")], ()),
        ([(b"x-other", b"a")], ()),
        ([(b"surrogate-key", b"p-1 P-1")], ("p-1", "P-1")),
    ],
)
def test_parse_tags(fields: list[tuple[bytes, bytes]], tags: tuple[str, ...]) -> None:
    assert parse_tags(fields, NAMES) == tags


def test_tags_round_trip() -> None:
    tags = ("a", "product-42", "x:y")
    assert parse_tags([(b"surrogate-key", format_tags(tags))], NAMES) == tags


def test_strip_tags_keeps_other_fields_in_order() -> None:
    fields = [(b"a", b"1"), (b"Surrogate-Key", b"t"), (b"b", b"2"), (b"CACHE-TAG", b"u")]
    assert strip_tags(fields, NAMES) == ((b"a", b"1"), (b"b", b"2"))
