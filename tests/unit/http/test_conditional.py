"""RFC 9110 §13: precondition evaluation, table-driven plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.conditional import (
    Conditions,
    Precondition,
    Validators,
    evaluate,
    range_allowed,
    strong_match,
    weak_match,
)
from frontdesk.http.dates import format_http_date

T = 1_700_000_000
V = Validators(b'"abc"', T)
DATE = format_http_date(T).encode()
BEFORE = format_http_date(T - 10).encode()
AFTER = format_http_date(T + 10).encode()
P = Precondition


@pytest.mark.parametrize(
    "method, cond, expected",
    [
        (b"GET", Conditions(), P.PROCEED),
        # §13.1.2 If-None-Match
        (b"GET", Conditions(if_none_match=b'"abc"'), P.NOT_MODIFIED),
        (b"HEAD", Conditions(if_none_match=b'"abc"'), P.NOT_MODIFIED),
        (b"GET", Conditions(if_none_match=b'W/"abc"'), P.NOT_MODIFIED),  # weak comparison
        (b"GET", Conditions(if_none_match=b'"x", "abc"'), P.NOT_MODIFIED),
        (b"GET", Conditions(if_none_match=b"*"), P.NOT_MODIFIED),
        (b"GET", Conditions(if_none_match=b'"other"'), P.PROCEED),
        (b"POST", Conditions(if_none_match=b'"abc"'), P.FAILED),
        # §13.1.1 If-Match: strong comparison only
        (b"GET", Conditions(if_match=b'"abc"'), P.PROCEED),
        (b"GET", Conditions(if_match=b"*"), P.PROCEED),
        (b"GET", Conditions(if_match=b'W/"abc"'), P.FAILED),
        (b"GET", Conditions(if_match=b'"nope"'), P.FAILED),
        # §13.1.3 If-Modified-Since
        (b"GET", Conditions(if_modified_since=DATE), P.NOT_MODIFIED),
        (b"GET", Conditions(if_modified_since=AFTER), P.NOT_MODIFIED),
        (b"GET", Conditions(if_modified_since=BEFORE), P.PROCEED),
        (b"GET", Conditions(if_modified_since=b"not a date"), P.PROCEED),
        (b"POST", Conditions(if_modified_since=DATE), P.PROCEED),
        # §13.1.3: ignored when If-None-Match is present
        (b"GET", Conditions(if_none_match=b'"zzz"', if_modified_since=DATE), P.PROCEED),
        # §13.1.4 If-Unmodified-Since
        (b"GET", Conditions(if_unmodified_since=BEFORE), P.FAILED),
        (b"GET", Conditions(if_unmodified_since=DATE), P.PROCEED),
        (b"GET", Conditions(if_unmodified_since=b"garbage"), P.PROCEED),
        # §13.1.4: ignored when If-Match is present
        (b"GET", Conditions(if_match=b'"abc"', if_unmodified_since=BEFORE), P.PROCEED),
        # §13.2.2 order: If-Match fails before If-None-Match is looked at
        (b"GET", Conditions(if_match=b'"x"', if_none_match=b'"abc"'), P.FAILED),
        (b"GET", Conditions(if_unmodified_since=BEFORE, if_none_match=b'"abc"'), P.FAILED),
    ],
)
def test_rfc9110_13_2_2_evaluation(method, cond, expected):
    assert evaluate(method, cond, V) is expected


def test_no_etag_never_matches_a_listed_tag_but_star_does():
    v = Validators(b"", T)
    assert evaluate(b"GET", Conditions(if_none_match=b'""'), v) is P.PROCEED
    assert evaluate(b"GET", Conditions(if_match=b'"x"'), v) is P.FAILED
    assert evaluate(b"GET", Conditions(if_match=b"*"), v) is P.PROCEED


@pytest.mark.parametrize(
    "if_range, allowed",
    [
        (None, True),
        (b'"abc"', True),
        (b'"abd"', False),
        (b'W/"abc"', False),  # §13.1.5: a weak tag never matches
        (DATE, True),
        (BEFORE, False),
        (AFTER, False),  # exact match only
        (b"junk", False),
    ],
)
def test_rfc9110_13_1_5_if_range(if_range, allowed):
    assert range_allowed(if_range, V) is allowed


tags = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12).map(
    lambda t: b'"' + t.encode() + b'"'
)


@given(tags, st.lists(tags, max_size=5), st.booleans())
def test_listed_tag_matches_weakly_and_strongly(tag, others, weak):
    header = b", ".join([*others, (b"W/" if weak else b"") + tag])
    assert weak_match(header, tag)
    assert strong_match(header, tag) is (not weak or tag in others)


@given(tags, st.lists(tags, max_size=5))
def test_unlisted_tag_never_matches(tag, others):
    others = [o for o in others if o != tag]
    header = b", ".join(others) or b'"-"'
    if tag != b'"-"':
        assert not weak_match(header, tag)
        assert not strong_match(header, tag)


@given(st.integers(0, 2**31), st.integers(0, 2**31), st.sampled_from([b"GET", b"HEAD"]))
def test_if_modified_since_is_a_date_comparison(mtime, since, method):
    v = Validators(b'"t"', mtime)
    got = evaluate(method, Conditions(if_modified_since=format_http_date(since).encode()), v)
    assert got is (P.NOT_MODIFIED if mtime <= since else P.PROCEED)
