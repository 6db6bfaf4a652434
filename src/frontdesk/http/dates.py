"""HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, formatting and parsing.

https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
    IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
    e.g. Sun, 06 Nov 1994 08:49:37 GMT
A recipient MUST also accept the two obsolete formats (rfc850-date, asctime-date);
email.utils.parsedate_tz understands all three.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_http_date(epoch: float) -> str:
    """IMF-fixdate for a Unix time (seconds are truncated)."""
    return email.utils.formatdate(int(epoch), usegmt=True)


def format_log_time(epoch: float) -> str:
    """Common Log Format time, `10/Oct/2000:13:55:36 +0000`, always in UTC."""
    t = datetime.fromtimestamp(int(epoch), tz=UTC)
    return (
        f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year:04d}:"
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"
    )


def parse_http_date(value: str) -> int | None:
    """Unix time of an HTTP-date in any of the three formats, or None when invalid.

    RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses
    a two-digit year, MUST interpret a timestamp that appears to be more than 50 years
    in the future as representing the most recent year in the past that had the same
    last two digits." parsedate_tz maps two-digit years by a fixed pivot; close enough
    for the years a cache will meet, and documented here.
    """
    parts = email.utils.parsedate_tz(value)
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts[:6]
    if second > 60:
        return None
    try:
        # parsedate_tz checks the shape, not the values: "32 Jan" or hour 25 would
        # silently roll over into another date. §5.6.7's grammar bounds each field
        # (second 60 is a leap second).
        datetime(year, month, day, hour, minute, min(second, 59))
        return int(email.utils.mktime_tz(parts))
    except (OverflowError, ValueError):
        return None
