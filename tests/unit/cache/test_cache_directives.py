"""Cache-Control parsing: RFC 9111 §5.2, §1.2.2, §4.2.1; RFC 5861; Pragma (RFC 7234 §5.4)."""

from __future__ import annotations

import pytest

from frontdesk.cache.directives import (
    ANY_STALENESS,
    DELTA_MAX,
    EMPTY,
    iter_directives,
    parse_cache_control,
    parse_delta,
    request_directives,
)


def cc(*lines: str):  # type: ignore[no-untyped-def]
    return parse_cache_control([line.encode() for line in lines])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("60", 60),
        ("007", 7),
        ("2147483647", 2147483647),
        ("2147483648", DELTA_MAX),
        ("2147483649", DELTA_MAX),
        ("99999999999999999999999", DELTA_MAX),
        ("", None),
        ("-1", None),
        ("+1", None),
        ("1.5", None),
        ("1e3", None),
        (" 5", None),
        ("abc", None),
    ],
)
def test_delta_seconds_rfc9111_1_2_2(value: str, expected: int | None) -> None:
    """§1.2.2: delta-seconds = 1*DIGIT; values past 2^31 are taken as 2^31."""
    assert parse_delta(value.encode()) == expected


def test_directive_names_case_insensitive_rfc9111_5_2() -> None:
    """§5.2: "Cache directives are identified by a token, to be compared case-insensitively"."""
    c = cc("Max-Age=5, NO-STORE, Public, S-MAXAGE=7")
    assert (c.max_age, c.no_store, c.public, c.s_maxage) == (5, True, True, 7)


def test_quoted_string_argument_accepted_rfc9111_5_2() -> None:
    """§5.2: "recipients ought to accept both forms, even if a specific form is required"."""
    assert cc('max-age="120"').max_age == 120
    assert cc('s-maxage="9"').s_maxage == 9


def test_multiple_field_lines_form_one_list_rfc9111_5_2() -> None:
    """§5.2 Cache-Control = #cache-directive: lines combine (RFC 9110 §5.3)."""
    c = cc("max-age=5", "must-revalidate", "stale-if-error=30")
    assert (c.max_age, c.must_revalidate, c.stale_if_error) == (5, True, 30)


def test_whitespace_and_empty_members_rfc9110_5_6_1() -> None:
    """RFC 9110 §5.6.1: OWS around commas, and empty list elements are ignored."""
    c = cc(" ,  max-age = 5 ,, ,no-cache ,")
    assert c.max_age == 5 and c.no_cache


@pytest.mark.parametrize(
    "value",
    [
        "max-age=abc",
        "max-age=-1",
        "max-age=",
        "max-age",
        "max-age=1.5",
        "max-age=5 6",
        'max-age="5',
    ],
)
def test_invalid_max_age_means_stale_rfc9111_4_2_1(value: str) -> None:
    """§4.2.1: "Caches are encouraged to consider responses that have invalid freshness
    information (e.g., a max-age directive with non-integer content) to be stale."."""
    c = cc(value)
    assert c.max_age is None
    assert c.invalid_freshness


def test_duplicate_max_age_same_value_is_fine_rfc9111_4_2_1() -> None:
    c = cc("max-age=60", "max-age=60")
    assert c.max_age == 60 and not c.invalid_freshness


def test_conflicting_max_age_treated_as_stale_rfc9111_4_2_1() -> None:
    """§4.2.1: with more than one value "either the first occurrence should be used or
    the response should be considered stale": we take the restrictive reading."""
    c = cc("max-age=60, max-age=3600")
    assert c.max_age is None and c.invalid_freshness


def test_conflicting_s_maxage_treated_as_stale_rfc9111_4_2_1() -> None:
    c = cc("s-maxage=1", "s-maxage=2")
    assert c.s_maxage is None and c.invalid_freshness


def test_max_age_overflow_capped_rfc9111_1_2_2() -> None:
    assert cc("max-age=99999999999").max_age == DELTA_MAX


def test_unqualified_no_cache_and_private_rfc9111_5_2_2_4_and_5_2_2_7() -> None:
    c = cc("no-cache, private")
    assert c.no_cache and c.private
    assert c.no_cache_fields == frozenset() and c.private_fields == frozenset()


def test_qualified_private_collects_lowercased_fields_rfc9111_5_2_2_7() -> None:
    c = cc('private="Set-Cookie, X-User"')
    assert not c.private
    assert c.private_fields == {b"set-cookie", b"x-user"}


def test_qualified_no_cache_token_form_rfc9111_5_2_2_4() -> None:
    """The token form (no-cache=Set-Cookie) is accepted like the quoted form (§5.2)."""
    c = cc("no-cache=Set-Cookie")
    assert not c.no_cache and c.no_cache_fields == {b"set-cookie"}


def test_unqualified_wins_over_qualified_rfc9111_4_2_1_most_restrictive() -> None:
    c = cc('no-cache="x-a", no-cache')
    assert c.no_cache and c.no_cache_fields == frozenset()


def test_qualified_directives_accumulate() -> None:
    c = cc('private="a"', 'private="b, c"')
    assert c.private_fields == {b"a", b"b", b"c"}


def test_empty_qualified_list_is_unqualified() -> None:
    assert cc('private=""').private


def test_no_store_with_argument_still_honoured_most_restrictive() -> None:
    """A directive defined without argument, given one, is honoured when it restricts."""
    assert cc("no-store=1").no_store
    assert cc("must-revalidate=yes").must_revalidate


def test_public_with_argument_is_ignored_most_restrictive() -> None:
    """public relaxes storage; with an argument it is not understood, so not granted."""
    assert not cc("public=1").public
    assert cc("public").public


def test_unknown_directives_ignored_rfc9111_5_2_3() -> None:
    """§5.2.3: "Cache recipients MUST ignore unrecognized cache directives"."""
    c = cc('community="UCI", foo, max-age=5')
    assert c.max_age == 5
    assert c.extensions == {"community", "foo"}


def test_quoted_argument_with_comma_does_not_split() -> None:
    c = cc('foo="a, no-store", max-age=3')
    assert not c.no_store and c.max_age == 3


def test_quoted_pair_unescaped() -> None:
    assert list(iter_directives(b'x="a\\"b"')) == [("x", b'a"b', True)]


def test_broken_member_reported_invalid_then_parsing_continues() -> None:
    out = list(iter_directives(b"max-age=5 6, no-store"))
    assert out == [("max-age", None, False), ("no-store", None, True)]


def test_rfc5861_stale_directives() -> None:
    c = cc("max-age=60, stale-while-revalidate=30, stale-if-error=86400")
    assert (c.stale_while_revalidate, c.stale_if_error) == (30, 86400)


def test_rfc5861_invalid_stale_value_grants_nothing() -> None:
    c = cc("stale-while-revalidate=soon, stale-if-error=1, stale-if-error=2")
    assert c.stale_while_revalidate is None and c.stale_if_error is None
    assert not c.invalid_freshness


def test_must_understand_immutable_no_transform_flags() -> None:
    c = cc("must-understand, no-store, immutable, no-transform, proxy-revalidate")
    assert c.must_understand and c.no_store and c.immutable and c.no_transform
    assert c.proxy_revalidate


def test_max_stale_without_value_accepts_any_rfc9111_5_2_1_2() -> None:
    """§5.2.1.2: "If no value is assigned to max-stale, then the client will accept a
    stale response of any age."."""
    assert cc("max-stale").max_stale == ANY_STALENESS
    assert cc("max-stale=30").max_stale == 30


def test_request_directives_min_fresh_only_if_cached_rfc9111_5_2_1() -> None:
    c = request_directives([b"min-fresh=20, only-if-cached, no-store"], [])
    assert c.min_fresh == 20 and c.only_if_cached and c.no_store


def test_request_invalid_max_age_reads_as_zero() -> None:
    """An unreadable request max-age is taken as max-age=0 (most restrictive, §4.2.1)."""
    assert request_directives([b"max-age=soon"], []).max_age == 0
    assert request_directives([b"max-age=5, max-age=6"], []).max_age == 0


def test_request_invalid_s_maxage_does_not_touch_max_age() -> None:
    assert request_directives([b"s-maxage=x"], []).max_age is None


@pytest.mark.parametrize("pragma", [b"no-cache", b"No-Cache", b"foo, no-cache"])
def test_pragma_no_cache_without_cache_control_rfc7234_5_4(pragma: bytes) -> None:
    """Pragma: no-cache means Cache-Control: no-cache when Cache-Control is absent."""
    assert request_directives([], [pragma]).no_cache


def test_pragma_ignored_when_cache_control_present_rfc7234_5_4() -> None:
    """ "When the Cache-Control header field is also present and understood in a
    request, Pragma is ignored"."""
    assert not request_directives([b"max-age=10"], [b"no-cache"]).no_cache


def test_no_directives_is_the_empty_value() -> None:
    assert request_directives([], []) is EMPTY
    assert request_directives([], [b"x-other"]) is EMPTY
