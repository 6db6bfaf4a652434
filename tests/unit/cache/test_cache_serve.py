"""Answers from the cache: Age (RFC 9111 §4, §5.1), client conditionals (RFC 9111 §4.3.2,
RFC 9110 §13.1.2, §13.1.3, §15.4.5) and ranges (RFC 9110 §13.1.5, §14)."""

from __future__ import annotations

import pytest
from cache_helpers import T0, date, h, stored
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.cache.fields import get_all, get_first, parse_etag_list, weak_match
from frontdesk.cache.serve import _one_tag_match, _parse_range_set, answer, parse_range

LM = "Mon, 01 Jan 2001 00:00:00 GMT"


def entry(**fields: str):  # type: ignore[no-untyped-def]
    return stored(h(cache_control="max-age=100", **fields), body=1000)


def test_age_generated_and_replaced_rfc9111_4() -> None:
    """§4: a cache "MUST generate an Age header field ..., replacing any present in the
    response with a value equal to the stored response's current_age"."""
    e = stored(h(cache_control="max-age=100", age="7"))
    a = answer(b"GET", [], e, T0 + 3)
    assert get_all(a.headers, b"age") == [b"10"]


def test_full_answer_has_length_and_body_slice() -> None:
    a = answer(b"GET", [], entry(content_type="text/plain"), T0)
    assert a.status == 200
    assert get_first(a.headers, b"content-length") == b"1000"
    assert a.body == (0, 1000)


def test_head_answer_has_no_body_rfc9110_9_3_2() -> None:
    a = answer(b"HEAD", [], entry(), T0)
    assert a.status == 200 and a.body is None
    assert get_first(a.headers, b"content-length") == b"1000"


def test_cache_status_member_appended_rfc9211_2() -> None:
    a = answer(b"GET", [], entry(), T0, status_member=b"frontdesk; hit; ttl=100")
    assert get_all(a.headers, b"cache-status")[-1] == b"frontdesk; hit; ttl=100"


@pytest.mark.parametrize("inm", ['"v1"', 'W/"v1"', '"x", "v1"', "*", '"a",,"v1"'])
def test_if_none_match_weak_comparison_gives_304_rfc9110_13_1_2(inm: str) -> None:
    """RFC 9110 §13.1.2: "A recipient MUST use the weak comparison function when
    comparing entity tags for If-None-Match"."""
    a = answer(b"GET", h(if_none_match=inm), entry(etag='"v1"'), T0)
    assert a.status == 304 and a.body is None


def test_if_none_match_weak_stored_tag_matches_rfc9110_13_1_2() -> None:
    assert answer(b"GET", h(if_none_match='"v1"'), entry(etag='W/"v1"'), T0).status == 304


@pytest.mark.parametrize("inm", ['"v2"', 'W/"v2"', "garbage", '"v1'])
def test_if_none_match_mismatch_or_invalid_is_200(inm: str) -> None:
    assert answer(b"GET", h(if_none_match=inm), entry(etag='"v1"'), T0).status == 200


def test_if_none_match_star_matches_any_stored_representation_rfc9110_13_1_2() -> None:
    assert answer(b"GET", h(if_none_match="*"), entry(), T0).status == 304


def test_304_fields_rfc9110_15_4_5() -> None:
    """§15.4.5: Content-Location, Date, ETag, Vary, Cache-Control, Expires; no other
    representation metadata (no Content-Type, no Content-Length)."""
    e = entry(
        etag='"v1"',
        content_type="text/html",
        content_location="/a.html",
        vary="accept",
        expires=date(T0 + 100),
        last_modified=LM,
        x_custom="1",
    )
    a = answer(b"GET", h(if_none_match='"v1"'), e, T0 + 5)
    names = [k.lower() for k, _ in a.headers]
    assert set(names) == {
        b"cache-control",
        b"etag",
        b"content-location",
        b"vary",
        b"expires",
        b"date",
        b"age",
    }
    assert get_first(a.headers, b"age") == b"5"


def test_304_keeps_last_modified_without_etag_rfc9110_15_4_5() -> None:
    a = answer(b"GET", h(if_modified_since=LM), entry(last_modified=LM), T0)
    assert a.status == 304
    assert get_first(a.headers, b"last-modified") == LM.encode()


@pytest.mark.parametrize(
    ("ims", "status"),
    [(LM, 304), ("Tue, 02 Jan 2001 00:00:00 GMT", 304), ("Sun, 31 Dec 2000 23:59:59 GMT", 200)],
)
def test_if_modified_since_rfc9110_13_1_3(ims: str, status: int) -> None:
    assert answer(b"GET", h(if_modified_since=ims), entry(last_modified=LM), T0).status == status


def test_if_modified_since_uses_date_without_last_modified_rfc9111_4_3_2() -> None:
    """§4.3.2: "a cache SHOULD use the stored response's Date field value"."""
    e = entry()
    assert answer(b"GET", h(if_modified_since=date(T0)), e, T0).status == 304
    assert answer(b"GET", h(if_modified_since=date(T0 - 1)), e, T0).status == 200


def test_if_modified_since_ignored_with_if_none_match_rfc9110_13_1_3() -> None:
    e = entry(etag='"v1"', last_modified=LM)
    a = answer(b"GET", h(if_none_match='"other"', if_modified_since=LM), e, T0)
    assert a.status == 200


@pytest.mark.parametrize("ims", ["not a date", ""])
def test_invalid_if_modified_since_ignored_rfc9110_13_1_3(ims: str) -> None:
    assert answer(b"GET", h(if_modified_since=ims), entry(last_modified=LM), T0).status == 200


def test_if_modified_since_with_two_lines_ignored_rfc9110_13_1_3() -> None:
    hs = [(b"if-modified-since", LM.encode()), (b"if-modified-since", LM.encode())]
    assert answer(b"GET", hs, entry(last_modified=LM), T0).status == 200


def test_conditionals_only_on_stored_200_rfc9111_4_3_2() -> None:
    e = stored(h(cache_control="max-age=100", etag='"v"'), status=404)
    assert answer(b"GET", h(if_none_match='"v"'), e, T0).status == 404


# --- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=900-5000", (900, 1000)),
        ("Bytes = 0-0", (0, 1)),
        ("bytes= 5-9 ", (5, 10)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=2000-3000", False),
        ("bytes=5-1", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=", None),
        ("bytes=a-b", None),
        ("0-10", None),
        ("bytes=1000-,0-1", (0, 2)),
    ],
)
def test_parse_range_rfc9110_14_1_1(value: str, expected: object) -> None:
    assert parse_range(value.encode(), 1000) == expected


def test_range_on_empty_representation_ignored() -> None:
    assert parse_range(b"bytes=0-1", 0) is None


def test_range_request_gets_206_rfc9110_15_3_7() -> None:
    a = answer(b"GET", h(range="bytes=10-19"), entry(), T0)
    assert a.status == 206 and a.body == (10, 20)
    assert get_first(a.headers, b"content-range") == b"bytes 10-19/1000"
    assert get_first(a.headers, b"content-length") == b"10"


def test_unsatisfiable_range_gets_416_rfc9110_15_5_17() -> None:
    a = answer(b"GET", h(range="bytes=5000-"), entry(), T0)
    assert a.status == 416 and a.body is None
    assert get_first(a.headers, b"content-range") == b"bytes */1000"


def test_range_ignored_for_head_rfc9110_14_2() -> None:
    """§14.2: "GET is the only method for which range handling is defined"."""
    assert answer(b"HEAD", h(range="bytes=0-1"), entry(), T0).status == 200


def test_multiple_ranges_answered_with_full_200_rfc9110_14_2() -> None:
    assert answer(b"GET", h(range="bytes=0-1, 5-6"), entry(), T0).status == 200


def test_if_range_strong_etag_match_rfc9110_13_1_5() -> None:
    e = entry(etag='"v1"')
    assert answer(b"GET", h(range="bytes=0-1", if_range='"v1"'), e, T0).status == 206
    assert answer(b"GET", h(range="bytes=0-1", if_range='"v2"'), e, T0).status == 200


def test_if_range_weak_etag_never_matches_rfc9110_13_1_5() -> None:
    e = entry(etag='W/"v1"')
    assert answer(b"GET", h(range="bytes=0-1", if_range='W/"v1"'), e, T0).status == 200


def test_if_range_date_needs_strong_last_modified_rfc9110_13_1_5() -> None:
    """An If-Range date matches only an exactly equal Last-Modified that is strong:
    at least 60 s before the entry's Date (RFC 9110 §8.8.2.2)."""
    old = entry(last_modified=LM)
    assert answer(b"GET", h(range="bytes=0-1", if_range=LM), old, T0).status == 206
    recent = entry(last_modified=date(T0 - 30))
    assert answer(b"GET", h(range="bytes=0-1", if_range=date(T0 - 30)), recent, T0).status == 200
    assert answer(b"GET", h(range="bytes=0-1", if_range=date(T0 - 99)), old, T0).status == 200


def test_if_none_match_evaluated_before_range_rfc9110_13_2_2() -> None:
    e = entry(etag='"v1"')
    assert answer(b"GET", h(range="bytes=0-1", if_none_match='"v1"'), e, T0).status == 304


def test_204_has_no_content_length_rfc9110_8_6() -> None:
    e = stored(h(cache_control="max-age=100"), status=204, body=0)
    a = answer(b"GET", [], e, T0)
    assert a.status == 204 and get_first(a.headers, b"content-length") is None and a.body is None


# The hot lane's shortcuts agree with the general rules they skip.


_RANGE_BYTES = st.sampled_from([b"0", b"1", b"9", b"42", b"100", b"-", b",", b" ", b"="])


@given(
    st.sampled_from([b"bytes=", b"Bytes=", b"bytes =", b"items=", b""]),
    st.lists(_RANGE_BYTES, max_size=8).map(b"".join),
    st.integers(min_value=0, max_value=150),
)
def test_the_common_range_shape_is_resolved_as_the_general_rule_does(
    unit: bytes, spec: bytes, length: int
) -> None:
    value = unit + spec
    assert parse_range(value, length) == _parse_range_set(value, length)


def _general_match(value: bytes, etag: bytes) -> bool:
    tags = parse_etag_list(value)
    return isinstance(tags, list) and any(weak_match(t, etag) for t in tags)


_TAG_BYTES = st.sampled_from([b'"', b"W/", b"a", b"b", b",", b" ", b"*", b"\t"])


@given(
    st.lists(_TAG_BYTES, max_size=8).map(b"".join),
    st.sampled_from([b'"a"', b'"ab"', b'W/"a"', b'W/"ab"', b'""', b'W/""']),
)
def test_one_quoted_tag_is_matched_as_the_general_rule_does(value: bytes, etag: bytes) -> None:
    quick = _one_tag_match(value, etag)
    if quick is not None:
        assert quick == _general_match(value, etag)
    if value == etag or (etag.startswith(b"W/") and value == etag[2:]):
        assert quick is True  # the shape browsers send back takes the shortcut
