"""Freshness lifetime and age: RFC 9111 §4.2.1, §4.2.2, §4.2.3, §5.1, §5.3."""

from __future__ import annotations

import pytest
from cache_helpers import T0, date, h, stored
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.cache.directives import DELTA_MAX, parse_cache_control
from frontdesk.cache.freshness import (
    age_value,
    corrected_initial_age,
    current_age,
    format_age,
    freshness_lifetime,
)
from frontdesk.cache.options import CacheOptions

OPTS = CacheOptions()


def lifetime(
    cc: str,
    *,
    status: int = 200,
    expires: list[str] | None = None,
    lm: float | None = None,
    options: CacheOptions = OPTS,
) -> tuple[float, bool]:
    return freshness_lifetime(
        parse_cache_control([cc.encode()] if cc else []),
        status,
        T0,
        [e.encode() for e in expires or []],
        lm,
        options,
    )


def test_s_maxage_overrides_max_age_rfc9111_5_2_2_10() -> None:
    """§4.2.1: a shared cache uses s-maxage first."""
    assert lifetime("max-age=10, s-maxage=99") == (99.0, False)


def test_s_maxage_zero_overrides_max_age() -> None:
    assert lifetime("max-age=100, s-maxage=0") == (0.0, False)


def test_max_age_overrides_expires_rfc9111_5_3() -> None:
    """§5.3: "If a response includes a Cache-Control header field with the max-age
    directive, a recipient MUST ignore the Expires header field."."""
    assert lifetime("max-age=10", expires=[date(T0 + 1000)]) == (10.0, False)


def test_s_maxage_overrides_expires_rfc9111_5_3() -> None:
    assert lifetime("s-maxage=5", expires=["0"]) == (5.0, False)


def test_expires_minus_date_rfc9111_4_2_1() -> None:
    assert lifetime("", expires=[date(T0 + 300)]) == (300.0, False)


def test_expires_in_the_past_is_zero() -> None:
    assert lifetime("", expires=[date(T0 - 300)]) == (0.0, False)


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "never",
        "",
        "Thu, 01 Foo 2024 00:00:00 GMT",
        # Look like dates, are not HTTP-dates (RFC 9110 §5.6.7): read before as real
        # future dates, served as hits for decades.
        "Thu, 01 Dec 2094 16:00:00 UTC",
        "Thu, 01 Dec 2094 16:00:00 AEST",
        "Thu, 01 Dec 94 16:00:00 GMT",
        "Thu 01 Dec 2094 16:00:00 GMT",
        "Thu,  01 Dec 2094 16:00:00 GMT",
        "Thu, 01-Dec-2094 16:00:00 GMT",
        "02.01.18",
        "Thu, 01 Dec 2094 6:00:00 GMT",
    ],
)
def test_invalid_expires_is_already_expired_rfc9111_5_3(value: str) -> None:
    """§5.3: "A cache recipient MUST interpret invalid date formats, especially the
    value "0", as representing a time in the past (i.e., "already expired")."."""
    assert lifetime("", expires=[value]) == (0.0, False)


def test_expires_obsolete_formats_accepted_rfc9110_5_6_7() -> None:
    """RFC 9110 §5.6.7: recipients MUST accept rfc850-date and asctime-date."""
    assert lifetime("", expires=["Sunday, 06-Nov-94 08:49:37 GMT"])[0] == 0.0
    (t, _) = lifetime("", expires=["Sun Nov  6 08:49:37 2050"])
    assert t > 0


def test_conflicting_expires_lines_are_stale_rfc9111_4_2_1() -> None:
    """§4.2.1: "two Expires header field lines" → first occurrence or stale; stale here."""
    assert lifetime("", expires=[date(T0 + 300), date(T0 + 600)]) == (0.0, False)


def test_identical_expires_lines_are_one_value() -> None:
    assert lifetime("", expires=[date(T0 + 300), date(T0 + 300)]) == (300.0, False)


def test_invalid_max_age_stale_even_with_expires_rfc9111_4_2_1() -> None:
    assert lifetime("max-age=x", expires=[date(T0 + 300)]) == (0.0, False)


def test_heuristic_is_ten_percent_of_last_modified_age_rfc9111_4_2_2() -> None:
    """§4.2.2: "A typical setting of this fraction might be 10%"."""
    assert lifetime("", lm=T0 - 1000) == (100.0, True)


def test_heuristic_capped_by_configured_maximum() -> None:
    assert lifetime("", lm=T0 - 10**9) == (86400.0, True)
    small = CacheOptions(max_heuristic=60)
    assert lifetime("", lm=T0 - 10**9, options=small) == (60.0, True)


def test_heuristic_fraction_configurable() -> None:
    assert lifetime("", lm=T0 - 1000, options=CacheOptions(heuristic_fraction=0.5)) == (500.0, True)


def test_no_heuristic_when_explicit_expiration_rfc9111_4_2_2() -> None:
    """§4.2.2: "a cache MUST NOT use heuristics to determine freshness when an explicit
    expiration time is present in the stored response."."""
    assert lifetime("max-age=0", lm=T0 - 10**6) == (0.0, False)
    assert lifetime("", expires=["0"], lm=T0 - 10**6) == (0.0, False)


@pytest.mark.parametrize("status", [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])
def test_heuristic_for_heuristically_cacheable_status_rfc9110_15_1(status: int) -> None:
    assert lifetime("", status=status, lm=T0 - 1000) == (100.0, True)


@pytest.mark.parametrize("status", [201, 302, 303, 307, 400, 403, 500, 503])
def test_no_heuristic_for_other_status_rfc9110_15_1(status: int) -> None:
    assert lifetime("", status=status, lm=T0 - 1000) == (0.0, False)


def test_public_allows_heuristic_for_other_status_rfc9111_3() -> None:
    assert lifetime("public", status=302, lm=T0 - 1000) == (100.0, True)


def test_no_heuristic_without_last_modified() -> None:
    assert lifetime("") == (0.0, False)


def test_no_heuristic_when_last_modified_in_future() -> None:
    assert lifetime("", lm=T0 + 50) == (0.0, False)


def test_expires_far_future_capped_at_2_31_rfc9111_1_2_2() -> None:
    assert lifetime("", expires=["Fri, 31 Dec 9999 23:59:59 GMT"]) == (float(DELTA_MAX), False)


# --- §4.2.3 age ----------------------------------------------------------------------


def test_apparent_age_from_date_rfc9111_4_2_3() -> None:
    """apparent_age = max(0, response_time - date_value)."""
    assert corrected_initial_age(0, date_value=100, request_time=150, response_time=150) == 50


def test_response_delay_added_to_age_value_rfc9111_4_2_3() -> None:
    """corrected_age_value = age_value + response_delay; the max of the two wins."""
    assert corrected_initial_age(30, date_value=200, request_time=190, response_time=200) == 40


def test_date_in_future_gives_no_negative_apparent_age_rfc9111_4_2_3() -> None:
    assert corrected_initial_age(0, date_value=500, request_time=200, response_time=200) == 0


def test_resident_time_added_rfc9111_4_2_3() -> None:
    """current_age = corrected_initial_age + resident_time (now - response_time)."""
    assert current_age(40.0, response_time=1000.0, now=1025.0) == 65.0


def test_clock_going_back_never_lowers_age() -> None:
    assert current_age(40.0, response_time=1000.0, now=900.0) == 40.0


def test_age_header_read_from_stored_response_rfc9111_5_1() -> None:
    e = stored(h(cache_control="max-age=100", age="30"))
    assert e.age(T0) == 30
    assert e.age(T0 + 10) == 40
    assert e.is_fresh(T0 + 69) and not e.is_fresh(T0 + 70)


def test_missing_date_uses_response_time_rfc9110_6_6_1() -> None:
    e = stored(h(cache_control="max-age=100", expires=date(T0 + 50)))
    assert e.date == T0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0),
        ([b"10"], 10),
        ([b" 7 "], 7),
        ([b"99999999999999"], DELTA_MAX),
        # A list or a repeated field: the first member (RFC 9110 §5.5).
        ([b"0, 7200"], 0),
        ([b"7200,0"], 7200),
        ([b"3600, 3600"], 3600),
        ([b"5", b"9"], 5),
        ([b"0", b"7200"], 0),
        # Not a delta-seconds: ignored, as if absent.
        ([b"x"], 0),
        ([b"abc"], 0),
        ([b"-7200"], 0),
        ([b"7200.0"], 0),
        ([b"3600;foo=bar"], 0),
        ([b""], 0),
        ([b"abc", b"600"], 0),
    ],
)
def test_age_field_parsing_rfc9111_5_1(values: list[bytes], expected: int) -> None:
    """§5.1 Age = delta-seconds (§1.2.2 1*DIGIT); overflow → 2^31 (§1.2.2 MUST); a list
    or several lines → the first member; any other value is ignored (0)."""
    assert age_value(values) == expected


@pytest.mark.parametrize("ages", [["abc"], ["-7200"], ["7200.0"], ["0", "7200"], ["0, 7200"]])
def test_unusable_or_listed_age_keeps_the_response_fresh_rfc9111_5_1(ages: list[str]) -> None:
    """A bad Age is ignored and a list's first member is used: max-age=3600 with
    `Age: 0, 7200`, `Age: -7200` ... is fresh, and stored (cache-tests.fyi age-parse-*,
    as Apache httpd does)."""
    from cache_helpers import on, response

    headers = [(b"cache-control", b"max-age=3600")]
    headers += [(b"age", a.encode()) for a in ages]
    e = stored(headers)
    assert e.is_fresh(T0) and e.age(T0) == 0
    assert on(response(headers=headers)).store


@given(st.lists(st.binary(max_size=12), min_size=1, max_size=3), st.integers(0, 10**6))
def test_age_never_refuses_storage_rfc9111_5_1(ages: list[bytes], max_age: int) -> None:
    """Whatever the Age says, a response with a freshness lifetime is stored."""
    from cache_helpers import on, response

    headers = [(b"cache-control", b"max-age=%d" % (max_age + 1))]
    headers += [(b"age", a) for a in ages if b"\r" not in a and b"\n" not in a]
    assert on(response(headers=headers)).store


def test_one_valid_age_still_counts_rfc9111_5_1() -> None:
    e = stored([(b"cache-control", b"max-age=3600"), (b"age", b"600")])
    assert e.is_fresh(T0) and e.age(T0) == 600


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (0, b"0"),
        (-5, b"0"),
        (0.999, b"0"),
        (59.9, b"59"),
        (3600, b"3600"),
        (2.0**40, b"2147483648"),
    ],
)
def test_format_age_integer_capped_rfc9111_5_1(age: float, text: bytes) -> None:
    assert format_age(age) == text


def test_stored_entry_lifetime_and_ttl() -> None:
    e = stored(h(cache_control="max-age=100"), delay=2)
    assert e.lifetime == 100
    assert e.initial_age == 2  # response_delay, §4.2.3
    assert e.ttl(T0 + 8) == 90
