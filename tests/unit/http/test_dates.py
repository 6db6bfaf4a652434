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
