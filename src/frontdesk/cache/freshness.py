"""Freshness lifetime and age (RFC 9111 §4.2; §5.1 Age; §5.3 Expires).

Pure arithmetic on values read once when a response is stored (entry.py), so that a
hit only adds `now - response_time` to a pre-computed corrected initial age.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..http.dates import parse_http_date
from .directives import DELTA_MAX, CacheControl
from .options import CacheOptions


def freshness_lifetime(
    cc: CacheControl,
    status: int,
    date_value: float,
    expires: Sequence[bytes],
    last_modified: float | None,
    options: CacheOptions,
) -> tuple[float, bool]:
    """(freshness_lifetime, heuristic?) for a shared cache, RFC 9111 §4.2.1.

    "A cache can calculate the freshness lifetime (denoted as freshness_lifetime) of a
    response by evaluating the following rules and using the first match:
    - If the cache is shared and the s-maxage response directive (Section 5.2.2.10) is
      present, use its value, or
    - If the max-age response directive (Section 5.2.2.1) is present, use its value, or
    - If the Expires response header field (Section 5.3) is present, use its value minus
      the value of the Date response header field (using the time the message was
      received if it is not present, as per Section 6.6.1 of [HTTP]), or
    - Otherwise, no explicit expiration time is present in the response. A heuristic
      freshness lifetime might be applicable; see Section 4.2.2."
    """
    if cc.invalid_freshness:
        # §4.2.1: "Caches are encouraged to consider responses that have invalid
        # freshness information (e.g., a max-age directive with non-integer content)
        # to be stale."
        return 0.0, False
    if cc.s_maxage is not None:
        return float(cc.s_maxage), False
    if cc.max_age is not None:
        return float(cc.max_age), False
    if expires:
        # §4.2.1: more than one value "either the first occurrence should be used or the
        # response should be considered stale": differing Expires lines → stale.
        if any(e.strip() != expires[0].strip() for e in expires):
            return 0.0, False
        when = parse_http_date(expires[0].decode("latin-1"))
        # §5.3: "A cache recipient MUST interpret invalid date formats, especially the
        # value "0", as representing a time in the past (i.e., "already expired")."
        if when is None:
            return 0.0, False
        return max(0.0, min(float(DELTA_MAX), when - date_value)), False
    return heuristic_lifetime(cc, status, date_value, last_modified, options)


def heuristic_lifetime(
    cc: CacheControl,
    status: int,
    date_value: float,
    last_modified: float | None,
    options: CacheOptions,
) -> tuple[float, bool]:
    """RFC 9111 §4.2.2, used only when no explicit expiration time is present.

    "a cache MAY assign a heuristic expiration time when an explicit time is not
    specified" ... "If the response has a Last-Modified header field ..., caches are
    encouraged to use a heuristic expiration value that is no more than some fraction
    of the interval since that time. A typical setting of this fraction might be 10%."
    Only for heuristically cacheable status codes (RFC 9110 §15.1) or responses marked
    public (§3: "a public response directive" makes a response storable).
    """
    if status not in options.heuristic_statuses and not cc.public:
        return 0.0, False
    if last_modified is None or last_modified > date_value:
        return 0.0, False
    lifetime = min((date_value - last_modified) * options.heuristic_fraction, options.max_heuristic)
    return max(0.0, lifetime), lifetime > 0


def corrected_initial_age(
    age_value: int, date_value: float, request_time: float, response_time: float
) -> float:
    """RFC 9111 §4.2.3, the part fixed when the response is received:

    apparent_age = max(0, response_time - date_value);
    response_delay = response_time - request_time;
    corrected_age_value = age_value + response_delay;
    corrected_initial_age = max(apparent_age, corrected_age_value);
    """
    apparent_age = max(0.0, response_time - date_value)
    response_delay = response_time - request_time
    corrected_age_value = age_value + response_delay
    return max(apparent_age, corrected_age_value)


def current_age(initial_age: float, response_time: float, now: float) -> float:
    """RFC 9111 §4.2.3: resident_time = now - response_time;
    current_age = corrected_initial_age + resident_time.

    A `now` earlier than `response_time` (a clock stepped back) counts as no residence
    rather than a negative one: age never decreases and is never negative.
    """
    resident_time = now - response_time
    return initial_age + resident_time if resident_time > 0 else initial_age


def age_value(values: Sequence[bytes]) -> int:
    """The Age field's delta-seconds (§5.1), or 0 when absent or unusable.

    §5.1: "Age = delta-seconds" (§1.2.2: "1*DIGIT"), and "if a cache receives a value
    larger than the largest positive integer it can represent, or if any of its age
    calculations overflows, it MUST transmit an Age header field with a value of
    2147483648". Age is a singleton field, but a list or repeated field is read as
    RFC 9110 §5.5 allows for a field received as a list: its first member (`Age: 0,
    7200` → 0). Any other value (`abc`, `-7200`, `7200.0`, a parameter) is ignored, as
    if the field were absent: it says nothing usable, and it never stops a response
    being stored or used (Apache httpd reads it the same way). The apparent age from
    Date still counts (§4.2.3).
    """
    if not values:
        return 0
    first = values[0].split(b",", 1)[0].strip(b" \t")
    if first.isdigit() and first.isascii():
        # §1.2.2: a value too large to represent "MUST" be taken as 2^31.
        return DELTA_MAX if len(first) > 10 else min(int(first), DELTA_MAX)
    return 0


def format_age(age: float) -> bytes:
    """The Age field value for a current_age: whole seconds, capped at 2^31 (§1.2.2, §5.1)."""
    if age <= 0:
        return b"0"
    return b"%d" % min(int(age), DELTA_MAX)
