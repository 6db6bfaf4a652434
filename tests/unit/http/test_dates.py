"""HTTP-date parsing (RFC 9110 §5.6.7): the three formats, and values that are not dates."""

from __future__ import annotations

import pytest

from frontdesk.http.dates import parse_http_date

EPOCH_1994 = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 format
        "Sun Nov  6 08:49:37 1994",  # ANSI C's asctime() format
    ],
)
def test_rfc9110_5_6_7_all_three_formats(value: str) -> None:
    assert parse_http_date(value) == EPOCH_1994


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 32 Jan 2024 00:00:00 GMT",
        "Thu, 30 Feb 2024 00:00:00 GMT",
        "Thu, 01 Feb 2024 25:00:00 GMT",
        "Thu, 01 Feb 2024 23:61:00 GMT",
        "Thu, 01 Feb 2024 23:00:61 GMT",
        "yesterday",
        "",
    ],
)
def test_rfc9110_5_6_7_impossible_dates_are_invalid(value: str) -> None:
    assert parse_http_date(value) is None


def test_leap_second_is_accepted() -> None:
    assert parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT") is not None


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 01 Dec 2094 16:00:00 UTC",  # a zone other than GMT
        "Thu, 01 Dec 2094 16:00:00 AEST",
        "Thu, 01 Dec 2094 16:00:00 +0000",
        "Thu, 01 Dec 94 16:00:00 GMT",  # a 2-digit year in the IMF form
        "Thu 01 Dec 2094 16:00:00 GMT",  # no comma
        "Thu,  01 Dec 2094 16:00:00 GMT",  # doubled spaces
        "Thu, 01 Dec 2094  16:00:00 GMT",
        "Thu, 01-Dec-2094 16:00:00 GMT",  # dashes in the IMF form
        "02.01.18",
        "Thu, 01 Dec 2094 6:00:00 GMT",  # a 1-digit hour
        "Thu, 1 Dec 2094 16:00:00 GMT",  # a 1-digit day in the IMF form
        "thu, 01 dec 2094 16:00:00 gmt",  # HTTP-date is case sensitive
        "Thursday, 01 Dec 2094 16:00:00 GMT",  # the long day name in the IMF form
        "Thu, 01-Dec-94 16:00:00 GMT",  # the short day name in the RFC 850 form
        "Thu Dec 1 16:00:00 2094",  # asctime: a 1-digit day needs its leading space
        "Thu Dec  1 16:00:00 2094 GMT",
        "0",
        "-1",
    ],
)
def test_rfc9110_5_6_7_other_forms_are_not_dates(value: str) -> None:
    # email.utils.parsedate_tz, used before, read each of these as a real date.
    assert parse_http_date(value) is None


def test_surrounding_whitespace_is_not_part_of_the_value() -> None:
    assert parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT\t") == EPOCH_1994


def test_rfc850_two_digit_years_pivot() -> None:
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == EPOCH_1994
    assert parse_http_date("Monday, 01-Jan-24 00:00:00 GMT") == 1704067200
