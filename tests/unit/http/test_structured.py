"""Structured Field Dictionaries (RFC 8941 §3.2, §4.2.2), as targeted cache-control
fields (RFC 9213 §2.2) need them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.structured import parse_dictionary


@pytest.mark.parametrize(
    ("lines", "members"),
    [
        ([b"max-age=60"], [("max-age", "integer", "60")]),
        ([b"max-age=60, private"], [("max-age", "integer", "60"), ("private", "boolean", "1")]),
        ([b"max-age=1", b"no-store"], [("max-age", "integer", "1"), ("no-store", "boolean", "1")]),
        ([b'no-cache="a, b"'], [("no-cache", "string", "a, b")]),
        ([b'x="q\\"uote"'], [("x", "string", 'q"uote')]),
        ([b"s-maxage=5;p=1"], [("s-maxage", "integer", "5")]),  # parameters dropped
        ([b"max-age=1.5"], [("max-age", "decimal", "1.5")]),
        ([b"max-age=-3"], [("max-age", "integer", "-3")]),
        ([b"no-store=?0"], [("no-store", "boolean", "0")]),
        ([b"a=tok/en"], [("a", "token", "tok/en")]),
        ([b"a=:AAE=:"], [("a", "binary", "AAE=")]),
        ([b"a=(1 2)"], [("a", "list", "(1 2)")]),
        ([b"max-age=1, max-age=9"], [("max-age", "integer", "9")]),  # last value wins
        ([b"  max-age=1  "], [("max-age", "integer", "1")]),
    ],
)
def test_rfc8941_dictionary_members(
    lines: list[bytes], members: list[tuple[str, str, str]]
) -> None:
    assert parse_dictionary(lines) == members


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"   ",
        b"Max-Age=60",  # keys are lower case
        b"max-age=60,",  # a trailing comma
        b"max-age=60 junk",
        b"max-age=",
        b'no-cache="unterminated',
        b"max-age=1234567890123456",  # more than 15 digits
        b"a=1.2345",  # more than 3 decimal places
        b"max-age=60;",
        b"\xff=1",
    ],
)
def test_rfc8941_invalid_dictionaries_fail_whole(value: bytes) -> None:
    assert parse_dictionary([value]) is None


_keys = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,8}", fullmatch=True)
_items = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1).map(str),
    st.from_regex(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]{0,6}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.sampled_from(["?0", "?1"]),
)


@given(st.lists(st.tuples(_keys, _items), min_size=1, max_size=5))
def test_serialised_dictionaries_parse_back(members: list[tuple[str, str]]) -> None:
    """Any dictionary written by the RFC 8941 rules parses, one member per distinct key."""
    value = ", ".join(f"{k}={v}" for k, v in members)
    parsed = parse_dictionary([value.encode()])
    assert parsed is not None
    assert [k for k, _, _ in parsed] == list(dict.fromkeys(k for k, _ in members))
