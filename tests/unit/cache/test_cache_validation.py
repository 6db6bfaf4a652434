"""Validation: conditional requests (RFC 9111 §4.3.1), 304 selection (§4.3.4) and the
update of stored fields (§3.2)."""

from __future__ import annotations

from cache_helpers import T0, date, h, request, response, stored

from frontdesk.cache.fields import get_all, get_first
from frontdesk.cache.options import CacheOptions
from frontdesk.cache.policy import Action, decide
from frontdesk.cache.validation import (
    conditional_headers,
    freshen,
    select_for_update,
    update_fields,
)

OPTS = CacheOptions()
LM = "Mon, 01 Jan 2001 00:00:00 GMT"


def test_etag_sent_as_if_none_match_rfc9111_4_3_1() -> None:
    """§4.3.1: a cache "MUST send the relevant entity tags ... if the entity tags were
    provided in the stored response(s) being validated"."""
    assert conditional_headers([stored(h(cache_control="max-age=0", etag='W/"w1"'))]) == (
        (b"if-none-match", b'W/"w1"'),
    )


def test_last_modified_sent_as_if_modified_since_rfc9111_4_3_1() -> None:
    """§4.3.1: "SHOULD send the Last-Modified value (using If-Modified-Since) if ... a
    single stored response is being validated"."""
    e = stored(h(cache_control="max-age=0", last_modified=LM))
    assert conditional_headers([e]) == ((b"if-modified-since", LM.encode()),)


def test_all_etags_of_matching_responses_sent_rfc9111_4_3_1() -> None:
    a = stored(h(cache_control="max-age=0", etag='"a"', last_modified=LM))
    b = stored(h(cache_control="max-age=0", etag='"b"', last_modified=LM))
    again = stored(h(cache_control="max-age=0", etag='"a"'))
    # several responses: no If-Modified-Since (only for a single stored response)
    assert conditional_headers([a, b, again]) == ((b"if-none-match", b'"a", "b"'),)


def test_no_validators_no_preconditions() -> None:
    assert conditional_headers([stored(h(cache_control="max-age=0, stale-if-error=9"))]) == ()


def test_invalid_last_modified_not_sent() -> None:
    e = stored(h(cache_control="max-age=0", etag='"a"', last_modified="yesterday"))
    assert conditional_headers([e]) == ((b"if-none-match", b'"a"'),)


# --- §4.3.4 selection ---------------------------------------------------------------------


def test_strong_etag_selects_matching_responses_rfc9111_4_3_4() -> None:
    a = stored(h(cache_control="max-age=0", etag='"a"'))
    b = stored(h(cache_control="max-age=0", etag='"b"'))
    assert select_for_update([a, b], h(etag='"b"')) == [b]


def test_strong_etag_matching_none_updates_none_rfc9111_4_3_4() -> None:
    """ "If none of the initial set contains at least one of the same strong validators,
    then the cache MUST NOT use the new response to update any stored responses."."""
    a = stored(h(cache_control="max-age=0", etag='"a"'))
    assert select_for_update([a], h(etag='"z"')) == []


def test_strong_etag_does_not_match_weak_stored_rfc9111_4_3_4() -> None:
    a = stored(h(cache_control="max-age=0", etag='W/"a"'))
    assert select_for_update([a], h(etag='"a"')) == []


def test_weak_etag_selects_most_recent_match_rfc9111_4_3_4() -> None:
    """ "the most recent of those matching stored responses is identified for update"."""
    old = stored(h(cache_control="max-age=0", etag='W/"a"'), at=T0 - 100)
    new = stored(h(cache_control="max-age=0", etag='W/"a"'), at=T0 - 10)
    other = stored(h(cache_control="max-age=0", etag='W/"b"'), at=T0)
    assert select_for_update([old, new, other], h(etag='W/"a"')) == [new]


def test_last_modified_as_weak_validator_rfc9111_4_3_4() -> None:
    a = stored(h(cache_control="max-age=0", last_modified=LM))
    assert select_for_update([a], h(last_modified=LM)) == [a]
    assert select_for_update([a], h(last_modified="Tue, 02 Jan 2001 00:00:00 GMT")) == []


def test_no_validator_updates_single_validatorless_response_rfc9111_4_3_4() -> None:
    a = stored(h(cache_control="max-age=0, stale-if-error=5"))
    assert select_for_update([a], []) == [a]
    b = stored(h(cache_control="max-age=0, stale-if-error=5"))
    assert select_for_update([a, b], []) == []


def test_304_without_validator_selects_the_one_response_validated_rfc9111_4_3_4() -> None:
    """§4.3.4's third rule asks the one stored response to lack validators too, against
    a client's own If-Modified-Since. The cache's conditional carries only that
    response's validators (§4.3.1), so a 304 that omits its ETag (against RFC 9110
    §15.4.5) still validates it: reused, not fetched again (cache-tests.fyi
    cc-resp-must-revalidate-stale, conditional-etag-vary-headers)."""
    c = stored(h(cache_control="max-age=0", etag='"c"', last_modified=LM))
    assert select_for_update([c], []) == [c]
    assert select_for_update([c], h(date=date(T0 + 5))) == [c]
    d = stored(h(cache_control="max-age=0", etag='"d"'))
    assert select_for_update([c, d], []) == []  # several variants: ambiguous
    result = freshen([c], response(304, h(cache_control="max-age=60"), at=T0 + 5), OPTS)
    assert result.serve is not None
    assert result.serve.etag == b'"c"' and result.serve.is_fresh(T0 + 6)


# --- §3.2 field update ------------------------------------------------------------------


def test_304_fields_replace_stored_ones_rfc9111_3_2() -> None:
    """§3.2: "the cache MUST add each header field in the provided response to the stored
    response, replacing field values that are already present"."""
    stored_fields = h(cache_control="max-age=10", etag='"a"', x_a="old", x_keep="k")
    new = h(cache_control="max-age=60", x_a="new", x_b="added", date=date(T0 + 5))
    out = update_fields(stored_fields, new, OPTS, T0 + 5)
    assert get_all(out, b"cache-control") == [b"max-age=60"]
    assert get_all(out, b"x-a") == [b"new"]
    assert get_first(out, b"x-keep") == b"k"
    assert get_first(out, b"x-b") == b"added"
    assert get_first(out, b"etag") == b'"a"'
    assert [k for k, _ in out][:2] == [b"cache-control", b"etag"]  # positions kept


def test_304_excluded_fields_not_updated_rfc9111_3_2() -> None:
    """Content-Length, hop-by-hop fields, Content-Range are not taken from the 304."""
    new = h(
        content_length="0",
        connection="x-c",
        x_c="1",
        content_range="bytes */5",
        transfer_encoding="chunked",
        proxy_authenticate="Basic",
    )
    out = update_fields(h(content_type="text/html"), new, OPTS, T0)
    assert {k.lower() for k, _ in out} == {b"content-type", b"date"}


def test_304_does_not_relabel_the_stored_bytes_rfc9111_3_2() -> None:
    """§3.2: a cache "SHOULD limit such omission to those fields necessary to assure
    integrity of the stored response". Content-Encoding and Content-MD5 describe the
    stored body, which the 304 does not replace: kept (cache-tests.fyi
    304-etag-update-response-Content-Encoding, -Content-MD5), other fields updated."""
    stored_fields = h(content_encoding="gzip", content_md5="rL0Y20zC+Fzt72VPzMSk2A==", x_a="1")
    new = h(content_encoding="br", content_md5="N7UdGUp1E+RbVvZSTy1R8g==", x_a="2")
    out = update_fields(stored_fields, new, OPTS, T0)
    assert get_all(out, b"content-encoding") == [b"gzip"]
    assert get_all(out, b"content-md5") == [b"rL0Y20zC+Fzt72VPzMSk2A=="]
    assert get_all(out, b"x-a") == [b"2"]


def test_304_without_date_dated_on_receipt_rfc9110_6_6_1() -> None:
    out = update_fields(h(date=date(T0 - 500)), [], OPTS, T0)
    assert get_all(out, b"date") == [date(T0).encode()]


def test_stored_age_dropped_when_304_has_none_rfc9111_4_2_3() -> None:
    out = update_fields(h(age="500"), [], OPTS, T0)
    assert get_first(out, b"age") is None
    out = update_fields(h(age="500"), h(age="3"), OPTS, T0)
    assert get_all(out, b"age") == [b"3"]


def test_freshen_renews_lifetime_and_age_rfc9111_4_3_4() -> None:
    e = stored(h(cache_control="max-age=10", etag='"a"', age="5"))
    req = request()
    d = decide(req, [e], T0 + 100, OPTS)
    assert d.action is Action.VALIDATE
    r304 = response(304, h(etag='"a"', cache_control="max-age=60"), at=T0 + 101, delay=1)
    f = freshen(d.validating, r304, OPTS)
    assert f.serve is not None
    assert f.updates == ((e, f.serve),)
    assert f.serve.lifetime == 60
    assert f.serve.age(T0 + 101) == 1  # response delay only; the old Age is gone
    assert f.serve.etag == b'"a"'
    assert decide(req, [f.serve], T0 + 110, OPTS).action is Action.HIT


def test_freshen_keeps_body_handle_and_variant() -> None:
    from dataclasses import replace

    e = replace(stored(h(cache_control="max-age=1", etag='"a"', vary="accept")), ref="blob-7")
    f = freshen([e], response(304, h(etag='"a"'), at=T0 + 50), OPTS)
    assert f.serve is not None
    assert (f.serve.ref, f.serve.variant, f.serve.content_length) == ("blob-7", e.variant, 10)


def test_freshen_with_unknown_strong_etag_serves_nothing_rfc9111_4_3_4() -> None:
    e = stored(h(cache_control="max-age=1", etag='"a"'))
    f = freshen([e], response(304, h(etag='"b"'), at=T0 + 50), OPTS)
    assert f == type(f)((), None)


def test_freshen_to_no_store_removes_entry_but_serves_it() -> None:
    e = stored(h(cache_control="max-age=1", etag='"a"'))
    f = freshen([e], response(304, h(etag='"a"', cache_control="no-store"), at=T0 + 50), OPTS)
    assert f.serve is not None and f.updates == ((e, None),)


def test_freshen_updates_tags() -> None:
    e = stored(h(cache_control="max-age=1", etag='"a"', surrogate_key="x"))
    assert e.tags == ("x",)
    f = freshen([e], response(304, h(etag='"a"', surrogate_key="y z"), at=T0 + 5), OPTS)
    assert f.serve is not None and f.serve.tags == ("y", "z")
    f = freshen([e], response(304, h(etag='"a"'), at=T0 + 5), OPTS)
    assert f.serve is not None and f.serve.tags == ("x",)


def test_validation_request_replaces_client_preconditions_rfc9111_4_3_1() -> None:
    """§4.3.1: the cache "updates that request with one or more precondition header
    fields"; the client's own preconditions and Range are not sent (§4.3.2: its
    conditions are evaluated against the validated stored response)."""
    from frontdesk.cache.validation import validation_request_fields

    client = [
        (b"Accept", b"*/*"),
        (b"If-None-Match", b'"mine"'),
        (b"Range", b"bytes=0-1"),
        (b"If-Range", b'"mine"'),
        (b"If-Modified-Since", LM.encode()),
        (b"X-A", b"1"),
    ]
    out = validation_request_fields(client, ((b"if-none-match", b'"ours"'),))
    assert out == ((b"Accept", b"*/*"), (b"X-A", b"1"), (b"if-none-match", b'"ours"'))


def test_client_gets_200_when_304_validates_a_tag_it_does_not_have_rfc9111_4_3_2() -> None:
    """§4.3.2: a 304 whose ETag "is not in the client's list" → "the cache MUST generate a
    200 (OK) response for the client by reusing its corresponding stored response"."""
    from frontdesk.cache.serve import answer

    e = stored(h(cache_control="max-age=1", etag='"a"'))
    f = freshen([e], response(304, h(etag='"a"', cache_control="max-age=60"), at=T0 + 9), OPTS)
    assert f.serve is not None
    assert answer(b"GET", h(if_none_match='"old"'), f.serve, T0 + 9).status == 200
    assert answer(b"GET", h(if_none_match='"a"'), f.serve, T0 + 9).status == 304


# --- §4.3.5 HEAD -------------------------------------------------------------------------


def head_200(**fields: str):  # type: ignore[no-untyped-def]
    return response(200, h(**fields), at=T0 + 50, body=0)


def test_head_with_matching_validators_updates_get_response_rfc9111_4_3_5() -> None:
    from frontdesk.cache.validation import freshen_with_head

    e = stored(h(cache_control="max-age=1", etag='"a"', last_modified=LM))
    ((old, new),) = freshen_with_head(
        [e],
        head_200(
            etag='"a"',
            last_modified=LM,
            content_length="10",
            cache_control="max-age=600",
            x_new="1",
        ),
        OPTS,
    )
    assert old is e
    assert new.lifetime == 600 and new.is_fresh(T0 + 100)
    assert get_first(new.headers, b"x-new") == b"1"
    assert new.content_length == 10


def test_head_with_different_etag_marks_stale_rfc9111_4_3_5() -> None:
    from frontdesk.cache.validation import freshen_with_head

    e = stored(h(cache_control="max-age=1000", etag='"a"'))
    ((_, new),) = freshen_with_head([e], head_200(etag='"b"'), OPTS)
    assert not new.is_fresh(T0) and new.headers == e.headers


def test_head_with_different_length_marks_stale_rfc9111_4_3_5() -> None:
    from frontdesk.cache.validation import freshen_with_head

    e = stored(h(cache_control="max-age=1000", etag='"a"'))
    ((_, new),) = freshen_with_head([e], head_200(etag='"a"', content_length="11"), OPTS)
    assert new.lifetime == 0


def test_head_without_validators_updates_rfc9111_4_3_5() -> None:
    """Only *received* validator fields must match: none received, none to compare."""
    from frontdesk.cache.validation import freshen_with_head

    e = stored(h(cache_control="max-age=1", etag='"a"'))
    ((_, new),) = freshen_with_head([e], head_200(cache_control="max-age=99"), OPTS)
    assert new.lifetime == 99


def test_head_non_200_changes_nothing_rfc9111_4_3_5() -> None:
    from frontdesk.cache.validation import freshen_with_head

    e = stored(h(cache_control="max-age=1", etag='"a"'))
    assert freshen_with_head([e], response(404, h(), at=T0 + 5, body=0), OPTS) == ()
