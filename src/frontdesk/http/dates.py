"""HTTP dates (RFC 9110 §5.6.7): IMF-fixdate, formatting and parsing.

https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
    IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
    e.g. Sun, 06 Nov 1994 08:49:37 GMT
A recipient MUST also accept the two obsolete formats (rfc850-date, asctime-date),
and nothing else is an HTTP-date (parse_http_date).
"""

from __future__ import annotations

import calendar
import email.utils
import re
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
    """Unix time of an HTTP-date in one of its three formats, exactly; else None.

    RFC 9110 §5.6.7: "HTTP-date = IMF-fixdate / obs-date", obs-date = rfc850-date /
    asctime-date, and "HTTP-date is case sensitive". Nothing else is a date here: no
    zone but GMT, no two-digit year in the IMF form, no missing comma, no doubled or
    missing space, no one-digit hour (email.utils.parsedate_tz, used before, took all
    of those). Callers treat None as the RFC says for their field: an invalid Expires
    is "a time in the past" (RFC 9111 §5.3), an invalid If-Modified-Since is ignored
    (RFC 9110 §13.1.3).

    "Recipients of a timestamp value in rfc850-date format, which uses a two-digit
    year, MUST interpret a timestamp that appears to be more than 50 years in the future
    as representing the most recent year in the past that had the same last two digits."
    This module reads no clock, so the years are pivoted as POSIX strptime does (00-68:
    2000s, 69-99: 1900s); the obsolete form is rare and the difference falls past 2068.
    """
    value = value.strip(" \t")  # OWS around a field value is not part of it (RFC 9110 §5.5)
    m = _IMF_FIXDATE.fullmatch(value)
    if m is not None:
        day, month, year, clock = m.group(2, 3, 4, 5)
    else:
        m = _RFC850_DATE.fullmatch(value)
        if m is not None:
            day, month, yy, clock = m.group(2, 3, 4, 5)
            year = ("20" if yy < "69" else "19") + yy
        else:
            m = _ASCTIME_DATE.fullmatch(value)
            if m is None:
                return None
            month, day, clock, year = m.group(2, 3, 4, 5)
    hour, minute, second = int(clock[0:2]), int(clock[3:5]), int(clock[6:8])
    # time-of-day: hour 00-23, minute 00-59, second 00-60 (60: a leap second).
    if hour > 23 or minute > 59 or second > 60:
        return None
    try:
        # The grammar bounds the digits, not the calendar: 31 Feb is refused here.
        when = datetime(int(year), _MONTH_NUMBER[month], int(day), hour, minute, tzinfo=UTC)
    except ValueError:
        return None
    return calendar.timegm(when.utctimetuple()) + min(second, 59)


_DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"([0-9]{2}:[0-9]{2}:[0-9]{2})"  # time-of-day = hour ":" minute ":" second
_MONTH_NUMBER = {name: number for number, name in enumerate(_MONTHS, 1)}
# IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT; date1 = day SP month SP year
_IMF_FIXDATE = re.compile(_DAY + r", ([0-9]{2}) " + _MONTH + r" ([0-9]{4}) " + _TIME + " GMT")
# rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT
_RFC850_DATE = re.compile(
    r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    r"([0-9]{2})-" + _MONTH + r"-([0-9]{2}) " + _TIME + " GMT"
)
# asctime-date = day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT ))
_ASCTIME_DATE = re.compile(_DAY + " " + _MONTH + r" ([0-9]{2}| [0-9]) " + _TIME + r" ([0-9]{4})")
